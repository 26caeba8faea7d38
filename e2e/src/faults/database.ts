import { randomUUID } from 'node:crypto'
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager'
import { generatePassword } from '@zt/devkit'
import pg from 'pg'
import { call, poll } from '../http.js'
import type { E2eStack } from '../stack.js'

import {
  clicksReaching,
  createLink,
  gatewayTraffic,
  type LoadCount,
  loadUntil,
  sleep,
} from './load.js'

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
