import { Registry } from 'prom-client'
import t from 'tap'
import { recordClick } from '../../src/events/outbox.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { createSqsClient } from '../../src/events/sqs.js'
import { startConsumer } from '../../src/worker/consumer.js'
import { clicksOf, count, eventually, insertUrl, silent, startQueue } from '../events/harness.js'
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
  const consumer = startConsumer({
    db,
    sqs: queue.sqs,
    queueUrl: queue.queueUrl,
    log: silent,
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: 30,
    backoff: { baseMs: 50, maxMs: 400 },
  })
  t.teardown(() => consumer.stop())

  for (let i = 0; i < 10; i++) await recordClick(db, { code: 'outage' })
  await eventually(async () => (await clicksOf(db, 'outage')).clicks === 10, 'the first ten')

  await queue.stop()
  const during = 300
  const started = performance.now()
  for (let i = 0; i < during; i++) await recordClick(db, { code: 'outage' })
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
  // Every click recorded during the outage waits in the table, not in memory.
  t.equal(await count(db, 'event_outbox'), during, 'the outbox holds every undelivered click')
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
  t.equal(await count(db, 'event_outbox'), 0)
  t.doesNotThrow(() => consumer.checkQueue(), 'the worker is ready again')
  t.ok(
    largestBatch > 0 && largestBatch <= 10,
    `at most ten events in memory per call (${largestBatch})`,
  )

  await relay.stop()
  await consumer.stop()
  // Nothing was counted twice, nothing is left behind.
  t.equal((await clicksOf(db, 'outage')).clicks, 10 + during)
  t.equal(await count(db, 'processed_events'), 10 + during)
})
