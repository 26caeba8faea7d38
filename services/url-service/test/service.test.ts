import { createTestDatabase, freePort } from '@zt/devkit'
import t from 'tap'
import { loadServerConfig } from '../src/config.js'
import { openDatabase } from '../src/db/database.js'
import { runMigrations } from '../src/db/migrations.js'
import { startUrlService } from '../src/service.js'
import type { VisitRecorder } from '../src/visits.js'
import { localConfig, silent } from './helpers/setup.js'
import { devSpiffe } from './helpers/spiffe.js'

const database = await createTestDatabase(t)
const spiffe = await devSpiffe(t)
const gateway = await spiffe.client()

async function start(
  databaseUrl: string,
  visits?: VisitRecorder,
  env: Record<string, string> = {},
) {
  const [port, opsPort] = [await freePort(), await freePort()]
  const config = loadServerConfig({
    DATABASE_URL: databaseUrl,
    DB_SSL_MODE: 'disable',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: String(port),
    OPS_PORT: String(opsPort),
    ...spiffe.env,
    ...env,
  })
  const exits: number[] = []
  const service = await startUrlService(config, {
    logger: silent,
    exit: (code) => exits.push(code),
    ...(visits ? { visits } : {}),
  })
  return {
    ...service,
    exits,
    main: `https://127.0.0.1:${port}`,
    ops: `http://127.0.0.1:${opsPort}`,
  }
}

{
  const db = await openDatabase(localConfig(database), { logger: silent })
  await runMigrations(db, silent)
  await db.close()
}

t.test('ops port: health, readiness against the database, HTTP and pool metrics', async (t) => {
  const service = await start(database.connectionString)
  t.teardown(() => service.stop())
  t.equal((await fetch(`${service.ops}/healthz`)).status, 200)
  const ready = await fetch(`${service.ops}/readyz`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ok', checks: { database: 'ok', svid: 'ok' } })

  const created = await gateway.fetch(`${service.main}/v1/urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/' }),
  })
  t.equal(created.status, 201)
  await created.arrayBuffer()

  const metrics = await (await fetch(`${service.ops}/metrics`)).text()
  t.match(metrics, /^db_pool_connections\{service="url-service"\} [1-9]/m, 'pool size')
  t.match(metrics, /^db_pool_idle_connections\{service="url-service"\} \d+/m)
  t.match(metrics, /^db_pool_waiting_requests\{service="url-service"\} 0/m)
  t.match(
    metrics,
    /http_server_request_duration_seconds_count\{[^}]*route="\/v1\/urls"[^}]*status_code="201"[^}]*\} 1/,
    'HTTP metrics by route template',
  )
  t.notOk((await gateway.fetch(`${service.main}/metrics`)).ok, 'metrics are not on the main port')
})

t.test('readiness fails while the database cannot be reached', async (t) => {
  const url = new URL(database.connectionString)
  url.pathname = '/no_such_database'
  const service = await start(url.toString())
  t.teardown(() => service.stop())
  const ready = await fetch(`${service.ops}/readyz`)
  t.equal(ready.status, 503)
  t.match(await ready.json(), { status: 503, checks: { database: /does not exist/, svid: 'ok' } })
  t.equal((await fetch(`${service.ops}/healthz`)).status, 200, 'liveness does not depend on it')
})

t.test('graceful shutdown: the in-flight request completes, then the pool closes', async (t) => {
  let entered: () => void = () => undefined
  const inside = new Promise<void>((resolve) => {
    entered = resolve
  })
  const service = await start(database.connectionString, {
    record: async () => {
      entered()
      await new Promise((resolve) => setTimeout(resolve, 300))
    },
  })
  const created = await gateway.fetch(`${service.main}/v1/urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/slow', alias: 'slow-one' }),
  })
  await created.arrayBuffer()
  const pending = gateway.fetch(`${service.main}/v1/urls/slow-one/resolve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  })
  await inside
  const stopping = service.stop()
  const res = await pending
  t.equal(res.status, 200, 'the in-flight redirect was answered')
  t.same(await res.json(), { url: 'https://example.com/slow' })
  await stopping
  t.equal(service.db.pool.ended, true, 'the pool is closed')
  await t.rejects(
    gateway.fetch(`${service.main}/v1/urls/slow-one`),
    'the main port no longer accepts',
  )
  t.same(service.exits, [], 'stopping did not exit the process')
})

/**
 * A caller that keeps sending for `propagationMs` after the stop began: on a
 * cluster the pod stays among the Service's endpoints until the failed
 * readiness has propagated (seconds), and callers keep choosing it. Four
 * loops, so requests are in flight when the stop begins.
 */
async function trafficThroughStop(
  service: Awaited<ReturnType<typeof start>>,
  propagationMs: number,
) {
  const created = await gateway.fetch(`${service.main}/v1/urls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/' }),
  })
  const { code } = (await created.json()) as { code: string }
  const failures: string[] = []
  let servedAfterStop = 0
  const stopAt = Date.now() + 100
  const loops = Array.from({ length: 4 }, async () => {
    while (Date.now() < stopAt + propagationMs) {
      const sent = Date.now()
      try {
        const res = await gateway.fetch(`${service.main}/v1/urls/${code}`)
        await res.arrayBuffer()
        if (res.status !== 200) failures.push(`HTTP ${res.status}`)
        else if (sent >= stopAt) servedAfterStop++
      } catch (error) {
        failures.push(String((error as Error).cause ?? error))
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })
  await new Promise((resolve) => setTimeout(resolve, stopAt - Date.now()))
  const stopping = service.stop()
  // Without a drain delay the ops port may already be closed (0).
  const readiness = await fetch(`${service.ops}/readyz`).then(
    (res) => res.status,
    () => 0,
  )
  await Promise.all(loops)
  await stopping
  return { servedAfterStop, failures, readiness }
}

// The chart sets DRAIN_DELAY_MS=5000 against seconds of propagation; both are scaled down here.
const propagationMs = 300

t.test('the drain delay: callers that have not yet seen readiness fail are served', async (t) => {
  const service = await start(database.connectionString, undefined, { DRAIN_DELAY_MS: '1000' })
  const { servedAfterStop, failures, readiness } = await trafficThroughStop(service, propagationMs)
  t.equal(readiness, 503, 'readiness failed as soon as the stop began')
  t.ok(servedAfterStop > 0, `${servedAfterStop} requests sent after it were served`)
  t.same(failures, [], 'none failed')
})

t.test('without the drain delay the same callers fail', async (t) => {
  const service = await start(database.connectionString, undefined, { DRAIN_DELAY_MS: '0' })
  const { servedAfterStop, failures } = await trafficThroughStop(service, propagationMs)
  t.comment(`${servedAfterStop} served after the stop began; first failure: ${failures[0]}`)
  t.ok(failures.length > 0, `${failures.length} requests failed once the listener closed`)
})
