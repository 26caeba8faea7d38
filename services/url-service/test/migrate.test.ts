import { fileURLToPath } from 'node:url'
import { createTestDatabase, startEntry } from '@zt/devkit'
import pg from 'pg'
import t from 'tap'

const cwd = fileURLToPath(new URL('..', import.meta.url))
// node-pg-migrate's advisory lock key (PG_MIGRATE_LOCK_ID).
const migrationLock = '7241865325823964'

const runMigrate = async (
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string>,
) => {
  const entry = startEntry(t, { cwd, entry: 'src/migrate.ts', env })
  const started = Date.now()
  const code = await entry.exited
  return { code, ms: Date.now() - started, output: entry.output() }
}

t.test('migrate gives up after MIGRATE_TIMEOUT_SECONDS; the next run succeeds', async (t) => {
  const database = await createTestDatabase(t)
  const env = { DATABASE_URL: database.connectionString, DB_SSL_MODE: 'disable' }
  // Another session holds the migration lock and never lets go, as a
  // migration hung in another pod would.
  const holder = new pg.Client({ connectionString: database.connectionString })
  await holder.connect()
  t.teardown(() => holder.end())
  await holder.query(`select pg_advisory_lock(${migrationLock})`)

  const stuck = await runMigrate(t, { ...env, MIGRATE_TIMEOUT_SECONDS: '1' })
  t.equal(stuck.code, 1, 'a failed exit, so the init container is retried')
  t.match(stuck.output, 'migrations did not finish within 1 s')
  t.ok(stuck.ms < 15_000, `exited after ${stuck.ms} ms`)
  await holder.query(`select pg_advisory_unlock(${migrationLock})`)
  // The abandoned session is still queued on the lock (PostgreSQL notices a
  // gone client only when it next writes to it); it must not block this run.
  const done = await runMigrate(t, env)
  t.equal(done.code, 0)
  t.match(done.output, 'migrations applied')
})
