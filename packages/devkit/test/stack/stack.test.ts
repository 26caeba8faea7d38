import { createServer } from 'node:net'
import t from 'tap'
import { formatLogLine } from '../../src/stack/logs.js'
import { PortInUseError, randomPorts, startStack } from '../../src/stack/stack.js'
import { isPortFree, waitForOk } from '../../src/stack/wait.js'

t.test('pino lines become one readable line; other lines pass through', async (t) => {
  const line = JSON.stringify({
    level: 30,
    time: '2026-11-26T23:59:01.123Z',
    service: 'url-service',
    msg: 'request completed',
    requestId: 'abc',
    err: { message: 'boom', stack: 'Error: boom\n at x' },
  })
  t.equal(formatLogLine(line), '23:59:01.123 INFO  request completed requestId=abc err="boom"')
  t.equal(formatLogLine('plain text'), 'plain text')
  t.equal(formatLogLine('{not json'), '{not json')
})

t.test('a port already in use stops the stack before it starts anything', async (t) => {
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => holder.close(resolve)))
  const address = holder.address()
  const port = typeof address === 'object' && address ? address.port : 0
  t.equal(await isPortFree(port), false)
  const ports = { ...(await randomPorts()), apiGateway: port }
  const lines: string[] = []
  const error = await startStack({
    root: '/nonexistent',
    stateDir: '/nonexistent',
    ports,
    output: (_name, line) => lines.push(line),
  }).catch((e: unknown) => e)
  t.type(error, PortInUseError)
  t.match((error as Error).message, `${port} (apiGateway)`)
  t.same(lines, [], 'nothing was started')
})

t.test('waitForOk gives up with the last failure', async (t) => {
  const port = (await randomPorts()).sqs
  await t.rejects(
    waitForOk(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 300 }),
    /not ready after 300 ms/,
  )
})

t.test(
  'compiled: true without a build names what is missing before starting anything',
  async (t) => {
    const lines: string[] = []
    await t.rejects(
      startStack({
        root: '/nonexistent',
        stateDir: '/nonexistent',
        ports: await randomPorts(),
        compiled: true,
        output: (_name, line) => lines.push(line),
      }),
      /not built: .*services\/url-service\/dist\/server\.js.*run `pnpm build`/,
    )
    t.same(lines, [], 'nothing was started')
  },
)
