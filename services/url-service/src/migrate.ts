/**
 * `node dist/migrate.js`: applies the schema and exits. Runs as the `migrate`
 * init container of url-service and worker pods (docker compose: a one-shot
 * service); several at once are safe (see runMigrations).
 */

import { env, loggerOptions, parseConfig } from '@zt/service-kit'
import pino from 'pino'
import { z } from 'zod'
import { loadConfig } from './config.js'
import { openDatabase } from './db/database.js'
import { runMigrations } from './db/migrations.js'

const logger = pino(loggerOptions('url-service-migrate', process.env.LOG_LEVEL ?? 'info'))

try {
  const config = loadConfig()
  const { MIGRATE_TIMEOUT_SECONDS: timeoutSeconds } = parseConfig(
    z.object({ MIGRATE_TIMEOUT_SECONDS: env.positiveInt(600) }),
    process.env,
  )
  // An init container has no deadline of its own: a migration stuck behind
  // a lock would hold new pods in Init for ever. Exiting closes the session,
  // so PostgreSQL rolls back what it did and releases the advisory lock; the
  // kubelet then retries with backoff while the old pods keep serving.
  const deadline = setTimeout(() => {
    logger.fatal(`migrations did not finish within ${timeoutSeconds} s; giving up`)
    process.exit(1)
  }, timeoutSeconds * 1000)
  deadline.unref()
  const db = await openDatabase(config, { logger, max: 1 })
  try {
    const applied = await runMigrations(db, logger)
    logger.info({ applied }, applied.length ? 'migrations applied' : 'schema is up to date')
  } finally {
    clearTimeout(deadline)
    await db.close()
  }
} catch (error) {
  logger.fatal({ err: error }, 'migration failed')
  process.exitCode = 1
}
