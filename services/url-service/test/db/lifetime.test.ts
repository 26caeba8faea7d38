import { createTestDatabase } from '@zt/devkit'
import { pino } from 'pino'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/database.js'

t.test('pooled connections are replaced after DB_POOL_MAX_LIFETIME_SECONDS', async (t) => {
  const testDb = await createTestDatabase(t)
  const config = loadConfig({
    DATABASE_URL: testDb.connectionString,
    DB_SSL_MODE: 'disable',
    DB_POOL_MAX_LIFETIME_SECONDS: '1',
  })
  t.equal(loadConfig({ DATABASE_URL: testDb.connectionString }).DB_POOL_MAX_LIFETIME_SECONDS, 1800)
  const db = await openDatabase(config, { logger: pino({ level: 'silent' }) })
  t.teardown(() => db.close())
  const backend = async () =>
    (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid
  const first = await backend()
  t.equal(await backend(), first, 'an idle connection is reused within its lifetime')
  await new Promise((resolve) => setTimeout(resolve, 1300))
  // A replaced connection logs in anew, so it picks up a rotated password.
  t.not(await backend(), first, 'after its lifetime the pool opened a new session')
})
