/** `node dist/worker.js`: consumes url events from SQS; its own Deployment and identity. */
import { loggerOptions } from '@zt/service-kit'
import pino from 'pino'
import { loadWorkerConfig } from './worker/config.js'
import { startWorkerService, workerServiceName } from './worker/service.js'

const logger = pino(loggerOptions(workerServiceName, process.env.LOG_LEVEL ?? 'info'))

try {
  await startWorkerService(loadWorkerConfig(), { logger })
} catch (error) {
  logger.fatal({ err: error }, 'worker failed to start')
  process.exitCode = 1
}
