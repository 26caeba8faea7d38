import t from 'tap'
import { testApp } from './helpers/app.js'

t.test('a burst over the limit gets 429 problems with Retry-After', async (t) => {
  const app = await testApp(t, { RATE_LIMIT_MAX: 5, RATE_LIMIT_WINDOW_MS: 60_000 })
  const statuses: number[] = []
  let limited: Awaited<ReturnType<typeof app.inject>> | undefined
  for (let i = 0; i < 8; i++) {
    const res = await app.inject({ url: '/api/urls', remoteAddress: '203.0.113.7' })
    statuses.push(res.statusCode)
    if (res.statusCode === 429) limited = res
  }
  t.same(statuses, [200, 200, 200, 200, 200, 429, 429, 429])
  t.ok(limited)
  t.match(limited?.headers['content-type'], /^application\/problem\+json/)
  t.match(limited?.json(), { status: 429, title: 'Too Many Requests', detail: /retry in/i })
  t.ok(Number(limited?.headers['retry-after']) > 0, 'Retry-After in seconds')
  const other = await app.inject({ url: '/api/urls', remoteAddress: '203.0.113.8' })
  t.equal(other.statusCode, 200, 'another client keeps its own budget')
})

t.test('without trusted proxies, X-Forwarded-For cannot buy a fresh budget', async (t) => {
  const app = await testApp(t, { RATE_LIMIT_MAX: 2 })
  const statuses: number[] = []
  for (let i = 0; i < 4; i++) {
    const res = await app.inject({
      url: '/api/urls',
      remoteAddress: '203.0.113.7',
      headers: { 'x-forwarded-for': `198.51.100.${i}` },
    })
    statuses.push(res.statusCode)
  }
  t.same(statuses, [200, 200, 429, 429])
})

t.test('behind a trusted proxy, each forwarded client has its own budget', async (t) => {
  const app = await testApp(t, { RATE_LIMIT_MAX: 2, TRUSTED_PROXIES: ['10.0.0.0/8'] })
  const viaProxy = (client: string) =>
    app.inject({
      url: '/api/urls',
      remoteAddress: '10.1.2.3',
      headers: { 'x-forwarded-for': client },
    })
  t.same(
    [
      (await viaProxy('198.51.100.1')).statusCode,
      (await viaProxy('198.51.100.1')).statusCode,
      (await viaProxy('198.51.100.1')).statusCode,
    ],
    [200, 200, 429],
  )
  t.equal((await viaProxy('198.51.100.2')).statusCode, 200, 'the next client is not punished')
  // A client that prepends a fake address still lands on its own key: only
  // the hop the trusted proxy appended counts.
  const spoofed = await viaProxy('192.0.2.99, 198.51.100.1')
  t.equal(spoofed.statusCode, 429)
  // An untrusted peer's header is ignored.
  const direct = (headers: Record<string, string> = {}) =>
    app.inject({ url: '/api/urls', remoteAddress: '203.0.113.9', headers })
  t.equal((await direct({ 'x-forwarded-for': '198.51.100.3' })).statusCode, 200)
  t.equal((await direct({ 'x-forwarded-for': '198.51.100.4' })).statusCode, 200)
  t.equal((await direct()).statusCode, 429, 'the untrusted peer is keyed by its own address')
})
