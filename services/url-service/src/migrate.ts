/**
 * `node dist/migrate.js`: applies the schema and exits. Runs as a Kubernetes
 * Job or init container; several at once are safe (see runMigrations).
 */

import { loggerOptions } from '@zt/service-kit'
import pino from 'pino'
import { loadConfig } from './config.js'
import { openDatabase } from './db/database.js'
import { runMigrations } from './db/migrations.js'

const logger = pino(loggerOptions('url-service-migrate', process.env.LOG_LEVEL ?? 'info'))

try {
  const config = loadConfig()
  const db = await openDatabase(config, { logger, max: 1 })
  try {
    const applied = await runMigrations(db, logger)
    logger.info({ applied }, applied.length ? 'migrations applied' : 'schema is up to date')
  } finally {
    await db.close()
  }
} catch (error) {
  logger.fatal({ err: error }, 'migration failed')
  process.exitCode = 1
}
