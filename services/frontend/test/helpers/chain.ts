/**
 * The whole public path for browser tests, all real: this frontend, the
 * api-gateway as its server.ts starts it, and url-service over SPIFFE mutual
 * TLS on real PostgreSQL, with SVIDs from the dev CA.
 *
 * Services do not import each other (biome.json, noRestrictedImports); this
 * helper is the one allowed exception, named in biome.json's last overrides:
 * it starts the real neighbours through their package entry points, and
 * nothing deeper (scripts/test/boundaries.test.ts).
 */
import type { AddressInfo } from 'node:net'
import { loadConfig as loadGatewayConfig, startApiGateway } from '@zt/api-gateway'
import { createTestDatabase, freePort } from '@zt/devkit'
import { createRegistry } from '@zt/service-kit'
import { SpiffeId, TrustDomain } from '@zt/spiffe'
import { createCertificateAuthority, mintSource } from '@zt/spiffe/dev-ca'
import {
  buildApp as buildUrlService,
  loadConfig as loadUrlServiceConfig,
  openDatabase,
  runMigrations,
} from '@zt/url-service'
import pino from 'pino'
import { buildApp } from '../../src/app.js'
import { testAssets } from './app.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

const trustDomain = TrustDomain.parse('zt.local')
const gatewayId = SpiffeId.parse('spiffe://zt.local/ns/services/sa/api-gateway')
const urlServiceId = SpiffeId.parse('spiffe://zt.local/ns/services/sa/url-service')
const silent = pino({ level: 'silent' })

async function listenUrl(server: { address(): AddressInfo | string | null }, scheme: string) {
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`
}

export interface Chain {
  frontendUrl: string
  gatewayUrl: string
}

export async function startChain(t: Teardownable): Promise<Chain> {
  const ca = await createCertificateAuthority({ trustDomain })
  const source = (id: SpiffeId) => mintSource(ca, { id })

  const testDb = await createTestDatabase(t)
  const db = await openDatabase(
    loadUrlServiceConfig({ DATABASE_URL: testDb.connectionString, DB_SSL_MODE: 'disable' }),
    { logger: silent, max: 4 },
  )
  t.teardown(() => db.close())
  await runMigrations(db, silent)

  const urlServiceSource = await source(urlServiceId)
  const urlService = buildUrlService({
    db,
    logger: silent,
    mtls: { source: urlServiceSource, trustDomain, authorizedCallers: [gatewayId] },
  })
  await urlService.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => {
    urlService.server.closeAllConnections()
    await urlService.close()
  })

  // The gateway builds short links on the frontend's origin, so that port is fixed first.
  const frontendPort = await freePort()
  const frontendUrl = `http://127.0.0.1:${frontendPort}`
  const gateway = await startApiGateway(
    loadGatewayConfig({
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
      OPS_PORT: '0',
      TRUST_DOMAIN: trustDomain.name,
      SPIFFE_SVID_DIR: '/unused-the-test-passes-a-source',
      URL_SERVICE_URL: await listenUrl(urlService.server, 'https'),
      PUBLIC_BASE_URL: frontendUrl,
      TRUSTED_PROXIES: '127.0.0.1',
    }),
    { source: await source(gatewayId), logger: silent, exit: () => undefined },
  )
  t.teardown(() => gateway.stop())
  const gatewayUrl = await listenUrl(gateway.app.server, 'http')

  const frontend = await buildApp({
    config: { LOG_LEVEL: 'silent', API_GATEWAY_URL: gatewayUrl, TRUSTED_PROXIES: [] },
    assetsRoot: (await testAssets()).root,
    registry: createRegistry('frontend'),
  })
  t.teardown(() => frontend.close())
  await frontend.listen({ port: frontendPort, host: '127.0.0.1' })
  return { frontendUrl, gatewayUrl }
}
