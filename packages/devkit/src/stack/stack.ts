import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type {
  ApiGatewayEnv,
  FrontendEnv,
  RuntimeEnv,
  UrlServiceEnv,
  UrlServiceServerEnv,
  WorkerEnv,
} from '@zt/contracts'
import pg from 'pg'
import { startOtlpReceiver } from '../otlp-receiver.js'
import { type EmbeddedServer, freePort, startEmbeddedPostgres } from '../postgres.js'
import {
  generatePassword,
  type LocalSecretsManager,
  startLocalSecretsManager,
} from '../secrets-manager.js'
import { type FauxqsServer, startLocalSqs } from '../sqs.js'
import { ManagedProcess, type ProcessSpec } from './process.js'
import { isPortFree, waitForOk } from './wait.js'

export interface StackPorts {
  frontend: number
  frontendOps: number
  apiGateway: number
  apiGatewayOps: number
  urlService: number
  urlServiceOps: number
  workerOps: number
  postgres: number
  sqs: number
  secretsManager: number
  otlp: number
}

/** The ports `pnpm dev` promises in the README. */
export const devPorts: StackPorts = {
  frontend: 3000,
  frontendOps: 9080,
  apiGateway: 8000,
  apiGatewayOps: 9000,
  urlService: 8443,
  urlServiceOps: 9443,
  workerOps: 9444,
  postgres: 5433,
  sqs: 9324,
  secretsManager: 9325,
  otlp: 4318,
}

/** Kernel-chosen ports, so test suites can run beside a `pnpm dev`. */
export async function randomPorts(): Promise<StackPorts> {
  const entries = await Promise.all(
    Object.keys(devPorts).map(async (name) => [name, await freePort()] as const),
  )
  return Object.fromEntries(entries) as unknown as StackPorts
}

export class PortInUseError extends Error {
  constructor(readonly taken: { name: string; port: number }[]) {
    super(
      `port${taken.length > 1 ? 's' : ''} already in use: ${taken
        .map(({ name, port }) => `${port} (${name})`)
        .join(
          ', ',
        )}. Stop whatever holds ${taken.length > 1 ? 'them' : 'it'} (another \`pnpm dev\`?) and try again.`,
    )
    this.name = 'PortInUseError'
  }
}

export interface StackOptions {
  /** Repository root. */
  root: string
  /** Where PostgreSQL data and SVIDs live (`.dev` for pnpm dev, a temp dir for tests). */
  stateDir: string
  ports: StackPorts
  trustDomain?: string
  /** Lifetime of each dev SVID and how often the dev CA re-issues them. */
  svidTtlSeconds?: number
  rotateEverySeconds?: number
  logLevel?: string
  /**
   * Spans from every process to a local OTLP receiver, appended to
   * `traces.jsonl` in stateDir (`pnpm dev` turns it on). Off by default, so
   * the suites and benchmarks run as before.
   */
  tracing?: boolean
  /** Extra environment per process, e.g. shorter timeouts in tests. */
  env?: Partial<ServiceEnvs>
  /** Extra Node flags per process, e.g. `--cpu-prof` in a benchmark. */
  nodeArgs?: Partial<Record<ServiceName, string[]>>
  output: (name: string, line: string) => void
  readyTimeoutMs?: number
  /**
   * Run the built `dist/*.js` entry points with plain node, as the images do,
   * instead of the TypeScript sources through tsx (needs `pnpm build`).
   */
  compiled?: boolean
}

export type ServiceName = 'dev-ca' | 'url-service' | 'worker' | 'api-gateway' | 'frontend'

/** Each process's environment, typed by the service's contract in @zt/contracts. */
export interface ServiceEnvs {
  /** The dev CA takes command-line flags; only the common settings reach it. */
  'dev-ca': RuntimeEnv & { LOG_LEVEL?: string; HOST?: string; TRUST_DOMAIN?: string }
  'url-service': UrlServiceServerEnv & RuntimeEnv
  worker: WorkerEnv & RuntimeEnv
  'api-gateway': ApiGatewayEnv & RuntimeEnv
  frontend: FrontendEnv & RuntimeEnv
}

export interface Stack {
  readonly ports: StackPorts
  readonly frontendUrl: string
  readonly apiGatewayUrl: string
  readonly urlServiceUrl: string
  /** Superuser on the app database, for inspecting it; the services never use it. */
  readonly databaseUrl: string
  readonly adminDatabaseUrl: string
  /** The least-privilege login url-service, worker and migrations use. */
  readonly appUser: string
  /** The secret holding that login, as in production ({engine, host, port, username, password, dbname}). */
  readonly databaseSecretArn: string
  readonly secretsManager: LocalSecretsManager
  readonly queueUrl: string
  readonly svidDir: string
  /** Where the receiver appends each OTLP export, one JSON line each (with `tracing`). */
  readonly tracesFile: string
  readonly trustDomain: string
  readonly processes: Record<ServiceName, ManagedProcess>
  /** The running emulator and database (replaced by startQueue / startPostgres). */
  readonly sqs: FauxqsServer
  readonly postgres: EmbeddedServer
  /** Fault drills: stop PostgreSQL, then start it again on the same data and port. */
  stopPostgres(): Promise<void>
  startPostgres(): Promise<void>
  /** Fault drills: stop the SQS emulator, then start it again with the same (empty) queues. */
  stopQueue(): Promise<void>
  startQueue(): Promise<void>
  /** Waits until a service's ops port says it is ready. */
  waitReady(name: Exclude<ServiceName, 'dev-ca'>, timeoutMs?: number): Promise<void>
  /** Stops every process, then the emulator and PostgreSQL. Safe to call twice. */
  stop(): Promise<void>
}

const databaseName = 'zt'
const appUser = 'zt_app'
const queueName = 'zt-events'
const secretName = 'zt/url-service/database'

export interface AppDatabaseNames {
  /** The app database (default `zt`). */
  database?: string
  /** Its owner, the app's login (default `zt_app`). */
  user?: string
}

/**
 * The app database owned by a login that is not a superuser, as infra's
 * bootstrap creates it in RDS. Its password is new on every start: it lives
 * only in the local Secrets Manager, which is in memory. Other names let a
 * suite keep its own database and login on a shared server.
 */
export async function ensureDatabase(
  adminUrl: string,
  password: string,
  names: AppDatabaseNames = {},
): Promise<void> {
  const database = names.database ?? databaseName
  const user = names.user ?? appUser
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    const literal = client.escapeLiteral(password)
    const login = client.escapeIdentifier(user)
    const role = await client.query('select 1 from pg_roles where rolname = $1', [user])
    await client.query(
      role.rowCount === 0
        ? `create role ${login} login nosuperuser nocreatedb nocreaterole password ${literal}`
        : `alter role ${login} password ${literal}`,
    )
    const { rows } = await client.query<{ owner: string }>(
      'select pg_get_userbyid(datdba) as owner from pg_database where datname = $1',
      [database],
    )
    if (rows.length === 0) {
      await client.query(`create database ${client.escapeIdentifier(database)} owner ${login}`)
    } else if (rows[0]?.owner !== user) {
      await adoptDatabase(adminUrl, database, user)
    }
  } finally {
    await client.end()
  }
}

/** The superuser's URL, on the app database instead of `postgres`. */
function appDatabaseUrl(adminUrl: string, database = databaseName): string {
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/**
 * State from before the app had its own login: the database and its tables
 * belong to the superuser. Hand them to the app login, so an upgrade keeps
 * the links instead of failing on permissions.
 */
async function adoptDatabase(adminUrl: string, database: string, user: string): Promise<void> {
  const client = new pg.Client({ connectionString: appDatabaseUrl(adminUrl, database) })
  await client.connect()
  try {
    const login = client.escapeIdentifier(user)
    await client.query(`alter database ${client.escapeIdentifier(database)} owner to ${login}`)
    // Sequences owned by a column follow their table.
    const { rows } = await client.query<{ name: string }>(
      `select tablename as name from pg_tables where schemaname = 'public' and tableowner <> $1`,
      [user],
    )
    for (const { name } of rows) {
      await client.query(`alter table public.${client.escapeIdentifier(name)} owner to ${login}`)
    }
  } finally {
    await client.end()
  }
}

function tracesFileIn(options: StackOptions): string {
  return join(options.stateDir, 'traces.jsonl')
}

/** Refuses to start over a busy port or, for `compiled`, without a build. */
async function preflight(options: StackOptions): Promise<void> {
  const taken = []
  for (const [name, port] of Object.entries(options.ports)) {
    if (!(await isPortFree(port))) taken.push({ name, port })
  }
  if (taken.length > 0) throw new PortInUseError(taken)
  if (options.compiled) {
    const missing = ['services/url-service', 'services/api-gateway', 'services/frontend']
      .map((dir) => join(options.root, dir, 'dist/server.js'))
      .filter((path) => !existsSync(path))
    if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')}; run \`pnpm build\``)
  }
}

/** Steps to undo, newest first; each failure is reported and the rest still run. */
type Cleanup = (() => Promise<unknown>)[]

interface Infrastructure {
  /** The superuser's URL, and the app database through it. */
  adminUrl: string
  databaseUrl: string
  databaseSecretArn: string
  secretsManager: LocalSecretsManager
  queueUrl: string
  postgres(): EmbeddedServer | undefined
  sqs(): FauxqsServer | undefined
  stopPostgres(): Promise<void>
  startPostgres(): Promise<void>
  stopQueue(): Promise<void>
  startQueue(): Promise<void>
}

/**
 * What the services stand on, as in production: PostgreSQL with a least-
 * privilege app login, that login in (local) Secrets Manager, and the SQS
 * emulator with the events queue.
 */
async function startInfrastructure(
  options: StackOptions,
  cleanup: Cleanup,
): Promise<Infrastructure> {
  const { ports, output } = options
  const dataDir = join(options.stateDir, 'postgres')
  if (options.tracing === true) {
    const receiver = await startOtlpReceiver({ port: ports.otlp, file: tracesFileIn(options) })
    cleanup.push(() => receiver.close())
    output('dev', `OTLP receiver on ${receiver.url}, appending to ${tracesFileIn(options)}`)
  }
  const bootPostgres = () => startEmbeddedPostgres({ dataDir, port: ports.postgres })
  let postgres: EmbeddedServer | undefined = await bootPostgres()
  cleanup.push(async () => postgres?.stop())
  const appPassword = generatePassword()
  await ensureDatabase(postgres.adminUrl, appPassword)
  const adminUrl = postgres.adminUrl
  output('dev', `PostgreSQL ready on 127.0.0.1:${ports.postgres} (data in ${dataDir})`)

  const bootQueue = () => startLocalSqs({ port: ports.sqs, queueName })
  const queue = await bootQueue()
  let sqs: FauxqsServer | undefined = queue.server
  cleanup.push(async () => sqs?.stop())
  output('dev', `SQS emulator (fauxqs) ready on 127.0.0.1:${ports.sqs}, queue ${queue.queueUrl}`)

  const secretsManager = await startLocalSecretsManager({ port: ports.secretsManager })
  cleanup.push(() => secretsManager.close())
  const databaseSecretArn = secretsManager.store.set(
    secretName,
    JSON.stringify({
      engine: 'postgres',
      host: '127.0.0.1',
      port: ports.postgres,
      username: appUser,
      password: appPassword,
      dbname: databaseName,
    }),
  )
  output(
    'dev',
    `Secrets Manager (local) ready on 127.0.0.1:${ports.secretsManager}: ${appUser}'s login in ${databaseSecretArn}`,
  )
  return {
    adminUrl,
    databaseUrl: appDatabaseUrl(adminUrl),
    databaseSecretArn,
    secretsManager,
    queueUrl: queue.queueUrl,
    postgres: () => postgres,
    sqs: () => sqs,
    stopPostgres: async () => {
      await postgres?.stop()
      postgres = undefined
    },
    startPostgres: async () => {
      postgres ??= await bootPostgres()
    },
    stopQueue: async () => {
      await sqs?.stop()
      sqs = undefined
    },
    startQueue: async () => {
      sqs ??= (await bootQueue()).server
    },
  }
}

/** Each service's environment, from its contract: loopback addresses, the emulators, the dev SVIDs. */
function serviceEnvs(
  options: StackOptions,
  infra: Infrastructure,
  svidDir: string,
  trustDomain: string,
): ServiceEnvs & { migrate: UrlServiceEnv & RuntimeEnv } {
  const { ports } = options
  const common = {
    LOG_LEVEL: options.logLevel ?? 'info',
    HOST: '127.0.0.1',
    NODE_ENV: 'development',
    TRUST_DOMAIN: trustDomain,
    ...(options.tracing !== true
      ? {}
      : {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.otlp}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          // A second, not five: a trace shows up while the request is fresh.
          OTEL_BSP_SCHEDULE_DELAY: '1000',
        }),
  }
  const aws = {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${ports.sqs}`,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: infra.secretsManager.url,
    // The emulators accept any signature; these only let the SDK sign.
    AWS_ACCESS_KEY_ID: 'local-dev-only',
    AWS_SECRET_ACCESS_KEY: 'local-dev-only',
    AWS_EC2_METADATA_DISABLED: 'true',
  }
  // The production path: the login comes from Secrets Manager at run time.
  const database = {
    ...aws,
    DB_SECRET_ARN: infra.databaseSecretArn,
    DB_SSL_MODE: 'disable',
  } satisfies UrlServiceEnv & RuntimeEnv
  const extra = options.env ?? {}
  return {
    'dev-ca': { ...common, ...extra['dev-ca'] },
    migrate: { ...common, ...database, OTEL_SERVICE_NAME: 'migrate' },
    'url-service': {
      ...common,
      ...database,
      PORT: String(ports.urlService),
      OPS_PORT: String(ports.urlServiceOps),
      SPIFFE_SVID_DIR: join(svidDir, 'url-service'),
      EVENTS_QUEUE_URL: infra.queueUrl,
      OTEL_SERVICE_NAME: 'url-service',
      ...extra['url-service'],
    },
    worker: {
      ...common,
      ...database,
      OPS_PORT: String(ports.workerOps),
      EVENTS_QUEUE_URL: infra.queueUrl,
      OTEL_SERVICE_NAME: 'worker',
      ...extra.worker,
    },
    'api-gateway': {
      ...common,
      PORT: String(ports.apiGateway),
      OPS_PORT: String(ports.apiGatewayOps),
      SPIFFE_SVID_DIR: join(svidDir, 'api-gateway'),
      URL_SERVICE_URL: `https://127.0.0.1:${ports.urlService}`,
      PUBLIC_BASE_URL: `http://127.0.0.1:${ports.frontend}`,
      // The frontend proxies from loopback and forwards the browser's address.
      TRUSTED_PROXIES: '127.0.0.1',
      OTEL_SERVICE_NAME: 'api-gateway',
      ...extra['api-gateway'],
    },
    frontend: {
      ...common,
      PORT: String(ports.frontend),
      OPS_PORT: String(ports.frontendOps),
      API_GATEWAY_URL: `http://127.0.0.1:${ports.apiGateway}`,
      OTEL_SERVICE_NAME: 'frontend',
      ...extra.frontend,
    },
  }
}

/**
 * Node's flags for every service, the same as the images' NODE_OPTIONS (a
 * test holds the two equal): tracing hooked in before the app's first import,
 * and V8's young generation capped at 8 MB a semi-space. Left alone, V8 13.6
 * grows it to 64 MB a semi-space in a service that keeps requests in flight,
 * about 100 MB of a relaying service's memory for no CPU gained
 * (docs/performance.md).
 */
export const serviceNodeArgs = [
  '--import=@zt/service-kit/instrument',
  '--max-semi-space-size=8',
] as const

/** One process per service from its real entry point (dist/ with `compiled`), and the migration run. */
function createProcesses(
  options: StackOptions,
  env: ReturnType<typeof serviceEnvs>,
  svidDir: string,
  trustDomain: string,
): { processes: Record<ServiceName, ManagedProcess>; migrate: ManagedProcess } {
  const make = (
    name: ServiceName,
    dir: string,
    entry: string,
    processEnv: ProcessSpec['env'],
    args?: string[],
  ) =>
    new ManagedProcess({
      name,
      cwd: join(options.root, dir),
      entry: options.compiled ? entry.replace(/^src\/(.*)\.ts$/, 'dist/$1.js') : entry,
      ...(args ? { args } : {}),
      nodeArgs: [
        ...(name === 'dev-ca' ? [] : serviceNodeArgs),
        ...(options.nodeArgs?.[name] ?? []),
      ],
      env: processEnv,
      output: options.output,
    })
  const processes: Record<ServiceName, ManagedProcess> = {
    'dev-ca': make('dev-ca', 'packages/spiffe', 'src/dev-ca-cli.ts', env['dev-ca'], [
      '--dir',
      svidDir,
      '--trust-domain',
      trustDomain,
      // Only the workloads that serve or call mTLS: the worker has no SPIFFE identity.
      '--workloads',
      'api-gateway,url-service',
      '--ttl',
      `${options.svidTtlSeconds ?? 300}s`,
      '--rotate-every',
      `${options.rotateEverySeconds ?? 120}s`,
    ]),
    'url-service': make('url-service', 'services/url-service', 'src/server.ts', env['url-service']),
    worker: make('worker', 'services/url-service', 'src/worker.ts', env.worker),
    'api-gateway': make('api-gateway', 'services/api-gateway', 'src/server.ts', env['api-gateway']),
    frontend: make('frontend', 'services/frontend', 'src/server.ts', env.frontend),
  }
  return {
    processes,
    migrate: make('url-service', 'services/url-service', 'src/migrate.ts', env.migrate),
  }
}

async function waitForFiles(
  paths: string[],
  timeoutMs: number,
  isAlive: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!paths.every((path) => existsSync(path))) {
    if (!isAlive()) throw new Error('the dev CA exited before issuing SVIDs')
    if (Date.now() > deadline)
      throw new Error(`SVIDs not issued after ${timeoutMs} ms: ${paths.join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * Starts the whole system on loopback: embedded PostgreSQL, the SQS emulator,
 * the dev SPIFFE CA, migrations, then url-service, worker, api-gateway and
 * frontend from their real entry points. `pnpm dev` and the e2e suites both
 * use this, so what the proofs exercise is what a developer runs.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const { ports, output } = options
  const trustDomain = options.trustDomain ?? 'zt.local'
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000
  await preflight(options)

  const cleanup: Cleanup = []
  const stopAll = async () => {
    for (const step of cleanup.splice(0).reverse()) {
      await step().catch((error: unknown) => output('dev', `stop failed: ${String(error)}`))
    }
  }

  try {
    const infra = await startInfrastructure(options, cleanup)
    const svidDir = join(options.stateDir, 'spiffe')
    const env = serviceEnvs(options, infra, svidDir, trustDomain)
    const { processes, migrate } = createProcesses(options, env, svidDir, trustDomain)
    const opsPort: Record<Exclude<ServiceName, 'dev-ca'>, number> = {
      'url-service': ports.urlServiceOps,
      worker: ports.workerOps,
      'api-gateway': ports.apiGatewayOps,
      frontend: ports.frontendOps,
    }
    const waitReady = (name: Exclude<ServiceName, 'dev-ca'>, timeoutMs = readyTimeoutMs) =>
      waitForOk(`http://127.0.0.1:${opsPort[name]}/readyz`, {
        timeoutMs,
        isAlive: () => processes[name].running,
      })
    const start = (name: ServiceName) => {
      processes[name].start()
      cleanup.push(() => processes[name].stop('SIGTERM', 30_000))
    }

    // Start order: SVIDs, the schema, url-service and the worker, then the
    // gateway that calls url-service, then the frontend that calls the gateway.
    start('dev-ca')
    await waitForFiles(
      ['api-gateway', 'url-service'].flatMap((w) =>
        ['svid.pem', 'svid_key.pem', 'bundle.pem'].map((f) => join(svidDir, w, f)),
      ),
      readyTimeoutMs,
      () => processes['dev-ca'].running,
    )
    migrate.start()
    const migrated = await migrate.exited
    if (migrated !== 0) throw new Error(`migrations failed (exit ${migrated})`)
    start('url-service')
    start('worker')
    await Promise.all([waitReady('url-service'), waitReady('worker')])
    start('api-gateway')
    await waitReady('api-gateway')
    start('frontend')
    await waitReady('frontend')

    let stopping: Promise<void> | undefined
    return {
      ports,
      frontendUrl: `http://127.0.0.1:${ports.frontend}`,
      apiGatewayUrl: `http://127.0.0.1:${ports.apiGateway}`,
      urlServiceUrl: `https://127.0.0.1:${ports.urlService}`,
      databaseUrl: infra.databaseUrl,
      adminDatabaseUrl: infra.adminUrl,
      appUser,
      databaseSecretArn: infra.databaseSecretArn,
      secretsManager: infra.secretsManager,
      queueUrl: infra.queueUrl,
      svidDir,
      tracesFile: tracesFileIn(options),
      trustDomain,
      processes,
      get sqs() {
        const sqs = infra.sqs()
        if (!sqs) throw new Error('the SQS emulator is stopped')
        return sqs
      },
      get postgres() {
        const postgres = infra.postgres()
        if (!postgres) throw new Error('PostgreSQL is stopped')
        return postgres
      },
      stopPostgres: infra.stopPostgres,
      startPostgres: infra.startPostgres,
      stopQueue: infra.stopQueue,
      startQueue: infra.startQueue,
      waitReady,
      stop: () => {
        stopping ??= stopAll()
        return stopping
      },
    }
  } catch (error) {
    await stopAll()
    throw error
  }
}
