/** `node dist/server.js`: the url-service API on PORT and ops on OPS_PORT until SIGTERM. */
import { loggerOptions } from '@zt/service-kit'
import pino from 'pino'
import { serviceName } from './app.js'
import { loadServerConfig } from './config.js'
import { startUrlService } from './service.js'

// 'info' until the configuration (and with it LOG_LEVEL) has been validated.
const logger = pino(loggerOptions(serviceName, 'info'))
try {
  const config = loadServerConfig()
  logger.level = config.LOG_LEVEL
  await startUrlService(config, { logger })
} catch (error) {
  logger.fatal({ err: error }, 'url-service failed to start')
  // A database pool or SPIFFE source may still hold the event loop open; a failed start must end.
  process.exit(1)
}
