/**
 * Suite 2: hostile input at the api-gateway. A curated corpus and
 * property-based fuzzing; never a 5xx, every error problem+json, never an
 * invalid row in the database, every service ready afterwards.
 */
import fc from 'fast-check'
import pg from 'pg'
import t from 'tap'
import {
  type HostileCase,
  type HostileResult,
  hostileCorpus,
  invalidRows,
  sendHostile,
  verdict,
} from '../src/hostile.js'
import { call } from '../src/http.js'
import { startE2eStack } from '../src/stack.js'

// The per-client rate limit is a control of its own (429); lifted here so
// every case reaches validation.
const stack = await startE2eStack({ env: { 'api-gateway': { RATE_LIMIT_MAX: '1000000' } } })
t.teardown(() => stack.stop())
const gateway = stack.apiGatewayUrl

const tally = new Map<string, number>()
const count = (result: HostileResult) => {
  const key = `${result.case.group}: ${result.status}`
  tally.set(key, (tally.get(key) ?? 0) + 1)
}

t.test('curated corpus', async (t) => {
  const corpus = hostileCorpus()
  t.ok(corpus.length >= 200, `${corpus.length} curated cases`)
  const failures: string[] = []
  // Four at a time: enough to finish quickly on two cores, few enough to stay polite.
  for (let i = 0; i < corpus.length; i += 4) {
    const results = await Promise.all(corpus.slice(i, i + 4).map((c) => sendHostile(gateway, c)))
    for (const result of results) {
      count(result)
      const problem = verdict(result)
      if (problem) failures.push(`${result.case.group} / ${result.case.name}: ${problem}`)
    }
  }
  t.same(failures, [], 'no 5xx, every error problem+json')
  t.comment(`answers by group and status: ${[...tally].map(([k, n]) => `${k} x${n}`).join(', ')}`)
  t.notOk(tally.has('bad url: 201'), 'no bad url accepted')
  t.notOk(tally.has('control char in url: 201'), 'no control character accepted')
  t.notOk(tally.has('reserved alias: 201'), 'no reserved alias accepted')
  t.notOk(tally.has('bad alias: 201'), 'no bad alias accepted')
})

t.test('property-based fuzzing (fast-check)', async (t) => {
  let runs = 0
  const check = async (c: HostileCase) => {
    runs++
    const result = await sendHostile(gateway, c)
    count(result)
    const problem = verdict(result)
    if (problem) throw new Error(`${c.method} ${c.path} ${c.body ?? ''}: ${problem}`)
  }
  const text = fc.string({ unit: 'binary', maxLength: 120 })
  const target = fc.oneof(
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    text,
    fc
      .tuple(
        fc.constantFrom('javascript:', 'data:', 'file://', 'http://', 'https://', 'HTTPS://'),
        text,
      )
      .map(([scheme, rest]) => scheme + rest),
  )
  await fc.assert(
    fc.asyncProperty(
      fc.record({ url: target, alias: fc.option(text, { nil: undefined }) }),
      (body) =>
        check({
          group: 'fuzz create',
          name: '',
          method: 'POST',
          path: '/api/urls',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
    ),
    { numRuns: 150 },
  )
  await fc.assert(
    fc.asyncProperty(fc.json({ maxDepth: 4 }), (body) =>
      check({
        group: 'fuzz json',
        name: '',
        method: 'POST',
        path: '/api/urls',
        headers: { 'content-type': 'application/json' },
        body,
      }),
    ),
    { numRuns: 60 },
  )
  await fc.assert(
    fc.asyncProperty(
      text,
      fc.constantFrom('/r/', '/api/urls/', '/api/urls?cursor='),
      (code, prefix) =>
        check({
          group: 'fuzz code',
          name: '',
          method: 'GET',
          path: prefix + encodeURIComponent(code),
        }),
    ),
    { numRuns: 90 },
  )
  t.comment(`${runs} generated requests, no 5xx, every error problem+json`)
  t.pass('fuzzing found nothing')
})

t.test('afterwards: no invalid row, every service ready', async (t) => {
  const { rows, invalid } = await invalidRows(stack.databaseUrl)
  t.comment(`${rows} rows in urls, every one re-validated with @zt/contracts`)
  t.same(invalid, [], 'every stored url passes TargetUrl, every code the code pattern')
  for (const [name, port] of [
    ['api-gateway', stack.ports.apiGatewayOps],
    ['url-service', stack.ports.urlServiceOps],
    ['worker', stack.ports.workerOps],
    ['frontend', stack.ports.frontendOps],
  ] as const) {
    t.equal((await call(`http://127.0.0.1:${port}/readyz`)).status, 200, `${name} /readyz 200`)
    t.ok(stack.processes[name].running, `${name} still running`)
  }
})

t.test('the database check itself catches an invalid row', async (t) => {
  // Written straight into the table, past every control, to prove the
  // check above can fail.
  const client = new pg.Client({ connectionString: stack.databaseUrl })
  await client.connect()
  t.teardown(() => client.end())
  await client.query("insert into urls (code, url) values ('planted', 'javascript:alert(1)')")
  const { invalid } = await invalidRows(stack.databaseUrl)
  t.same(invalid, ['url "javascript:alert(1)"'], 'the planted row is reported')
  await client.query("delete from urls where code = 'planted'")
})
