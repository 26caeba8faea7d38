import t from 'tap'
import { publicBaseUrl, testApp } from './helpers/app.js'
import { FakeUrlService } from './helpers/fake-url-service.js'

const json = { 'content-type': 'application/json' }
const problemType = /^application\/problem\+json/
/** POST /api/urls with a JSON content type; `payload` as given (objects are serialized). */
const post = (app: Awaited<ReturnType<typeof testApp>>, payload: string | Buffer | object) =>
  app.inject({ method: 'POST', url: '/api/urls', headers: json, payload })

t.test('POST /api/urls creates a link and answers with its short URL', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  const res = await post(app, {
    url: 'HTTPS://Example.COM/a b'.replace(' ', '%20'),
    alias: 'my-link',
  })
  t.equal(res.statusCode, 201)
  t.equal(res.headers.location, '/api/urls/my-link')
  const body = res.json()
  t.same(Object.keys(body).sort(), ['code', 'createdAt', 'expiresAt', 'shortUrl', 'url'])
  t.equal(body.code, 'my-link')
  t.equal(body.shortUrl, `${publicBaseUrl}/r/my-link`)
  t.equal(body.url, 'https://example.com/a%20b', 'the normalized URL is what url-service gets')
  t.equal(body.expiresAt, null)
  t.same(fake.calls[0]?.input, { url: 'https://example.com/a%20b', alias: 'my-link' })
})

t.test('an expiry is passed on as a date', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  const expiresAt = new Date(Date.now() + 3600_000).toISOString()
  const res = await post(app, { url: 'https://example.com/', expiresAt })
  t.equal(res.statusCode, 201)
  t.equal(res.json().expiresAt, expiresAt)
})

t.test('bad bodies are 400 problems that say what is wrong', async (t) => {
  const app = await testApp(t)
  const cases: [unknown, RegExp][] = [
    [{ url: 'javascript:alert(1)' }, /body\.url: must use http or https/],
    [{ url: 'ftp://example.com/' }, /body\.url: must use http or https/],
    [{ url: 'https://user:pw@example.com/' }, /user name or password/],
    [{ url: 'not a url' }, /body\.url/],
    [{ url: `https://example.com/${'a'.repeat(2100)}` }, /at most 2048/],
    [{ url: 'https://example.com/', alias: 'api' }, /body\.alias: is a reserved word/],
    [{ url: 'https://example.com/', alias: 'a/b' }, /body\.alias/],
    [{ url: 'https://example.com/', expiresAt: '2001-01-01T00:00:00Z' }, /must be in the future/],
    [{ url: 'https://example.com/', admin: true }, /Unrecognized key/],
    [{}, /body\.url/],
    [[], /body/],
    ['"https://example.com/"', /body/],
  ]
  for (const [payload, detail] of cases) {
    const res = await post(app, JSON.stringify(payload))
    t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 60))
    t.match(res.headers['content-type'], problemType)
    t.match(res.json(), { status: 400, title: 'Bad Request', detail })
  }
})

t.test('a bad body names each field it concerns in errors', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  const cases: [unknown, { field: string; message: string | RegExp }[]][] = [
    [{ url: 'ftp://example.com/' }, [{ field: 'body.url', message: 'must use http or https' }]],
    [
      { url: 'javascript:alert(1)', alias: 'api' },
      [
        { field: 'body.url', message: 'must use http or https' },
        { field: 'body.alias', message: 'is a reserved word' },
      ],
    ],
    [
      { url: 'https://example.com/', expiresAt: '2001-01-01T00:00:00Z' },
      [{ field: 'body.expiresAt', message: 'must be in the future' }],
    ],
    [{}, [{ field: 'body.url', message: /expected string/ }]],
    [{ url: 'https://example.com/', admin: true }, [{ field: 'body', message: /Unrecognized/ }]],
    [[], [{ field: 'body', message: /expected object/ }]],
  ]
  for (const [payload, errors] of cases) {
    const res = await post(app, JSON.stringify(payload))
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.headers['content-type'], problemType)
    const problem = res.json()
    t.equal(problem.errors.length, errors.length, 'one entry per field')
    t.match(problem.errors, errors)
    for (const entry of problem.errors) t.same(Object.keys(entry).sort(), ['field', 'message'])
  }
  t.same(fake.calls, [], 'nothing reached url-service')

  const list = await app.inject('/api/urls?limit=0&extra=1')
  t.equal(list.statusCode, 400)
  t.match(list.json().errors, [{ field: /^querystring/ }])
  const code = await app.inject('/api/urls/a.b')
  t.match(code.json().errors, [{ field: 'params.code', message: 'is not a valid code' }])
})

t.test('a URL the parser would repair is refused, never passed on rewritten', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  for (const url of [
    'https:example.com',
    'https:/example.com/a',
    'https:///example.com/',
    'https:\\\\example.com/',
    'https://example.com\\evil.example/',
  ]) {
    const res = await post(app, { url })
    t.equal(res.statusCode, 400, url)
    t.match(res.headers['content-type'], problemType)
    t.match(res.json().errors, [{ field: 'body.url', message: /must start with|must use "\/"/ }])
  }
  t.same(fake.calls, [], 'nothing reached url-service')
})

t.test('a body that is not valid UTF-8 is refused, not stored with U+FFFD', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  // {"url":"https://example.com/\xff"} and friends, as raw bytes.
  const bodies = [[0xff], [0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80]].map((bytes) =>
    Buffer.concat([
      Buffer.from('{"url":"https://example.com/'),
      Buffer.from(bytes),
      Buffer.from('","alias":"utf8-test"}'),
    ]),
  )
  for (const payload of bodies) {
    const res = await post(app, payload)
    t.equal(res.statusCode, 400, payload.toString('hex'))
    t.match(res.headers['content-type'], problemType)
    t.equal(res.json().detail, 'The request body is not valid UTF-8.')
  }
  t.same(fake.calls, [], 'nothing reached url-service')
  const valid = await post(app, Buffer.from('{"url":"https://example.com/é","alias":"utf8-test"}'))
  t.equal(valid.statusCode, 201, 'valid UTF-8 is accepted')
  t.equal(valid.json().url, 'https://example.com/%C3%A9')
})

t.test('only JSON bodies are accepted, and only small ones', async (t) => {
  const app = await testApp(t)
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/urls',
      headers: { 'content-type': type },
      payload: 'url=https://example.com/',
    })
    t.equal(res.statusCode, 415, type)
    t.match(res.headers['content-type'], problemType)
    t.equal(res.json().detail, 'Send the request body as application/json.')
  }
  const refused: [string, string, number][] = [
    ['too big', JSON.stringify({ url: `https://example.com/?q=${'a'.repeat(9000)}` }), 413],
    ['broken JSON', '{"url":', 400],
    ['a __proto__ key', '{"url":"https://example.com/","__proto__":{"admin":true}}', 400],
  ]
  for (const [name, payload, status] of refused) {
    const res = await post(app, payload)
    t.equal(res.statusCode, status, name)
    t.match(res.headers['content-type'], problemType, name)
  }
})

t.test('GET /api/urls/:code shows a link; unknown is 404; malformed is 400', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  await fake.create({ url: 'https://example.com/', alias: 'abc' }, fake as never)
  const ok = await app.inject('/api/urls/abc')
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { code: 'abc', url: 'https://example.com/', clicks: 0, lastClickedAt: null })
  const missing = await app.inject('/api/urls/nope')
  t.equal(missing.statusCode, 404)
  t.match(missing.headers['content-type'], problemType)
  t.equal((await app.inject('/api/urls/a.b')).statusCode, 400)
  t.equal((await app.inject(`/api/urls/${'a'.repeat(65)}`)).statusCode, 400)
})

t.test('GET /api/urls pages with limit and cursor and rejects bad ones', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  for (const alias of ['one', 'two', 'three']) {
    await fake.create({ url: `https://example.com/${alias}`, alias }, fake as never)
  }
  const first = await app.inject('/api/urls?limit=2')
  t.equal(first.statusCode, 200)
  t.same(
    first.json().items.map((item: { code: string }) => item.code),
    ['three', 'two'],
  )
  t.equal(first.json().nextCursor, '2')
  const second = await app.inject('/api/urls?limit=2&cursor=2')
  t.same(second.json(), { items: [fake.records.get('one')], nextCursor: null })
  t.same(fake.calls.at(-1)?.input, { limit: 2, cursor: '2' })
  for (const query of ['limit=0', 'limit=101', 'limit=abc', 'cursor=%00', 'other=1']) {
    const res = await app.inject(`/api/urls?${query}`)
    t.equal(res.statusCode, 400, query)
  }
})

t.test('GET /r/:code redirects, counts the visit, and is never cached', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  await fake.create({ url: 'https://example.com/target', alias: 'go' }, fake as never)
  const res = await app.inject({
    url: '/r/go',
    headers: { referer: `https://ref.example/${'x'.repeat(3000)}`, 'user-agent': 'u'.repeat(600) },
  })
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, 'https://example.com/target')
  t.equal(res.headers['cache-control'], 'private, no-store')
  t.equal(fake.records.get('go')?.clicks, 1)
  const visit = fake.calls.at(-1)?.input as { referrer: string; userAgent: string }
  t.equal(visit.referrer.length, 2048, 'referrer cut to the contract bound')
  t.equal(visit.userAgent.length, 512, 'user agent cut to the contract bound')
  const head = await app.inject({ method: 'HEAD', url: '/r/go' })
  t.not(head.statusCode, 302, 'HEAD does not resolve')
  t.equal(fake.records.get('go')?.clicks, 1, 'HEAD is not a visit')
})

// An expired link's 410 and url-service's own problems are asserted on the
// real service (mtls.test.ts), not on this fake's wording.
t.test('GET /r/:code: unknown is 404, malformed is 400', async (t) => {
  const app = await testApp(t)
  t.equal((await app.inject('/r/none')).statusCode, 404)
  t.equal((await app.inject('/r/%2e%2e%2fapi')).statusCode, 400)
})

t.test('request id and trace context travel upstream and back', async (t) => {
  const fake = new FakeUrlService()
  const app = await testApp(t, {}, fake)
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  const res = await app.inject({
    url: '/api/urls',
    headers: { 'x-request-id': 'req-123', traceparent },
  })
  t.equal(res.headers['x-request-id'], 'req-123')
  t.equal(fake.calls[0]?.ctx.requestId, 'req-123')
  t.equal(fake.calls[0]?.ctx.traceparent, traceparent)
  await app.inject({ url: '/api/urls', headers: { traceparent: '00-zz-bad-01' } })
  const minted = fake.calls[1]?.ctx
  t.match(minted?.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/, 'an invalid one is replaced')
  t.match(minted?.requestId, /^[0-9a-f-]{36}$/, 'a request id is minted when absent')
})

t.test('hostile requests never produce a 5xx', async (t) => {
  const app = await testApp(t)
  const requests = [
    { method: 'POST', url: '/api/urls', headers: json, payload: '\u0000\u0001' },
    { method: 'POST', url: '/api/urls', headers: json, payload: 'null' },
    { method: 'POST', url: '/api/urls', headers: json, payload: '{"url":{"$gt":""}}' },
    { method: 'POST', url: '/api/urls', headers: json, payload: '{"url":["https://a.b/"]}' },
    {
      method: 'POST',
      url: '/api/urls',
      headers: { 'content-type': 'application/json; charset=utf-16' },
      payload: '{}',
    },
    { method: 'POST', url: '/api/urls', headers: { 'content-type': '' }, payload: '{}' },
    { method: 'POST', url: '/api/urls', payload: '' },
    {
      method: 'POST',
      url: '/api/urls',
      headers: { 'content-type': 'application/json' },
      payload: `{"constructor":{"prototype":{"x":1}},"url":"https://a.b/"}`,
    },
    { method: 'GET', url: '/api/urls/%ZZ' },
    { method: 'GET', url: `/api/urls/${'%00'.repeat(50)}` },
    { method: 'GET', url: '/api/urls?limit=1e309' },
    { method: 'GET', url: '/api/urls?limit=1&limit=2' },
    { method: 'GET', url: '/api/urls?cursor[a]=1' },
    { method: 'GET', url: '/r/%F0%9F%92%A9' },
    { method: 'GET', url: `/r/${'a'.repeat(5000)}` },
    { method: 'DELETE', url: '/api/urls/abc' },
    { method: 'PUT', url: '/api/urls', headers: json, payload: '{}' },
  ] as const
  for (const request of requests) {
    const res = await app.inject(request as never)
    t.ok(
      res.statusCode >= 400 && res.statusCode < 500,
      `${request.method} ${request.url.slice(0, 40)} -> ${res.statusCode}`,
    )
    t.match(res.headers['content-type'], problemType)
    t.notMatch(res.body, /at .+\.ts:\d+|node_modules|stack/i, 'no internals leak')
  }
})

t.test('the OpenAPI document comes from the same schemas', async (t) => {
  const app = await testApp(t)
  const res = await app.inject('/api/openapi.json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.equal(doc.openapi, '3.1.0')
  t.same(Object.keys(doc.paths).sort(), ['/api/urls', '/api/urls/{code}', '/r/{code}'])
  const create = doc.paths['/api/urls'].post
  const body = create.requestBody.content['application/json'].schema
  t.same(body.required, ['url'])
  t.same(Object.keys(body.properties).sort(), ['alias', 'expiresAt', 'url'])
  t.equal(body.properties.url.maxLength, 2048)
  t.ok(create.responses['201'], 'documents the created answer')
  t.ok(create.responses['409'], 'documents the conflict')
  const problem = create.responses['400'].content['application/json'].schema
  t.same(
    problem.properties.errors.items.required,
    ['field', 'message'],
    'documents the errors member of a problem',
  )
  t.ok(doc.paths['/r/{code}'].get.responses['410'], 'documents the expired answer')
})
