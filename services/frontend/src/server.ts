/** `node dist/server.js`: the UI and API relay on PORT, ops on OPS_PORT, until SIGTERM. */
import { buildOpsServer, createRegistry, loggerOptions, runService } from '@zt/service-kit'
import pino, { type Logger } from 'pino'
import { buildApp, serviceName } from './app.js'
import { prepareAssets } from './assets.js'
import { loadConfig } from './config.js'
import { gatewayReadiness } from './proxy.js'

async function main(logger: Logger): Promise<void> {
  const config = loadConfig()
  logger.level = config.LOG_LEVEL
  const registry = createRegistry(serviceName)
  const assets = await prepareAssets()
  const app = await buildApp({ config, assetsRoot: assets.root, registry })
  const ops = buildOpsServer({
    service: serviceName,
    logLevel: config.LOG_LEVEL,
    registry,
    checks: { 'api-gateway': gatewayReadiness(config.API_GATEWAY_URL, 1500) },
    checkTimeoutMs: 2000,
  })
  await runService({
    listeners: [{ app, port: config.PORT, host: config.HOST }],
    ops: { ...ops, port: config.OPS_PORT, host: config.HOST },
    drainDelayMs: config.DRAIN_DELAY_MS,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    onShutdown: () => assets.dispose(),
  })
}

// 'info' until the configuration (and with it LOG_LEVEL) has been validated.
const logger = pino(loggerOptions(serviceName, 'info'))
try {
  await main(logger)
} catch (error) {
  logger.fatal({ err: error }, 'frontend failed to start')
  process.exit(1)
}
