import { Writable } from 'node:stream'
import { loggerOptions } from '@zt/service-kit'
import pg from 'pg'
import pino from 'pino'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { openDatabase } from '../../src/db/database.js'
import { runMigrations } from '../../src/db/migrations.js'
import { startFakeAws } from '../helpers/fake-aws.js'
import { startPrivatePostgres } from '../helpers/private-postgres.js'

// Every log line of this file, through the production logger configuration at
// debug level: the last test checks that no password ever reached it.
const lines: string[] = []
const logger = pino(
  loggerOptions('url-service', 'debug'),
  new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  }),
)

// The machine's PostgreSQL trusts every login; these tests need one that
// checks passwords.
const { server } = await startPrivatePostgres(t)
const admin = new pg.Client({ connectionString: server.adminUrl })
await admin.connect()
t.teardown(() => admin.end())

const special = 'p@ss:w/rd?#%'
const rotated = ['first-Pw:/?#', 'second-Pw@%#'] as const
await admin.query(`CREATE ROLE app_user LOGIN PASSWORD '${special}'`)
await admin.query('CREATE DATABASE app_db OWNER app_user')
await admin.query(`CREATE ROLE rot_user LOGIN PASSWORD '${rotated[0]}'`)
await admin.query('CREATE DATABASE rot_db OWNER rot_user')

const host = '127.0.0.1'
const port = String(server.port)
const secretJson = (username: string, password: string, dbname: string) =>
  JSON.stringify({ engine: 'postgres', host, port: server.port, username, password, dbname })

/** A pool whose secret is whatever `secret()` returns at each fetch, counting the fetches. */
async function openWithSecret(
  name: string,
  secret: () => string,
  authRetryDelaysMs?: readonly number[],
) {
  const fetched = { count: 0 }
  const config = loadConfig({
    DB_SECRET_ARN: `arn:aws:secretsmanager:eu-west-1:1:secret:${name}`,
    AWS_REGION: 'eu-west-1',
    DB_SSL_MODE: 'disable',
  })
  const db = await openDatabase(config, {
    logger,
    fetchSecret: async () => {
      fetched.count++
      return secret()
    },
    ...(authRetryDelaysMs ? { authRetryDelaysMs } : {}),
  })
  return { db, fetched }
}

/**
 * Single-user rotation's window: the role takes the new password first and
 * finishSecret moves the secret 500 ms later, as the rotation function's
 * test step takes time. One query is made inside that window.
 */
async function queryInRotationWindow(
  t: { teardown(fn: () => unknown): void },
  role: string,
  authRetryDelaysMs?: readonly number[],
) {
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'window-old'`)
  t.teardown(() => admin.query(`DROP ROLE IF EXISTS ${role}`))
  let secret = secretJson(role, 'window-old', 'postgres')
  const { db, fetched } = await openWithSecret(role, () => secret, authRetryDelaysMs)
  await admin.query(`ALTER ROLE ${role} PASSWORD 'window-new'`)
  const finish = setTimeout(() => {
    secret = secretJson(role, 'window-new', 'postgres')
  }, 500)
  t.teardown(() => clearTimeout(finish))
  const started = Date.now()
  const outcome = await db.query<{ user: string }>('SELECT current_user AS user').then(
    ({ rows }) => ({ user: rows[0]?.user }),
    (error: unknown) => ({ error }),
  )
  const elapsed = Date.now() - started
  await db.close()
  return { outcome, elapsed, fetches: fetched.count }
}

t.test(`the password ${special} works from DATABASE_URL (percent-encoded)`, async (t) => {
  const url = `postgres://app_user:${encodeURIComponent(special)}@${host}:${port}/app_db`
  const db = await openDatabase(loadConfig({ DATABASE_URL: url, DB_SSL_MODE: 'disable' }), {
    logger,
  })
  t.teardown(() => db.close())
  const { rows } = await db.query<{ user: string }>('SELECT current_user AS user')
  t.equal(rows[0]?.user, 'app_user')
})

t.test('the seed built the URI by string formatting: that URI cannot log in', async (t) => {
  const naive = `postgres://app_user:${special}@${host}:${port}/app_db`
  await t.rejects(async () => {
    const client = new pg.Client({ connectionString: naive, connectionTimeoutMillis: 2000 })
    try {
      await client.connect()
      await client.query('SELECT 1')
    } finally {
      await client.end().catch(() => undefined)
    }
  })
})

t.test(`the password ${special} works from both secret shapes`, async (t) => {
  const shapes: Record<string, { secret: string; env: Record<string, string> }> = {
    'rotation template': { secret: secretJson('app_user', special, 'app_db'), env: {} },
    'RDS-managed': {
      secret: JSON.stringify({ username: 'app_user', password: special }),
      env: { DB_HOST: host, DB_PORT: port, DB_NAME: 'app_db' },
    },
  }
  for (const [name, shape] of Object.entries(shapes)) {
    const config = loadConfig({
      DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:app',
      AWS_REGION: 'eu-west-1',
      DB_SSL_MODE: 'disable',
      ...shape.env,
    })
    const db = await openDatabase(config, { logger, fetchSecret: async () => shape.secret })
    const { rows } = await db.query<{ user: string }>('SELECT current_user AS user')
    t.equal(rows[0]?.user, 'app_user', name)
    await db.close()
  }
})

t.test(
  'a password the database keeps rejecting: refreshes with backoff, then the error',
  async (t) => {
    const { db, fetched } = await openWithSecret('wrong', () =>
      secretJson('app_user', 'not-the-password', 'app_db'),
    )
    t.teardown(() => db.close())
    const started = Date.now()
    await t.rejects(db.query('SELECT 1'), { code: '28P01' })
    const elapsed = Date.now() - started
    t.equal(fetched.count, 5, 'the first fetch, then four forced refreshes')
    t.ok(elapsed >= 600 && elapsed < 2000, `gave up after ${elapsed} ms, inside the gateway budget`)
  },
)

t.test(
  "single-user rotation's window: the database has the new password before the secret does",
  async (t) => {
    const { outcome, elapsed, fetches } = await queryInRotationWindow(t, 'win_user')
    t.same(outcome, { user: 'win_user' }, 'the query succeeded once the secret caught up')
    t.ok(elapsed >= 450, `it waited for the secret (${elapsed} ms)`)
    t.ok(fetches >= 3, `fetched again while backing off (${fetches} fetches)`)
  },
)

t.test(
  'the same window without the retry, or with a retry but no backoff: the query fails',
  async (t) => {
    const weakened = { 'no retry': [], 'one immediate retry': [0] } as const
    for (const [name, authRetryDelaysMs] of Object.entries(weakened)) {
      const role = `win_${name.replaceAll(' ', '_')}`
      const { outcome } = await queryInRotationWindow(t, role, authRetryDelaysMs)
      t.match(
        outcome,
        { error: { code: '28P01' } },
        `${name}: the rejected password reaches the caller`,
      )
    }
  },
)

t.test(
  'rotation while requests flow: the role and the secret change, no restart, no failure',
  async (t) => {
    const aws = await startFakeAws()
    t.teardown(() => aws.close())
    const secretId = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rot'
    aws.secrets.set(secretId, secretJson('rot_user', rotated[0], 'rot_db'))
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
      AWS_ACCESS_KEY_ID: 'AKIAFAKESTATICKEY001',
      AWS_SECRET_ACCESS_KEY: 'fake-static-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
    })
    // The default TTL (300 s) outlives the test: only the 28P01 path can pick
    // up the new password.
    const config = loadConfig({
      DB_SECRET_ARN: secretId,
      AWS_REGION: 'eu-west-1',
      DB_SSL_MODE: 'disable',
      DB_POOL_MAX: '5',
    })
    const db = await openDatabase(config, { logger })
    t.teardown(() => db.close())
    await runMigrations(db, logger)
    const app = buildApp({ db, logger })
    t.teardown(() => app.close())

    const statuses: number[] = []
    const create = async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/urls',
        payload: { url: 'https://example.com/' },
      })
      statuses.push(res.statusCode)
    }
    let stopped = false
    const steady = (async () => {
      for (let i = 0; i < 2000 && !stopped; i++) await create()
    })()
    for (let i = 0; i < 500 && statuses.length < 5; i++) await new Promise((r) => setTimeout(r, 10))
    t.ok(statuses.length >= 5, 'traffic is flowing')
    t.equal(db.pool.totalCount, 1, 'one connection so far, logged in with the first password')

    // Rotate as Secrets Manager's rotation does: new secret value, new role password.
    aws.secrets.set(secretId, secretJson('rot_user', rotated[1], 'rot_db'))
    await admin.query(`ALTER ROLE rot_user PASSWORD '${rotated[1]}'`)
    const before = statuses.length

    // A burst needs new physical connections, which must log in with the new password.
    await Promise.all(
      [1, 2, 3, 4].map(async () => {
        for (let i = 0; i < 10; i++) await create()
      }),
    )
    stopped = true
    await steady

    t.ok(statuses.length > before + 40, 'requests flowed after the rotation')
    t.same(
      statuses.filter((status) => status !== 201),
      [],
      'every request succeeded',
    )
    t.ok(db.pool.totalCount > 1, 'new connections were opened after the rotation')
    const sessions = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'rot_user'`,
    )
    t.ok((sessions.rows[0]?.n ?? 0) > 1, 'several live sessions: old and new passwords both served')
    t.ok(aws.getSecretValue.length >= 2, 'the secret was fetched again after 28P01')
    t.ok(aws.getSecretValue.length <= 5, 'refreshes are shared, not one per request')
    t.ok(
      lines.some((line) => line.includes('refreshing the secret')),
      'the refresh is logged',
    )
  },
)

t.test('no password or secret value appears in any log line', async (t) => {
  const all = lines.join('')
  t.ok(lines.length > 20, `captured ${lines.length} log lines`)
  t.ok(
    lines.some((line) => line.includes('"credentialSource":"secrets-manager"')),
    'the credential source is logged',
  )
  t.ok(lines.some((line) => line.includes('"credentialSource":"database-url"')))
  t.ok(
    lines.some((line) => line.includes('"requestId"') && line.includes('"service":"url-service"')),
    'request logs carry the request id',
  )
  for (const secret of [special, encodeURIComponent(special), ...rotated, 'not-the-password']) {
    t.notOk(all.includes(secret), `never logged: a ${secret.length}-character password`)
  }
})
