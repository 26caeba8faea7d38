import { connect } from 'node:net'
import { codePattern, reservedAliases, TargetUrl } from '@zt/contracts'
import pg from 'pg'

/** One hostile request. `raw` cases are written byte for byte on a socket. */
export interface HostileCase {
  group: string
  name: string
  method: string
  path: string
  headers?: Record<string, string>
  body?: string
  raw?: string
}

export interface HostileResult {
  case: HostileCase
  status: number
  contentType: string
}

const good = 'https://example.com/ok'
const create = (group: string, name: string, body: unknown): HostileCase => ({
  group,
  name,
  method: 'POST',
  path: '/api/urls',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
})

const controlCharacters = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).concat(
  '\u007f',
)
const hex = (c: string) => `U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`

const badTargets: [string, unknown][] = [
  ['javascript:', 'javascript:alert(1)'],
  ['javascript: mixed case', 'JaVaScRiPt:alert(document.cookie)'],
  ['javascript: leading space', ' javascript:alert(1)'],
  ['javascript: with tab inside', 'java\tscript:alert(1)'],
  ['javascript: entity-encoded', 'javascript&colon;alert(1)'],
  ['javascript: in http-looking form', 'javascript://example.com/%0aalert(1)'],
  ['data: html', 'data:text/html,<script>alert(1)</script>'],
  ['data: base64', 'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='],
  ['file:', 'file:///etc/passwd'],
  ['file: host', 'file://localhost/etc/shadow'],
  ['vbscript:', 'vbscript:msgbox(1)'],
  ['ftp:', 'ftp://example.com/file'],
  ['ws:', 'ws://example.com/'],
  ['blob:', 'blob:https://example.com/uuid'],
  ['about:', 'about:blank'],
  ['mailto:', 'mailto:a@example.com'],
  ['chrome:', 'chrome://settings'],
  ['userinfo user:pass', 'http://user:pass@example.com/'],
  ['userinfo user only', 'https://admin@example.com/'],
  ['userinfo empty', 'https://@example.com/'],
  ['userinfo deceptive host', 'https://example.com@evil.example/'],
  ['userinfo encoded @', 'https://example.com%40evil.example@evil.example/'],
  ['CRLF header injection', 'https://example.com/\r\nSet-Cookie: a=b'],
  // The WHATWG parser would repair each of these into a URL the caller did
  // not write; the edge refuses instead.
  ['empty authority: the parser reads http:///path as http://path/', 'http:///path'],
  ['no "//": the parser reads https:example.com as https://example.com/', 'https:example.com'],
  ['one "/": the parser reads https:/example.com as https://example.com/', 'https:/example.com'],
  ['backslashes for "//"', 'https:\\\\example.com/'],
  [
    'backslash before "@": host example.com to the parser, evil.example to others',
    'https://example.com\\@evil.example/',
  ],
  ['no scheme', 'example.com'],
  ['protocol-relative', '//evil.example/'],
  ['relative path', '/r/abc'],
  ['scheme only', 'https://'],
  ['empty string', ''],
  ['only spaces', '   '],
  ['broken IPv6', 'http://[::1/'],
  ['bad port', 'http://example.com:99999/'],
  ['overlong 2049', `https://example.com/${'a'.repeat(2049 - 20)}`],
  ['overlong 100k', `https://example.com/${'a'.repeat(100_000)}`],
  ['grows past 2048 when normalized', `https://example.com/${'é'.repeat(1000)}`],
  ['RTL override', 'https://example.com/\u202egnp.exe'],
  ['zero-width space in host', 'https://exa\u200bmple.com/'],
  ['zero-width joiner', 'https://example.com/\u200d'],
  ['BOM prefix', '\ufeffhttps://example.com/'],
  ['no-break space', 'https://example.com/\u00a0x'],
  ['line separator', 'https://example.com/\u2028x'],
  ['fullwidth scheme', 'ｊａｖａｓｃｒｉｐｔ:alert(1)'],
  ['number', 42],
  ['null', null],
  ['boolean', true],
  ['array', ['https://example.com/']],
  ['object', { href: 'https://example.com/' }],
]

// Valid but tricky: accepted only in the parser's normalized form.
const trickyButValid: [string, string][] = [
  ['homoglyph host (Cyrillic a) becomes punycode', 'https://\u0430pple.com/'],
  ['IDN host', 'https://bücher.example/'],
  ['upper-case scheme and host', 'HTTPS://EXAMPLE.COM/Path'],
  ['dot segments', 'https://example.com/a/../../etc/passwd'],
  ['encoded script in query', 'https://example.com/?q=%3Cscript%3E'],
  ['IPv4 in decimal', 'http://2130706433/'],
  ['IPv6 loopback', 'http://[::1]/'],
  ['encoded CRLF stays encoded data, not a header', 'https://example.com/%0d%0aSet-Cookie:%20a=b'],
]

const badAliases: [string, unknown][] = [
  ['SQL tautology', "' OR 1=1 --"],
  ['SQL drop', "a'; DROP TABLE urls;--"],
  ['SQL comment', 'abc/**/OR/**/1=1'],
  ['SQL union', 'x UNION SELECT * FROM pg_user'],
  ['path traversal', '../../etc/passwd'],
  ['dot dot', '..'],
  ['encoded traversal', '%2e%2e%2f'],
  ['slash', 'a/b/c'],
  ['backslash', 'a\\b\\c'],
  ['too short', 'ab'],
  ['too long', 'a'.repeat(65)],
  ['unicode letters', 'café-link'],
  ['homoglyph alias', 'p\u0430ypal'],
  ['zero-width in alias', 'abc\u200bdef'],
  ['RTL override in alias', 'abc\u202edef'],
  ['space', 'my alias'],
  ['html', '<script>alert(1)</script>'],
  ['null byte', 'abc\u0000def'],
  ['newline', 'abc\ndef'],
  ['percent', 'abc%20def'],
  ['empty', ''],
  ['number', 12345],
  ['null', null],
  ['object', { toString: 'x' }],
]

const reserved = ['api', 'API', 'r', 'healthz', 'readyz', 'metrics', 'Admin', 'login', 'openapi']

const bodies: [string, string][] = [
  ['__proto__ pollution', `{"url":"${good}","__proto__":{"admin":true}}`],
  ['__proto__ only', '{"__proto__":{"polluted":"yes"}}'],
  ['constructor.prototype', `{"url":"${good}","constructor":{"prototype":{"admin":true}}}`],
  ['nested __proto__ in url', '{"url":{"__proto__":{"toString":"x"}}}'],
  ['extra field', `{"url":"${good}","clicks":1000}`],
  ['code injection field', `{"url":"${good}","code":"chosen"}`],
  ['createdAt field', `{"url":"${good}","createdAt":"2000-01-01T00:00:00Z"}`],
  ['duplicate url key', `{"url":"javascript:alert(1)","url":"${good}"}`],
  ['duplicate url key reversed', `{"url":"${good}","url":"javascript:alert(1)"}`],
  ['truncated JSON', '{"url":'],
  ['open brace', '{'],
  ['trailing comma', `{"url":"${good}",}`],
  ['single quotes', `{'url':'${good}'}`],
  ['JSON null', 'null'],
  ['JSON array', '[]'],
  ['JSON string', '"https://example.com/"'],
  ['JSON number', '123'],
  ['NaN', '{"url":NaN}'],
  ['trailing garbage', `{"url":"${good}"}xyz`],
  ['empty body', ''],
  ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`],
  ['deep object nesting', `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`],
  ['lone surrogate', '{"url":"https://example.com/\\ud800"}'],
  ['escaped null', '{"url":"https://example.com/\\u0000"}'],
  ['expiresAt in the past', `{"url":"${good}","expiresAt":"2000-01-01T00:00:00Z"}`],
  ['expiresAt far future', `{"url":"${good}","expiresAt":"9999-01-01T00:00:00Z"}`],
  ['expiresAt garbage', `{"url":"${good}","expiresAt":"tomorrow"}`],
  ['expiresAt number', `{"url":"${good}","expiresAt":1e20}`],
  ['expiresAt no offset', `{"url":"${good}","expiresAt":"2030-01-01T00:00:00"}`],
]

const contentTypes = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/jsonx',
  'text/json',
  'application/json; charset=utf-16',
  '',
  'application/problem+json',
]

const weirdCodes = [
  '%00',
  '%0d%0aSet-Cookie:%20a=b',
  '..%2f..%2fetc%2fpasswd',
  '..',
  '%2e%2e',
  'a'.repeat(65),
  'a'.repeat(2000),
  '%E2%80%AE',
  '%F0%9F%92%A9',
  "'%20OR%201=1--",
  '%27',
  '%3Cscript%3E',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'zzzzzzz',
  'a%20b',
  '%25',
  'x;drop',
  'x.json',
  '%C0%AE%C0%AE',
]

const listQueries = [
  'limit=0',
  'limit=-1',
  'limit=101',
  'limit=1e3',
  'limit=abc',
  'limit=1.5',
  'limit=',
  'limit[]=1',
  'limit=1&limit=2',
  'cursor=',
  'cursor=..%2F..%2F',
  `cursor=${'a'.repeat(201)}`,
  "cursor='%20OR%201=1",
  'cursor=%00',
  'cursor=__proto__',
  'cursor=aGVsbG8',
  'foo=bar',
  '__proto__[x]=1',
  'constructor[prototype][x]=1',
]

/** The curated corpus of suite 2 (over 200 requests). */
export function hostileCorpus(): HostileCase[] {
  const cases: HostileCase[] = []
  for (const [name, url] of badTargets) cases.push(create('bad url', name, { url }))
  for (const c of controlCharacters) {
    cases.push(
      create('control char in url', `${hex(c)} in path`, { url: `https://example.com/a${c}b` }),
    )
    cases.push(
      create('control char in url', `${hex(c)} in host`, { url: `https://exa${c}mple.com/` }),
    )
  }
  for (const [name, url] of trickyButValid)
    cases.push(create('tricky but valid url', name, { url }))
  for (const [name, alias] of badAliases)
    cases.push(create('bad alias', name, { url: good, alias }))
  for (const word of reserved)
    cases.push(create('reserved alias', word, { url: good, alias: word }))
  for (const [name, body] of bodies) cases.push(create('hostile body', name, body))
  for (const type of contentTypes) {
    cases.push({
      group: 'content type',
      name: type || '(none)',
      method: 'POST',
      path: '/api/urls',
      headers: type ? { 'content-type': type } : {},
      body: type.startsWith('application/x-www')
        ? `url=${encodeURIComponent(good)}`
        : `{"url":"${good}"}`,
    })
  }
  for (const size of [8 * 1024 + 1, 100 * 1024]) {
    cases.push(create('huge body', `${size} bytes`, { url: good, pad: 'x'.repeat(size) }))
  }
  // Big enough that the gateway answers before reading it all; fetch would
  // report the early close as an error, so this one goes over a raw socket.
  const big = JSON.stringify({ url: good, pad: 'x'.repeat(2 * 1024 * 1024) })
  cases.push({
    group: 'huge body',
    name: `${big.length} bytes`,
    method: 'RAW',
    path: '',
    raw: `POST /api/urls HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
  })
  for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    for (const path of ['/api/urls', '/api/urls/abcdefg', '/r/abcdefg']) {
      cases.push({ group: 'wrong method', name: `${method} ${path}`, method, path })
    }
  }
  cases.push({ group: 'wrong method', name: 'HEAD /r/abcdefg', method: 'HEAD', path: '/r/abcdefg' })
  cases.push({ group: 'wrong method', name: 'POST /r/abcdefg', method: 'POST', path: '/r/abcdefg' })
  for (const code of weirdCodes) {
    cases.push({
      group: 'weird code',
      name: `/r/${code.slice(0, 30)}`,
      method: 'GET',
      path: `/r/${code}`,
    })
    cases.push({
      group: 'weird code',
      name: `/api/urls/${code.slice(0, 30)}`,
      method: 'GET',
      path: `/api/urls/${code}`,
    })
  }
  for (const query of listQueries) {
    cases.push({
      group: 'bad list query',
      name: query.slice(0, 40),
      method: 'GET',
      path: `/api/urls?${query}`,
    })
  }
  // Below the router: malformed HTTP that Node's parser must turn away.
  const raw = (name: string, text: string) =>
    cases.push({ group: 'malformed HTTP', name, method: 'RAW', path: '', raw: text })
  raw('CRLF in request target', 'GET /r/abc\r\nX-Injected: 1 HTTP/1.1\r\nHost: x\r\n\r\n')
  raw('bare LF line endings', 'GET /r/abc HTTP/1.1\nHost: x\n\n')
  raw('null byte in path', 'GET /r/a\u0000b HTTP/1.1\r\nHost: x\r\n\r\n')
  raw('header without colon', 'GET /api/urls HTTP/1.1\r\nHost: x\r\nBroken\r\n\r\n')
  raw(
    'content-length and chunked',
    'POST /api/urls HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  )
  raw('negative content-length', 'POST /api/urls HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n')
  for (const path of ['/api/urls', '/r/abcdefg'])
    cases.push({
      group: 'wrong method',
      name: `TRACE ${path}`,
      method: 'RAW',
      path: '',
      raw: `TRACE ${path} HTTP/1.1\r\nHost: x\r\n\r\n`,
    })
  raw('HTTP/0.9 request', 'GET /r/abc\r\n\r\n')
  raw('absurd method', 'G\u00c9T /r/abc HTTP/1.1\r\nHost: x\r\n\r\n')
  return cases
}

async function sendRaw(
  baseUrl: string,
  text: string,
): Promise<{ status: number; contentType: string }> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) })
    let data = ''
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')))
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
    })
    // The server may answer and close before it has read everything we send.
    socket.on('error', () => undefined)
    socket.on('close', () => {
      const status = Number(data.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? 0)
      const contentType = data.match(/\r\ncontent-type: ([^\r]*)/i)?.[1] ?? ''
      resolve({ status, contentType })
    })
    // A big body goes in slices, pausing after the first until the server
    // has had time to answer: writing on into a socket the server closed
    // would reset it, and a reset discards the answer we came for.
    const write = async () => {
      for (let at = 0; at < text.length && data === '' && !socket.destroyed; at += 16_384) {
        socket.write(text.slice(at, at + 16_384), 'latin1')
        for (
          let waited = 0;
          at === 0 && text.length > 16_384 && data === '' && waited < 2000;
          waited += 20
        )
          await new Promise((r) => setTimeout(r, 20))
        await new Promise((r) => setTimeout(r, 1))
      }
      if (!socket.destroyed) socket.end()
    }
    void write()
  })
}

/** Sends one case to the gateway; a reset connection counts as status 0. */
export async function sendHostile(baseUrl: string, c: HostileCase): Promise<HostileResult> {
  if (c.raw !== undefined) return { case: c, ...(await sendRaw(baseUrl, c.raw)) }
  try {
    const response = await fetch(`${baseUrl}${c.path}`, {
      method: c.method,
      redirect: 'manual',
      headers: c.headers ?? {},
      ...(c.body !== undefined ? { body: c.body } : {}),
      signal: AbortSignal.timeout(10_000),
    })
    await response.arrayBuffer()
    return {
      case: c,
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
    }
  } catch {
    return { case: c, status: 0, contentType: '' }
  }
}

/**
 * What a hostile answer may be: anything but a 5xx; an error is problem+json
 * (Node's own parser answers malformed HTTP before any route, as a bare 400).
 */
export function verdict(result: HostileResult): string | undefined {
  const { status, contentType } = result
  if (status >= 500) return `server error ${status}`
  if (result.case.group === 'malformed HTTP')
    return status === 0 || status === 400 ? undefined : `malformed request answered ${status}`
  if (result.case.group === 'huge body' && status !== 413) return `huge body answered ${status}`
  if (status === 0) return 'no answer'
  if (status >= 400 && !contentType.startsWith('application/problem+json'))
    return `error ${status} as ${contentType || 'no content type'}`
  return undefined
}

/** Every stored link must still pass the contract; returns the violations. */
export async function invalidRows(
  databaseUrl: string,
): Promise<{ rows: number; invalid: string[] }> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ code: string; url: string }>('select code, url from urls')
    const invalid: string[] = []
    for (const row of rows) {
      const target = TargetUrl.safeParse(row.url)
      if (!target.success || target.data !== row.url) invalid.push(`url ${JSON.stringify(row.url)}`)
      if (!codePattern.test(row.code)) invalid.push(`code ${JSON.stringify(row.code)}`)
      if (reservedAliases.has(row.code.toLowerCase())) invalid.push(`reserved ${row.code}`)
    }
    return { rows: rows.length, invalid }
  } finally {
    await client.end()
  }
}
