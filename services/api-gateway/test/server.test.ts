/** server.ts as a process: SVID files from the dev CA, the real url-service over mTLS. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, startEntry, waitForOk } from '@zt/devkit'
import { DirectorySource } from '@zt/spiffe'
import { DevTrustDomain } from '@zt/spiffe/dev-ca'
import { migratedDatabase, startTestUrlService } from '@zt/url-service/testing'
import pino from 'pino'
import t from 'tap'
import { loadConfig } from '../src/config.js'
import { startApiGateway } from '../src/service.js'
import { createPki, ids } from '../src/testing.js'

const packageDir = fileURLToPath(new URL('../', import.meta.url))

t.test(
  'server.ts starts from SVID files, serves through url-service and stops cleanly',
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'zt-gateway-svid-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const dev = await DevTrustDomain.open(dir, 'zt.local')
    await dev.issue('api-gateway', 3600_000)
    const pki = await createPki(dev.authority)
    const urlService = await startTestUrlService(t, {
      db: (await migratedDatabase(t, 4)).db,
      source: await pki.source(ids.urlService),
    })

    const [port, opsPort] = [await freePort(), await freePort()]
    const { output, stop } = startEntry(t, {
      cwd: packageDir,
      env: {
        HOST: '127.0.0.1',
        PORT: String(port),
        OPS_PORT: String(opsPort),
        LOG_LEVEL: 'warn',
        TRUST_DOMAIN: 'zt.local',
        SPIFFE_SVID_DIR: join(dir, 'api-gateway'),
        URL_SERVICE_URL: urlService.url,
        PUBLIC_BASE_URL: 'https://sho.rt',
      },
    })
    await waitForOk(`http://127.0.0.1:${opsPort}/readyz`, { timeoutMs: 20_000 })
    const created = await fetch(`http://127.0.0.1:${port}/api/urls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://example.com/from-process' }),
    })
    t.equal(created.status, 201)
    t.match(await created.json(), { shortUrl: /^https:\/\/sho\.rt\/r\/[A-Za-z0-9_-]{7}$/ })
    const openapi = await fetch(`http://127.0.0.1:${port}/api/openapi.json`)
    t.equal(openapi.status, 200)
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text()
    t.match(
      metrics,
      /url_service_request_duration_seconds_count\{service="api-gateway",operation="create",outcome="2xx"\} 1/,
    )
    // The SVID's validity, for the rotation-stalled alert: it expires in the future.
    const expiry = Number(
      /^spiffe_svid_expiry_timestamp_seconds\{[^}]*\} (\S+)$/m.exec(metrics)?.[1],
    )
    const issued = Number(
      /^spiffe_svid_issued_timestamp_seconds\{[^}]*\} (\S+)$/m.exec(metrics)?.[1],
    )
    t.ok(expiry > Date.now() / 1000 && issued < expiry, `SVID valid ${issued}..${expiry}`)
    t.equal(await stop(), 0, 'SIGTERM ends it with 0')
    t.notMatch(output(), /"level":"(error|fatal)"/)
  },
)

t.test('a bad environment stops start-up with every variable named', async (t) => {
  const { exited, output } = startEntry(t, {
    cwd: packageDir,
    env: { TRUST_DOMAIN: 'zt.local', RATE_LIMIT_MAX: '-1' },
  })
  t.equal(await exited, 1)
  t.match(output(), /"level":"fatal".*PUBLIC_BASE_URL/)
  t.match(output(), /RATE_LIMIT_MAX/)
})

t.test('no SVID within the wait means a failed start, not a hang', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'zt-gateway-nosvid-'))
  t.teardown(() => rm(empty, { recursive: true, force: true }))
  const source = new DirectorySource({ dir: empty })
  t.teardown(() => source.close())
  const config = loadConfig({
    TRUST_DOMAIN: 'zt.local',
    SPIFFE_SVID_DIR: empty,
    PUBLIC_BASE_URL: 'https://sho.rt',
  })
  const started = Date.now()
  await t.rejects(
    startApiGateway(config, { source, logger: pino({ level: 'silent' }), svidWaitMs: 300 }),
    /no X\.509-SVID from SPIFFE_SVID_DIR .* within 300 ms/,
  )
  t.ok(Date.now() - started < 2000)
})
