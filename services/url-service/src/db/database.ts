import type { ConnectionOptions } from 'node:tls'
import pg from 'pg'
import type { Logger } from 'pino'
import { Gauge, type Registry } from 'prom-client'
import type { Config } from '../config.js'
import { createSecretFetcher } from './aws.js'
import {
  type CredentialSource,
  type DbCredentials,
  databaseUrlSource,
  secretsManagerSource,
} from './credentials.js'
import { sslOptions } from './tls.js'

/** A pool, a Database, or a client inside a transaction: what runs one statement. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>
}

/** Queries, and a client of its own for a transaction (the relay's claim, the worker's batch). */
export interface Connectable extends Queryable {
  connect(): Promise<pg.PoolClient>
}

/** The pool plus the one rule every caller needs: retry once after a rotated password. */
export interface Database {
  readonly pool: pg.Pool
  readonly source: CredentialSource
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>
  /** A client of its own (migrations, transactions); release it when done. */
  connect(): Promise<pg.PoolClient>
  close(): Promise<void>
}

export interface DatabaseOptions {
  source: CredentialSource
  ssl: false | ConnectionOptions
  max: number
  /** Age at which a pooled connection is closed and replaced; none when unset. */
  maxLifetimeSeconds?: number
  logger: Logger
  /** Pool gauges are registered here when given. */
  registry?: Registry
  /** Backoff before each refresh after 28P01; tests pass [] to show the rotation failing without it. */
  authRetryDelaysMs?: readonly number[]
}

const invalidPassword = '28P01'

// Backoff before each refresh after a rejected password: about 1.5 s in
// all, inside the gateway's 2 s budget for one call.
const defaultAuthRetryDelaysMs = [0, 200, 400, 800] as const

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function isInvalidPassword(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === invalidPassword
}

/**
 * Builds the pool from discrete fields — never a connection string, which
 * would need percent-encoding and would override `ssl` (node-postgres #2380).
 * `password` is a function, so every new physical connection asks the source
 * and picks up a rotated secret without a restart.
 */
export async function createDatabase(options: DatabaseOptions): Promise<Database> {
  const { source, logger, authRetryDelaysMs = defaultAuthRetryDelaysMs } = options
  const first: DbCredentials = await source.get()
  const pool = new pg.Pool({
    host: first.host,
    port: first.port,
    database: first.database,
    user: first.user,
    password: async () => {
      const current = await source.get()
      if (current.user !== first.user || current.host !== first.host) {
        // pg fixes the user and host per pool; only the password can follow.
        logger.error('database secret names another user or host; restart to use it')
      }
      return current.password
    },
    ssl: options.ssl,
    max: options.max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    // A connection lives at most this long, so none stays logged in with a
    // password that rotation retired, and load rebalances after a failover.
    maxLifetimeSeconds: options.maxLifetimeSeconds ?? 0,
    application_name: 'url-service',
  })
  // An idle client whose server went away emits here; without a listener
  // the process would crash. The pool drops the client by itself.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'))
  // A checked-out client has no such listener: when the server ends its
  // session (a restart, a failover, 57P01) while a transaction waits on
  // something else, such as the relay on SQS, the 'error' event would crash
  // the process. The caller still sees the failure through its next query.
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.debug({ err: error }, 'database connection failed'))
  })

  if (options.registry) registerPoolMetrics(pool, options.registry)

  const withRetry = async <T>(operation: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await operation()
      } catch (error) {
        const delay = authRetryDelaysMs[attempt]
        if (!isInvalidPassword(error) || delay === undefined) throw error
        // 28P01 happens while logging in, before any statement ran, so
        // retrying is safe. In single-user rotation the database takes the
        // new password a moment before the secret does (AWS: "mitigate this
        // risk with an appropriate retry strategy"), so a refresh can still
        // return the old one: back off with jitter and fetch again.
        if (attempt === 0) {
          logger.warn('database rejected the password; refreshing the secret and retrying')
        }
        await sleep(delay / 2 + Math.random() * (delay / 2))
        await source.refresh()
      }
    }
  }

  let closed: Promise<void> | undefined
  return {
    pool,
    source,
    query: (text, values) => withRetry(() => pool.query(text, values)),
    connect: () => withRetry(() => pool.connect()),
    close: () => {
      closed ??= pool.end()
      return closed
    },
  }
}

function registerPoolMetrics(pool: pg.Pool, registry: Registry): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read())
      },
    })
  gauge('db_pool_connections', 'Open connections in the database pool', () => pool.totalCount)
  gauge('db_pool_idle_connections', 'Idle connections in the database pool', () => pool.idleCount)
  gauge(
    'db_pool_waiting_requests',
    'Queries waiting for a connection from the pool',
    () => pool.waitingCount,
  )
}

/** The credential source the configuration asks for; Secrets Manager when DB_SECRET_ARN is set. */
export function credentialSourceFromConfig(
  config: Config,
  options: {
    logger: Logger
    /** Replaces the Secrets Manager call (tests). */
    fetchSecret?: (secretId: string) => Promise<string>
  },
): CredentialSource {
  if (config.DB_SECRET_ARN) {
    const fetchSecret = options.fetchSecret ?? createSecretFetcher(config.AWS_REGION ?? '')
    return secretsManagerSource({
      secretId: config.DB_SECRET_ARN,
      fetchSecret,
      ttlMs: config.DB_SECRET_TTL_SECONDS * 1000,
      defaults: { host: config.DB_HOST, port: config.DB_PORT, database: config.DB_NAME },
      onStale: (error) =>
        options.logger.warn({ err: error }, 'secret refresh failed; using the cached value'),
    })
  }
  if (config.DATABASE_URL) return databaseUrlSource(config.DATABASE_URL)
  throw new Error('set DB_SECRET_ARN (production) or DATABASE_URL (local runs only)')
}

/** Config to a ready pool: the source, TLS, metrics, and a log line naming the source (never its value). */
export async function openDatabase(
  config: Config,
  options: {
    logger: Logger
    registry?: Registry
    fetchSecret?: (secretId: string) => Promise<string>
    /** Pool size; DB_POOL_MAX by default (migrations need one). */
    max?: number
    authRetryDelaysMs?: readonly number[]
  },
): Promise<Database> {
  const source = credentialSourceFromConfig(config, options)
  if (source.kind === 'secrets-manager') {
    options.logger.info(
      {
        credentialSource: source.kind,
        secretId: config.DB_SECRET_ARN,
        sslMode: config.DB_SSL_MODE,
      },
      'database credentials from AWS Secrets Manager',
    )
  } else {
    options.logger.warn(
      { credentialSource: source.kind, sslMode: config.DB_SSL_MODE },
      'database credentials from DATABASE_URL: for local runs only',
    )
  }
  return createDatabase({
    source,
    ssl: sslOptions(config.DB_SSL_MODE, config.DB_SSL_CA_FILE),
    max: options.max ?? config.DB_POOL_MAX,
    maxLifetimeSeconds: config.DB_POOL_MAX_LIFETIME_SECONDS,
    logger: options.logger,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.authRetryDelaysMs ? { authRetryDelaysMs: options.authRetryDelaysMs } : {}),
  })
}
