import { generatedCodeLength } from '@zt/contracts'
import { problemContentType } from '@zt/service-kit'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import type { Visit } from '../../src/visits.js'
import { migratedDatabase, silent } from '../helpers/setup.js'

const { db } = await migratedDatabase(t)
const visits: Visit[] = []
const app = buildApp({ db, logger: silent, visits: { record: async (v) => void visits.push(v) } })
t.teardown(() => app.close())

const create = (body: unknown) =>
  app.inject({ method: 'POST', url: '/v1/urls', payload: body as object })

t.test('create with a random code, then get it', async (t) => {
  const res = await create({ url: 'https://example.com/a?b=1' })
  t.equal(res.statusCode, 201)
  const record = res.json()
  t.match(record.code, new RegExp(`^[0-9A-Za-z]{${generatedCodeLength}}$`))
  t.equal(record.url, 'https://example.com/a?b=1')
  t.equal(record.clicks, 0)
  t.equal(record.expiresAt, null)
  t.equal(record.lastClickedAt, null)
  const got = await app.inject({ url: `/v1/urls/${record.code}` })
  t.equal(got.statusCode, 200)
  t.same(got.json(), record)
})

t.test('alias: created, then 409 on a duplicate', async (t) => {
  const first = await create({ url: 'https://example.com/', alias: 'my-link' })
  t.equal(first.statusCode, 201)
  t.equal(first.json().code, 'my-link')
  const again = await create({ url: 'https://example.org/', alias: 'my-link' })
  t.equal(again.statusCode, 409)
  t.equal(again.headers['content-type'], problemContentType)
  t.match(again.json(), { status: 409, title: 'Conflict', detail: /already taken/ })
  t.same(again.json().errors, [{ field: 'body.alias', message: 'is already taken' }])
})

t.test('400 for invalid input, as problem+json', async (t) => {
  const cases: Array<[string, unknown]> = [
    ['not a URL', { url: 'not a url' }],
    ['javascript: scheme', { url: 'javascript:alert(1)' }],
    ['userinfo', { url: 'https://user:pw@example.com/' }],
    ['too long', { url: `https://example.com/${'a'.repeat(2048)}` }],
    ['reserved alias', { url: 'https://example.com/', alias: 'admin' }],
    ['short alias', { url: 'https://example.com/', alias: 'ab' }],
    ['past expiry', { url: 'https://example.com/', expiresAt: '2001-01-01T00:00:00Z' }],
    ['unknown field', { url: 'https://example.com/', extra: 1 }],
  ]
  for (const [name, body] of cases) {
    const res = await create(body)
    t.equal(res.statusCode, 400, name)
    t.equal(res.headers['content-type'], problemContentType, name)
    t.equal(res.json().status, 400, name)
  }
  const badCode = await app.inject({ url: '/v1/urls/bad%20code' })
  t.equal(badCode.statusCode, 400, 'malformed code')
})

t.test('a URL the parser would repair is refused, and nothing is stored', async (t) => {
  for (const url of ['https:example.com', 'https:/example.com', 'https:///example.com/']) {
    const res = await create({ url, alias: 'repair-test' })
    t.equal(res.statusCode, 400, url)
    t.match(res.json().errors, [{ field: 'body.url', message: /must start with/ }])
  }
  const { rows } = await db.query(`SELECT code FROM urls WHERE code = 'repair-test'`)
  t.same(rows, [])
})

t.test('a body that is not valid UTF-8 is a 400, and nothing is stored', async (t) => {
  for (const bytes of [[0xff], [0xc3], [0xed, 0xa0, 0x80]]) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/urls',
      headers: { 'content-type': 'application/json' },
      payload: Buffer.concat([
        Buffer.from('{"url":"https://example.com/'),
        Buffer.from(bytes),
        Buffer.from('","alias":"utf8-test"}'),
      ]),
    })
    t.equal(res.statusCode, 400, Buffer.from(bytes).toString('hex'))
    t.equal(res.headers['content-type'], problemContentType)
    t.equal(res.json().detail, 'The request body is not valid UTF-8.')
  }
  const resolve = await app.inject({
    method: 'POST',
    url: '/v1/urls/utf8-test/resolve',
    headers: { 'content-type': 'application/json' },
    payload: Buffer.from([...Buffer.from('{"userAgent":"'), 0xff, ...Buffer.from('"}')]),
  })
  t.equal(resolve.statusCode, 400, 'the visit body too')
  const { rows } = await db.query(
    `SELECT code FROM urls WHERE code = 'utf8-test' OR url LIKE '%%EF%BF%BD%'`,
  )
  t.same(rows, [], 'no link stored, with or without U+FFFD')
})

t.test('404 for an unknown code, on get and resolve', async (t) => {
  const got = await app.inject({ url: '/v1/urls/nope123' })
  t.equal(got.statusCode, 404)
  t.equal(got.headers['content-type'], problemContentType)
  const resolved = await app.inject({
    method: 'POST',
    url: '/v1/urls/nope123/resolve',
    payload: {},
  })
  t.equal(resolved.statusCode, 404)
})

t.test(
  'resolve: 200 with the URL and a visit handed to the recorder; 410 once expired',
  async (t) => {
    const res = await create({
      url: 'https://example.com/target',
      alias: 'soon',
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    })
    t.equal(res.statusCode, 201)
    const ok = await app.inject({
      method: 'POST',
      url: '/v1/urls/soon/resolve',
      payload: { referrer: 'https://news.example/', userAgent: 'test-agent' },
    })
    t.equal(ok.statusCode, 200)
    t.same(ok.json(), { url: 'https://example.com/target' })
    t.same(Object.keys(visits.at(-1) ?? {}).sort(), ['at', 'code'], 'headers are not kept')
    t.equal(visits.at(-1)?.code, 'soon')

    // The API refuses a past expiry, so age the row in the database.
    await db.query(`UPDATE urls SET expires_at = now() - interval '1 second' WHERE code = 'soon'`)
    const before = visits.length
    const gone = await app.inject({ method: 'POST', url: '/v1/urls/soon/resolve', payload: {} })
    t.equal(gone.statusCode, 410)
    t.equal(gone.headers['content-type'], problemContentType)
    t.equal(visits.length, before, 'no visit for an expired link')
  },
)

t.test('a failing visit recorder does not fail the redirect', async (t) => {
  const failing = buildApp({
    db,
    logger: silent,
    visits: { record: async () => Promise.reject(new Error('queue down')) },
  })
  t.teardown(() => failing.close())
  await create({ url: 'https://example.com/', alias: 'sturdy' })
  const res = await failing.inject({ method: 'POST', url: '/v1/urls/sturdy/resolve', payload: {} })
  t.equal(res.statusCode, 200)
})

t.test('the database refuses a URL over 2048 characters even past the API', async (t) => {
  await t.rejects(
    db.query(`INSERT INTO urls (code, url) VALUES ('longone', repeat('a', 2049))`),
    /urls_url_length/,
  )
})

t.test('list: newest first, keyset pages without gaps or repeats', async (t) => {
  await db.query('DELETE FROM urls')
  // Same created_at for several rows: the code breaks the tie.
  await db.query(`INSERT INTO urls (code, url, created_at)
    SELECT 'c' || i, 'https://example.com/' || i, timestamptz '2026-01-01' + (i / 3) * interval '1 microsecond'
    FROM generate_series(10, 16) AS i`)
  const seen: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 10; page++) {
    const url: string = `/v1/urls?limit=3${cursor ? `&cursor=${cursor}` : ''}`
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200)
    const body = res.json() as { items: Array<{ code: string }>; nextCursor: string | null }
    t.ok(body.items.length <= 3)
    seen.push(...body.items.map((item) => item.code))
    cursor = body.nextCursor
    if (!cursor) break
  }
  const expected = (
    await db.query<{ code: string }>('SELECT code FROM urls ORDER BY created_at DESC, code DESC')
  ).rows.map((row) => row.code)
  t.same(seen, expected, 'every row once, in order')
  t.equal(seen.length, 7)
})

t.test('list: a tampered or foreign cursor is a 400, not a 500', async (t) => {
  for (const cursor of [
    'abc',
    Buffer.from('123:bad code!').toString('base64url'),
    Buffer.from("1:x' OR '1'='1").toString('base64url'),
    Buffer.from('99999999999999999999:abc').toString('base64url'),
  ]) {
    const res = await app.inject({ url: `/v1/urls?cursor=${cursor}` })
    t.equal(res.statusCode, 400, cursor)
    t.equal(res.headers['content-type'], problemContentType)
    t.same(res.json().errors, [{ field: 'querystring.cursor', message: 'is not a valid cursor' }])
  }
  const res = await app.inject({ url: '/v1/urls?limit=0' })
  t.equal(res.statusCode, 400, 'limit below 1')
})
