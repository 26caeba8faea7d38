/** `node dist/server.js`: the public API on PORT and ops on OPS_PORT until SIGTERM. */
import { loggerOptions } from '@zt/service-kit'
import { createX509Source } from '@zt/spiffe'
import pino from 'pino'
import { serviceName } from './app.js'
import { loadConfig } from './config.js'
import { startApiGateway } from './service.js'

// 'info' until the configuration (and with it LOG_LEVEL) has been validated.
const logger = pino(loggerOptions(serviceName, 'info'))
try {
  const config = loadConfig()
  logger.level = config.LOG_LEVEL
  await startApiGateway(config, { source: createX509Source(config, { logger }), logger })
} catch (error) {
  logger.fatal({ err: error }, 'api-gateway failed to start')
  // A SPIFFE source may still hold the event loop open; a failed start must end.
  process.exit(1)
}
