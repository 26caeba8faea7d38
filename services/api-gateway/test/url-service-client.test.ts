import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { freePort } from '@zt/devkit'
import { HttpProblem } from '@zt/service-kit'
import pino from 'pino'
import { Registry } from 'prom-client'
import t, { type Test } from 'tap'
import { Agent, buildConnector } from 'undici'
import { type CallContext, createHttpUrlServiceClient } from '../src/url-service-client.js'

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

interface Upstream {
  url: string
  seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[]
}

async function upstream(t: Test, handler: Handler): Promise<Upstream> {
  const seen: Upstream['seen'] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
    })
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      handler(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

function client(t: Test, baseUrl: string, timeoutMs = 1000) {
  const dispatcher = new Agent()
  t.teardown(() => dispatcher.close())
  const registry = new Registry()
  return {
    registry,
    client: createHttpUrlServiceClient({ baseUrl, dispatcher, timeoutMs, registry }),
  }
}

const ctx: CallContext = {
  requestId: 'req-1',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  log: pino({ level: 'silent' }),
}

const record = {
  code: 'abc',
  url: 'https://example.com/',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: null,
  clicks: 3,
  lastClickedAt: null,
}

function reply(res: ServerResponse, status: number, body: unknown, type = 'application/json') {
  res.writeHead(status, { 'content-type': type })
  res.end(typeof body === 'string' ? body : JSON.stringify(body))
}

async function problemOf(promise: Promise<unknown>): Promise<HttpProblem> {
  try {
    await promise
  } catch (error) {
    if (error instanceof HttpProblem) return error
    throw error
  }
  throw new Error('expected an HttpProblem')
}

t.test('calls the internal routes with the request id and trace context', async (t) => {
  const up = await upstream(t, (req, res) => {
    if (req.url?.endsWith('/resolve')) return reply(res, 200, { url: 'https://example.com/x' })
    if (req.method === 'POST') return reply(res, 201, record)
    if (req.url?.startsWith('/v1/urls?'))
      return reply(res, 200, { items: [record], nextCursor: 'n1' })
    return reply(res, 200, record)
  })
  const { client: c } = client(t, up.url)
  const expiresAt = new Date('2030-01-01T00:00:00Z')
  t.same(await c.create({ url: 'https://example.com/', alias: 'abc', expiresAt }, ctx), record)
  t.same(await c.get('abc', ctx), record)
  t.same(await c.list({ limit: 5, cursor: 'c1' }, ctx), { items: [record], nextCursor: 'n1' })
  t.same(await c.resolve('abc', { referrer: 'https://r.example/' }, ctx), {
    url: 'https://example.com/x',
  })
  t.same(
    up.seen.map((s) => `${s.method} ${s.url}`),
    [
      'POST /v1/urls',
      'GET /v1/urls/abc',
      'GET /v1/urls?limit=5&cursor=c1',
      'POST /v1/urls/abc/resolve',
    ],
  )
  t.same(JSON.parse(up.seen[0]?.body ?? ''), {
    url: 'https://example.com/',
    alias: 'abc',
    expiresAt: '2030-01-01T00:00:00.000Z',
  })
  t.same(JSON.parse(up.seen[3]?.body ?? ''), { referrer: 'https://r.example/' })
  for (const s of up.seen) {
    t.equal(s.headers['x-request-id'], 'req-1')
    t.equal(s.headers.traceparent, ctx.traceparent)
  }
})

t.test('upstream 4xx problems pass through with status and detail', async (t) => {
  const up = await upstream(t, (_req, res) =>
    reply(
      res,
      410,
      { type: 'about:blank', title: 'Gone', status: 410, detail: 'the link "abc" expired' },
      'application/problem+json',
    ),
  )
  const { client: c } = client(t, up.url)
  const problem = await problemOf(c.resolve('abc', {}, ctx))
  t.equal(problem.status, 410)
  t.equal(problem.detail, 'the link "abc" expired')
})

t.test('upstream field errors pass through; malformed ones are dropped', async (t) => {
  const errors = [{ field: 'body.alias', message: 'is already taken' }]
  let body: unknown = {
    type: 'about:blank',
    title: 'Conflict',
    status: 409,
    detail: 'the alias "x" is already taken',
    errors,
  }
  const up = await upstream(t, (_req, res) => reply(res, 409, body, 'application/problem+json'))
  const { client: c } = client(t, up.url)
  const problem = await problemOf(c.create({ url: 'https://example.com/', alias: 'x' }, ctx))
  t.equal(problem.status, 409)
  t.same(problem.toJSON().errors, errors)

  body = { ...(body as object), errors: [{ field: 'body.alias' }] }
  const malformed = await problemOf(c.create({ url: 'https://example.com/', alias: 'x' }, ctx))
  t.equal(malformed.status, 409)
  t.equal(malformed.detail, 'The request failed.', 'a problem outside the contract is not trusted')
  t.notOk('errors' in malformed.toJSON())
})

t.test('upstream failures become 502 without internals, and reads retry first', async (t) => {
  const up = await upstream(t, (_req, res) =>
    reply(res, 500, { detail: 'relation "urls" does not exist at pg/lib/client.js:526' }),
  )
  const { client: c } = client(t, up.url)
  const read = await problemOf(c.get('abc', ctx))
  t.equal(read.status, 502)
  t.notMatch(read.detail, /relation|pg\//)
  t.equal(up.seen.length, 3, 'a read is tried three times')
  up.seen.length = 0
  const create = await problemOf(c.create({ url: 'https://example.com/' }, ctx))
  t.equal(create.status, 502)
  t.equal(up.seen.length, 1, 'a create is never retried')
  up.seen.length = 0
  await problemOf(c.resolve('abc', {}, ctx))
  t.equal(up.seen.length, 1, 'a resolve (it counts a click) is never retried')
})

t.test('a create or resolve whose connection failed is sent once it connects', async (t) => {
  const up = await upstream(t, (req, res) =>
    req.url?.endsWith('/resolve')
      ? reply(res, 200, { url: 'https://example.com/' })
      : reply(res, 201, record),
  )
  // Each call's first connection fails as a lost DNS answer or a restarting
  // pod makes it fail: before a byte of the request left.
  const failures = ['EAI_AGAIN', 'ECONNREFUSED']
  const connect = buildConnector({})
  let attempts = 0
  const dispatcher = new Agent({
    connect: (options, callback) => {
      attempts += 1
      const code = failures.shift()
      if (code) return callback(Object.assign(new Error(`connect ${code}`), { code }), null)
      return connect(options, callback)
    },
  })
  t.teardown(() => dispatcher.close())
  const c = createHttpUrlServiceClient({ baseUrl: up.url, dispatcher, timeoutMs: 1000 })
  t.same(await c.resolve('abc', {}, ctx), { url: 'https://example.com/' })
  t.equal(attempts, 3, 'two refused connections, then one that carried the request')
  t.equal(up.seen.length, 1, 'the resolve reached url-service once')
  failures.push('ENOTFOUND')
  t.same(await c.create({ url: 'https://example.com/' }, ctx), record)
  t.equal(up.seen.length, 2, 'and the create once')
})

t.test('a read retried after a transient failure succeeds', async (t) => {
  let calls = 0
  const up = await upstream(t, (_req, res) => {
    calls += 1
    if (calls === 1) return res.socket?.destroy()
    return reply(res, 200, record)
  })
  const { client: c } = client(t, up.url)
  t.same(await c.get('abc', ctx), record)
  t.equal(calls, 2)
})

t.test(
  'an upstream refusing the gateway identity is a 502, not a 403 for the caller',
  async (t) => {
    const up = await upstream(t, (_req, res) =>
      reply(res, 403, {
        type: 'about:blank',
        title: 'Forbidden',
        status: 403,
        detail: 'caller not allowed',
      }),
    )
    const { client: c } = client(t, up.url)
    const problem = await problemOf(c.get('abc', ctx))
    t.equal(problem.status, 502)
  },
)

t.test('bodies that break the contract are 502', async (t) => {
  const up = await upstream(t, (req, res) => {
    if (req.url?.endsWith('/resolve')) return reply(res, 200, { url: 'javascript:alert(1)' })
    return reply(res, 200, '<html>not json</html>', 'text/html')
  })
  const { client: c } = client(t, up.url)
  t.equal((await problemOf(c.get('abc', ctx))).status, 502)
  t.equal(
    (await problemOf(c.resolve('abc', {}, ctx))).status,
    502,
    'a stored target that is not http(s) is never used for a redirect',
  )
})

t.test('unreachable url-service is a quick 503 with Retry-After', async (t) => {
  const port = await freePort()
  const { client: c, registry } = client(t, `http://127.0.0.1:${port}`)
  const started = Date.now()
  const problem = await problemOf(c.list({ limit: 1 }, ctx))
  t.equal(problem.status, 503)
  t.equal(problem.headers['retry-after'], '1')
  t.ok(Date.now() - started < 1000, 'well inside the timeout')
  await t.rejects(c.ping(), /url-service unreachable: ECONNREFUSED/)
  t.match(
    await registry.metrics(),
    /url_service_request_duration_seconds_count\{operation="list",outcome="error"\} 1/,
  )
})

t.test('a hanging url-service is cut off at the timeout, retries included', async (t) => {
  const up = await upstream(t, () => undefined)
  const { client: c } = client(t, up.url, 300)
  for (const call of [() => c.get('abc', ctx), () => c.create({ url: 'https://e.x/' }, ctx)]) {
    const started = Date.now()
    const problem = await problemOf(call())
    const took = Date.now() - started
    t.equal(problem.status, 503)
    t.ok(took >= 290 && took < 600, `answered after ${took} ms`)
  }
  await t.rejects(c.ping(), /url-service unreachable/)
})

t.test('a call leaves no deadline armed once it is answered', async (t) => {
  // AbortSignal.timeout cannot be cleared: each call used to leave a timer
  // running for the whole budget, firing a DOMException long after the answer.
  const timeouts = t.capture(AbortSignal, 'timeout')
  const up = await upstream(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(record))
  })
  const { client: c } = client(t, up.url)
  for (let i = 0; i < 5; i++) t.same(await c.get('abc', ctx), record)
  t.equal(timeouts().length, 0)
})
