import { ReceiveMessageCommand } from '@aws-sdk/client-sqs'
import { Registry } from 'prom-client'
import t from 'tap'
import type { Database } from '../../src/db/database.js'
import { clicksEvent, createdEvent } from '../../src/events/event.js'
import { recordClicks } from '../../src/events/outbox.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { createSqsClient } from '../../src/events/sqs.js'
import { applyEvents } from '../../src/worker/apply.js'
import {
  clicksOf,
  consume,
  count,
  eventually,
  insertUrl,
  type Queue,
  queuedBodies,
  recordVisits,
  sendRaw,
  silent,
  startQueue,
  v1Click,
} from '../events/harness.js'
import { migratedDatabase } from '../helpers/setup.js'

function metricValue(
  metrics: Awaited<ReturnType<Registry['getMetricsAsJSON']>>,
  name: string,
  labels: Record<string, string> = {},
): number {
  // A histogram's series carry their own names (_count, _sum, _bucket).
  const values = metrics.flatMap((metric) =>
    metric.values
      .map((v) => ({ ...v, series: (v as { metricName?: string }).metricName ?? metric.name }))
      .filter((v) => v.series === name),
  )
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0)
}

function queueEmpty(queue: Queue, name = 'events'): boolean {
  const state = queue.server.inspectQueue(name)
  return !!state && state.messages.ready.length + state.messages.inflight.length === 0
}

/** Publishes everything in the outbox through the real relay, then stops it. */
async function relayAll(db: Database, queue: Queue) {
  const relay = startOutboxRelay({
    db,
    sqs: queue.sqs,
    queueUrl: queue.queueUrl,
    log: silent,
    idleDelayMs: 20,
  })
  await eventually(async () => (await count(db, 'event_outbox')) === 0, 'the outbox to drain')
  await relay.stop()
}

const { db } = await migratedDatabase(t)

t.test('a batch is applied once, however often it arrives', async (t) => {
  await insertUrl(db, 'apply1')
  const older = v1Click('apply1', new Date('2026-01-01T00:00:00Z'))
  const newer = v1Click('apply1', new Date('2026-03-01T00:00:00Z'))
  const created = createdEvent({ code: 'apply1' })
  const first = await applyEvents(db, [newer, newer, created])
  t.same(
    first.applied.map((event) => event.id),
    [newer.id, created.id],
    'a copy inside the same batch is a duplicate',
  )
  t.equal(first.duplicates, 1)
  t.same(await clicksOf(db, 'apply1'), {
    clicks: 1,
    lastClickedAt: new Date('2026-03-01T00:00:00Z'),
  })
  const again = await applyEvents(db, [newer, created, older])
  t.equal(again.duplicates, 2)
  t.same(
    await clicksOf(db, 'apply1'),
    {
      clicks: 2,
      lastClickedAt: new Date('2026-03-01T00:00:00Z'),
    },
    'a late, older click does not move lastClickedAt back',
  )
})

t.test('counts per code: one event, one idempotency record, applied once', async (t) => {
  for (const code of ['multi1', 'multi2', 'multi3']) await insertUrl(db, code)
  const at = '2026-04-01T00:00:00.000Z'
  const event = clicksEvent([
    { code: 'multi1', count: 3, lastClickedAt: at },
    { code: 'multi2', count: 1, lastClickedAt: at },
    { code: 'multi3', count: 40, lastClickedAt: at },
  ])
  const before = await count(db, 'processed_events')
  const first = await applyEvents(db, [event])
  t.same(first, { applied: [event], duplicates: 0 })
  t.equal((await count(db, 'processed_events')) - before, 1, 'one record for three codes')
  const again = await applyEvents(db, [event])
  t.same(again, { applied: [], duplicates: 1 }, 'applied twice, counted once')
  t.same(
    await Promise.all(['multi1', 'multi2', 'multi3'].map((code) => clicksOf(db, code))),
    [3, 1, 40].map((clicks) => ({ clicks, lastClickedAt: new Date(at) })),
  )
})

t.test('an outbox row with counts for three codes updates three urls', async (t) => {
  const queue = await startQueue(t)
  for (const code of ['row1', 'row2', 'row3']) await insertUrl(db, code)
  const at = new Date().toISOString()
  await recordClicks(db, [
    { code: 'row1', count: 2, lastClickedAt: at },
    { code: 'row2', count: 5, lastClickedAt: at },
    { code: 'row3', count: 1, lastClickedAt: at },
  ])
  await relayAll(db, queue)
  t.equal(queuedBodies(queue).length, 1, 'one message')
  const consumer = consume(t, queue, {
    db,
  })
  await eventually(() => queueEmpty(queue), 'the message to be applied and deleted')
  await consumer.stop()
  t.same(
    await Promise.all(
      ['row1', 'row2', 'row3'].map(async (code) => (await clicksOf(db, code)).clicks),
    ),
    [2, 5, 1],
  )
})

t.test('the worker reads version 1 and version 2 from the queue', async (t) => {
  const queue = await startQueue(t)
  await insertUrl(db, 'versions')
  const v2 = clicksEvent([
    { code: 'versions', count: 4, lastClickedAt: '2026-06-01T00:00:00.000Z' },
  ])
  await sendRaw(queue, [
    JSON.stringify(v1Click('versions', new Date('2026-07-01T00:00:00Z'))),
    JSON.stringify(v2),
  ])
  const registry = new Registry()
  const consumer = consume(t, queue, {
    db,
    registry,
  })
  await eventually(() => queueEmpty(queue), 'both messages to be applied and deleted')
  await consumer.stop()
  t.same(await clicksOf(db, 'versions'), {
    clicks: 5,
    lastClickedAt: new Date('2026-07-01T00:00:00Z'),
  })
  const metrics = await registry.getMetricsAsJSON()
  t.equal(metricValue(metrics, 'events_processed_total', { type: 'url.clicked' }), 1)
  t.equal(metricValue(metrics, 'events_processed_total', { type: 'url.clicks' }), 1)
  t.equal(metricValue(metrics, 'events_failed_total', { reason: 'invalid' }), 0)
})

t.test('N clicks through SQS with duplicates injected count N', async (t) => {
  const queue = await startQueue(t, { visibilityTimeoutSeconds: 5 })
  await insertUrl(db, 'many')
  await insertUrl(db, 'few')
  const newest = new Date('2026-05-05T05:05:05.005Z')
  await recordVisits(db, 'many', 24, new Date('2026-05-01T00:00:00Z'))
  await recordVisits(db, 'many', 1, newest)
  await relayAll(db, queue)
  await recordVisits(db, 'few', 5)
  await relayAll(db, queue)
  // Each relay run merged its 25 and 5 rows into one message.
  const bodies = queuedBodies(queue)
  t.equal(bodies.length, 2)
  // The same events published again, as a relay that crashed before its
  // commit would: five duplicates, two of them twice in one call.
  const [a, b] = bodies as [string, string]
  await sendRaw(queue, [a, b, a])
  await sendRaw(queue, [b, a])

  const registry = new Registry()
  const consumer = consume(t, queue, {
    db,
    registry,
  })
  await eventually(async () => {
    const metrics = await registry.getMetricsAsJSON()
    return (
      metricValue(metrics, 'events_processed_total') +
        metricValue(metrics, 'events_duplicates_total') ===
      7
    )
  }, 'every delivery to be handled')
  await eventually(() => queueEmpty(queue), 'every message to be deleted')
  await consumer.stop()

  t.same(await clicksOf(db, 'many'), { clicks: 25, lastClickedAt: newest })
  t.equal((await clicksOf(db, 'few')).clicks, 5)
  const metrics = await registry.getMetricsAsJSON()
  t.equal(metricValue(metrics, 'events_processed_total', { type: 'url.clicks' }), 2)
  t.equal(metricValue(metrics, 'events_duplicates_total'), 5)
  t.equal(metricValue(metrics, 'events_lag_seconds_count'), 2, 'lag observed per applied event')
})

t.test('a worker killed between commit and delete does not double count', async (t) => {
  const queue = await startQueue(t)
  await insertUrl(db, 'crash')
  await recordVisits(db, 'crash', 12)
  await relayAll(db, queue)
  const messages = queuedBodies(queue).length

  // Worker A commits every batch, then dies before DeleteMessageBatch.
  const crashing = createSqsClient({ requestTimeoutMs: 5000 })
  t.teardown(() => crashing.destroy())
  let deletesAttempted = 0
  crashing.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'DeleteMessageBatchCommand') {
        deletesAttempted += 1
        throw new Error('killed before delete')
      }
      return next(args)
    },
    { step: 'initialize', name: 'crashBeforeDelete' },
  )
  const before = await count(db, 'processed_events')
  const a = consume(t, queue, {
    db,
    sqs: crashing,
    visibilityTimeoutSeconds: 1,
  })
  await eventually(
    async () => (await count(db, 'processed_events')) - before === messages,
    'worker A to commit every message',
  )
  await eventually(() => deletesAttempted > 0, 'worker A to reach its delete')
  await a.stop()
  t.equal((await clicksOf(db, 'crash')).clicks, 12)
  t.notOk(queueEmpty(queue), 'the messages are still in the queue')

  // Worker B receives them again once the visibility timeout lapses.
  const registry = new Registry()
  const b = consume(t, queue, {
    db,
    registry,
    visibilityTimeoutSeconds: 5,
  })
  await eventually(() => queueEmpty(queue), 'worker B to delete the redelivered messages')
  await b.stop()
  const metrics = await registry.getMetricsAsJSON()
  t.ok(metricValue(metrics, 'events_duplicates_total') >= messages, 'B saw them as duplicates')
  t.equal(metricValue(metrics, 'events_processed_total'), 0)
  t.equal((await clicksOf(db, 'crash')).clicks, 12)
})

t.test('a batch the database refused is not deleted, and arrives again', async (t) => {
  const queue = await startQueue(t)
  await insertUrl(db, 'refused')
  await sendRaw(
    queue,
    [1, 2, 3].map(() => JSON.stringify(v1Click('refused'))),
  )
  let refusals = 1
  const flaky = {
    query: (text: string, values?: unknown[]) => {
      if (text.includes('jsonb_to_recordset') && refusals-- > 0) {
        return Promise.reject(new Error('connection terminated'))
      }
      return db.query(text, values)
    },
  }
  const registry = new Registry()
  const consumer = consume(t, queue, {
    db: flaky,
    registry,
    visibilityTimeoutSeconds: 1,
  })
  await eventually(async () => (await clicksOf(db, 'refused')).clicks === 3, 'the redelivery')
  await eventually(() => queueEmpty(queue), 'the delete after the commit')
  await consumer.stop()
  const metrics = await registry.getMetricsAsJSON()
  t.ok(metricValue(metrics, 'events_failed_total', { reason: 'apply' }) >= 1)
})

t.test('a malformed message neither stops the worker nor blocks its batch', async (t) => {
  const queue = await startQueue(t, { maxReceiveCount: 2 })
  await insertUrl(db, 'poison')
  const valid = () =>
    JSON.stringify(
      clicksEvent([{ code: 'poison', count: 1, lastClickedAt: new Date().toISOString() }]),
    )
  const wrongVersion = JSON.stringify({ ...v1Click('poison'), version: 2 })
  await sendRaw(queue, [valid(), 'not json {', wrongVersion, valid()])

  const registry = new Registry()
  const consumer = consume(t, queue, {
    db,
    registry,
    visibilityTimeoutSeconds: 1,
  })
  await eventually(async () => (await clicksOf(db, 'poison')).clicks === 2, 'the valid two')
  await eventually(
    () => queue.server.inspectQueue(queue.dlqName)?.messages.ready.length === 2,
    'the redrive policy to move both bad messages to the DLQ',
  )
  const dead = queue.server.inspectQueue(queue.dlqName)?.messages.ready.map((m) => m.body)
  t.same(dead?.sort(), ['not json {', wrongVersion].sort())

  await sendRaw(queue, [valid()])
  await eventually(async () => (await clicksOf(db, 'poison')).clicks === 3, 'a later message')
  await consumer.stop()
  const metrics = await registry.getMetricsAsJSON()
  t.ok(metricValue(metrics, 'events_failed_total', { reason: 'invalid' }) >= 4)
  t.equal(metricValue(metrics, 'events_processed_total'), 3)
})

t.test('a slow batch stays invisible, and stop() waits for it', async (t) => {
  const queue = await startQueue(t)
  await insertUrl(db, 'slow')
  // Another transaction holds the row, so the worker's update waits.
  const blocker = await db.connect()
  t.teardown(() => blocker.release())
  await blocker.query('begin')
  await blocker.query(`select 1 from urls where code = 'slow' for update`)
  await sendRaw(queue, [JSON.stringify(v1Click('slow'))])

  const consumer = consume(t, queue, {
    db,
    visibilityTimeoutSeconds: 1,
  })
  await eventually(
    () => queue.server.inspectQueue('events')?.messages.inflight.length === 1,
    'the worker to take the message',
  )
  // Three visibility timeouts later another consumer still cannot see it.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const stolen = await queue.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queue.queueUrl, WaitTimeSeconds: 0 }),
  )
  t.equal(stolen.Messages?.length ?? 0, 0, 'visibility was extended while the batch ran')

  let stopped = false
  const stopping = consumer.stop().then(() => {
    stopped = true
  })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.notOk(stopped, 'stop waits for the batch in hand')
  await blocker.query('commit')
  await stopping
  t.equal((await clicksOf(db, 'slow')).clicks, 1)
  t.ok(queueEmpty(queue), 'deleted after the commit')
})

t.test('stop() ends a long poll at once', async (t) => {
  const queue = await startQueue(t)
  const consumer = consume(t, queue, {
    db,
    waitTimeSeconds: 20,
  })
  await new Promise((resolve) => setTimeout(resolve, 300))
  const started = Date.now()
  await consumer.stop()
  t.ok(Date.now() - started < 2000, `stopped in ${Date.now() - started} ms`)
})
