import Fastify, { type FastifyServerOptions } from 'fastify'
import t from 'tap'
import { Agent, request } from 'undici'
import { runService } from '../src/lifecycle.js'
import { fastifyBaseOptions } from '../src/logger.js'
import { createRegistry } from '../src/metrics.js'
import { buildOpsServer } from '../src/ops.js'

function ops() {
  return {
    ...buildOpsServer({
      service: 'test',
      logLevel: 'silent',
      registry: createRegistry('t'),
      checks: {},
    }),
    port: 0,
    host: '127.0.0.1',
  }
}

t.test(
  'stop finishes in-flight requests, then releases resources, then exits 0 on signal',
  async (t) => {
    const app = Fastify({ logger: false, forceCloseConnections: 'idle' })
    let release: () => void = () => undefined
    let arrived: () => void = () => undefined
    const requestArrived = new Promise<void>((resolve) => {
      arrived = resolve
    })
    app.get(
      '/slow',
      () =>
        new Promise((resolve) => {
          release = () => resolve({ done: true })
          arrived()
        }),
    )
    const order: string[] = []
    app.addHook('onResponse', async () => {
      order.push('response sent')
    })
    const codes: number[] = []
    const stop = await runService({
      listeners: [{ app, port: 0, host: '127.0.0.1' }],
      ops: ops(),
      drainDelayMs: 0,
      shutdownTimeoutMs: 5000,
      onShutdown: async () => {
        order.push('resources closed')
      },
      exit: (code) => codes.push(code),
    })
    const address = app.server.address()
    const port = typeof address === 'object' && address ? address.port : 0
    const inflight = request(`http://127.0.0.1:${port}/slow`).then((res) => res.body.json())
    await requestArrived
    const stopping = stop()
    await new Promise((r) => setTimeout(r, 50))
    t.same(order, [], 'resources stay open while a request is in flight')
    release()
    t.same(await inflight, { done: true })
    await stopping
    t.same(order, ['response sent', 'resources closed'])
    await t.rejects(request(`http://127.0.0.1:${port}/slow`), 'no longer accepting')
    process.removeAllListeners('SIGTERM')
    process.removeAllListeners('SIGINT')
  },
)

t.test('a port in use gives a clear fatal message and exit 1', async (t) => {
  const holder = Fastify({ logger: false })
  await holder.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => holder.close())
  const address = holder.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const lines: string[] = []
  const app = Fastify({ logger: false })
  const opsServer = ops()
  opsServer.app.log.fatal = ((msg: string) => {
    lines.push(msg)
  }) as never
  const codes: number[] = []
  await runService({
    listeners: [{ app, port, host: '127.0.0.1' }],
    ops: opsServer,
    drainDelayMs: 0,
    shutdownTimeoutMs: 1000,
    exit: (code) => codes.push(code),
  })
  t.same(codes, [1])
  t.match(lines[0], `port ${port} is already in use`)
})

/**
 * Two requests on one kept-alive connection; the server starts closing while
 * the first is in flight, so the second arrives on a closing server.
 */
async function requestWhileClosing(options: FastifyServerOptions) {
  const app = Fastify(options)
  app.get('/', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200))
    return { ok: true }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`
  // One connection: the second request waits on it behind the first.
  const agent = new Agent({ connections: 1 })
  try {
    const first = request(url, { dispatcher: agent })
    await new Promise((resolve) => setTimeout(resolve, 50))
    const closing = app.close()
    const second = request(url, { dispatcher: agent })
    const firstStatus = (await first).statusCode
    const answer = await second
    const body = await answer.body.text()
    await closing
    return { firstStatus, answer, body }
  } finally {
    await agent.close()
  }
}

t.test(
  'a request on a kept-alive connection while the server closes is served, then the connection closes',
  async (t) => {
    const { firstStatus, answer, body } = await requestWhileClosing(
      fastifyBaseOptions('test', 'silent'),
    )
    t.equal(firstStatus, 200)
    t.equal(answer.statusCode, 200, 'served, not a bare 503')
    t.same(JSON.parse(body), { ok: true })
    t.equal(answer.headers.connection, 'close', 'and told not to reuse the connection')
  },
)

t.test(
  "with Fastify's default return503OnClosing the same request fails with a bare 503",
  async (t) => {
    const { firstStatus, answer, body } = await requestWhileClosing({
      ...fastifyBaseOptions('test', 'silent'),
      return503OnClosing: true,
    })
    t.equal(firstStatus, 200)
    t.equal(answer.statusCode, 503, 'refused although it could have been answered')
    t.notMatch(
      String(answer.headers['content-type']),
      /problem\+json/,
      'not the problem+json a client could read',
    )
    t.comment(`the answer: ${answer.statusCode} ${answer.headers['content-type']} ${body}`)
  },
)
