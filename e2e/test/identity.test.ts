/**
 * Suite 1: identity attacks on the running system. url-service answers only
 * the api-gateway's SVID; every other certificate gets no answer (or, for a
 * valid member of the trust domain, a 403 problem). The gateway refuses a
 * url-service impostor holding a valid SVID under the wrong ID. Each check is
 * then run with its control configured away, and must see the attack succeed.
 */
import t from 'tap'
import {
  describe,
  restartUrlService,
  runIdentityAttacks,
  runImpostorUrlService,
} from '../src/identity.js'
import { startE2eStack } from '../src/stack.js'

const stack = await startE2eStack()
t.teardown(() => stack.stop())
const worker = `spiffe://${stack.trustDomain}/ns/services/sa/worker`

t.test('url-service answers only the api-gateway', async (t) => {
  const { control, attacks } = await runIdentityAttacks(stack)
  t.comment(describe(control))
  t.equal(control.status, 200, 'control: the real gateway SVID is answered')
  t.equal(control.stoppedBy, 'nobody', 'control: no layer stops it')
  for (const attack of attacks) {
    t.comment(describe(attack))
    t.equal(attack.stoppedBy, attack.expected, `${attack.tried}: stopped by ${attack.expected}`)
    if (attack.outcome === 'answered') {
      t.equal(attack.status, 403, `${attack.tried}: only a 403 refusal`)
      t.match(attack.contentType, /^application\/problem\+json/, 'as problem+json')
    }
  }
  const answered = attacks.filter((a) => a.outcome === 'answered')
  t.comment(
    `${attacks.length} attacks: ${attacks.length - answered.length} refused at TLS, ${answered.length} refused with 403, 0 answered with data`,
  )
})

t.test(
  'the gateway refuses a url-service impostor with a valid SVID under the wrong ID',
  async (t) => {
    const result = await runImpostorUrlService(stack)
    t.comment(
      `impostor presenting an SVID with the worker's ID: gateway answered HTTP ${result.status} ${result.contentType}; impostor saw ${result.connections} connection(s) and ${result.requestsSeen} HTTP request(s); gateway log: ${result.reason}`,
    )
    t.equal(result.status, 503, 'the gateway answers 503')
    t.match(result.contentType, /^application\/problem\+json/)
    t.notMatch(result.body, /evil\.example|stolen/, "the impostor's data is never relayed")
    t.ok(result.connections > 0, 'the gateway did connect to the impostor (and then refused it)')
    t.equal(result.requestsSeen, 0, 'no request (and no data) ever reached the impostor')
  },
)

t.test(
  'weakened: an impostor under the ID the gateway was told to expect gets the request',
  async (t) => {
    const result = await runImpostorUrlService(stack, { URL_SERVICE_ID: worker })
    t.comment(`URL_SERVICE_ID=${worker}: gateway answered HTTP ${result.status}`)
    t.ok(result.requestsSeen > 0, 'the request reached the impostor: the check above would fail')
    t.equal(result.status, 200, 'the gateway accepted its answer')
    t.match(result.body, /evil\.example/, "and relayed the impostor's data")
  },
)

// Last: it restarts url-service with a wider list, and the stack is not reused after.
t.test(
  "weakened: with the worker in AUTHORIZED_CALLERS, the worker's SVID is answered",
  async (t) => {
    await restartUrlService(stack, (env) => {
      env.AUTHORIZED_CALLERS = `spiffe://${stack.trustDomain}/ns/services/sa/api-gateway,${worker}`
    })
    const { attacks } = await runIdentityAttacks(stack)
    const through = attacks.filter((a) => a.stoppedBy === 'nobody')
    for (const attack of through) t.comment(describe(attack))
    t.same(
      through.map((a) => [a.tried, a.status]),
      [["a valid SVID with the worker's ID (the right CA, another workload's ID)", 200]],
      'exactly the worker gets through, with data: the check above would fail',
    )
  },
)
