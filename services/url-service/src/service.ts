import type { ServerOptions } from 'node:https'
import { buildOpsServer, createRegistry, loggerOptions, runService } from '@zt/service-kit'
import pino, { type Logger } from 'pino'
import { buildApp, serviceName } from './app.js'
import type { Config } from './config.js'
import { type Database, openDatabase } from './db/database.js'
import type { VisitRecorder } from './visits.js'

export interface StartOptions {
  logger?: Logger
  /** Replaces the Secrets Manager call (tests). */
  fetchSecret?: (secretId: string) => Promise<string>
  visits?: VisitRecorder
  https?: ServerOptions
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void
}

export interface RunningService {
  db: Database
  /** Graceful stop: readiness fails, in-flight requests finish, the pool closes. */
  stop: () => Promise<void>
}

/** Opens the database, then serves the API on PORT and ops on OPS_PORT until SIGTERM. */
export async function startService(
  config: Config,
  options: StartOptions = {},
): Promise<RunningService> {
  const logger = options.logger ?? pino(loggerOptions(serviceName, config.LOG_LEVEL))
  const registry = createRegistry(serviceName)
  const db = await openDatabase(config, {
    logger,
    registry,
    ...(options.fetchSecret ? { fetchSecret: options.fetchSecret } : {}),
  })
  const app = buildApp({
    db,
    logger,
    registry,
    ...(options.visits ? { visits: options.visits } : {}),
    ...(options.https ? { https: options.https } : {}),
  })
  const ops = buildOpsServer({
    service: serviceName,
    logLevel: config.LOG_LEVEL,
    registry,
    checks: {
      database: async () => {
        await db.query('SELECT 1')
      },
    },
  })
  const stop = await runService({
    listeners: [{ app, port: config.PORT, host: config.HOST }],
    ops: { ...ops, port: config.OPS_PORT, host: config.HOST },
    drainDelayMs: config.DRAIN_DELAY_MS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: () => db.close(),
    ...(options.exit ? { exit: options.exit } : {}),
  })
  return { db, stop }
}
