import {
  buildOpsServer,
  createRegistry,
  installSvidMetrics,
  type OpsServer,
  runService,
} from '@zt/service-kit'
import {
  createX509Source,
  svidReadiness,
  svidValidity,
  waitForSvid,
  type X509Source,
} from '@zt/spiffe'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp, serviceName } from './app.js'
import type { ServerConfig } from './config.js'
import { type Database, openDatabase } from './db/database.js'
import { outboxVisitRecorder } from './events/outbox.js'
import { type OutboxRelay, startOutboxRelay } from './events/relay.js'
import type { VisitRecorder } from './visits.js'

export interface StartUrlServiceOptions {
  logger: Logger
  /** Replaces the Secrets Manager call (tests). */
  fetchSecret?: (secretId: string) => Promise<string>
  visits?: VisitRecorder
  /** How long to wait for the first SVID (default 30 s); past it start-up fails. */
  svidWaitMs?: number
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void
}

export interface RunningUrlService {
  /** The mTLS main listener. */
  app: FastifyInstance
  ops: OpsServer
  db: Database
  source: X509Source
  /** Graceful stop: readiness fails, in-flight requests finish, the pool and the SVID source close. */
  stop: () => Promise<void>
}

/**
 * Waits for this workload's SVID, opens the database, then serves the API
 * over SPIFFE mutual TLS on PORT and ops over plain HTTP on OPS_PORT until
 * SIGTERM. There is no plain-HTTP mode for the API.
 */
export async function startUrlService(
  config: ServerConfig,
  options: StartUrlServiceOptions,
): Promise<RunningUrlService> {
  const { logger } = options
  const registry = createRegistry(serviceName)
  const source = createX509Source(config, { logger })
  let db: Database
  try {
    await waitForSvid(source, options.svidWaitMs ?? 30_000)
    const { id } = source.svid()
    if (!id.memberOf(config.TRUST_DOMAIN)) {
      throw new Error(
        `this workload's SPIFFE ID ${id} is not in TRUST_DOMAIN ${config.TRUST_DOMAIN}`,
      )
    }
    logger.info({ spiffeId: id.toString(), expiresAt: source.expiresAt }, 'SVID ready')
    db = await openDatabase(config, {
      logger,
      registry,
      ...(options.fetchSecret ? { fetchSecret: options.fetchSecret } : {}),
    })
  } catch (error) {
    await source.close()
    throw error
  }
  installSvidMetrics(registry, svidValidity(source))
  const app = buildApp({
    db,
    logger,
    registry,
    visits: options.visits ?? outboxVisitRecorder(db),
    mtls: {
      source,
      trustDomain: config.TRUST_DOMAIN,
      authorizedCallers: config.AUTHORIZED_CALLERS,
    },
  })
  const ops = buildOpsServer({
    service: serviceName,
    logLevel: config.LOG_LEVEL,
    registry,
    checks: {
      database: async () => {
        await db.query('SELECT 1')
      },
      svid: svidReadiness(source),
    },
  })
  let relay: OutboxRelay | undefined
  if (config.EVENTS_QUEUE_URL) {
    relay = startOutboxRelay({
      db,
      queueUrl: config.EVENTS_QUEUE_URL,
      region: config.AWS_REGION,
      log: logger,
      registry,
    })
  } else {
    logger.warn('EVENTS_QUEUE_URL is not set: events stay in the outbox until an outbox relay runs')
  }
  const stop = await runService({
    listeners: [{ app, port: config.PORT, host: config.HOST }],
    ops: { ...ops, port: config.OPS_PORT, host: config.HOST },
    drainDelayMs: config.DRAIN_DELAY_MS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    // After the listeners closed: in-flight requests still needed both.
    // The relay finishes its batch in flight; the rest stays in the outbox.
    onShutdown: async () => {
      await relay?.stop()
      await db.close()
      await source.close()
    },
    ...(options.exit ? { exit: options.exit } : {}),
  })
  return { app, ops, db, source, stop }
}
