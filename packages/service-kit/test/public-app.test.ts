import { connect } from 'node:net'
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

t.test('HTTP/0.9 is refused before any route, its smuggled header unread', async (t) => {
  const app = createPublicApp({
    service: 'probe',
    logLevel: 'silent',
    trustedProxies: [],
    bodyLimit: 1024,
    registry: createRegistry('probe'),
  })
  const served: unknown[] = []
  app.get('/r/:code', async (request) => {
    served.push(request.headers)
    return 'served'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0

  // Node reads this as HTTP/0.9 with the header X-Injected.
  const answer = await new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let data = ''
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')))
    socket.on('error', () => undefined)
    socket.on('close', () => resolve(data))
    socket.end('GET /r/abc\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1')
  })
  t.same(served, [], 'the route never ran')
  // Node may close the connection before the answer is written.
  if (answer !== '') {
    t.match(answer, /^HTTP\/1\.1 400 /)
    t.match(answer, /content-type: application\/problem\+json/i)
  }

  const ok = await fetch(`http://127.0.0.1:${port}/r/abc`)
  t.equal(await ok.text(), 'served', 'HTTP/1.1 is served')
})
