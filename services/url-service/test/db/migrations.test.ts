import { readdirSync } from 'node:fs'
import { createTestDatabase } from '@zt/devkit'
import t from 'tap'
import { openDatabase } from '../../src/db/database.js'
import { migrationsDir, runMigrations } from '../../src/db/migrations.js'
import { localConfig, silent } from '../helpers/setup.js'

t.test('replicas migrating at once: all succeed, one applies, re-runs are no-ops', async (t) => {
  const database = await createTestDatabase(t)
  const config = localConfig(database)
  // Separate pools, as separate pods or Jobs would have.
  const replicas = await Promise.all(
    [1, 2, 3, 4].map(() => openDatabase(config, { logger: silent, max: 1 })),
  )
  t.teardown(() => Promise.all(replicas.map((db) => db.close())))

  const results = await Promise.all(replicas.map((db) => runMigrations(db, silent)))
  const applied = results.filter((names) => names.length > 0)
  t.equal(applied.length, 1, 'exactly one replica applied the migrations')
  const all = readdirSync(migrationsDir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => file.replace(/\.sql$/, ''))
    .sort()
  t.ok(all.includes('1764201600000_create-urls'))
  t.same(applied[0], all, 'every migration, in order')
  t.same(
    results.filter((names) => names.length === 0).length,
    3,
    'the others waited for the lock, then found nothing to do',
  )

  const [first] = replicas
  if (!first) throw new Error('no replica')
  const runs = await first.query<{ n: string }>('SELECT count(*)::text AS n FROM pgmigrations')
  t.equal(runs.rows[0]?.n, String(all.length), 'each recorded once')
  t.same(await runMigrations(first, silent), [], 're-running is a no-op')

  const index = await first.query<{ indexdef: string }>(
    `SELECT indexdef FROM pg_indexes WHERE indexname = 'urls_created_at_code_idx'`,
  )
  t.match(index.rows[0]?.indexdef, /\(created_at DESC, code DESC\)/, 'the pagination index exists')
  const locks = await first.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory'`)
  t.equal(locks.rowCount, 0, 'the advisory lock is released')
})
