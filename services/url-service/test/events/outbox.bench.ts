/**
 * What the outbox costs the redirect: the resolve query alone (baseline)
 * against the resolve plus a click insert per redirect, the group commit
 * url-service ships, and a relay draining the table at the same time. Ratios from one run, on one machine.
 *
 *   node --conditions=zt-source --import=tsx test/events/outbox.bench.ts
 */
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { clicksEvent } from '../../src/events/event.js'
import { outboxInsert, outboxVisitRecorder, recordClicks } from '../../src/events/outbox.js'
import { startOutboxRelay } from '../../src/events/relay.js'
import { migratedDatabase } from '../helpers/setup.js'
import { silent } from './harness.js'

const teardowns: Array<() => unknown> = []
const { db } = await migratedDatabase({ teardown: (fn) => teardowns.push(fn) }, 10)
const codes = Array.from({ length: 1000 }, (_, i) => `bench${i}`)
await db.query(`insert into urls (code, url) select unnest($1::text[]), 'https://example.com/'`, [
  codes,
])

const resolve = (code: string) =>
  db.query(
    `SELECT url, (expires_at IS NOT NULL AND expires_at <= now()) AS expired FROM urls WHERE code = $1`,
    [code],
  )
const click = (code: string) =>
  clicksEvent([{ code, count: 1, lastClickedAt: new Date().toISOString() }])
const groupCommit = outboxVisitRecorder(db)
const variants: Record<string, (code: string) => Promise<unknown>> = {
  'resolve only (baseline)': resolve,
  'resolve + one insert per click (async commit)': async (code) => {
    await resolve(code)
    await recordClicks(db, click(code).clicks)
  },
  'resolve + group commit (as shipped)': async (code) => {
    await resolve(code)
    await groupCommit.record({ code, at: new Date() })
  },
  // What merging the two would save: one round trip per redirect.
  'resolve and record in one statement': (code) =>
    db.query(
      `with relaxed as (select set_config('synchronous_commit', 'off', true)),
       hit as (select url, (expires_at is not null and expires_at <= now()) as expired
               from urls where code = $1),
       recorded as (${outboxInsert(2, 'hit, relaxed')} where not hit.expired)
       select url, expired from hit`,
      [code, JSON.stringify(click(code))],
    ),
  'resolve + insert with a flushed commit': async (code) => {
    await resolve(code)
    await db.query(outboxInsert(1), [JSON.stringify(click(code))])
  },
}
const withRelay = 'resolve + group commit, relay draining'

/** Requests per second with `concurrency` redirects in flight, like a busy pod. */
async function measure(
  run: (code: string) => Promise<unknown>,
  total: number,
  concurrency: number,
) {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await run(codes[next++ % codes.length] as string)
    }),
  )
  return total / ((performance.now() - started) / 1000)
}

const sqs = new SQSClient({ region: 'us-east-1' })
mockClient(sqs)
  .on(SendMessageBatchCommand)
  .callsFake((input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((e) => ({
      Id: e.Id,
      MessageId: 'm',
      MD5OfMessageBody: '',
    })),
    Failed: [],
  }))

for (const concurrency of [1, 8]) {
  const total = concurrency === 1 ? 1000 : 4000
  await measure(resolve, 500, concurrency) // warm-up
  const rates = new Map<string, number[]>()
  const add = (name: string, rate: number) => rates.set(name, [...(rates.get(name) ?? []), rate])
  for (let round = 0; round < 3; round++) {
    for (const [name, run] of Object.entries(variants)) {
      add(name, await measure(run, total, concurrency))
    }
    const relay = startOutboxRelay({ db, sqs, queueUrl: 'q', log: silent, idleDelayMs: 50 })
    add(
      withRelay,
      await measure(
        variants['resolve + group commit (as shipped)'] as (code: string) => Promise<unknown>,
        total,
        concurrency,
      ),
    )
    await relay.stop()
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[1] as number
  const baseline = median(rates.get('resolve only (baseline)') ?? [])
  console.log(`\nconcurrency ${concurrency}, ${total} redirects per run, median of 3`)
  for (const [name, values] of rates) {
    const rate = median(values)
    console.log(
      `  ${name.padEnd(42)} ${rate.toFixed(0).padStart(6)} req/s  x${(rate / baseline).toFixed(2)}`,
    )
  }
}
const { rows } = await db.query<{ n: number }>('select count(*)::int as n from event_outbox')
console.log(`\noutbox rows left (no relay after the last run): ${rows[0]?.n}`)
for (const fn of teardowns.reverse()) await fn()
