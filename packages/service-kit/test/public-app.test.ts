import t from 'tap'
import { createRegistry } from '../src/metrics.js'
import { createPublicApp } from '../src/public-app.js'

t.test('a public app answers errors as problem+json and counts every request', async (t) => {
  const registry = createRegistry('probe')
  const app = createPublicApp({
    service: 'probe',
    logLevel: 'silent',
    trustedProxies: [],
    bodyLimit: 16,
    registry,
  })
  app.post('/echo', async (request) => request.body)
  t.teardown(() => app.close())

  const missing = await app.inject('/nope')
  t.equal(missing.statusCode, 404)
  t.match(missing.headers['content-type'], /^application\/problem\+json/)
  const big = await app.inject({
    method: 'POST',
    url: '/echo',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ text: 'longer than sixteen bytes' }),
  })
  t.equal(big.statusCode, 413, 'the body limit is the one given')
  t.match(big.headers['content-type'], /^application\/problem\+json/)
  t.notOk(big.headers.traceresponse, 'no trace without tracing, so no traceresponse')

  const metrics = await registry.getSingleMetricAsString('http_server_request_duration_seconds')
  t.match(metrics, /http_server_request_duration_seconds_count\{[^}]*status_code="413"[^}]*\} 1/)
})
