import Fastify from 'fastify'
import t from 'tap'
import { requestId } from '../src/logger.js'
import { createRegistry, installHttpMetrics } from '../src/metrics.js'
import { buildOpsServer } from '../src/ops.js'

t.test('readyz reports each check and turns 503 when one fails or while draining', async (t) => {
  let dbUp = true
  const ops = buildOpsServer({
    service: 'test',
    logLevel: 'silent',
    registry: createRegistry('test'),
    checks: {
      database: () => {
        if (!dbUp) throw new Error('database unreachable')
      },
      slow: () => new Promise((resolve) => setTimeout(resolve, 5)),
    },
    checkTimeoutMs: 200,
  })
  t.teardown(() => ops.app.close())
  const ok = await ops.app.inject('/readyz')
  t.equal(ok.statusCode, 200)
  t.same(ok.json().checks, { database: 'ok', slow: 'ok' })
  dbUp = false
  const down = await ops.app.inject('/readyz')
  t.equal(down.statusCode, 503)
  t.equal(down.json().detail, 'not ready: database')
  dbUp = true
  ops.startDraining()
  const draining = await ops.app.inject('/readyz')
  t.equal(draining.statusCode, 503)
  t.match(draining.json().detail, /shutting down/)
  t.equal((await ops.app.inject('/healthz')).statusCode, 200, 'still alive while draining')
})

t.test('a hanging check fails by timeout instead of hanging readiness', async (t) => {
  const ops = buildOpsServer({
    service: 'test',
    logLevel: 'silent',
    registry: createRegistry('test'),
    checks: { hang: () => new Promise(() => undefined) },
    checkTimeoutMs: 50,
  })
  t.teardown(() => ops.app.close())
  const res = await ops.app.inject('/readyz')
  t.equal(res.statusCode, 503)
  t.equal(res.json().checks.hang, 'timed out after 50 ms')
})

t.test('metrics expose request durations by route template', async (t) => {
  const registry = createRegistry('test')
  const app = Fastify({ logger: false })
  installHttpMetrics(app, registry)
  app.get('/items/:id', async () => ({ ok: true }))
  await app.inject('/items/abc')
  await app.inject('/items/def')
  const ops = buildOpsServer({ service: 'test', logLevel: 'silent', registry, checks: {} })
  t.teardown(() => ops.app.close())
  const text = (await ops.app.inject('/metrics')).body
  t.match(
    text,
    /http_server_request_duration_seconds_count\{service="test",method="GET",route="\/items\/:id",status_code="200"\} 2/,
  )
  t.notMatch(text, /abc|def/)
  t.match(text, /process_cpu_seconds_total/)
})

t.test('request ids: a short token is kept, anything else is replaced', async (t) => {
  const req = (value?: string) =>
    ({ headers: value === undefined ? {} : { 'x-request-id': value } }) as never
  t.equal(requestId(req('abc-123')), 'abc-123')
  t.match(requestId(req('bad id\n{"level":"fatal"}')), /^[0-9a-f-]{36}$/)
  t.match(requestId(req('x'.repeat(200))), /^[0-9a-f-]{36}$/)
  t.match(requestId(req()), /^[0-9a-f-]{36}$/)
})
