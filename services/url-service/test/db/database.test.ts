import { createTestDatabase } from '@zt/devkit'
import pg from 'pg'
import { pino } from 'pino'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { databaseUrlSource } from '../../src/db/credentials.js'
import { createDatabase, openDatabase } from '../../src/db/database.js'

const silent = pino({ level: 'silent' })

t.test('the server ending a checked-out session does not crash the process', async (t) => {
  const testDb = await createTestDatabase(t)
  const db = await createDatabase({
    source: databaseUrlSource(testDb.connectionString),
    ssl: false,
    max: 2,
    logger: silent,
  })
  t.teardown(() => db.close())
  const client = await db.connect()
  await client.query('begin')
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid')

  // What a PostgreSQL restart does to every session, while this one sits in a
  // transaction waiting for something else (the relay waits on SQS).
  const admin = new pg.Client({ connectionString: testDb.adminUrl })
  await admin.connect()
  await admin.query('select pg_terminate_backend($1)', [rows[0]?.pid])
  await admin.end()
  await new Promise((resolve) => setTimeout(resolve, 200))

  await t.rejects(client.query('select 1'), 'the caller sees the failure')
  client.release(true)
  const after = await db.query<{ ok: number }>('select 1 as ok')
  t.same(after.rows, [{ ok: 1 }], 'the pool serves a new connection')
})

t.test('pooled connections are replaced after DB_POOL_MAX_LIFETIME_SECONDS', async (t) => {
  const testDb = await createTestDatabase(t)
  const config = loadConfig({
    DATABASE_URL: testDb.connectionString,
    DB_SSL_MODE: 'disable',
    DB_POOL_MAX_LIFETIME_SECONDS: '1',
  })
  t.equal(loadConfig({ DATABASE_URL: testDb.connectionString }).DB_POOL_MAX_LIFETIME_SECONDS, 1800)
  const db = await openDatabase(config, { logger: silent })
  t.teardown(() => db.close())
  const backend = async () =>
    (await db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid
  const first = await backend()
  t.equal(await backend(), first, 'an idle connection is reused within its lifetime')
  await new Promise((resolve) => setTimeout(resolve, 1300))
  // A replaced connection logs in anew, so it picks up a rotated password.
  t.not(await backend(), first, 'after its lifetime the pool opened a new session')
})
