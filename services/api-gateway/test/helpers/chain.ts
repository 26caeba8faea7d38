/**
 * The real path behind the gateway for tests: url-service's own app over
 * SPIFFE mutual TLS on a real PostgreSQL database, SVIDs from the dev CA.
 *
 * Services do not import each other (biome.json, noRestrictedImports); this
 * helper is the one allowed exception, named in biome.json's last overrides:
 * it starts the real neighbours through their package entry points, and
 * nothing deeper (scripts/test/boundaries.test.ts).
 */
import type { AddressInfo } from 'node:net'
import { createTestDatabase } from '@zt/devkit'
import { SpiffeId, type StaticX509Source, TrustDomain } from '@zt/spiffe'
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type MintOptions,
  mintSource,
} from '@zt/spiffe/dev-ca'
import {
  buildApp as buildUrlService,
  type Database,
  loadConfig as loadUrlServiceConfig,
  openDatabase,
  runMigrations,
} from '@zt/url-service'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { loadConfig } from '../../src/config.js'
import { type RunningApiGateway, startApiGateway } from '../../src/service.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export const trustDomain = TrustDomain.parse('zt.local')
export const ids = {
  gateway: SpiffeId.parse('spiffe://zt.local/ns/services/sa/api-gateway'),
  urlService: SpiffeId.parse('spiffe://zt.local/ns/services/sa/url-service'),
  worker: SpiffeId.parse('spiffe://zt.local/ns/services/sa/worker'),
}

const silent = pino({ level: 'silent' })

/**
 * A dev CA for zt.local (a new one unless given); `source(id)` gives a ready
 * X.509 source holding a fresh SVID.
 */
export async function createPki(existing?: CertificateAuthority) {
  const ca = existing ?? (await createCertificateAuthority({ trustDomain }))
  return {
    ca,
    source: (id: SpiffeId, options: Omit<MintOptions, 'id'> = {}) =>
      mintSource(ca, { id, ...options }),
  }
}

/** A database of this test file's own, migrated by url-service's migrations. */
export async function urlServiceDatabase(t: Teardownable): Promise<Database> {
  const testDb = await createTestDatabase(t)
  const config = loadUrlServiceConfig({
    DATABASE_URL: testDb.connectionString,
    DB_SSL_MODE: 'disable',
  })
  const db = await openDatabase(config, { logger: silent, max: 4 })
  t.teardown(() => db.close())
  await runMigrations(db, silent)
  return db
}

export interface UrlServiceHandle {
  readonly url: string
  readonly port: number
  /** HTTP requests read by the server (a refused connection never gets that far). */
  readonly requests: number
  stop(): Promise<void>
}

/**
 * url-service's app on 127.0.0.1 over mTLS: it presents `source`'s SVID and
 * serves only the gateway's SPIFFE ID. `port` reuses a port after a stop.
 */
export async function startUrlService(
  t: Teardownable,
  options: { db: Database; source: StaticX509Source; port?: number },
): Promise<UrlServiceHandle> {
  // url-service's own production wiring: SPIFFE mTLS, the gateway as the
  // only authorized caller.
  const app: FastifyInstance = buildUrlService({
    db: options.db,
    logger: silent,
    mtls: { source: options.source, trustDomain, authorizedCallers: [ids.gateway] },
  })
  let requests = 0
  app.server.on('request', () => {
    requests += 1
  })
  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
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

export interface GatewayHandle extends RunningApiGateway {
  readonly url: string
  readonly opsUrl: string
}

/** The gateway as server.ts starts it, on loopback ports chosen by the kernel. */
export async function startTestGateway(
  t: Teardownable,
  options: {
    source: StaticX509Source
    urlServiceUrl: string
    env?: Record<string, string>
  },
): Promise<GatewayHandle> {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    OPS_PORT: '0',
    TRUST_DOMAIN: trustDomain.name,
    SPIFFE_SVID_DIR: '/unused-the-test-passes-a-source',
    URL_SERVICE_URL: options.urlServiceUrl,
    PUBLIC_BASE_URL: 'http://sho.rt',
    ...options.env,
  })
  const running = await startApiGateway(config, {
    source: options.source,
    logger: silent,
    exit: () => undefined,
  })
  t.teardown(() => running.stop())
  const port = (running.app.server.address() as AddressInfo).port
  const opsPort = (running.ops.app.server.address() as AddressInfo).port
  return { ...running, url: `http://127.0.0.1:${port}`, opsUrl: `http://127.0.0.1:${opsPort}` }
}
