import { readFile } from 'node:fs/promises'
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'
import { createTestDatabase, freePort, startLocalSqs } from '@zt/devkit'
import { ConfigError } from '@zt/service-kit'
import t from 'tap'
import { databaseUrlSource } from '../../src/db/credentials.js'
import { createDatabase } from '../../src/db/database.js'
import { runMigrations } from '../../src/db/migrations.js'
import { clicksEvent } from '../../src/events/event.js'
import { defaultVisibilityTimeoutSeconds, loadWorkerConfig } from '../../src/worker/config.js'
import { startWorker } from '../../src/worker/service.js'
import { clicksOf, eventually, insertUrl, sendRaw, silent, startQueue } from '../events/harness.js'

t.test('configuration', async (t) => {
  const error = t.throws(() =>
    loadWorkerConfig({ DATABASE_URL: 'postgres://u:hunter2@db/x', EVENTS_WAIT_TIME_SECONDS: '30' }),
  )
  t.type(error, ConfigError)
  const issues = (error as ConfigError).issues.join('\n')
  t.match(issues, /EVENTS_QUEUE_URL/, 'the worker schema is checked')
  t.match(issues, /EVENTS_WAIT_TIME_SECONDS/)
  t.notMatch(issues, /hunter2/, 'values are never echoed')
  t.throws(
    () => loadWorkerConfig({ EVENTS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q' }),
    /DB_SECRET_ARN/,
    'the shared database settings are checked too',
  )
  const config = loadWorkerConfig({
    DATABASE_URL: 'postgres://u:p@db/x',
    EVENTS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q',
  })
  t.match(config, {
    OPS_PORT: 9444,
    EVENTS_WAIT_TIME_SECONDS: 20,
    EVENTS_VISIBILITY_TIMEOUT_SECONDS: 60,
    EVENTS_DEDUP_RETENTION_HOURS: 336,
    DB_SSL_MODE: 'verify-full',
  })
})

t.test('one visibility timeout: the worker default, the local queues alike', async (t) => {
  const config = loadWorkerConfig({
    DATABASE_URL: 'postgres://u:p@db/x',
    EVENTS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q',
  })
  t.equal(config.EVENTS_VISIBILITY_TIMEOUT_SECONDS, defaultVisibilityTimeoutSeconds)
  // A renewal sent at half the timeout may take the SQS client's whole
  // request timeout (service.ts: long poll + 10 s) and must land in time.
  t.ok(defaultVisibilityTimeoutSeconds / 2 >= config.EVENTS_WAIT_TIME_SECONDS + 10)

  const local = await startLocalSqs({ queueName: 'events', region: 'us-east-1' })
  t.teardown(() => local.stop())
  const sqs = new SQSClient({
    region: 'us-east-1',
    endpoint: local.endpoint,
    useQueueUrlAsEndpoint: false,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  })
  t.teardown(() => sqs.destroy())
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: local.queueUrl,
      AttributeNames: ['VisibilityTimeout'],
    }),
  )
  t.equal(Attributes?.VisibilityTimeout, String(defaultVisibilityTimeoutSeconds), 'devkit')

  const script = await readFile(
    new URL('../../../../compose/localstack/init-aws.sh', import.meta.url),
    'utf8',
  )
  t.match(
    script,
    `\\"VisibilityTimeout\\":\\"${defaultVisibilityTimeoutSeconds}\\"`,
    'docker compose (localstack)',
  )
})

t.test('the worker process: ops port, counting, readiness, shutdown', async (t) => {
  const database = await createTestDatabase(t)
  const db = await createDatabase({
    source: databaseUrlSource(database.connectionString),
    ssl: false,
    max: 2,
    logger: silent,
  })
  t.teardown(() => db.close())
  await runMigrations(db, silent)
  await insertUrl(db, 'svc')
  const queue = await startQueue(t)
  const opsPort = await freePort()
  const config = loadWorkerConfig({
    DATABASE_URL: database.connectionString,
    DB_SSL_MODE: 'disable',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    OPS_PORT: String(opsPort),
    AWS_REGION: 'us-east-1',
    EVENTS_QUEUE_URL: queue.queueUrl,
    EVENTS_WAIT_TIME_SECONDS: '1',
  })
  const exits: number[] = []
  const running = await startWorker(config, {
    logger: silent,
    exit: (code) => exits.push(code),
  })
  t.teardown(() => running.stop())
  const ops = `http://127.0.0.1:${opsPort}`

  t.equal((await fetch(`${ops}/healthz`)).status, 200)
  await sendRaw(queue, [
    JSON.stringify(
      clicksEvent([{ code: 'svc', count: 2, lastClickedAt: new Date().toISOString() }]),
    ),
  ])
  await eventually(async () => (await clicksOf(db, 'svc')).clicks === 2, 'the clicks')
  const ready = await fetch(`${ops}/readyz`)
  t.same(await ready.json(), { status: 'ok', checks: { database: 'ok', queue: 'ok' } })
  const metrics = await (await fetch(`${ops}/metrics`)).text()
  t.match(metrics, /^events_processed_total\{[^}]*type="url.clicks"[^}]*\} 1$/m)
  t.match(metrics, /^events_lag_seconds_count\{[^}]*\} 1$/m)
  t.match(metrics, /^events_duplicates_total\{[^}]*\} 0$/m)

  await queue.stop()
  await eventually(
    async () => (await fetch(`${ops}/readyz`)).status === 503,
    'readiness to fail without the queue',
  )
  const unready = await (await fetch(`${ops}/readyz`)).json()
  t.match(unready, { checks: { database: 'ok', queue: /last receive failed/ } })

  const started = Date.now()
  await running.stop()
  t.ok(Date.now() - started < 5000, 'a graceful stop does not wait out a long poll')
  t.same(exits, [])
  await t.rejects(fetch(`${ops}/healthz`), 'the ops port is closed')
})
