import { createTestDatabase, type TestDatabase } from '@zt/devkit'
import pino, { type Logger } from 'pino'
import { type Config, loadConfig } from '../../src/config.js'
import { type Database, openDatabase } from '../../src/db/database.js'
import { runMigrations } from '../../src/db/migrations.js'

interface Teardownable {
  teardown(fn: () => unknown): void
}

export const silent: Logger = pino({ level: 'silent' })

/** Local-run configuration for a test database (DATABASE_URL, no TLS). */
export function localConfig(database: TestDatabase, extra: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: database.connectionString,
    DB_SSL_MODE: 'disable',
    LOG_LEVEL: 'silent',
    ...extra,
  })
}

/**
 * A test database of this file's own, migrated, with a pool (of `max`
 * connections) closed at teardown. The one way url-service's tests get one.
 */
export async function migratedDatabase(
  t: Teardownable,
  max = 8,
): Promise<{ db: Database; database: TestDatabase; config: Config }> {
  const database = await createTestDatabase(t)
  const config = localConfig(database)
  const db = await openDatabase(config, { logger: silent, max })
  t.teardown(() => db.close())
  await runMigrations(db, silent)
  return { db, database, config }
}
