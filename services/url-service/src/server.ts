/** `node dist/server.js`: the url-service API and its ops port. */
import { loggerOptions } from '@zt/service-kit'
import pino from 'pino'
import { serviceName } from './app.js'
import { loadServerConfig } from './config.js'
import { startService } from './service.js'

const logger = pino(loggerOptions(serviceName, process.env.LOG_LEVEL ?? 'info'))

try {
  await startService(loadServerConfig(), { logger })
} catch (error) {
  logger.fatal({ err: error }, 'url-service failed to start')
  process.exitCode = 1
}
