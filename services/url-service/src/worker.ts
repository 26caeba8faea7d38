/** `node dist/worker.js`: consumes url events from SQS; its own Deployment and identity. */
import { loggerOptions } from '@zt/service-kit'
import pino from 'pino'
import { loadWorkerConfig } from './worker/config.js'
import { startWorker, workerServiceName } from './worker/service.js'

// 'info' until the configuration (and with it LOG_LEVEL) has been validated.
const logger = pino(loggerOptions(workerServiceName, 'info'))
try {
  const config = loadWorkerConfig()
  logger.level = config.LOG_LEVEL
  await startWorker(config, { logger })
} catch (error) {
  logger.fatal({ err: error }, 'worker failed to start')
  // A database pool may still hold the event loop open; a failed start must end.
  process.exit(1)
}
