import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { startEmbeddedPostgres } from '../src/postgres.js'
import { ensureDatabase } from '../src/stack/stack.js'

// A server of this file's own: the stack's database and role names are fixed.
const dir = await mkdtemp(join(tmpdir(), 'zt-devkit-login-'))
await chmod(dir, 0o755)
t.teardown(() => rm(dir, { recursive: true, force: true }))
const server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg') })
t.teardown(() => server.stop())

const connect = async (url: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return client
}
const asApp = (password: string) => `postgres://zt_app:${password}@127.0.0.1:${server.port}/zt`

t.test('state from before the app login: the database and its rows are adopted', async (t) => {
  const admin = await connect(server.adminUrl)
  await admin.query('create database zt')
  await admin.end()
  const old = await connect(server.adminUrl.replace(/\/postgres$/, '/zt'))
  await old.query('create table urls (code text primary key)')
  await old.query(`insert into urls values ('kept')`)
  await old.query('create table event_outbox (id bigserial primary key, payload text)')
  await old.end()

  await ensureDatabase(server.adminUrl, 'first-password')
  const app = await connect(asApp('first-password'))
  t.teardown(() => app.end())
  t.same((await app.query('select code from urls')).rows, [{ code: 'kept' }], 'the link is kept')
  await app.query(`insert into event_outbox (payload) values ('x')`)
  t.pass('the app login writes through a sequence it now owns')
  const role = await app.query<{ rolsuper: boolean; rolcreatedb: boolean }>(
    `select rolsuper, rolcreatedb from pg_roles where rolname = current_user`,
  )
  t.same(role.rows, [{ rolsuper: false, rolcreatedb: false }], 'not a superuser')
})

t.test('every start sets a new password', async (t) => {
  await ensureDatabase(server.adminUrl, 'second-password')
  await t.rejects(connect(asApp('first-password')), { code: '28P01' })
  const app = await connect(asApp('second-password'))
  await app.end()
})
