import { connect } from 'node:net'
import { freePort } from '@zt/devkit'
import t from 'tap'
import { gatewayReadiness } from '../src/proxy.js'
import { recordingServer, testApp } from './helpers/app.js'

// undici 8 arms pool timeouts on a clock that ticks once a second, so a
// 200 ms timeout fires within about 1 s; the bound proves "cut off, not hung".
const TIMEOUT_BOUND_MS = 2500

t.test('API calls reach the gateway with the client address and request id only', async (t) => {
  const gateway = await recordingServer(t, (_req, res) => {
    res.writeHead(201, { 'content-type': 'application/json', 'x-ratelimit-remaining': '99' })
    res.end('{"code":"abc"}')
  })
  const app = await testApp(t, { API_GATEWAY_URL: gateway.url })
  const payload = '{"url":"https://example.com/"}'
  const res = await app.inject({
    method: 'POST',
    url: '/api/urls?x=1',
    remoteAddress: '203.0.113.5',
    headers: {
      'content-type': 'application/json',
      'x-request-id': 'req-42',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'x-forwarded-for': '1.2.3.4',
      forwarded: 'for=1.2.3.4',
      cookie: 'session=secret',
      authorization: 'Bearer secret',
    },
    payload,
  })
  t.equal(res.statusCode, 201)
  t.equal(res.body, '{"code":"abc"}')
  t.equal(res.headers['x-ratelimit-remaining'], '99', 'gateway headers come back')
  t.ok(res.headers['content-security-policy'], 'and the frontend still sets its own')
  const seen = gateway.seen[0]
  t.equal(seen?.method, 'POST')
  t.equal(seen?.url, '/api/urls?x=1')
  t.equal(seen?.body.toString(), payload, 'the body travels byte for byte')
  t.equal(seen?.headers['content-type'], 'application/json')
  t.equal(seen?.headers['x-request-id'], 'req-42')
  t.notOk(seen?.headers.traceparent, "the client's trace context stays at the edge")
  t.equal(seen?.headers['x-forwarded-for'], '203.0.113.5', 'the peer, not what the client claimed')
  t.notOk(seen?.headers.forwarded)
  t.notOk(seen?.headers.cookie, 'cookies stay at the frontend')
  t.notOk(seen?.headers.authorization)
})

t.test('behind a trusted ingress, the browser address is forwarded', async (t) => {
  const gateway = await recordingServer(t, (_req, res) => res.end('{}'))
  const app = await testApp(t, { API_GATEWAY_URL: gateway.url, TRUSTED_PROXIES: ['10.0.0.0/8'] })
  await app.inject({
    url: '/api/urls',
    remoteAddress: '10.0.0.7',
    headers: { 'x-forwarded-for': '192.0.2.1, 198.51.100.9' },
  })
  t.equal(gateway.seen[0]?.headers['x-forwarded-for'], '198.51.100.9')
})

t.test('redirects and problems pass through unchanged', async (t) => {
  const gateway = await recordingServer(t, (req, res) => {
    if (req.url === '/r/go') {
      res.writeHead(302, {
        location: 'https://example.com/target',
        'cache-control': 'private, no-store',
      })
      return res.end()
    }
    res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '42' })
    res.end('{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"slow down"}')
  })
  const app = await testApp(t, { API_GATEWAY_URL: gateway.url })
  const redirect = await app.inject('/r/go')
  t.equal(redirect.statusCode, 302)
  t.equal(redirect.headers.location, 'https://example.com/target')
  t.equal(redirect.headers['cache-control'], 'private, no-store')
  const limited = await app.inject('/api/urls')
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['retry-after'], '42')
  t.match(limited.json(), { detail: 'slow down' })
})

t.test('answers of every size arrive intact, read whole or streamed', async (t) => {
  const large = 'x'.repeat(200 * 1024)
  const gateway = await recordingServer(t, (req, res) => {
    if (req.url === '/api/small') return res.end('{"small":true}')
    if (req.url === '/api/large') return res.end(large)
    // No content-length: chunked, so it is streamed whatever its size.
    res.write('{"chunked":')
    res.end('true}')
  })
  const app = await testApp(t, { API_GATEWAY_URL: gateway.url })
  t.equal((await app.inject('/api/small')).body, '{"small":true}')
  t.equal((await app.inject('/api/large')).body, large)
  t.equal((await app.inject('/api/chunked')).body, '{"chunked":true}')
})

t.test('only the public paths are relayed, however the path is spelled', async (t) => {
  const gateway = await recordingServer(t, (_req, res) => res.end('{}'))
  const app = await testApp(t, { API_GATEWAY_URL: gateway.url })
  for (const path of ['/api/../metrics', '/api/%2e%2e/metrics', '/r/%2E./healthz', '/api']) {
    const res = await app.inject(path)
    t.equal(res.statusCode, 404, path)
  }
  t.equal((await app.inject({ method: 'DELETE', url: '/api/urls/x' })).statusCode, 404)
  t.equal((await app.inject({ method: 'HEAD', url: '/r/x' })).statusCode, 404)
  t.equal(gateway.seen.length, 0, 'nothing reached the gateway')
  // An encoded slash is data, not a separator: it stays inside the code.
  await app.inject('/r/..%2f..%2fhealthz')
  t.same(
    gateway.seen.map((s) => s.url),
    ['/r/..%2f..%2fhealthz'],
  )
})

t.test('an absolute-form request line cannot send the request elsewhere', async (t) => {
  const gateway = await recordingServer(t, (_req, res) => res.end('{"from":"gateway"}'))
  const elsewhere = await recordingServer(t, (_req, res) => res.end('{"from":"elsewhere"}'))
  const app = await testApp(t, { API_GATEWAY_URL: gateway.url })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${elsewhere.url}/api/urls HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    })
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      data += chunk
    })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
  t.equal(elsewhere.seen.length, 0, 'the named host was never contacted')
  t.match(raw, /"from":"gateway"/, 'the configured gateway answered instead')
  t.same(
    gateway.seen.map((s) => s.url),
    ['/api/urls'],
  )
})

t.test('large bodies stop at the frontend', async (t) => {
  const gateway = await recordingServer(t, (_req, res) => res.end('{}'))
  const app = await testApp(t, { API_GATEWAY_URL: gateway.url })
  const res = await app.inject({
    method: 'POST',
    url: '/api/urls',
    headers: { 'content-type': 'application/json' },
    payload: `{"url":"https://example.com/?${'a'.repeat(9000)}"}`,
  })
  t.equal(res.statusCode, 413)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(gateway.seen.length, 0)
})

t.test('relayed requests share one kept-alive connection to the gateway', async (t) => {
  const gateway = await recordingServer(t, (req, res) => {
    res.writeHead(req.url?.startsWith('/r/') ? 302 : 200, { location: 'https://example.com/' })
    res.end(req.url?.startsWith('/r/') ? '' : '{}')
  })
  const app = await testApp(t, { API_GATEWAY_URL: gateway.url })
  for (let i = 0; i < 20; i++) {
    const res = await app.inject(i % 2 ? `/r/code${i}` : '/api/urls')
    t.equal(res.statusCode, i % 2 ? 302 : 200)
    // inject answers in the same tick undici frees the connection; a real
    // next request arrives over the network, long after.
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.equal(gateway.seen.length, 20)
  t.equal(gateway.connections(), 1, 'no TCP handshake per relayed request')
})

t.test('a slow answer body is cut off at the gateway timeout too', async (t) => {
  const stalls = (length: number) =>
    recordingServer(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(length) })
      res.write('{"partial":')
    })
  // A small answer is read whole before anything is relayed: a clean 503.
  const small = await testApp(
    t,
    { API_GATEWAY_URL: (await stalls(100)).url },
    { gatewayTimeoutMs: 200 },
  )
  let started = Date.now()
  const cut = await small.inject('/api/urls')
  t.equal(cut.statusCode, 503)
  t.match(cut.json(), { status: 503, detail: /unavailable/ })
  t.ok(Date.now() - started < TIMEOUT_BOUND_MS, 'bounded by the gateway timeout')

  // A large one is streamed: its status and headers were relayed already,
  // so the response is cut short.
  const large = await testApp(
    t,
    { API_GATEWAY_URL: (await stalls(1024 * 1024)).url },
    { gatewayTimeoutMs: 200 },
  )
  started = Date.now()
  await t.rejects(large.inject('/api/urls'), { code: 'LIGHT_ECONNRESET' })
  t.ok(Date.now() - started < TIMEOUT_BOUND_MS, 'bounded by the gateway timeout')
})

t.test('a gateway that is down or hangs gives a prompt 503 problem', async (t) => {
  const down = await testApp(t, { API_GATEWAY_URL: `http://127.0.0.1:${await freePort()}` })
  const refused = await down.inject('/api/urls')
  t.equal(refused.statusCode, 503)
  t.match(refused.headers['content-type'], /^application\/problem\+json/)
  t.equal(refused.headers['retry-after'], '1')
  t.match(refused.json(), { status: 503, detail: /unavailable/ })

  const hanging = await recordingServer(t, () => undefined)
  const slow = await testApp(t, { API_GATEWAY_URL: hanging.url }, { gatewayTimeoutMs: 200 })
  const started = Date.now()
  const timedOut = await slow.inject('/api/urls')
  t.equal(timedOut.statusCode, 503)
  t.ok(Date.now() - started < TIMEOUT_BOUND_MS, 'bounded by the gateway timeout')
})

t.test('readiness follows the gateway', async (t) => {
  const gateway = await recordingServer(t, (_req, res) => res.end('{}'))
  await gatewayReadiness(gateway.url, 500)()
  t.equal(gateway.seen[0]?.url, '/api/openapi.json')
  const broken = await recordingServer(t, (_req, res) => {
    res.writeHead(500)
    res.end()
  })
  await t.rejects(gatewayReadiness(broken.url, 500)(), /api-gateway answered 500/)
  await t.rejects(
    gatewayReadiness(`http://127.0.0.1:${await freePort()}`, 500)(),
    /api-gateway unreachable: ECONNREFUSED/,
  )
})
