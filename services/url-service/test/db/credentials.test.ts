import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { createTestDatabase } from '@zt/devkit'
import { ConfigError } from '@zt/service-kit'
import { mockClient } from 'aws-sdk-client-mock'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { createSecretFetcher } from '../../src/db/aws.js'
import {
  databaseUrlSource,
  parseDbSecret,
  SecretFormatError,
  secretsManagerSource,
} from '../../src/db/credentials.js'
import { openDatabase } from '../../src/db/database.js'
import { silent } from '../helpers/setup.js'

const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db'
const defaults = { host: 'config-host', port: 5432, database: 'config-db' }

t.test(
  'rotation-template shape: everything from the secret, port as number or string',
  async (t) => {
    const secret = {
      engine: 'postgres',
      host: 'db.internal',
      username: 'app',
      password: 'pw',
      dbname: 'urls',
    }
    for (const port of [6543, '6543']) {
      t.same(parseDbSecret(arn, JSON.stringify({ ...secret, port }), defaults), {
        user: 'app',
        password: 'pw',
        host: 'db.internal',
        port: 6543,
        database: 'urls',
      })
    }
  },
)

t.test('RDS-managed shape: host, port and database from configuration', async (t) => {
  t.same(parseDbSecret(arn, '{"username":"postgres","password":"pw"}', defaults), {
    user: 'postgres',
    password: 'pw',
    host: 'config-host',
    port: 5432,
    database: 'config-db',
  })
  t.throws(
    () => parseDbSecret(arn, '{"username":"postgres","password":"pw"}', { port: 5432 }),
    /no host in the secret; set DB_HOST/,
  )
})

t.test('a malformed secret is refused with a message that holds none of it', async (t) => {
  const password = 'hunter2-SECRET-VALUE'
  const cases = [
    `{"username":"app","password":"${password}"`, // truncated JSON
    `not json ${password}`,
    JSON.stringify({ username: 'app', pass: password }),
    JSON.stringify({ username: 'app', password, port: 'eighty' }),
    JSON.stringify({ username: 'app', password, port: 70000 }),
    JSON.stringify([password]),
  ]
  for (const raw of cases) {
    try {
      parseDbSecret(arn, raw, defaults)
      t.fail(`accepted ${raw.length} chars`)
    } catch (error) {
      t.type(error, SecretFormatError)
      const message = (error as Error).message
      t.match(message, /^database secret arn:aws:secretsmanager:.* is malformed: /)
      t.notMatch(message, password)
      t.notMatch(message, 'eighty')
    }
  }
})

t.test(
  'the secret is fetched at most once per TTL; concurrent callers share one fetch',
  async (t) => {
    let clock = 0
    let fetches = 0
    let password = 'one'
    let release: () => void = () => undefined
    const source = secretsManagerSource({
      secretId: arn,
      ttlMs: 300_000,
      defaults,
      now: () => clock,
      fetchSecret: async () => {
        fetches++
        await new Promise<void>((resolve) => {
          release = resolve
        })
        return JSON.stringify({ username: 'app', password })
      },
    })
    const burst = Promise.all(Array.from({ length: 20 }, () => source.get()))
    await new Promise((resolve) => setImmediate(resolve))
    release()
    const values = await burst
    t.equal(fetches, 1, 'twenty concurrent callers, one fetch')
    t.ok(values.every((value) => value.password === 'one'))

    clock += 299_999
    password = 'two'
    t.equal((await source.get()).password, 'one', 'cached within the TTL')
    t.equal(fetches, 1)

    clock += 1
    const next = source.get()
    await new Promise((resolve) => setImmediate(resolve))
    release()
    t.equal((await next).password, 'two', 'fetched again once the TTL passed')
    t.equal(fetches, 2)

    password = 'three'
    const forced = source.refresh()
    await new Promise((resolve) => setImmediate(resolve))
    release()
    t.equal((await forced).password, 'three', 'refresh ignores the TTL')
    t.equal(fetches, 3)
  },
)

t.test(
  'a failed refresh serves the last good value; a first fetch failure is an error',
  async (t) => {
    let clock = 0
    let fail = false
    const stale: unknown[] = []
    const source = secretsManagerSource({
      secretId: arn,
      ttlMs: 1000,
      defaults,
      now: () => clock,
      onStale: (error) => stale.push(error),
      fetchSecret: async () => {
        if (fail) throw new Error('throttled')
        return '{"username":"app","password":"pw"}'
      },
    })
    await source.get()
    fail = true
    clock += 5000
    t.equal((await source.get()).password, 'pw')
    t.equal(stale.length, 1)
    await t.rejects(source.refresh(), /throttled/, 'a forced refresh reports the failure')

    const never = secretsManagerSource({
      secretId: arn,
      ttlMs: 1000,
      defaults,
      fetchSecret: async () => {
        throw new Error('AccessDenied')
      },
    })
    await t.rejects(never.get(), /AccessDenied/)
  },
)

t.test('DATABASE_URL is decoded into discrete fields', async (t) => {
  const source = databaseUrlSource(
    `postgres://app:${encodeURIComponent('p@ss:w/rd?#%')}@db.local:6000/urls`,
  )
  t.equal(source.kind, 'database-url')
  t.same(await source.get(), {
    user: 'app',
    password: 'p@ss:w/rd?#%',
    host: 'db.local',
    port: 6000,
    database: 'urls',
  })
})

t.test(
  'configuration: exactly one credential source, no URL parameters, no echoed values',
  async (t) => {
    t.throws(() => loadConfig({}), ConfigError, 'neither')
    t.throws(
      () =>
        loadConfig({
          DB_SECRET_ARN: arn,
          AWS_REGION: 'eu-west-1',
          DATABASE_URL: 'postgres://a@b/c',
        }),
      /not both/,
    )
    t.throws(() => loadConfig({ DB_SECRET_ARN: arn }), /AWS_REGION: is required/)
    t.throws(
      () => loadConfig({ DATABASE_URL: 'postgres://u:p@h/d?sslmode=disable' }),
      /DB_SSL_MODE/,
    )
    t.throws(
      () => loadConfig({ DB_SSL_MODE: 'prefer', DATABASE_URL: 'postgres://u@h/d' }),
      /DB_SSL_MODE/,
    )
    try {
      loadConfig({ DATABASE_URL: 'mysql://user:TopSecret99@h/d' })
      t.fail('accepted')
    } catch (error) {
      t.notMatch((error as Error).message, 'TopSecret99')
    }
    const config = loadConfig({ DB_SECRET_ARN: arn, AWS_REGION: 'eu-west-1' })
    t.equal(config.DB_SSL_MODE, 'verify-full', 'TLS verification is the default')
    t.equal(config.DB_SECRET_TTL_SECONDS, 300)
    t.equal(config.DB_POOL_MAX, 10)
    t.equal(config.PORT, 8443)
    t.equal(config.OPS_PORT, 9443)
  },
)

t.test('createSecretFetcher returns SecretString and refuses a binary secret', async (t) => {
  const mock = mockClient(SecretsManagerClient)
  t.teardown(() => mock.restore())
  mock.on(GetSecretValueCommand, { SecretId: 'text' }).resolves({ SecretString: '{"a":1}' })
  mock
    .on(GetSecretValueCommand, { SecretId: 'binary' })
    .resolves({ SecretBinary: new Uint8Array([1]) })
  const fetchSecret = createSecretFetcher('eu-west-1')
  t.equal(await fetchSecret('text'), '{"a":1}')
  await t.rejects(fetchSecret('binary'), /has no SecretString/)
})

t.test('both secret shapes open a working pool against a real database', async (t) => {
  const database = await createTestDatabase(t)
  const secrets: Record<string, string> = {
    template: JSON.stringify({
      engine: 'postgres',
      host: database.host,
      port: String(database.port),
      username: database.user,
      password: database.password,
      dbname: database.database,
    }),
    managed: JSON.stringify({ username: database.user, password: database.password }),
  }
  for (const name of ['template', 'managed']) {
    const config = loadConfig({
      DB_SECRET_ARN: name,
      AWS_REGION: 'eu-west-1',
      DB_SSL_MODE: 'disable',
      // Only the managed shape needs these; the template's own fields win.
      ...(name === 'managed'
        ? { DB_HOST: database.host, DB_PORT: String(database.port), DB_NAME: database.database }
        : { DB_HOST: 'wrong-host.invalid', DB_NAME: 'wrong' }),
    })
    const db = await openDatabase(config, {
      logger: silent,
      fetchSecret: async (id) => secrets[id] ?? '',
    })
    const { rows } = await db.query<{ db: string }>('SELECT current_database() AS db')
    t.equal(rows[0]?.db, database.database, name)
    await db.close()
  }
})
