import {
  buildOpsServer,
  createRegistry,
  installSvidMetrics,
  type OpsServer,
  runService,
} from '@zt/service-kit'
import {
  authorizeId,
  MtlsDispatcher,
  svidReadiness,
  svidValidity,
  waitForSvid,
  type X509Source,
} from '@zt/spiffe'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp, serviceName } from './app.js'
import type { Config } from './config.js'
import { createHttpUrlServiceClient } from './url-service-client.js'

export interface StartApiGatewayOptions {
  /** This workload's SVID and trust bundle, kept current by the source. */
  source: X509Source
  logger: Logger
  /** How long to wait for the first SVID (default 30 s); past it start-up fails. */
  svidWaitMs?: number
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void
}

export interface RunningApiGateway {
  app: FastifyInstance
  ops: OpsServer
  /** Graceful stop: readiness fails, in-flight requests finish, mTLS pool and source close. */
  stop: () => Promise<void>
}

/**
 * Serves the public API on PORT and ops on OPS_PORT, calling url-service
 * over SPIFFE mTLS, until SIGTERM.
 */
export async function startApiGateway(
  config: Config,
  options: StartApiGatewayOptions,
): Promise<RunningApiGateway> {
  const { source, logger } = options
  await waitForSvid(source, options.svidWaitMs ?? 30_000)
  const registry = createRegistry(serviceName)
  installSvidMetrics(registry, svidValidity(source))
  // Calls go only to a server proving URL_SERVICE_ID, whatever DNS says.
  const dispatcher = new MtlsDispatcher(source, {
    authorizer: authorizeId(config.URL_SERVICE_ID),
    logger,
  })
  const urlService = createHttpUrlServiceClient({
    baseUrl: config.URL_SERVICE_URL,
    dispatcher,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    registry,
    // The peer is the one ID the dispatcher's authorizer accepts.
    spiffe: { local: source.svid().id.toString(), peer: config.URL_SERVICE_ID.toString() },
  })
  const app = await buildApp({ config, urlService, registry })
  const ops = buildOpsServer({
    service: serviceName,
    logLevel: config.LOG_LEVEL,
    registry,
    checks: { 'url-service': () => urlService.ping(), svid: svidReadiness(source) },
    checkTimeoutMs: config.UPSTREAM_TIMEOUT_MS + 500,
  })
  const stop = await runService({
    listeners: [{ app, port: config.PORT, host: config.HOST }],
    ops: { ...ops, port: config.OPS_PORT, host: config.HOST },
    drainDelayMs: config.DRAIN_DELAY_MS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: async () => {
      await dispatcher.close()
      await source.close()
    },
    ...(options.exit ? { exit: options.exit } : {}),
  })
  return { app, ops, stop }
}
