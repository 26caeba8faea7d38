import { fileURLToPath } from 'node:url'
import { freePort, startEntry, waitForOk } from '@zt/devkit'
import t from 'tap'
import { recordingServer } from './helpers/app.js'

const packageDir = fileURLToPath(new URL('../', import.meta.url))

t.test(
  'server.ts starts the frontend from the environment and stops cleanly on SIGTERM',
  async (t) => {
    const gateway = await recordingServer(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"items":[],"nextCursor":null}')
    })
    const [port, opsPort] = [await freePort(), await freePort()]
    const { output, stop } = startEntry(t, {
      cwd: packageDir,
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        OPS_PORT: String(opsPort),
        API_GATEWAY_URL: gateway.url,
        LOG_LEVEL: 'warn',
      },
    })
    await waitForOk(`http://127.0.0.1:${opsPort}/readyz`, { timeoutMs: 20_000 })
    const page = await fetch(`http://127.0.0.1:${port}/`)
    t.equal(page.status, 200)
    t.match(await page.text(), /<script type="module" src="\/app.js"><\/script>/)
    t.equal(
      (await fetch(`http://127.0.0.1:${port}/app.js`)).status,
      200,
      'bundle built at start-up',
    )
    const api = await fetch(`http://127.0.0.1:${port}/api/urls?limit=5`)
    t.equal(api.status, 200)
    t.equal(gateway.seen.at(-1)?.url, '/api/urls?limit=5')

    t.equal(await stop(), 0, 'SIGTERM ends it with 0')
    t.notMatch(output(), /"level":"(error|fatal)"/)
  },
)

t.test('a bad environment stops start-up with the variable named', async (t) => {
  const { exited, output } = startEntry(t, {
    cwd: packageDir,
    env: { API_GATEWAY_URL: 'ftp://nope', PORT: 'x' },
  })
  t.equal(await exited, 1)
  t.match(output(), /"level":"fatal".*API_GATEWAY_URL/)
  t.match(output(), /PORT/)
})
