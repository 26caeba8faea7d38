/** `node dist/server.js`: the UI and API relay on PORT, ops on OPS_PORT, until SIGTERM. */
import { loggerOptions } from '@zt/service-kit'
import pino from 'pino'
import { serviceName } from './app.js'
import { loadConfig } from './config.js'
import { startFrontend } from './service.js'

// 'info' until the configuration (and with it LOG_LEVEL) has been validated.
const logger = pino(loggerOptions(serviceName, 'info'))
try {
  const config = loadConfig()
  logger.level = config.LOG_LEVEL
  await startFrontend(config)
} catch (error) {
  logger.fatal({ err: error }, 'frontend failed to start')
  process.exit(1)
}
