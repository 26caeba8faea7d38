import { ReceiveMessageCommand } from '@aws-sdk/client-sqs'
import { createTestDatabase, freePort } from '@zt/devkit'
import t from 'tap'
import { loadServerConfig } from '../../src/config.js'
import { databaseUrlSource } from '../../src/db/credentials.js'
import { createDatabase } from '../../src/db/database.js'
import { runMigrations } from '../../src/db/migrations.js'
import { UrlEvent } from '../../src/events/event.js'
import { startUrlService } from '../../src/service.js'
import { devSpiffe } from '../helpers/spiffe.js'
import { consume, count, eventually, silent, startQueue } from './harness.js'

/** url-service as server.ts starts it, with the relay publishing to the emulator. */
t.test('created and clicked events flow from the API to the counter', async (t) => {
  const database = await createTestDatabase(t)
  const db = await createDatabase({
    source: databaseUrlSource(database.connectionString),
    ssl: false,
    max: 3,
    logger: silent,
  })
  t.teardown(() => db.close())
  await runMigrations(db, silent)
  const queue = await startQueue(t)
  const spiffe = await devSpiffe(t)
  const gateway = await spiffe.client()
  const [port, opsPort] = [await freePort(), await freePort()]
  const service = await startUrlService(
    loadServerConfig({
      ...spiffe.env,
      DATABASE_URL: database.connectionString,
      DB_SSL_MODE: 'disable',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: String(port),
      OPS_PORT: String(opsPort),
      AWS_REGION: 'us-east-1',
      EVENTS_QUEUE_URL: queue.queueUrl,
    }),
    { logger: silent, exit: () => undefined },
  )
  t.teardown(() => service.stop())
  const main = `https://127.0.0.1:${port}`
  const post = async (path: string, body: unknown) => {
    const response = await gateway.fetch(`${main}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    await response.arrayBuffer()
    return response
  }

  t.equal((await post('/v1/urls', { url: 'https://example.com/a', alias: 'wired' })).status, 201)
  t.equal((await post('/v1/urls', { url: 'https://example.com/b', alias: 'wired' })).status, 409)
  const resolved = await post('/v1/urls/wired/resolve', {
    referrer: 'https://news.example.org/story?id=7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  })
  t.equal(resolved.status, 200)

  const events: UrlEvent[] = []
  await eventually(async () => {
    const output = await queue.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 0,
      }),
    )
    events.length = 0
    for (const message of output.Messages ?? [])
      events.push(UrlEvent.parse(JSON.parse(message.Body ?? '')))
    return events.length >= 2
  }, 'the relay to publish both events')
  const byType = Object.fromEntries(events.map((event) => [event.type, event]))
  t.equal(events.length, 2, 'the refused alias emitted nothing')
  t.match(byType['url.created'], { code: 'wired' })
  t.same(
    byType['url.clicks']?.type === 'url.clicks' &&
      byType['url.clicks'].clicks.map((c) => [c.code, c.count]),
    [['wired', 1]],
  )
  t.notMatch(JSON.stringify(events), /news\.example|Firefox|firefox/, 'no trace of the headers')
  await eventually(
    async () => (await count(db, 'event_outbox')) === 0,
    'published rows to be gone from the outbox',
  )

  const consumer = consume(t, queue, {
    db,
  })
  await eventually(async () => {
    const response = await gateway.fetch(`${main}/v1/urls/wired`)
    const record = (await response.json()) as { clicks: number }
    return record.clicks === 1
  }, 'the click to be counted')
  await consumer.stop()

  const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text()
  t.match(metrics, /^events_outbox_sent_total\{[^}]*\} 2$/m)
})
