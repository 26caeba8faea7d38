import { fileURLToPath } from 'node:url'
import { runner } from 'node-pg-migrate'
import type { Logger } from 'pino'
import type { Database } from './database.js'

/** The SQL migrations ship beside src/ and dist/, so one path serves both. */
export const migrationsDir = fileURLToPath(new URL('../../migrations', import.meta.url))

/**
 * Applies pending migrations and returns their names. node-pg-migrate holds a
 * session advisory lock for the whole run and, in `wait` mode, blocks rather
 * than fails when another replica or Job holds it: the second runner then
 * finds nothing to do. Re-running is a no-op.
 */
export async function runMigrations(db: Database, logger: Logger): Promise<string[]> {
  const client = await db.connect()
  let healthy = false
  try {
    const applied = await runner({
      dbClient: client,
      dir: migrationsDir,
      migrationsTable: 'pgmigrations',
      direction: 'up',
      count: Number.POSITIVE_INFINITY,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      logger: {
        debug: (message: string) => logger.debug(message),
        info: (message: string) => logger.debug(message),
        warn: (message: string) => logger.warn(message),
        error: (message: string) => logger.error(message),
      },
    })
    healthy = true
    return applied.map((migration) => migration.name)
  } finally {
    // A client that failed mid-run may still hold the lock or a transaction:
    // destroy it instead of returning it to the pool.
    client.release(!healthy)
  }
}
