// The application-login bootstrap against a real PostgreSQL (one database
// per file; roles are cluster-wide, so each test uses its own role name).
import { randomBytes } from 'node:crypto'
import { createTestDatabase } from '@zt/devkit'
import pg from 'pg'
import t from 'tap'
import { ensureAppLogin } from '../src/db-bootstrap/login.js'

const db = await createTestDatabase(t)
const admin = new pg.Client({ connectionString: db.connectionString })
await admin.connect()
t.teardown(() => admin.end())

async function freshRole(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const name = `zt_app_${randomBytes(4).toString('hex')}`
  t.teardown(async () => {
    await admin.query(
      `ALTER DATABASE ${admin.escapeIdentifier(db.database)} OWNER TO ${admin.escapeIdentifier(db.user)}`,
    )
    await admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(name)}`)
  })
  return name
}

const passwordHash = async (role: string) =>
  (await admin.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).rows[0]
    ?.rolpassword

t.test('creates a login that owns the database and holds no cluster privilege', async (t) => {
  const username = await freshRole(t)
  const created = await ensureAppLogin(admin, {
    username,
    password: 'p\'w"; DROP ROLE x; --',
    database: db.database,
  })
  t.equal(created, true)
  const role = await admin.query(
    'SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolpassword IS NOT NULL AS has_password FROM pg_authid WHERE rolname = $1',
    [username],
  )
  t.same(role.rows, [
    {
      rolcanlogin: true,
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      has_password: true,
    },
  ])
  const owner = await admin.query(
    'SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1',
    [db.database],
  )
  t.equal(owner.rows[0]?.owner, username)
  const publicConnect = await admin.query(
    "SELECT has_database_privilege('public', $1, 'CONNECT') AS allowed",
    [db.database],
  )
  t.equal(publicConnect.rows[0]?.allowed, false, 'other roles may no longer connect')
})

t.test('the login can run migrations in public and cannot create roles (negative)', async (t) => {
  const username = await freshRole(t)
  await ensureAppLogin(admin, { username, password: 'first-password', database: db.database })
  await admin.query(`SET ROLE ${admin.escapeIdentifier(username)}`)
  t.teardown(() => admin.query('RESET ROLE'))
  await admin.query('CREATE TABLE login_probe (id int)')
  await admin.query('DROP TABLE login_probe')
  await t.rejects(admin.query('CREATE ROLE intruder'), /permission denied/)
  await t.rejects(admin.query('CREATE DATABASE intruder'), /permission denied/)
})

t.test('running again keeps the existing password (rotation owns it)', async (t) => {
  const username = await freshRole(t)
  t.equal(await ensureAppLogin(admin, { username, password: 'first', database: db.database }), true)
  const before = await passwordHash(username)
  t.equal(
    await ensureAppLogin(admin, { username, password: 'second', database: db.database }),
    false,
  )
  t.equal(await passwordHash(username), before)
})

t.test('a failure leaves nothing half-done', async (t) => {
  const username = await freshRole(t)
  await t.rejects(ensureAppLogin(admin, { username, password: 'x', database: 'no_such_database' }))
  const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username])
  t.equal(role.rowCount, 0, 'the role creation was rolled back')
})
