import { createTestDatabase } from '@zt/devkit'
import pg from 'pg'
import { pino } from 'pino'
import t from 'tap'
import { databaseUrlSource } from '../../src/db/credentials.js'
import { createDatabase } from '../../src/db/database.js'

t.test('the server ending a checked-out session does not crash the process', async (t) => {
  const testDb = await createTestDatabase(t)
  const db = await createDatabase({
    source: databaseUrlSource(testDb.connectionString),
    ssl: false,
    max: 2,
    logger: pino({ level: 'silent' }),
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
