/**
 * The gateway against the real url-service over SPIFFE mutual TLS, on real
 * PostgreSQL, with SVIDs from the dev CA.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { migratedDatabase, startTestUrlService } from '@zt/url-service/testing'
import t from 'tap'
import { request } from 'undici'
import { createPki, ids, startChain, startTestGateway } from '../src/testing.js'

async function call(url: string, init: { method?: 'GET' | 'POST'; body?: unknown } = {}) {
  const response = await request(url, {
    method: init.method ?? 'GET',
    headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await response.body.text()
  return {
    status: response.statusCode,
    headers: response.headers,
    body: text === '' ? undefined : JSON.parse(text),
  }
}

const pki = await createPki()
const { db } = await migratedDatabase(t, 4)

t.test('the public API works end to end through url-service over mTLS', async (t) => {
  const { gateway } = await startChain(t, { db, pki })
  const created = await call(`${gateway.url}/api/urls`, {
    method: 'POST',
    body: { url: 'https://example.com/landing?x=1', alias: 'e2e-link' },
  })
  t.equal(created.status, 201)
  t.match(created.body, {
    code: 'e2e-link',
    shortUrl: 'http://sho.rt/r/e2e-link',
    url: 'https://example.com/landing?x=1',
    expiresAt: null,
  })
  const conflict = await call(`${gateway.url}/api/urls`, {
    method: 'POST',
    body: { url: 'https://example.com/other', alias: 'e2e-link' },
  })
  t.equal(conflict.status, 409, "url-service's conflict reaches the caller")
  t.match(conflict.headers['content-type'], /^application\/problem\+json/)
  t.match(
    conflict.body,
    {
      status: 409,
      detail: 'the alias "e2e-link" is already taken',
      errors: [{ field: 'body.alias', message: 'is already taken' }],
    },
    'with its detail and field errors',
  )

  const generated = await call(`${gateway.url}/api/urls`, {
    method: 'POST',
    body: { url: 'https://example.com/generated' },
  })
  t.equal(generated.status, 201)
  t.match(generated.body.code, /^[A-Za-z0-9_-]{7}$/)

  const shown = await call(`${gateway.url}/api/urls/e2e-link`)
  t.equal(shown.status, 200)
  t.match(shown.body, { code: 'e2e-link', clicks: 0 })
  const listed = await call(`${gateway.url}/api/urls?limit=1`)
  t.equal(listed.status, 200)
  t.equal(listed.body.items.length, 1)
  t.type(listed.body.nextCursor, 'string')
  const next = await call(`${gateway.url}/api/urls?limit=1&cursor=${listed.body.nextCursor}`)
  t.equal(next.status, 200)
  t.not(next.body.items[0].code, listed.body.items[0].code, 'the cursor moves on')

  const followed = await call(`${gateway.url}/r/e2e-link`)
  t.equal(followed.status, 302)
  t.equal(followed.headers.location, 'https://example.com/landing?x=1')
  const missing = await call(`${gateway.url}/r/no-such-link`)
  t.equal(missing.status, 404)
  t.match(missing.headers['content-type'], /^application\/problem\+json/)

  const ready = await call(`${gateway.opsUrl}/readyz`)
  t.equal(ready.status, 200)
  t.same(ready.body.checks, { 'url-service': 'ok', svid: 'ok' })
})

t.test('an expired link answers 410 from the real service', async (t) => {
  const { gateway } = await startChain(t, { db, pki })
  const expiresAt = new Date(Date.now() + 1500).toISOString()
  const created = await call(`${gateway.url}/api/urls`, {
    method: 'POST',
    body: { url: 'https://example.com/soon-gone', expiresAt },
  })
  t.equal(created.status, 201)
  await sleep(1600)
  const gone = await call(`${gateway.url}/r/${created.body.code}`)
  t.equal(gone.status, 410)
  t.match(gone.headers['content-type'], /^application\/problem\+json/)
  t.match(gone.body, { status: 410, detail: `the short URL "${created.body.code}" has expired` })
})

t.test("url-service's field errors reach the caller", async (t) => {
  // The gateway passes the cursor on as it came: only url-service can read it.
  const { gateway } = await startChain(t, { db, pki })
  const res = await call(`${gateway.url}/api/urls?cursor=abc`)
  t.equal(res.status, 400)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.same(res.body.errors, [{ field: 'querystring.cursor', message: 'is not a valid cursor' }])
})

t.test('a server with a valid SVID but the wrong SPIFFE ID gets no request', async (t) => {
  // The worker's SVID is genuine and from the same trust domain: only the
  // SPIFFE ID check can tell this impostor from url-service.
  const impostor = await startTestUrlService(t, { db, source: await pki.source(ids.worker) })
  const gateway = await startTestGateway(t, {
    source: await pki.source(ids.gateway),
    urlServiceUrl: impostor.url,
  })
  const res = await call(`${gateway.url}/api/urls`, {
    method: 'POST',
    body: { url: 'https://example.com/secret-target' },
  })
  t.equal(res.status, 503)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.notMatch(JSON.stringify(res.body), /worker|spiffe|certificate/i, 'no internals in the answer')
  t.equal((await call(`${gateway.url}/api/urls`)).status, 503)
  t.equal(impostor.requests, 0, 'not one request reached the impostor')
  const ready = await call(`${gateway.opsUrl}/readyz`)
  t.equal(ready.status, 503)
  t.match(ready.body.checks['url-service'], /url-service unreachable/)

  // Control: the same server is accepted once URL_SERVICE_ID names it, so
  // the refusal above came from the identity check and nothing else.
  const trusting = await startTestGateway(t, {
    source: await pki.source(ids.gateway),
    urlServiceUrl: impostor.url,
    env: { URL_SERVICE_ID: ids.worker.toString() },
  })
  t.equal((await call(`${trusting.url}/api/urls`)).status, 200)
  t.ok(impostor.requests > 0)
})

t.test('url-service stopped: 503 within the timeout, then recovery on its own', async (t) => {
  const timeoutMs = 1000
  const { gateway, urlService: first } = await startChain(t, {
    db,
    pki,
    gatewayEnv: { UPSTREAM_TIMEOUT_MS: String(timeoutMs) },
  })
  t.equal((await call(`${gateway.url}/api/urls`)).status, 200, 'warm: a pooled connection exists')
  await first.stop()

  for (const [method, body] of [
    ['GET', undefined],
    ['POST', { url: 'https://example.com/while-down' }],
  ] as const) {
    const started = performance.now()
    const res = await call(`${gateway.url}/api/urls`, { method, body })
    const took = performance.now() - started
    t.equal(res.status, 503, `${method} while url-service is down`)
    t.equal(res.headers['retry-after'], '1')
    t.ok(took < timeoutMs, `${method} answered in ${took.toFixed(0)} ms, inside ${timeoutMs} ms`)
  }
  t.equal((await call(`${gateway.opsUrl}/readyz`)).status, 503, 'not ready while it is down')
  t.equal((await call(`${gateway.opsUrl}/healthz`)).status, 200, 'but alive')

  await startTestUrlService(t, { db, source: await pki.source(ids.urlService), port: first.port })
  let recovered = false
  for (let attempt = 0; attempt < 20 && !recovered; attempt++) {
    recovered = (await call(`${gateway.url}/api/urls`)).status === 200
    if (!recovered) await sleep(100)
  }
  t.ok(recovered, 'the gateway serves again without a restart')
  t.equal((await call(`${gateway.opsUrl}/readyz`)).status, 200, 'and is ready again')
})

t.test('a burst over the rate limit gets 429s and the gateway stays healthy', async (t) => {
  const { gateway, urlService } = await startChain(t, {
    db,
    pki,
    gatewayEnv: { RATE_LIMIT_MAX: '20', RATE_LIMIT_WINDOW_MS: '2000' },
  })
  const burst = await Promise.all(
    Array.from({ length: 60 }, () => call(`${gateway.url}/api/urls?limit=1`)),
  )
  const statuses = burst.map((r) => r.status)
  t.equal(statuses.filter((s) => s === 200).length, 20, 'the budget is served')
  t.equal(statuses.filter((s) => s === 429).length, 40, 'the rest is refused')
  const limited = burst.find((r) => r.status === 429)
  t.match(limited?.headers['content-type'], /^application\/problem\+json/)
  t.ok(Number(limited?.headers['retry-after']) >= 1, 'with Retry-After')
  t.ok(urlService.requests <= 20, 'refused requests never reached url-service')
  t.equal((await call(`${gateway.opsUrl}/healthz`)).status, 200)
  t.equal((await call(`${gateway.opsUrl}/readyz`)).status, 200)
  await sleep(2100)
  t.equal((await call(`${gateway.url}/api/urls?limit=1`)).status, 200, 'served again next window')
})
