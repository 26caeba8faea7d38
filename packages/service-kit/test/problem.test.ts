import Fastify from 'fastify'
import t from 'tap'
import { fastifyBaseOptions } from '../src/logger.js'
import { HttpProblem, installProblemHandlers } from '../src/problem.js'

function build() {
  const app = Fastify({ logger: false, bodyLimit: 64 })
  installProblemHandlers(app)
  app.post(
    '/typed',
    {
      schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'number' } } } },
    },
    async () => ({ ok: true }),
  )
  app.get('/conflict', async () => {
    throw new HttpProblem(409, 'alias "x" is taken', { type: 'https://example.test/alias-taken' })
  })
  app.get('/boom', async () => {
    throw new Error('connection to 10.0.0.5 failed: password authentication failed for user "app"')
  })
  return app
}

t.test('a thrown HttpProblem becomes its problem+json', async (t) => {
  const res = await build().inject('/conflict')
  t.equal(res.statusCode, 409)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.same(res.json(), {
    type: 'https://example.test/alias-taken',
    title: 'Conflict',
    status: 409,
    detail: 'alias "x" is taken',
  })
})

t.test('an unexpected error is a 500 that reveals nothing', async (t) => {
  const res = await build().inject('/boom')
  t.equal(res.statusCode, 500)
  t.notMatch(res.body, /password|10\.0\.0\.5|stack|Error:/)
  t.equal(res.json().detail, 'The server could not complete the request.')
})

t.test('validation, size, media type and JSON errors are 4xx problems', async (t) => {
  const app = build()
  const invalid = await app.inject({ method: 'POST', url: '/typed', payload: { n: 'x' } })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json().detail, /^body\.n: /)
  t.same(invalid.json().errors, [{ field: 'body.n', message: 'must be number' }])
  const refused: [string, string | Record<string, unknown>, string, number][] = [
    ['too big', { n: 1, pad: 'x'.repeat(100) }, 'application/json', 413],
    ['not JSON', 'n=1', 'application/x-www-form-urlencoded', 415],
    ['broken JSON', '{"n":', 'application/json', 400],
  ]
  for (const [name, payload, contentType, status] of refused) {
    const res = await app.inject({
      method: 'POST',
      url: '/typed',
      payload,
      headers: { 'content-type': contentType },
    })
    t.equal(res.statusCode, status, name)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.same(Object.keys(res.json()).sort(), ['detail', 'status', 'title', 'type'])
  }
  t.same(Object.keys(invalid.json()).sort(), ['detail', 'errors', 'status', 'title', 'type'])
})

t.test(
  'field errors name the part and the member, the whole part when it is the problem',
  async (t) => {
    const app = build()
    const missing = await app.inject({ method: 'POST', url: '/typed', payload: {} })
    t.same(missing.json().errors, [{ field: 'body', message: "must have required property 'n'" }])
    const notObject = await app.inject({
      method: 'POST',
      url: '/typed',
      payload: '[1]',
      headers: { 'content-type': 'application/json' },
    })
    t.equal(notObject.json().errors[0].field, 'body')
  },
)

t.test('an HttpProblem carries its field errors, and only when it has some', async (t) => {
  const withErrors = new HttpProblem(409, 'taken', {
    errors: [{ field: 'body.alias', message: 'is already taken' }],
  })
  t.same(withErrors.toJSON().errors, [{ field: 'body.alias', message: 'is already taken' }])
  t.notOk('errors' in new HttpProblem(409, 'taken', { errors: [] }).toJSON())
  t.notOk('errors' in new HttpProblem(409, 'taken').toJSON())
})

t.test('unknown routes are a 404 problem', async (t) => {
  const res = await build().inject('/nope?secret=1')
  t.equal(res.statusCode, 404)
  t.equal(res.json().detail, 'no route for GET /nope')
})

t.test('the base options answer a malformed path with a problem, before routing', async (t) => {
  const app = Fastify({ ...fastifyBaseOptions('test', 'silent') })
  installProblemHandlers(app)
  app.get('/r/:code', async () => ({ ok: true }))
  const res = await app.inject('/r/%E0%A4%A')
  t.equal(res.statusCode, 400)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.same(Object.keys(res.json()).sort(), ['detail', 'status', 'title', 'type'])
})
