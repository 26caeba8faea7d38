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

async function start(databaseUrl: string, visits?: VisitRecorder) {
  const [port, opsPort] = [await freePort(), await freePort()]
  const config = loadServerConfig({
    DATABASE_URL: databaseUrl,
    DB_SSL_MODE: 'disable',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: String(port),
    OPS_PORT: String(opsPort),
    ...spiffe.env,
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
