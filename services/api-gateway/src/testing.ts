/**
 * The api-gateway ready-made for tests, its own and its neighbours': the
 * gateway as server.ts starts it, and the chain behind it (a dev CA, a
 * migrated database, url-service over SPIFFE mutual TLS). Imported as
 * `@zt/api-gateway/testing`, from test files only (biome.json).
 */
import type { AddressInfo } from 'node:net'
import type { ApiGatewayEnv } from '@zt/contracts'
import { SpiffeId, type StaticX509Source, TrustDomain, type X509Source } from '@zt/spiffe'
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type MintOptions,
  mintSource,
} from '@zt/spiffe/dev-ca'
import {
  type Database,
  migratedDatabase,
  silent,
  startTestUrlService,
  type TestUrlService,
} from '@zt/url-service/testing'
import { loadConfig } from './config.js'
import { type RunningApiGateway, startApiGateway } from './service.js'

export { loadConfig } from './config.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export const trustDomain = TrustDomain.parse('zt.local')
export const ids = {
  gateway: SpiffeId.parse('spiffe://zt.local/ns/services/sa/api-gateway'),
  urlService: SpiffeId.parse('spiffe://zt.local/ns/services/sa/url-service'),
  worker: SpiffeId.parse('spiffe://zt.local/ns/services/sa/worker'),
}

export interface Pki {
  readonly ca: CertificateAuthority
  /** A ready X.509 source holding a fresh SVID for `id`. */
  source(id: SpiffeId, options?: Omit<MintOptions, 'id'>): Promise<StaticX509Source>
}

/** A dev CA for zt.local (a new one unless given). */
export async function createPki(existing?: CertificateAuthority): Promise<Pki> {
  const ca = existing ?? (await createCertificateAuthority({ trustDomain }))
  return { ca, source: (id, options = {}) => mintSource(ca, { id, ...options }) }
}

export interface TestGateway extends RunningApiGateway {
  readonly url: string
  readonly opsUrl: string
}

/** The gateway as server.ts starts it, on loopback ports chosen by the kernel. */
export async function startTestGateway(
  t: Teardownable,
  options: { source: X509Source; urlServiceUrl: string; env?: ApiGatewayEnv },
): Promise<TestGateway> {
  const env: ApiGatewayEnv = {
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    OPS_PORT: '0',
    TRUST_DOMAIN: trustDomain.name,
    SPIFFE_SVID_DIR: '/unused-the-test-passes-a-source',
    URL_SERVICE_URL: options.urlServiceUrl,
    PUBLIC_BASE_URL: 'http://sho.rt',
    ...options.env,
  }
  const running = await startApiGateway(loadConfig(env), {
    source: options.source,
    logger: silent,
    exit: () => undefined,
  })
  t.teardown(() => running.stop())
  const port = (running.app.server.address() as AddressInfo).port
  const opsPort = (running.ops.app.server.address() as AddressInfo).port
  return { ...running, url: `http://127.0.0.1:${port}`, opsUrl: `http://127.0.0.1:${opsPort}` }
}

export interface ChainOptions {
  /** A database to share between chains of one test file; a new one by default. */
  db?: Database
  pki?: Pki
  /** Settings of the gateway's own, e.g. PUBLIC_BASE_URL or shorter timeouts. */
  gatewayEnv?: ApiGatewayEnv
}

export interface Chain {
  readonly gatewayUrl: string
  readonly opsUrl: string
  readonly pki: Pki
  readonly db: Database
  /** Stop it to see what the gateway does without its upstream. */
  readonly urlService: TestUrlService
  readonly gateway: TestGateway
}

/** The public path, all real: the gateway, url-service over mTLS, PostgreSQL. */
export async function startChain(t: Teardownable, options: ChainOptions = {}): Promise<Chain> {
  const pki = options.pki ?? (await createPki())
  const db = options.db ?? (await migratedDatabase(t, 4)).db
  const urlService = await startTestUrlService(t, { db, source: await pki.source(ids.urlService) })
  const gateway = await startTestGateway(t, {
    source: await pki.source(ids.gateway),
    urlServiceUrl: urlService.url,
    ...(options.gatewayEnv ? { env: options.gatewayEnv } : {}),
  })
  return { gatewayUrl: gateway.url, opsUrl: gateway.opsUrl, pki, db, urlService, gateway }
}
