import Fastify from 'fastify'
import t from 'tap'
import { fastifyBaseOptions } from '../src/logger.js'

async function clientIp(trustedProxies: readonly string[], remoteAddress: string) {
  const app = Fastify(fastifyBaseOptions('test', 'silent', { trustedProxies }))
  app.get('/', async (request) => ({ ip: request.ip }))
  const res = await app.inject({
    url: '/',
    remoteAddress,
    headers: { 'x-forwarded-for': '192.0.2.99, 198.51.100.7' },
  })
  await app.close()
  return (res.json() as { ip: string }).ip
}

t.test('X-Forwarded-For names the client only when a trusted proxy sent it', async (t) => {
  t.equal(await clientIp(['10.0.0.0/8'], '10.1.2.3'), '198.51.100.7', 'the hop the proxy appended')
  t.equal(await clientIp(['10.0.0.0/8'], '203.0.113.9'), '203.0.113.9', 'an untrusted peer')
  t.equal(await clientIp([], '10.1.2.3'), '10.1.2.3', 'no proxies: the header is ignored')
})

async function requestLines(level: string, url: string) {
  const lines: Record<string, unknown>[] = []
  const stream = { write: (line: string) => lines.push(JSON.parse(line)) }
  const options = fastifyBaseOptions('test', level)
  const app = Fastify({ ...options, logger: { ...options.logger, stream } })
  app.get('/ok', async () => 'ok')
  app.get('/fails', async () => {
    throw new Error('boom')
  })
  await app.inject({ url, headers: { 'x-request-id': 'req-1' } })
  await app.close()
  return lines.filter((l) => l.requestId === 'req-1')
}

t.test('at info, one line per request, written when it completes', async (t) => {
  const lines = await requestLines('info', '/ok')
  t.equal(lines.length, 1, 'no "incoming request" line')
  t.match(lines[0], {
    level: 'info',
    msg: 'request completed',
    service: 'test',
    req: { method: 'GET', url: '/ok' },
    res: { statusCode: 200 },
    responseTime: Number,
  })
})

t.test('at debug, the incoming line too', async (t) => {
  const lines = await requestLines('debug', '/ok')
  t.same(
    lines.map((l) => l.msg),
    ['incoming request', 'request completed'],
  )
})

t.test('a failed request is still logged with its error', async (t) => {
  const lines = await requestLines('info', '/fails')
  const errored = lines.find((l) => l.level === 'error')
  t.match(errored, { req: { method: 'GET', url: '/fails' }, err: { message: 'boom' } })
  t.match(lines.at(-1), { msg: 'request completed', res: { statusCode: 500 } })
})
