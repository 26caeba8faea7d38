import {
  buildOpsServer,
  createRegistry,
  ignoreIncomingTraceContext,
  type OpsServer,
  runService,
} from '@zt/service-kit'
import type { FastifyInstance } from 'fastify'
import { buildApp, serviceName } from './app.js'
import { prepareAssets } from './assets.js'
import type { Config } from './config.js'
import { gatewayReadiness } from './proxy.js'

export interface StartFrontendOptions {
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void
}

export interface RunningFrontend {
  app: FastifyInstance
  ops: OpsServer
  /** Graceful stop: readiness fails, in-flight requests finish, the compiled UI is removed. */
  stop: () => Promise<void>
}

/**
 * Serves the UI and relays /api to the api-gateway on PORT, ops on OPS_PORT,
 * until SIGTERM. Readiness follows the gateway: without it the UI is useless.
 */
export async function startFrontend(
  config: Config,
  options: StartFrontendOptions = {},
): Promise<RunningFrontend> {
  // The public edge: browsers do not get to choose trace ids or sampling.
  ignoreIncomingTraceContext()
  const registry = createRegistry(serviceName)
  const assets = await prepareAssets()
  const app = await buildApp({ config, assetsRoot: assets.root, registry })
  const ops = buildOpsServer({
    service: serviceName,
    logLevel: config.LOG_LEVEL,
    registry,
    checks: { 'api-gateway': gatewayReadiness(config.API_GATEWAY_URL, 1500) },
    checkTimeoutMs: 2000,
  })
  const stop = await runService({
    listeners: [{ app, port: config.PORT, host: config.HOST }],
    ops: { ...ops, port: config.OPS_PORT, host: config.HOST },
    drainDelayMs: config.DRAIN_DELAY_MS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: () => assets.dispose(),
    ...(options.exit ? { exit: options.exit } : {}),
  })
  return { app, ops, stop }
}
