import { Registry } from 'prom-client'
import t from 'tap'
import { startOutboxRelay } from '../../src/events/relay.js'
import { createSqsClient } from '../../src/events/sqs.js'
import {
  clicksOf,
  consume,
  count,
  eventually,
  insertUrl,
  recordVisits,
  silent,
  startQueue,
} from '../events/harness.js'
import { migratedDatabase } from '../helpers/setup.js'

t.test('an SQS outage during clicks loses nothing and counts each click once', async (t) => {
  const { db } = await migratedDatabase(t)
  const queue = await startQueue(t, { visibilityTimeoutSeconds: 5 })
  await insertUrl(db, 'outage')

  // The relay's own client, watched: how many events each call carried.
  const relaySqs = createSqsClient({ requestTimeoutMs: 2000 })
  t.teardown(() => relaySqs.destroy())
  let largestBatch = 0
  relaySqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'SendMessageBatchCommand') {
        const entries = (args.input as { Entries?: unknown[] }).Entries ?? []
        largestBatch = Math.max(largestBatch, entries.length)
      }
      return next(args)
    },
    { step: 'initialize', name: 'watchBatches' },
  )
  const relayRegistry = new Registry()
  const relay = startOutboxRelay({
    db,
    sqs: relaySqs,
    queueUrl: queue.queueUrl,
    log: silent,
    registry: relayRegistry,
    idleDelayMs: 20,
    backoff: { baseMs: 50, maxMs: 400 },
  })
  t.teardown(() => relay.stop())
  const consumer = consume(t, queue, {
    db,
    backoff: { baseMs: 50, maxMs: 400 },
  })

  await recordVisits(db, 'outage', 10)
  await eventually(async () => (await clicksOf(db, 'outage')).clicks === 10, 'the first ten')

  await queue.stop()
  const during = 300
  const started = performance.now()
  await recordVisits(db, 'outage', during)
  const perClickMs = (performance.now() - started) / during
  t.comment(`recording a click while SQS is down: ${perClickMs.toFixed(2)} ms each`)

  await eventually(async () => {
    const failures = await relayRegistry.getSingleMetricAsString(
      'events_outbox_send_failures_total',
    )
    return /reason="request"} [1-9]/.test(failures)
  }, 'the relay to notice the outage')
  await eventually(() => {
    try {
      consumer.checkQueue()
      return false
    } catch {
      return true
    }
  }, 'the worker to report the queue unreachable')
  // Every click recorded during the outage waits in the table, not in
  // memory, merged by the relay into a few sealed rows.
  const outbox = async () => {
    const { rows } = await db.query<{ clicks: number; rows: number }>(
      `select coalesce(sum((c->>'count')::int), 0)::int as clicks, count(distinct seq)::int as rows
       from event_outbox, jsonb_array_elements(payload->'clicks') c`,
    )
    return { clicks: rows[0]?.clicks ?? 0, rows: rows[0]?.rows ?? 0 }
  }
  await eventually(
    async () => (await outbox()).rows <= during / 8,
    'the relay to merge the backlog',
  )
  t.equal((await outbox()).clicks, during, 'the outbox holds every undelivered click')
  t.equal((await clicksOf(db, 'outage')).clicks, 10)
  t.match(
    await relayRegistry.getSingleMetricAsString('events_outbox_oldest_age_seconds'),
    /^events_outbox_oldest_age_seconds(\{[^}]*\})? (0\.\d*[1-9]|[1-9])/m,
    'the oldest-age metric shows the backlog',
  )

  await queue.start()
  await eventually(
    async () => (await clicksOf(db, 'outage')).clicks === 10 + during,
    'every click to be counted after the queue returns',
    30_000,
  )
  // The relay deletes what it sent after SQS answered, which can come after the count.
  await eventually(
    async () => (await count(db, 'event_outbox')) === 0,
    'the relay to delete every row it sent',
  )
  t.doesNotThrow(() => consumer.checkQueue(), 'the worker is ready again')
  t.ok(
    largestBatch > 0 && largestBatch <= 10,
    `at most ten events in memory per call (${largestBatch})`,
  )

  await relay.stop()
  await consumer.stop()
  // Nothing was counted twice, nothing is left behind, and the 300 clicks
  // took a handful of messages, each one idempotency record.
  t.equal((await clicksOf(db, 'outage')).clicks, 10 + during)
  const records = await count(db, 'processed_events')
  t.ok(records <= 10 + during / 8, `${records} idempotency records`)
})
