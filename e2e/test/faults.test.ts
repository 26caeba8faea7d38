/**
 * Suite 3: faults under load, on one running system whose SVIDs rotate
 * every 2 s throughout. Each fault reports its counts and asserts zero
 * failures or losses. ZT_E2E_LONG=1 keeps the queue down for 30 s (CI: 10 s).
 */
import t from 'tap'
import { databasePasswordRotation, postgresOutage } from '../src/faults/database.js'
import { faultStackOptions } from '../src/faults/load.js'
import { queueOutage } from '../src/faults/queue.js'
import {
  roundRobinSigterm,
  roundRobinUrlServiceSigterm,
  sigtermInFlight,
} from '../src/faults/shutdown.js'
import { svidRotationUnderLoad } from '../src/faults/svid-rotation.js'
import { startE2eStack } from '../src/stack.js'

const long = process.env.ZT_E2E_LONG === '1'
const stack = await startE2eStack(faultStackOptions)
t.teardown(async () => {
  if (t.counts.fail > 0) {
    const lines = stack.logs.filter((l) => !/ issued spiffe:|SVID updated/.test(l.line)).slice(-60)
    t.comment(`last log lines:\n${lines.map((l) => `${l.name}: ${l.line}`).join('\n')}`)
  }
  await stack.stop()
})

t.test('SVIDs rotating every 2 s with requests flowing', async (t) => {
  const result = await svidRotationUnderLoad(stack, 10_000)
  t.comment(
    `${result.ok + result.failed} requests over 10 s while ${result.rotations} new SVIDs were issued: ${result.ok} ok, ${result.failed} failed ${result.failures.join(' | ')}`,
  )
  t.ok(result.rotations >= 4, 'SVIDs did rotate during the run')
  t.equal(result.failed, 0, 'zero failed requests')
})

t.test('the database password rotated in PostgreSQL and in the secret', async (t) => {
  const result = await databasePasswordRotation(stack, {
    beforeMs: 2000,
    windowMs: 400,
    afterMs: 4000,
  })
  t.comment(
    `${result.ok + result.failed} requests while the app login's password was rotated (400 ms between ALTER ROLE and the secret's AWSCURRENT moving): ${result.ok} ok, ${result.failed} failed ${result.failures.join(' | ')}; ${result.refusedLogins} logins refused in the window and retried; ${result.redirects} redirects, ${result.counted} clicks counted; ${result.sessions} sessions of the app login, ${result.sessionsFromBefore} from before the rotation`,
  )
  t.ok(result.refusedLogins >= 1, 'new logins did fall into the window')
  t.equal(result.failed, 0, 'zero failed requests')
  t.equal(result.counted, result.redirects, 'every click counted once')
  t.ok(result.oldPasswordRefused, 'the old password no longer logs in')
  t.equal(result.sessionsFromBefore, 0, 'every open session logged in with the new password')
})

t.test('PostgreSQL stopped and started', async (t) => {
  const result = await postgresOutage(stack, 3000)
  t.comment(
    `url-service /readyz failed ${result.notReadyAfterMs} ms after PostgreSQL stopped, was 200 again ${result.readyAgainAfterMs} ms after it started; still running: ${result.stillRunning.join(', ')}; a create+read afterwards: HTTP ${result.readAfter}`,
  )
  t.ok(result.notReadyAfterMs <= 2000, 'readiness drops within 2 s')
  t.ok(result.readyAgainAfterMs <= 5000, 'readiness recovers within 5 s')
  t.equal(result.stillRunning.length, 4, 'no process crashed')
  t.equal(result.readAfter, 200, 'the system serves again')
})

t.test(`SQS emulator down for ${long ? 30 : 10} s during clicks`, async (t) => {
  const result = await queueOutage(stack, long ? 30_000 : 10_000, 20)
  t.comment(
    `${result.clicks} clicks while the queue was down; counted ${result.counted} (${result.drainedAfterMs} ms after it came back)`,
  )
  t.equal(result.counted, result.clicks, 'nothing lost, each counted once')
})

for (const name of ['url-service', 'api-gateway'] as const) {
  t.test(`SIGTERM to ${name} under load`, async (t) => {
    const result = await sigtermInFlight(stack, name, 24)
    t.comment(
      `${result.inFlight} requests in flight at SIGTERM: ${result.completed} completed, exit code ${result.exitCode} ${result.failures.join(' | ')}`,
    )
    t.equal(result.completed, result.inFlight, 'every in-flight request completed')
    t.equal(result.exitCode, 0, 'a clean exit')
  })
}

const roundRobins = {
  'two gateways': roundRobinSigterm,
  'two url-services, called over mTLS as the gateway does,': roundRobinUrlServiceSigterm,
}
for (const [what, run] of Object.entries(roundRobins)) {
  t.test(`${what} behind a round-robin client, one gets SIGTERM`, async (t) => {
    const mark = stack.logs.length
    const result = await run(stack, 9000)
    if (result.failed > 0) t.comment(stack.linesSince(mark).slice(0, 15).join('\n'))
    t.comment(
      `${result.ok + result.failed} requests (${result.perInstance.join(' + ')} per instance), ${result.retried} moved to the other instance after a refused connection, ${result.closing} answered with Connection: close while closing, ${result.failed} failed ${result.failures.join(' | ')}`,
    )
    t.ok((result.perInstance[1] ?? 0) > 0, 'the second instance served before it stopped')
    t.equal(result.failed, 0, 'zero failed requests')
  })
}
