/**
 * The whole public path for browser tests, all real: the api-gateway's chain
 * (the gateway, url-service over SPIFFE mutual TLS, PostgreSQL) with this
 * frontend in front of it.
 */
import { startChain } from '@zt/api-gateway/testing'
import { freePort } from '@zt/devkit'
import { createRegistry } from '@zt/service-kit'
import { buildApp } from '../../src/app.js'
import { testAssets } from './app.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export interface Chain {
  frontendUrl: string
  gatewayUrl: string
}

export async function startFrontendChain(t: Teardownable): Promise<Chain> {
  // The gateway builds short links on the frontend's origin, so that port is fixed first.
  const frontendPort = await freePort()
  const frontendUrl = `http://127.0.0.1:${frontendPort}`
  const { gatewayUrl } = await startChain(t, {
    gatewayEnv: { PUBLIC_BASE_URL: frontendUrl, TRUSTED_PROXIES: '127.0.0.1' },
  })
  const frontend = await buildApp({
    config: { LOG_LEVEL: 'silent', API_GATEWAY_URL: gatewayUrl, TRUSTED_PROXIES: [] },
    assetsRoot: (await testAssets()).root,
    registry: createRegistry('frontend'),
  })
  t.teardown(() => frontend.close())
  await frontend.listen({ port: frontendPort, host: '127.0.0.1' })
  return { frontendUrl, gatewayUrl }
}
