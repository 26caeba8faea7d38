/**
 * url-service ready-made for tests, its own and its neighbours': a migrated
 * database of the test file's own, and the API on loopback over SPIFFE mutual
 * TLS. Imported as `@zt/url-service/testing`, from test files only
 * (biome.json); production code never starts a neighbour.
 */
import type { AddressInfo } from 'node:net'
import type { UrlServiceEnv } from '@zt/contracts'
import { createTestDatabase, type TestDatabase } from '@zt/devkit'
import type { SpiffeId, X509Source } from '@zt/spiffe'
import pino, { type Logger } from 'pino'
import { buildApp } from './app.js'
import { type Config, loadConfig } from './config.js'
import { type Database, openDatabase } from './db/database.js'
import { runMigrations } from './db/migrations.js'

export { loadConfig, loadServerConfig } from './config.js'
export type { Database } from './db/database.js'
export { loadWorkerConfig } from './worker/config.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export const silent: Logger = pino({ level: 'silent' })

/** Local-run configuration for a test database (DATABASE_URL, no TLS). */
export function localConfig(database: TestDatabase, extra: UrlServiceEnv = {}): Config {
  return loadConfig({
    DATABASE_URL: database.connectionString,
    DB_SSL_MODE: 'disable',
    LOG_LEVEL: 'silent',
    ...extra,
  })
}

/**
 * A database of this test file's own, migrated by url-service's migrations,
 * with a pool of `max` connections closed at teardown.
 */
export async function migratedDatabase(
  t: Teardownable,
  max = 8,
): Promise<{ db: Database; database: TestDatabase; config: Config }> {
  const database = await createTestDatabase(t)
  const config = localConfig(database)
  const db = await openDatabase(config, { logger: silent, max })
  t.teardown(() => db.close())
  await runMigrations(db, silent)
  return { db, database, config }
}

export interface TestUrlService {
  readonly url: string
  readonly port: number
  /** HTTP requests read by the server (a refused connection never gets that far). */
  readonly requests: number
  stop(): Promise<void>
}

export interface TestUrlServiceOptions {
  db: Database
  /** The SVID url-service presents; its trust domain is the one it admits. */
  source: X509Source
  /** Who may call; by default the api-gateway, as AUTHORIZED_CALLERS defaults. */
  authorizedCallers?: SpiffeId[]
  /** Reuses a port after a stop. */
  port?: number
}

/** url-service's app on 127.0.0.1 over mTLS, with its production wiring. */
export async function startTestUrlService(
  t: Teardownable,
  options: TestUrlServiceOptions,
): Promise<TestUrlService> {
  const { trustDomain } = options.source.svid().id
  const app = buildApp({
    db: options.db,
    logger: silent,
    mtls: {
      source: options.source,
      trustDomain,
      authorizedCallers: options.authorizedCallers ?? [
        trustDomain.id('/ns/services/sa/api-gateway'),
      ],
    },
  })
  let requests = 0
  app.server.on('request', () => {
    requests += 1
  })
  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    app.server.closeAllConnections()
    await app.close()
  }
  t.teardown(stop)
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    get requests() {
      return requests
    },
    stop,
  }
}
