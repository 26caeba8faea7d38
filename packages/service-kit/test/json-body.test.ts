import Fastify from 'fastify'
import t from 'tap'
import { installJsonBodyParser } from '../src/json-body.js'
import { installProblemHandlers } from '../src/problem.js'

function build() {
  const app = Fastify({ logger: false })
  installProblemHandlers(app)
  installJsonBodyParser(app)
  const received: unknown[] = []
  app.post('/echo', async (request) => {
    received.push(request.body)
    return { body: request.body }
  })
  return { app, received }
}

const json = { 'content-type': 'application/json' }
// {"url":"https://example.com/<bytes>"}
const withBytes = (...bytes: number[]) =>
  Buffer.concat([
    Buffer.from('{"url":"https://example.com/'),
    Buffer.from(bytes),
    Buffer.from('"}'),
  ])

t.test('a body that is not UTF-8 is a 400 problem and reaches no handler', async (t) => {
  const { app, received } = build()
  const invalid = {
    'a lone 0xff': [0xff],
    'a lone continuation byte': [0x80],
    'a truncated sequence': [0xe2, 0x82],
    'an overlong "/"': [0xc0, 0xaf],
    'a UTF-16 surrogate': [0xed, 0xa0, 0x80],
    'past U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
    'Latin-1 é': [0xe9],
  }
  for (const [name, bytes] of Object.entries(invalid)) {
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: json,
      payload: withBytes(...bytes),
    })
    t.equal(res.statusCode, 400, name)
    t.match(res.headers['content-type'], /^application\/problem\+json/, name)
    t.same(res.json(), {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'The request body is not valid UTF-8.',
    })
  }
  t.same(received, [], 'no handler saw a body')
})

t.test('valid UTF-8 arrives as sent, and the rest is still Fastify parsing JSON', async (t) => {
  const { app, received } = build()
  const ok = await app.inject({
    method: 'POST',
    url: '/echo',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    payload: withBytes(...Buffer.from('é€😀')),
  })
  t.equal(ok.statusCode, 200)
  t.same(received, [{ url: 'https://example.com/é€😀' }])
  const cases: [string, number][] = [
    ['', 400],
    ['{"url":', 400],
    ['{"__proto__":{"admin":true}}', 400],
    ['{"constructor":{"prototype":{"admin":true}}}', 400],
  ]
  for (const [payload, status] of cases) {
    const res = await app.inject({ method: 'POST', url: '/echo', headers: json, payload })
    t.equal(res.statusCode, status, JSON.stringify(payload))
    t.match(res.headers['content-type'], /^application\/problem\+json/)
  }
})
