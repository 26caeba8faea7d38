import type { SQSClient } from '@aws-sdk/client-sqs'
import { buildOpsServer, createRegistry, type OpsServer, runService } from '@zt/service-kit'
import type { Logger } from 'pino'
import { type Database, openDatabase } from '../db/database.js'
import { createSqsClient } from '../events/sqs.js'
import type { WorkerConfig } from './config.js'
import { type EventConsumer, startConsumer } from './consumer.js'

export const workerServiceName = 'worker'

export interface StartWorkerOptions {
  logger: Logger
  /** Replaces the Secrets Manager call (tests). */
  fetchSecret?: (secretId: string) => Promise<string>
  /** Injected for tests; defaults to process.exit. */
  exit?: (code: number) => void
}

export interface RunningWorker {
  ops: OpsServer
  db: Database
  sqs: SQSClient
  consumer: EventConsumer
  /** Graceful stop: readiness fails, polling stops, the batch in hand finishes, the pool closes. */
  stop: () => Promise<void>
}

/** Opens the database, then consumes the queue with only an ops port to serve, until SIGTERM. */
export async function startWorker(
  config: WorkerConfig,
  options: StartWorkerOptions,
): Promise<RunningWorker> {
  const { logger } = options
  const registry = createRegistry(workerServiceName)
  // One connection applies batches; a second keeps /readyz honest while it does.
  const db = await openDatabase(config, {
    logger,
    registry,
    max: 2,
    ...(options.fetchSecret ? { fetchSecret: options.fetchSecret } : {}),
  })
  const sqs = createSqsClient({
    ...(config.AWS_REGION ? { region: config.AWS_REGION } : {}),
    requestTimeoutMs: (config.EVENTS_WAIT_TIME_SECONDS + 10) * 1000,
  })
  let consumer: EventConsumer | undefined
  const ops = buildOpsServer({
    service: workerServiceName,
    logLevel: config.LOG_LEVEL,
    registry,
    checks: {
      database: async () => {
        await db.query('SELECT 1')
      },
      queue: () => consumer?.checkQueue(),
    },
  })
  const stop = await runService({
    listeners: [],
    ops: { ...ops, port: config.OPS_PORT, host: config.HOST },
    drainDelayMs: config.DRAIN_DELAY_MS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: async () => {
      await consumer?.stop()
      sqs.destroy()
      await db.close()
    },
    ...(options.exit ? { exit: options.exit } : {}),
  })
  consumer = startConsumer({
    db,
    sqs,
    queueUrl: config.EVENTS_QUEUE_URL,
    log: logger,
    registry,
    waitTimeSeconds: config.EVENTS_WAIT_TIME_SECONDS,
    visibilityTimeoutSeconds: config.EVENTS_VISIBILITY_TIMEOUT_SECONDS,
    dedupRetentionHours: config.EVENTS_DEDUP_RETENTION_HOURS,
  })
  return { ops, db, sqs, consumer, stop }
}
