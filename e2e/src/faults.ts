import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager'
import { freePort, generatePassword, ManagedProcess, waitForOk } from '@zt/devkit'
import { authorizeId, DirectorySource, MtlsDispatcher, SpiffeId } from '@zt/spiffe'
import pg from 'pg'
import { request } from 'undici'
import { call, poll, postJson } from './http.js'
import type { E2eStack } from './stack.js'

/** The stack the fault drills (the suite and `pnpm demo`) run on. */
export const faultStackOptions = {
  // Rotating every 2 s keeps an SVID's remaining life far above a quarter of
  // its lifetime (12 s plus the dev CA's 10 s backdating), which readiness
  // requires; a 6 s TTL sat on that line and flapped under load.
  svidTtlSeconds: 12,
  rotateEverySeconds: 2,
  // As in the chart: a stopping process keeps serving briefly while its
  // readiness fails, so callers move away before the listener closes.
  env: {
    'api-gateway': { RATE_LIMIT_MAX: '1000000', DRAIN_DELAY_MS: '1000' },
    // Connections live 1 s, so new logins fall inside the rotation window.
    'url-service': { DRAIN_DELAY_MS: '1000', DB_POOL_MAX_LIFETIME_SECONDS: '1' },
    worker: { DB_POOL_MAX_LIFETIME_SECONDS: '1' },
  },
}

export interface LoadCount {
  ok: number
  failed: number
  /** A few failure descriptions, for the report. */
  failures: string[]
}

/**
 * Keeps `concurrency` requests in flight until `stop()` resolves; each
 * request is one call of `send`, which returns a failure description or
 * undefined. Bounded by the caller's stop signal.
 */
export async function loadUntil(
  concurrency: number,
  send: (n: number) => Promise<string | undefined>,
  stop: Promise<unknown>,
): Promise<LoadCount> {
  const count: LoadCount = { ok: 0, failed: 0, failures: [] }
  let done = false
  void stop.then(() => {
    done = true
  })
  let n = 0
  const worker = async () => {
    while (!done) {
      const failure = await send(n++).catch((error: unknown) => String(error))
      if (failure === undefined) count.ok++
      else {
        count.failed++
        if (count.failures.length < 5) count.failures.push(failure)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return count
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A link to read and follow during the fault runs. */
export async function createLink(gatewayUrl: string, alias: string): Promise<string> {
  const created = await postJson(`${gatewayUrl}/api/urls`, {
    url: `https://example.com/${alias}`,
    alias,
  })
  if (created.status !== 201) throw new Error(`create ${alias}: ${created.status} ${created.body}`)
  return alias
}

async function clickCount(stack: E2eStack, alias: string): Promise<number> {
  const record = await call(`${stack.apiGatewayUrl}/api/urls/${alias}`)
  return (record.json as { clicks?: number } | undefined)?.clicks ?? 0
}

/** Waits (up to 30 s) until the worker has counted `expected` clicks; returns the count. */
async function clicksReaching(stack: E2eStack, alias: string, expected: number): Promise<number> {
  let counted = 0
  await poll(
    'clicks counted',
    async () => {
      counted = await clickCount(stack, alias)
      return counted >= expected ? counted : undefined
    },
    30_000,
    300,
  ).catch(() => undefined)
  return counted
}

/** Reads through the gateway (read, list, create): a failure is any non-2xx answer. */
export function gatewayTraffic(gatewayUrl: string, alias: string) {
  return async (n: number): Promise<string | undefined> => {
    const answer =
      n % 3 === 0
        ? await postJson(`${gatewayUrl}/api/urls`, { url: `https://example.com/load/${n}` })
        : n % 3 === 1
          ? await call(`${gatewayUrl}/api/urls/${alias}`)
          : await call(`${gatewayUrl}/api/urls?limit=5`)
    return answer.status < 300 ? undefined : `HTTP ${answer.status} ${answer.body.slice(0, 160)}`
  }
}

async function svidSerial(stack: E2eStack, workload: string): Promise<string> {
  const pem = await readFile(join(stack.svidDir, workload, 'svid.pem'), 'utf8')
  return pem.slice(30, 90)
}

/** Requests flow while the dev CA re-issues every SVID; counts rotations seen. */
export async function svidRotationUnderLoad(
  stack: E2eStack,
  durationMs: number,
): Promise<LoadCount & { rotations: number }> {
  const alias = await createLink(stack.apiGatewayUrl, `rot-${Date.now().toString(36)}`)
  const serials = new Set<string>()
  let watching = true
  const watcher = (async () => {
    while (watching) {
      serials.add(await svidSerial(stack, 'url-service').catch(() => ''))
      serials.add(await svidSerial(stack, 'api-gateway').catch(() => ''))
      await sleep(250)
    }
  })()
  const count = await loadUntil(4, gatewayTraffic(stack.apiGatewayUrl, alias), sleep(durationMs))
  watching = false
  await watcher
  serials.delete('')
  return { ...count, rotations: serials.size - 2 }
}

async function isReady(port: number): Promise<boolean> {
  try {
    return (await call(`http://127.0.0.1:${port}/readyz`, { timeoutMs: 1000 })).status === 200
  } catch {
    return false
  }
}

export interface PostgresOutageResult {
  /** Milliseconds from stopping PostgreSQL until url-service's /readyz failed. */
  notReadyAfterMs: number
  /** Milliseconds from starting PostgreSQL until /readyz answered 200 again. */
  readyAgainAfterMs: number
  stillRunning: string[]
  readAfter: number
}

/** Stops PostgreSQL, watches readiness drop, starts it again on the same data and port. */
export async function postgresOutage(
  stack: E2eStack,
  downMs: number,
): Promise<PostgresOutageResult> {
  const port = stack.ports.urlServiceOps
  if (!(await isReady(port))) throw new Error('url-service not ready before the outage')
  const stoppedAt = Date.now()
  await stack.stopPostgres()
  const notReadyAt = await poll(
    'readiness drops',
    async () => ((await isReady(port)) ? undefined : Date.now()),
    10_000,
    100,
  )
  await sleep(Math.max(0, downMs - (Date.now() - stoppedAt)))
  const startedAt = Date.now()
  await stack.startPostgres()
  const readyAt = await poll(
    'readiness recovers',
    async () => ((await isReady(port)) ? Date.now() : undefined),
    30_000,
    100,
  )
  const alias = await createLink(stack.apiGatewayUrl, `pg-${Date.now().toString(36)}`)
  const read = await call(`${stack.apiGatewayUrl}/api/urls/${alias}`)
  return {
    notReadyAfterMs: notReadyAt - stoppedAt,
    readyAgainAfterMs: readyAt - startedAt,
    stillRunning: (['url-service', 'worker', 'api-gateway', 'frontend'] as const).filter(
      (name) => stack.processes[name].running,
    ),
    readAfter: read.status,
  }
}

export interface PasswordRotationResult extends LoadCount {
  /** Redirects followed during the run, and the clicks the worker counted for them. */
  redirects: number
  counted: number
  /** Logins the database refused during the window, which the services retried. */
  refusedLogins: number
  oldPasswordRefused: boolean
  /** The app login's sessions still open from before the rotation, and all of them. */
  sessionsFromBefore: number
  sessions: number
}

async function canLogIn(adminUrl: string, user: string, password: string): Promise<boolean> {
  const url = new URL(adminUrl)
  const client = new pg.Client({
    host: url.hostname,
    port: Number(url.port),
    database: 'postgres',
    user,
    password,
    connectionTimeoutMillis: 3000,
  })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch (error) {
    if ((error as { code?: string }).code === '28P01') return false
    throw error
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Rotates the app login's password under load, step by step as Secrets
 * Manager's single-user rotation function does: createSecret (AWSPENDING),
 * setSecret (ALTER ROLE), testSecret (log in), finishSecret (move
 * AWSCURRENT). Between setSecret and finishSecret the database already
 * refuses the password the secret still holds: that window lasts `windowMs`.
 * The services' pools must recycle connections quickly (a short
 * DB_POOL_MAX_LIFETIME_SECONDS), so new logins fall into the window.
 */
export async function databasePasswordRotation(
  stack: E2eStack,
  options: { beforeMs: number; windowMs: number; afterMs: number },
): Promise<PasswordRotationResult> {
  const alias = await createLink(stack.apiGatewayUrl, `pw-${Date.now().toString(36)}`)
  const reads = gatewayTraffic(stack.apiGatewayUrl, alias)
  let redirects = 0
  const send = async (n: number) => {
    if (n % 4 !== 3) return reads(n)
    const answer = await call(`${stack.apiGatewayUrl}/r/${alias}`)
    if (answer.status !== 302) return `redirect: HTTP ${answer.status} ${answer.body.slice(0, 160)}`
    redirects++
    return undefined
  }
  const secrets = new SecretsManagerClient({
    region: 'us-east-1',
    endpoint: stack.secretsManager.url,
    credentials: { accessKeyId: 'local-dev-only', secretAccessKey: 'local-dev-only' },
  })
  const admin = new pg.Client({ connectionString: stack.adminDatabaseUrl })
  await admin.connect()
  const mark = stack.logs.length
  const { promise: loadStopped, resolve: stopLoad } = Promise.withResolvers<void>()
  const load = loadUntil(4, send, loadStopped)
  try {
    await sleep(options.beforeMs)
    const SecretId = stack.databaseSecretArn
    const current = await secrets.send(new GetSecretValueCommand({ SecretId }))
    const oldSecret = JSON.parse(current.SecretString ?? '') as { password: string }
    const password = generatePassword()
    const token = randomUUID()
    // createSecret
    await secrets.send(
      new PutSecretValueCommand({
        SecretId,
        ClientRequestToken: token,
        SecretString: JSON.stringify({ ...oldSecret, password }),
        VersionStages: ['AWSPENDING'],
      }),
    )
    // setSecret: from here the database refuses the password AWSCURRENT holds.
    const rotatedAt = new Date()
    await admin.query(`alter role ${stack.appUser} password ${admin.escapeLiteral(password)}`)
    // testSecret
    if (!(await canLogIn(stack.adminDatabaseUrl, stack.appUser, password))) {
      throw new Error('the new password does not log in')
    }
    await sleep(Math.max(0, options.windowMs - (Date.now() - rotatedAt.getTime())))
    // finishSecret
    await secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token,
        RemoveFromVersionId: current.VersionId,
      }),
    )
    await sleep(options.afterMs)
    stopLoad()
    const count = await load

    const counted = await clicksReaching(stack, alias, redirects)
    const sessions = await admin.query<{ before: number; total: number }>(
      `select count(*) filter (where backend_start < $2)::int as before, count(*)::int as total
         from pg_stat_activity where usename = $1`,
      [stack.appUser, rotatedAt],
    )
    return {
      ...count,
      redirects,
      counted,
      refusedLogins: stack
        .linesSince(mark)
        .filter((line) => line.includes('database rejected the password')).length,
      oldPasswordRefused: !(await canLogIn(
        stack.adminDatabaseUrl,
        stack.appUser,
        oldSecret.password,
      )),
      sessionsFromBefore: sessions.rows[0]?.before ?? -1,
      sessions: sessions.rows[0]?.total ?? 0,
    }
  } finally {
    stopLoad()
    await load
    await admin.end()
    secrets.destroy()
  }
}

export interface QueueOutageResult {
  clicks: number
  counted: number
  drainedAfterMs: number
}

/** Stops the SQS emulator, follows a link `clicks` times, starts it again; every click must be counted once. */
export async function queueOutage(
  stack: E2eStack,
  downMs: number,
  clicks: number,
): Promise<QueueOutageResult> {
  const alias = await createLink(stack.apiGatewayUrl, `sqs-${Date.now().toString(36)}`)
  await stack.stopQueue()
  const stoppedAt = Date.now()
  for (let i = 0; i < clicks; i++) {
    const followed = await call(`${stack.apiGatewayUrl}/r/${alias}`)
    if (followed.status !== 302) throw new Error(`redirect during the outage: ${followed.status}`)
    await sleep(Math.floor(downMs / (clicks + 1)))
  }
  await sleep(Math.max(0, downMs - (Date.now() - stoppedAt)))
  const startedAt = Date.now()
  await stack.startQueue()
  await clicksReaching(stack, alias, clicks)
  const drainedAfterMs = Date.now() - startedAt
  // Redelivered messages would show up as extra clicks a little later.
  await sleep(2000)
  return { clicks, counted: await clickCount(stack, alias), drainedAfterMs }
}

export interface SigtermResult {
  inFlight: number
  completed: number
  failures: string[]
  exitCode: number | null
}

/** Sends a burst, SIGTERMs `name` while it is in flight, then starts it again. */
export async function sigtermInFlight(
  stack: E2eStack,
  name: 'url-service' | 'api-gateway',
  burst: number,
): Promise<SigtermResult> {
  const alias = await createLink(stack.apiGatewayUrl, `term-${name}-${Date.now().toString(36)}`)
  const send = gatewayTraffic(stack.apiGatewayUrl, alias)
  const pending = Array.from({ length: burst }, (_, n) =>
    send(n).catch((error: unknown) => `network: ${String(error)}`),
  )
  // Let the requests reach the process, then ask it to stop.
  await sleep(5)
  const exited = stack.processes[name].stop('SIGTERM', 30_000)
  const results = await Promise.all(pending)
  const exitCode = await exited
  stack.processes[name].start()
  await stack.waitReady(name)
  const failures = results.filter((r): r is string => r !== undefined)
  return {
    inFlight: burst,
    completed: burst - failures.length,
    failures: failures.slice(0, 5),
    exitCode,
  }
}

export interface RoundRobinResult extends LoadCount {
  retried: number
  /** Answers that came with Connection: close from the closing instance. */
  closing: number
  perInstance: number[]
}

type Get = (url: string) => Promise<{ status: number; connection: string | null; body: string }>

/**
 * A copy of one of the stack's services on ports of its own, started and
 * ready; the caller stops it.
 */
async function secondInstance(
  stack: E2eStack,
  name: 'api-gateway' | 'url-service',
): Promise<{ process: ManagedProcess; port: number }> {
  const real = stack.processes[name].spec
  const [port, opsPort] = [await freePort(), await freePort()]
  const second = new ManagedProcess({
    ...real,
    env: { ...real.env, PORT: String(port), OPS_PORT: String(opsPort) },
  })
  second.start()
  try {
    await waitForOk(`http://127.0.0.1:${opsPort}/readyz`, {
      timeoutMs: 60_000,
      isAlive: () => second.running,
    })
  } catch (error) {
    await second.stop('SIGKILL', 5000)
    throw error
  }
  return { process: second, port }
}

/**
 * Two instances behind a round-robin client that moves on to the other
 * instance only when one refuses a connection (what a Service does once
 * readiness fails); any non-2xx answer is a failure. The second instance
 * gets SIGTERM a third into the run.
 */
async function roundRobinUntilSigterm(
  instances: [string, string],
  paths: string[],
  get: Get,
  victim: ManagedProcess,
  durationMs: number,
): Promise<RoundRobinResult> {
  const perInstance = [0, 0]
  let retried = 0
  let closing = 0
  const send = async (n: number) => {
    for (let attempt = 0; attempt < instances.length; attempt++) {
      const index = (n + attempt) % instances.length
      try {
        const answer = await get(`${instances[index]}${paths[n % paths.length]}`)
        // A closing instance still answers what reaches it (service-kit
        // turns off Fastify's bare 503 on closing), so any answer counts.
        if (answer.connection === 'close') closing++
        perInstance[index] = (perInstance[index] ?? 0) + 1
        return answer.status < 300
          ? undefined
          : `instance ${index}: HTTP ${answer.status} ${answer.body.slice(0, 100)}`
      } catch (error) {
        // Only idempotent GETs are sent, so trying the other instance is safe.
        retried++
        if (attempt === instances.length - 1) return `network: ${String(error)}`
      }
    }
    return 'unreachable'
  }
  const load = loadUntil(4, send, sleep(durationMs))
  await sleep(durationMs / 3)
  await victim.stop('SIGTERM', 30_000)
  const count = await load
  return { ...count, retried, closing, perInstance }
}

/** Two api-gateway instances; one gets SIGTERM mid-load. */
export async function roundRobinSigterm(
  stack: E2eStack,
  durationMs: number,
): Promise<RoundRobinResult> {
  const alias = await createLink(stack.apiGatewayUrl, `rr-${Date.now().toString(36)}`)
  const second = await secondInstance(stack, 'api-gateway')
  try {
    return await roundRobinUntilSigterm(
      [stack.apiGatewayUrl, `http://127.0.0.1:${second.port}`],
      [`/api/urls/${alias}`, '/api/urls?limit=3'],
      call,
      second.process,
      durationMs,
    )
  } finally {
    await second.process.stop('SIGTERM', 10_000)
  }
}

/**
 * Two url-service instances, called over SPIFFE mTLS with the api-gateway's
 * rotating SVID, as the gateway would; one gets SIGTERM mid-load.
 */
export async function roundRobinUrlServiceSigterm(
  stack: E2eStack,
  durationMs: number,
): Promise<RoundRobinResult> {
  const alias = await createLink(stack.apiGatewayUrl, `rru-${Date.now().toString(36)}`)
  const source = new DirectorySource({ dir: join(stack.svidDir, 'api-gateway') })
  await source.ready()
  const dispatcher = new MtlsDispatcher(source, {
    authorizer: authorizeId(
      SpiffeId.parse(`spiffe://${stack.trustDomain}/ns/services/sa/url-service`),
    ),
  })
  const second = await secondInstance(stack, 'url-service')
  const get: Get = async (url) => {
    const response = await request(url, {
      dispatcher,
      signal: AbortSignal.timeout(10_000),
    })
    const connection = response.headers.connection
    return {
      status: response.statusCode,
      connection: typeof connection === 'string' ? connection : null,
      body: await response.body.text(),
    }
  }
  try {
    return await roundRobinUntilSigterm(
      [stack.urlServiceUrl, `https://127.0.0.1:${second.port}`],
      [`/v1/urls/${alias}`, '/v1/urls?limit=3'],
      get,
      second.process,
      durationMs,
    )
  } finally {
    await second.process.stop('SIGTERM', 10_000)
    await dispatcher.close()
    await source.close()
  }
}
