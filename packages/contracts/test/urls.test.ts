import t from 'tap'

// JSON.stringify leaves U+2028/9 raw, and a raw line separator breaks the TAP stream.
const show = (value: string) =>
  JSON.stringify(value).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)

import { Alias, CreateUrlRequest, ExpiresAt, ListQuery, TargetUrl } from '../src/urls.js'

t.test('TargetUrl accepts absolute http(s) URLs and normalizes them', async (t) => {
  t.equal(TargetUrl.parse('https://example.com'), 'https://example.com/')
  t.equal(TargetUrl.parse('http://EXAMPLE.com:80/a?b=c#d'), 'http://example.com/a?b=c#d')
  t.equal(TargetUrl.parse('https://bücher.example/'), 'https://xn--bcher-kva.example/')
  t.equal(TargetUrl.parse(`https://example.com/${'a'.repeat(2000)}`).length, 2020)
})

t.test('TargetUrl rejects what a shortener must never redirect to', async (t) => {
  const bad = {
    'javascript:alert(1)': 'must use http or https',
    'data:text/html,<script>alert(1)</script>': 'must use http or https',
    'file:///etc/passwd': 'must use http or https',
    'ftp://example.com/': 'must use http or https',
    '//example.com/': 'must be an absolute URL',
    '/relative': 'must be an absolute URL',
    'https://user:pass@example.com/': 'must not contain a user name or password',
    'https://user@example.com/': 'must not contain a user name or password',
    'https://@example.com/': 'must not contain a user name or password',
    'https://exa\nmple.com/': 'must not contain whitespace or control characters',
    'https://example.com/\r\nSet-Cookie: a=b': 'must not contain whitespace or control characters',
    ' https://example.com/': 'must not contain whitespace or control characters',
    'https://example.com/\u2028': 'must not contain whitespace or control characters',
    'http://': 'must be an absolute URL',
  }
  for (const [input, message] of Object.entries(bad)) {
    const result = TargetUrl.safeParse(input)
    t.notOk(result.success, show(input))
    t.equal(result.error?.issues[0]?.message, message, show(input))
  }
  t.notOk(TargetUrl.safeParse(`https://example.com/${'a'.repeat(2040)}`).success, 'over 2048')
  // Percent-encoding during normalization can push a URL past the limit.
  t.notOk(TargetUrl.safeParse(`https://example.com/${' '.repeat(0)}${'é'.repeat(700)}`).success)
})

t.test('TargetUrl refuses what the parser would repair rather than store the repair', async (t) => {
  const authority = 'must start with http:// or https:// followed by the host'
  const backslash = 'must use "/", not "\\", before the query'
  const repaired = {
    // Each of these parses, as https://example.com/ or close to it.
    'https:example.com': authority,
    'https:example.com/path': authority,
    'http:example.com:8080/a': authority,
    'https:/example.com': authority,
    'HTTPS:/example.com/': authority,
    'https:///example.com': authority,
    'https:////example.com/': authority,
    'https:\\\\example.com': authority,
    'https:/\\example.com/': authority,
    'https:\\/example.com/': authority,
    'https://\\example.com/': backslash,
    'https://example.com\\evil.example/': backslash,
    'https://example.com/a\\b': backslash,
  }
  for (const [input, message] of Object.entries(repaired)) {
    t.doesNotThrow(() => new URL(input), `${show(input)} is one the parser accepts`)
    const result = TargetUrl.safeParse(input)
    t.notOk(result.success, show(input))
    t.equal(result.error?.issues[0]?.message, message, show(input))
  }
  // Not repairs: a backslash in the query or fragment is kept as sent.
  t.equal(TargetUrl.parse('https://example.com/?q=a\\b'), 'https://example.com/?q=a\\b')
  t.equal(TargetUrl.parse('https://example.com/#a\\b'), 'https://example.com/#a\\b')
})

t.test('Alias: pattern and reserved words, case-insensitively', async (t) => {
  t.ok(Alias.safeParse('my-link_1').success)
  for (const bad of [
    'ab',
    'a'.repeat(65),
    'has space',
    'ünï',
    '../etc',
    "x'; drop table urls;--",
    'API',
    'healthz',
    'R',
  ]) {
    t.notOk(Alias.safeParse(bad).success, bad)
  }
})

t.test('ExpiresAt must be a future ISO timestamp with an offset', async (t) => {
  const future = new Date(Date.now() + 3600_000).toISOString()
  t.same(ExpiresAt.parse(future), new Date(future))
  t.notOk(ExpiresAt.safeParse(new Date(Date.now() - 1000).toISOString()).success, 'past')
  t.notOk(ExpiresAt.safeParse('2030-01-01').success, 'date only')
  t.notOk(ExpiresAt.safeParse('tomorrow').success)
  t.notOk(ExpiresAt.safeParse('9999-01-01T00:00:00Z').success, 'too far')
})

t.test('CreateUrlRequest rejects unknown keys (no prototype pollution path)', async (t) => {
  t.notOk(CreateUrlRequest.safeParse({ url: 'https://a.example', admin: true }).success)
  t.notOk(
    CreateUrlRequest.safeParse(JSON.parse('{"url":"https://a.example","__proto__":{"x":1}}'))
      .success,
  )
  t.ok(CreateUrlRequest.safeParse({ url: 'https://a.example' }).success)
})

t.test('ListQuery bounds the page size and cursor', async (t) => {
  t.same(ListQuery.parse({}), { limit: 20 })
  t.same(ListQuery.parse({ limit: '5', cursor: 'abc_-1' }), { limit: 5, cursor: 'abc_-1' })
  t.notOk(ListQuery.safeParse({ limit: '0' }).success)
  t.notOk(ListQuery.safeParse({ limit: '101' }).success)
  t.notOk(ListQuery.safeParse({ cursor: 'a/b' }).success)
})
