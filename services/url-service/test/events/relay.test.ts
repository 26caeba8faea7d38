import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  SQSClient,
} from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { Registry } from 'prom-client'
import t from 'tap'
import { backoffDelay } from '../../src/events/backoff.js'
import { UrlEvent } from '../../src/events/event.js'
import { recordClick } from '../../src/events/outbox.js'
import { relayBatch, startOutboxRelay } from '../../src/events/relay.js'
import { migratedDatabase } from '../helpers/setup.js'
import { count, eventually, fastBackoff, silent } from './harness.js'

const queueUrl = 'https://sqs.us-east-1.amazonaws.com/000000000000/events'

function accepted(input: SendMessageBatchCommandInput): SendMessageBatchCommandOutput {
  return {
    $metadata: {},
    Successful: (input.Entries ?? []).map((entry) => ({
      Id: entry.Id,
      MessageId: `m-${entry.Id}`,
      MD5OfMessageBody: '',
    })),
    Failed: [],
  }
}

function entriesOf(input: unknown): Array<{ Id: string; MessageBody: string }> {
  return (input as SendMessageBatchCommandInput).Entries as Array<{
    Id: string
    MessageBody: string
  }>
}

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

t.test('relay', async (t) => {
  const { db } = await migratedDatabase(t)
  const sqs = new SQSClient({ region: 'us-east-1' })
  const mock = mockClient(sqs)
  t.beforeEach(async () => {
    mock.reset()
    await db.query('truncate event_outbox')
  })
  const clicks = async (n: number) => {
    for (let i = 0; i < n; i++) await recordClick(db, { code: 'abc' })
  }

  t.test('sends at most ten per call and deletes what was sent', async (t) => {
    await clicks(23)
    mock.on(SendMessageBatchCommand).callsFake(accepted)
    const sizes: number[] = []
    for (let round = 0; round < 4; round++) {
      const result = await relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 })
      sizes.push(result.sent)
    }
    t.same(sizes, [10, 10, 3, 0])
    t.equal(await count(db, 'event_outbox'), 0)
    const calls = mock.commandCalls(SendMessageBatchCommand)
    t.equal(calls.length, 3, 'an empty outbox makes no call')
    const bodies = calls.flatMap((call) => entriesOf(call.args[0].input))
    t.equal(new Set(bodies.map((entry) => entry.Id)).size, 23)
    t.ok(
      bodies.every((entry) => UrlEvent.safeParse(JSON.parse(entry.MessageBody)).success),
      'every body is a valid event',
    )
    t.equal(calls[0]?.args[0].input.QueueUrl, queueUrl)
  })

  t.test('entries SQS rejected stay in the outbox and go in the next call', async (t) => {
    await clicks(10)
    let rejected: string[] = []
    mock.on(SendMessageBatchCommand).callsFakeOnce((input: SendMessageBatchCommandInput) => {
      const entries = input.Entries ?? []
      rejected = [entries[2]?.Id, entries[7]?.Id] as string[]
      return {
        $metadata: {},
        Successful: entries
          .filter((entry) => !rejected.includes(entry.Id as string))
          .map((entry) => ({ Id: entry.Id, MessageId: 'x', MD5OfMessageBody: '' })),
        Failed: rejected.map((id) => ({ Id: id, Code: 'InternalError', SenderFault: false })),
      }
    })
    const first = await relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 })
    t.same(first, { claimed: 10, sent: 8, failed: 2 })
    const { rows } = await db.query<{ seq: string }>('select seq from event_outbox order by seq')
    t.same(
      rows.map((row) => row.seq),
      rejected,
    )
    mock.on(SendMessageBatchCommand).callsFake(accepted)
    const second = await relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 })
    t.same(second, { claimed: 2, sent: 2, failed: 0 })
    const retried = entriesOf(mock.commandCalls(SendMessageBatchCommand)[1]?.args[0].input)
    t.same(
      retried.map((entry) => entry.Id),
      rejected,
    )
    t.equal(await count(db, 'event_outbox'), 0)
  })

  t.test('a failed call keeps every row and releases the claim', async (t) => {
    await clicks(4)
    mock.on(SendMessageBatchCommand).rejectsOnce(new Error('ServiceUnavailable'))
    await t.rejects(relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 }))
    t.equal(await count(db, 'event_outbox'), 4)
    mock.on(SendMessageBatchCommand).callsFake(accepted)
    t.same(await relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 }), {
      claimed: 4,
      sent: 4,
      failed: 0,
    })
  })

  t.test('replicas claim disjoint batches at the same time', async (t) => {
    await clicks(20)
    let inFlight = 0
    let overlapped = false
    mock.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      inFlight += 1
      if (inFlight > 1) overlapped = true
      await new Promise((resolve) => setTimeout(resolve, 300))
      inFlight -= 1
      return accepted(input)
    })
    const results = await Promise.all([
      relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 }),
      relayBatch({ db, sqs, queueUrl, log: silent, batchSize: 10 }),
    ])
    t.same(
      results.map((result) => result.sent),
      [10, 10],
    )
    t.ok(overlapped, 'the second replica did not wait for the first')
    const ids = mock
      .commandCalls(SendMessageBatchCommand)
      .flatMap((call) => entriesOf(call.args[0].input).map((entry) => entry.Id))
    t.equal(ids.length, 20)
    t.equal(new Set(ids).size, 20, 'no event was sent by both')
  })

  t.test('the loop backs off while SQS fails and drains when it recovers', async (t) => {
    await clicks(15)
    const registry = new Registry()
    mock
      .on(SendMessageBatchCommand)
      .rejectsOnce(new Error('down'))
      .rejectsOnce(new Error('down'))
      .rejectsOnce(new Error('down'))
      .callsFake(accepted)
    const relay = startOutboxRelay({
      db,
      sqs,
      queueUrl,
      log: silent,
      registry,
      backoff: fastBackoff,
      idleDelayMs: 20,
    })
    await eventually(async () => (await count(db, 'event_outbox')) === 0, 'the outbox to drain')
    await relay.stop()
    const metrics = await registry.getMetricsAsJSON()
    const value = (name: string, labels: Record<string, string> = {}) =>
      metrics
        .find((metric) => metric.name === name)
        ?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value
    t.equal(value('events_outbox_sent_total'), 15)
    t.equal(value('events_outbox_send_failures_total', { reason: 'request' }), 3)
    t.equal(value('events_outbox_oldest_age_seconds'), 0)
  })

  t.test('stop() lets the in-flight batch finish and claims nothing more', async (t) => {
    await clicks(12)
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let started: () => void = () => undefined
    const sending = new Promise<void>((resolve) => {
      started = resolve
    })
    mock.on(SendMessageBatchCommand).callsFake(async (input: SendMessageBatchCommandInput) => {
      started()
      await held
      return accepted(input)
    })
    const relay = startOutboxRelay({ db, sqs, queueUrl, log: silent, backoff: fastBackoff })
    await sending
    let stopped = false
    const stopping = relay.stop().then(() => {
      stopped = true
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.notOk(stopped, 'stop waits for the batch in flight')
    release()
    await stopping
    t.equal(mock.commandCalls(SendMessageBatchCommand).length, 1)
    t.equal(await count(db, 'event_outbox'), 2, 'the unsent rest stays durable')
  })
})

t.test('without a client the relay sends with its own and closes it on stop()', async (t) => {
  const { db } = await migratedDatabase(t, 3)
  // Every SQSClient, so also the one the relay makes for itself.
  const mock = mockClient(SQSClient)
  t.teardown(() => mock.restore())
  const regions: string[] = []
  mock.on(SendMessageBatchCommand).callsFake(async (input, getClient) => {
    regions.push(await (getClient() as SQSClient).config.region())
    return accepted(input)
  })
  const destroy = SQSClient.prototype.destroy
  let destroyed = 0
  SQSClient.prototype.destroy = function (this: SQSClient) {
    destroyed++
    destroy.call(this)
  }
  t.teardown(() => {
    SQSClient.prototype.destroy = destroy
  })
  for (let i = 0; i < 3; i++) await recordClick(db, { code: 'abc' })
  const relay = startOutboxRelay({ db, queueUrl, region: 'eu-west-1', log: silent })
  await eventually(async () => (await count(db, 'event_outbox')) === 0, 'the outbox to drain')
  t.equal(destroyed, 0, 'the client lives while the relay runs')
  await relay.stop()
  t.equal(destroyed, 1, 'stop() closed the relay’s own client')
  t.same(new Set(regions), new Set(['eu-west-1']))

  const given = new SQSClient({ region: 'us-east-1' })
  await startOutboxRelay({ db, sqs: given, queueUrl, log: silent }).stop()
  t.equal(destroyed, 1, 'a client passed in is left to its owner')
  given.destroy()
})
