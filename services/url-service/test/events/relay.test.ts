import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { Registry } from 'prom-client'
import t from 'tap'
import { backoffDelay } from '../../src/events/backoff.js'
import { createdEvent, UrlEvent } from '../../src/events/event.js'
import { outboxInsert, recordClicks } from '../../src/events/outbox.js'
import { relayBatch, sealClicks, startOutboxRelay } from '../../src/events/relay.js'
import { createSqsClient } from '../../src/events/sqs.js'
import { migratedDatabase } from '../helpers/setup.js'
import {
  clicksOf,
  consume,
  count,
  eventually,
  fastBackoff,
  insertUrl,
  queuedBodies,
  recordVisits,
  silent,
  startQueue,
} from './harness.js'

t.test('backoff is exponential, capped and jittered', async (t) => {
  const options = { baseMs: 100, maxMs: 1000 }
  t.same(
    [1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, options, () => 0.999)),
    [99, 199, 399, 799, 999, 999],
  )
  t.equal(
    backoffDelay(3, options, () => 0),
    0,
  )
})

/** A log that keeps what the relay reports as errors and drops the rest. */
function errorsLogged() {
  const errors: unknown[] = []
  const quiet = () => undefined
  const log = {
    debug: quiet,
    info: quiet,
    warn: quiet,
    error: (...args: unknown[]) => errors.push(args),
  }
  return { log, errors }
}

t.test('relay on the SQS emulator', async (t) => {
  const { db } = await migratedDatabase(t)
  const queue = await startQueue(t)
  const { queueUrl, sqs } = queue
  t.beforeEach(async () => {
    queue.server.reset()
    await db.query('truncate event_outbox, processed_events')
  })
  /** `n` url.created events: complete, sealed rows that are sent one message each. */
  const creations = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await db.query(outboxInsert(1), [JSON.stringify(createdEvent({ code: `c${i}` }))])
    }
  }
  const events = () => queuedBodies(queue).map((body) => UrlEvent.parse(JSON.parse(body)))
  const clickTotal = () =>
    events().reduce(
      (sum, event) =>
        sum + (event.type === 'url.clicks' ? event.clicks.reduce((s, c) => s + c.count, 0) : 0),
      0,
    )
  /** A client of the relay's own kind whose SendMessageBatch runs `around` the real call. */
  const clientWith = (around: (send: () => Promise<unknown>) => Promise<unknown>): SQSClient => {
    const client = createSqsClient({ requestTimeoutMs: 5000 })
    client.middlewareStack.add(
      (next, context) => async (args) =>
        context.commandName === 'SendMessageBatchCommand'
          ? ((await around(() => next(args))) as Awaited<ReturnType<typeof next>>)
          : next(args),
      { step: 'initialize', name: 'around' },
    )
    t.teardown(() => client.destroy())
    return client
  }

  t.test('redirect batches are merged into one sealed url.clicks event', async (t) => {
    const at = (s: number) => new Date(Date.UTC(2026, 4, 1, 0, 0, s)).toISOString()
    await recordClicks(db, [
      { code: 'a', count: 2, lastClickedAt: at(5) },
      { code: 'b', count: 1, lastClickedAt: at(1) },
    ])
    await recordClicks(db, [{ code: 'a', count: 3, lastClickedAt: at(3) }])
    await creations(1)
    t.same(await sealClicks(db), { merged: 2, more: false })
    const { rows } = await db.query<{ payload: unknown; sealed: boolean }>(
      'select payload, sealed from event_outbox order by seq',
    )
    t.same(
      rows.map((row) => row.sealed),
      [true, true],
      'the creation as it was, and the merge',
    )
    t.match(UrlEvent.parse(rows[1]?.payload), {
      version: 2,
      type: 'url.clicks',
      clicks: [
        { code: 'a', count: 5, lastClickedAt: at(5) },
        { code: 'b', count: 1, lastClickedAt: at(1) },
      ],
    })
    t.same(await sealClicks(db), { merged: 0, more: false }, 'a sealed row is never merged again')
    await db.query('truncate event_outbox')
    for (let row = 0; row < 17; row++) {
      const codes = Array.from({ length: 64 }, (_, i) => `r${row}c${i}`)
      await recordClicks(
        db,
        codes.map((code) => ({ code, count: 1, lastClickedAt: at(0) })),
      )
    }
    t.same(
      [await sealClicks(db), await sealClicks(db)],
      [
        { merged: 16, more: true },
        { merged: 1, more: false },
      ],
      'at most 1024 codes per event',
    )
    const { rows: merged } = await db.query<{ codes: number }>(
      `select jsonb_array_length(payload->'clicks') as codes from event_outbox order by seq`,
    )
    t.same(
      merged.map((row) => row.codes),
      [1024, 64],
    )
  })

  t.test(
    "a merge keeps at most eight of its rows' trace contexts, and none when there are none",
    async (t) => {
      const at = new Date().toISOString()
      const traceparent = (i: number) =>
        `00-${i.toString(16).padStart(32, '0')}-${'b'.repeat(16)}-01`
      for (let row = 0; row < 5; row++) {
        await recordClicks(
          db,
          [{ code: `t${row}`, count: 1, lastClickedAt: at }],
          [traceparent(2 * row + 1), traceparent(2 * row + 2)],
        )
      }
      await sealClicks(db)
      const { rows } = await db.query<{ payload: unknown }>(
        'select payload from event_outbox where sealed order by seq desc limit 1',
      )
      const event = UrlEvent.parse(rows[0]?.payload)
      const traces = 'traces' in event ? (event.traces ?? []) : []
      t.equal(traces.length, 8, 'ten contexts in, eight out')
      t.ok(traces.every((value) => /^00-0{30}[0-9a]{2}-b{16}-01$/.test(value)))
      await db.query('truncate event_outbox')
      await recordClicks(db, [{ code: 'untraced', count: 1, lastClickedAt: at }])
      await sealClicks(db)
      const { rows: plain } = await db.query<{ payload: object }>(
        'select payload from event_outbox',
      )
      t.notOk('traces' in (plain[0]?.payload ?? {}), 'no traces field when no row had one')
      await db.query('truncate event_outbox')
    },
  )

  t.test('sends at most ten per call and deletes what was sent', async (t) => {
    await creations(23)
    const sizes: number[] = []
    for (let round = 0; round < 4; round++) {
      sizes.push((await relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 })).sent)
    }
    t.same(sizes, [10, 10, 3, 0])
    t.equal(await count(db, 'event_outbox'), 0)
    const sent = events()
    t.equal(sent.length, 23, 'every event reached the queue, each a valid event')
    t.equal(new Set(sent.map((event) => event.id)).size, 23)
  })

  t.test('unsealed rows are never sent', async (t) => {
    await recordVisits(db, 'a', 3)
    t.same(await relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 }), {
      claimed: 0,
      sent: 0,
      failed: 0,
    })
    t.equal(queuedBodies(queue).length, 0)
  })

  t.test('an entry SQS rejects stays in the outbox; the rest of its call goes', async (t) => {
    await creations(2)
    // SQS refuses a body with a character outside its allowed ranges, per entry.
    await db.query(outboxInsert(1), [
      JSON.stringify({ ...createdEvent({ code: 'odd' }), note: '\uFFFE' }),
    ])
    await creations(1)
    const { log, errors } = errorsLogged()
    t.same(await relayBatch({ db, sqs, queueUrl, log, batchSize: 10 }), {
      claimed: 4,
      sent: 3,
      failed: 1,
    })
    t.equal(errors.length, 1, 'a sender fault is logged as an error')
    const { rows } = await db.query(`select payload->>'code' as code from event_outbox`)
    t.same(rows, [{ code: 'odd' }], 'only the rejected row stays, for the next round')
    t.same(await relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 }), {
      claimed: 1,
      sent: 0,
      failed: 1,
    })
    t.equal(events().length, 3)
  })

  t.test('a send to a queue that does not exist keeps every row', async (t) => {
    await creations(4)
    const missing = `${queueUrl}-missing`
    await t.rejects(relayBatch({ db, sqs, queueUrl: missing, log: silent, batchSize: 10 }), {
      name: /QueueDoesNotExist|NonExistentQueue/,
    })
    t.equal(await count(db, 'event_outbox'), 4, 'the claim was released, nothing deleted')
    t.same(await relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 }), {
      claimed: 4,
      sent: 4,
      failed: 0,
    })
  })

  t.test('a message too large for SQS stays, logged, and blocks nothing', async (t) => {
    await creations(2)
    // A creation with a field no producer writes, padded past SQS's limit.
    await db.query(outboxInsert(1), [
      JSON.stringify({ ...createdEvent({ code: 'huge' }), padding: 'x'.repeat(1100 * 1024) }),
    ])
    await creations(1)
    const { log, errors } = errorsLogged()
    const first = await relayBatch({ db, sqs, queueUrl, log, batchSize: 10 })
    t.same(first, { claimed: 4, sent: 3, failed: 1 })
    t.equal(errors.length, 1, 'logged as an error')
    t.equal(events().length, 3, 'the rows behind it went')
    const { rows } = await db.query(`select payload->>'code' as code from event_outbox`)
    t.same(rows, [{ code: 'huge' }], 'it stays in the outbox, never dropped')
    const body = JSON.stringify(
      (await db.query('select payload from event_outbox')).rows[0]?.payload,
    )
    await t.rejects(
      sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body })),
      'SQS refuses it when sent on its own',
    )
  })

  t.test('replicas claim disjoint batches at the same time', async (t) => {
    await creations(20)
    let inFlight = 0
    let overlapped = false
    const slow = clientWith(async (send) => {
      inFlight += 1
      if (inFlight > 1) overlapped = true
      await new Promise((resolve) => setTimeout(resolve, 300))
      try {
        return await send()
      } finally {
        inFlight -= 1
      }
    })
    const results = await Promise.all([
      relayBatch({ db, sqs: slow, queueUrl, log: silent, batchSize: 10 }),
      relayBatch({ db, sqs: slow, queueUrl, log: silent, batchSize: 10 }),
    ])
    t.same(
      results.map((result) => result.sent),
      [10, 10],
    )
    t.ok(overlapped, 'the second replica did not wait for the first')
    const ids = events().map((event) => event.id)
    t.equal(ids.length, 20)
    t.equal(new Set(ids).size, 20, 'no event was sent by both')
  })

  t.test('an SQS outage: the loop backs off, merges the backlog, and drains after', async (t) => {
    await queue.stop()
    t.teardown(() => queue.start().catch(() => undefined))
    await recordVisits(db, 'down', 40)
    const registry = new Registry()
    const relaySqs = createSqsClient({ requestTimeoutMs: 1000 })
    t.teardown(() => relaySqs.destroy())
    const relay = startOutboxRelay({
      db,
      sqs: relaySqs,
      queueUrl,
      log: silent,
      registry,
      backoff: fastBackoff,
      idleDelayMs: 20,
    })
    t.teardown(() => relay.stop())
    const failures = async () =>
      (await registry.getMetricsAsJSON())
        .find((metric) => metric.name === 'events_outbox_send_failures_total')
        ?.values.find((v) => v.labels.reason === 'request')?.value ?? 0
    await eventually(async () => (await failures()) >= 2, 'failed rounds while SQS is down')
    const { rows } = await db.query<{ sealed: boolean; n: number }>(
      'select sealed, count(*)::int as n from event_outbox group by sealed',
    )
    t.same(rows, [{ sealed: true, n: 1 }], '40 batches wait as one sealed row')
    await queue.start()
    await eventually(async () => (await count(db, 'event_outbox')) === 0, 'the outbox to drain')
    await relay.stop()
    t.equal(clickTotal(), 40, 'every click reached the queue')
    const metrics = await registry.getMetricsAsJSON()
    const value = (name: string) => metrics.find((metric) => metric.name === name)?.values[0]?.value
    t.equal(value('events_outbox_sent_total'), 1, 'one message')
    t.equal(value('events_outbox_oldest_age_seconds'), 0)
  })

  t.test(
    'a crash between send and delete sends the same event again; it counts once',
    async (t) => {
      await insertUrl(db, 'twice')
      t.teardown(() => db.query(`delete from urls where code = 'twice'`))
      await recordVisits(db, 'twice', 5)
      // The relay's session ends (a crash, a failover) just after SQS accepted
      // the batch: its delete and commit never happen.
      let crashes = 1
      const crashing = clientWith(async (send) => {
        const output = await send()
        if (crashes-- > 0) {
          await db.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
           where state like 'idle in transaction%' and query like '%for update skip locked%'`,
          )
        }
        return output
      })
      await sealClicks(db)
      await t.rejects(relayBatch({ db, sqs: crashing, queueUrl, log: silent, batchSize: 10 }))
      t.equal(await count(db, 'event_outbox'), 1, 'the sealed row survived the crash')
      await relayBatch({ db, sqs: crashing, queueUrl, log: silent, batchSize: 10 })
      t.equal(await count(db, 'event_outbox'), 0)
      const sent = events()
      t.equal(sent.length, 2, 'sent twice')
      t.equal(sent[0]?.id, sent[1]?.id, 'with one event id')

      const consumer = consume(t, queue, {
        db,
        sqs,
        queueUrl,
      })
      t.teardown(() => consumer.stop())
      await eventually(() => queuedBodies(queue).length === 0, 'both copies to be handled')
      await consumer.stop()
      t.equal((await clicksOf(db, 'twice')).clicks, 5, 'counted once')
      t.equal(await count(db, 'processed_events'), 1)
    },
  )

  t.test('stop() lets the in-flight batch finish and claims nothing more', async (t) => {
    await creations(12)
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let started: () => void = () => undefined
    const sending = new Promise<void>((resolve) => {
      started = resolve
    })
    let calls = 0
    const holding = clientWith(async (send) => {
      calls += 1
      started()
      await held
      return send()
    })
    const relay = startOutboxRelay({ db, sqs: holding, queueUrl, log: silent })
    await sending
    let stopped = false
    const stopping = relay.stop().then(() => {
      stopped = true
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.notOk(stopped, 'stop waits for the batch in flight')
    release()
    await stopping
    t.equal(calls, 1)
    t.equal(events().length, 10)
    t.equal(await count(db, 'event_outbox'), 2, 'the unsent rest stays durable')
  })

  t.test('without a client the relay sends with its own and closes it on stop()', async (t) => {
    const destroy = SQSClient.prototype.destroy
    const send = SQSClient.prototype.send
    const clients = new Set<SQSClient>()
    let destroyed = 0
    SQSClient.prototype.destroy = function (this: SQSClient) {
      destroyed++
      destroy.call(this)
    }
    SQSClient.prototype.send = function (this: SQSClient, ...args: Parameters<SQSClient['send']>) {
      clients.add(this)
      return (send as (...a: unknown[]) => ReturnType<SQSClient['send']>).apply(this, args)
    } as SQSClient['send']
    t.teardown(() => {
      SQSClient.prototype.destroy = destroy
      SQSClient.prototype.send = send
    })
    await creations(3)
    const relay = startOutboxRelay({ db, queueUrl, region: 'eu-west-1', log: silent })
    await eventually(async () => (await count(db, 'event_outbox')) === 0, 'the outbox to drain')
    t.equal(destroyed, 0, 'the client lives while the relay runs')
    await relay.stop()
    t.equal(destroyed, 1, 'stop() closed the relay’s own client')
    t.equal(events().length, 3)
    const regions = await Promise.all([...clients].map((client) => client.config.region()))
    t.same(regions, ['eu-west-1'], 'in the region it was given')

    const given = createSqsClient({ requestTimeoutMs: 1000 })
    await startOutboxRelay({ db, sqs: given, queueUrl, log: silent }).stop()
    t.equal(destroyed, 1, 'a client passed in is left to its owner')
    given.destroy()
  })
})
