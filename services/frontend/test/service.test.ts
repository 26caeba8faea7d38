import { freePort } from '@zt/devkit'
import t, { type Test } from 'tap'
import { loadConfig } from '../src/config.js'
import { startFrontend } from '../src/service.js'
import { recordingServer } from './helpers/app.js'

async function start(t: Test, gatewayUrl: string, env: Record<string, string> = {}) {
  const [port, opsPort] = [await freePort(), await freePort()]
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: String(port),
    OPS_PORT: String(opsPort),
    API_GATEWAY_URL: gatewayUrl,
    ...env,
  })
  const exits: number[] = []
  const running = await startFrontend(config, { exit: (code) => exits.push(code) })
  t.teardown(() => running.stop())
  return {
    ...running,
    exits,
    main: `http://127.0.0.1:${port}`,
    opsUrl: `http://127.0.0.1:${opsPort}`,
  }
}

t.test('serves the UI, relays the API, and its readiness follows the gateway', async (t) => {
  let gatewayUp = true
  const gateway = await recordingServer(t, (_req, res) => {
    res.writeHead(gatewayUp ? 200 : 503, { 'content-type': 'application/json' })
    res.end('{"items":[],"nextCursor":null}')
  })
  const frontend = await start(t, gateway.url)

  const page = await fetch(`${frontend.main}/`)
  t.equal(page.status, 200)
  t.match(await page.text(), /<script type="module" src="\/app.js"><\/script>/)
  t.equal((await fetch(`${frontend.main}/app.js`)).status, 200, 'the UI was compiled at start')
  const api = await fetch(`${frontend.main}/api/urls?limit=5`)
  t.equal(api.status, 200)
  await api.arrayBuffer()
  t.equal(gateway.seen.at(-1)?.url, '/api/urls?limit=5')

  const ready = await fetch(`${frontend.opsUrl}/readyz`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ok', checks: { 'api-gateway': 'ok' } })
  gatewayUp = false
  const notReady = await fetch(`${frontend.opsUrl}/readyz`)
  t.equal(notReady.status, 503, 'a failing gateway makes the frontend unready')
  t.match(await notReady.text(), /api-gateway answered 503/)
  t.equal((await fetch(`${frontend.opsUrl}/healthz`)).status, 200, 'liveness does not follow it')
  t.match(
    await (await fetch(`${frontend.opsUrl}/metrics`)).text(),
    /http_server_request_duration_seconds_count\{service="frontend",method="GET",route="\/api\/\*"/,
  )
  t.notOk((await fetch(`${frontend.main}/metrics`)).ok, 'metrics are not on the main port')
})

t.test(
  'graceful shutdown: unready first, the in-flight relay completes, then the port closes',
  async (t) => {
    let entered: () => void = () => undefined
    const inside = new Promise<void>((resolve) => {
      entered = resolve
    })
    const gateway = await recordingServer(t, (req, res) => {
      const slow = req.url?.startsWith('/api/urls/slow') ?? false
      if (slow) entered()
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end('{"items":[],"nextCursor":null}')
        },
        slow ? 400 : 0,
      )
    })
    const frontend = await start(t, gateway.url, { DRAIN_DELAY_MS: '200' })

    const pending = fetch(`${frontend.main}/api/urls/slow`)
    await inside
    const stopping = frontend.stop()
    const draining = await fetch(`${frontend.opsUrl}/readyz`)
    t.equal(draining.status, 503, 'readiness fails as soon as the stop begins')
    t.match(await draining.text(), /shutting down/)
    const res = await pending
    t.equal(res.status, 200, 'the in-flight relayed request was answered')
    t.same(await res.json(), { items: [], nextCursor: null })
    await stopping
    await t.rejects(fetch(`${frontend.main}/`), 'the main port no longer accepts')
    await t.rejects(fetch(`${frontend.opsUrl}/healthz`), 'nor does the ops port')
    t.same(frontend.exits, [], 'stopping did not exit the process')
  },
)
