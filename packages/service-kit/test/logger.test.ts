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
