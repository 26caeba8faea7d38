import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Connectable, Queryable } from '../db/database.js'
import {
  type BackoffOptions,
  backoffDelay,
  defaultBackoff,
  type EventLog,
  Sleeper,
} from './backoff.js'
import { maxCodesPerEvent, maxTracesPerEvent } from './event.js'
import { createSqsClient } from './sqs.js'

/** SendMessageBatch takes at most ten entries... */
export const maxBatchSize = 10
/** ...of at most 256 KiB together. */
export const maxBatchBytes = 256 * 1024

export interface RelayOptions {
  db: Connectable
  /**
   * The client to send with. Without one the relay makes its own (which can
   * only be asked to send), as url-service runs it, and closes it on stop().
   */
  sqs?: SQSClient
  /** Region of the relay's own client; AWS_REGION when unset. */
  region?: string | undefined
  queueUrl: string
  log: EventLog
  registry?: Registry
  /** Rows claimed per round trip, 1..10. */
  batchSize?: number
  /** Pause after a round that found less than a full batch. */
  idleDelayMs?: number
  backoff?: BackoffOptions
  random?: () => number
}

export interface BatchResult {
  claimed: number
  sent: number
  failed: number
}

export interface OutboxRelay {
  /** Stops claiming rows, lets the in-flight batch finish; the rest stays in the table. */
  stop(): Promise<void>
}

interface RelayMetrics {
  sent: Counter
  failed: Counter<'reason'>
}

function relayMetrics(registry: Registry, db: Connectable): RelayMetrics {
  new Gauge({
    name: 'events_outbox_oldest_age_seconds',
    help: 'Age of the oldest event not yet published to SQS (0 when the outbox is empty)',
    registers: [registry],
    async collect() {
      try {
        const { rows } = await db.query(
          'select extract(epoch from now() - created_at)::float8 as age from event_outbox order by seq limit 1',
        )
        this.set(Number(rows[0]?.age ?? 0))
      } catch {
        // /metrics must answer while the database is down; the value goes stale.
      }
    },
  })
  return {
    sent: new Counter({
      name: 'events_outbox_sent_total',
      help: 'Events published to SQS and removed from the outbox',
      registers: [registry],
    }),
    failed: new Counter({
      name: 'events_outbox_send_failures_total',
      help: 'Failed publish attempts: a whole SendMessageBatch call (request) or single entries (entry)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  }
}

/**
 * Merges the oldest unsealed click rows (the redirects' batches), as many as
 * fit in maxCodesPerEvent, into one sealed url.clicks event with a new id,
 * in one statement; returns how many rows it merged and whether rows may be
 * left for another merge. It commits before anything is sent, and only
 * unsealed rows are merged: a sealed row, once sent, keeps its id whatever
 * happens next, so a re-send after a crash is a duplicate the worker skips
 * rather than new clicks.
 */
export async function sealClicks(db: Queryable): Promise<{ merged: number; more: boolean }> {
  const { rows } = await db.query(
    `with claimed as (
       select seq, jsonb_array_length(payload->'clicks') as codes
       from event_outbox where not sealed order by seq limit $1
       for update skip locked
     ), merged as (
       delete from event_outbox where seq in (
         select seq from (select seq, sum(codes) over (order by seq) as upto from claimed) c
         where upto <= $1)
       returning payload
     ), counts as (
       select c->>'code' as code, sum((c->>'count')::int) as n,
              max((c->>'lastClickedAt')::timestamptz) as last_at
       from merged, jsonb_array_elements(merged.payload->'clicks') as c
       group by c->>'code'
     )
     insert into event_outbox (payload)
     select jsonb_build_object(
       'version', 2, 'id', gen_random_uuid(), 'type', 'url.clicks',
       'clicks', jsonb_agg(jsonb_build_object(
         'code', code, 'count', n,
         'lastClickedAt', to_char(last_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
         order by code))
       -- A few of the merged rows' trace contexts, for the worker's links.
       || coalesce((select jsonb_build_object('traces', jsonb_agg(t))
                    from (select t from merged, jsonb_array_elements_text(merged.payload->'traces') t
                          limit $2) sample
                    having count(*) > 0), '{}')
     from counts having count(*) > 0
     returning (select count(*) from merged)::int as merged,
               (select count(*) from claimed)::int as claimed`,
    [maxCodesPerEvent, maxTracesPerEvent],
  )
  const { merged = 0, claimed = 0 } = (rows[0] ?? {}) as { merged?: number; claimed?: number }
  // A claim at its limit may have left rows unclaimed, too.
  return { merged, more: claimed > merged || claimed === maxCodesPerEvent }
}

/**
 * Publishes one batch: claims the oldest sealed rows no other relay holds,
 * sends them in one SendMessageBatch call, and deletes exactly the rows SQS
 * accepted, all inside one transaction. Rows of failed entries stay for the
 * next round. A crash after the send but before the commit sends the batch
 * again: delivery is at least once and the worker deduplicates.
 */
export async function relayBatch(
  options: Pick<RelayOptions, 'db' | 'queueUrl' | 'log'> & { sqs: SQSClient; batchSize: number },
): Promise<BatchResult> {
  const client = await options.db.connect()
  let broken = false
  try {
    await client.query('begin')
    const { rows } = await client.query<{ seq: string; payload: unknown }>(
      'select seq, payload from event_outbox where sealed order by seq limit $1 for update skip locked',
      [options.batchSize],
    )
    // Rows past the call's size limit are released at the commit, unsent. A
    // row too large on its own (no producer writes one) would fail every
    // call it is in: it is left out, logged, and kept, so it cannot block
    // the rows behind it.
    const entries: Array<{ Id: string; MessageBody: string }> = []
    const tooLarge: string[] = []
    let bytes = 0
    for (const row of rows) {
      const body = JSON.stringify(row.payload)
      const size = Buffer.byteLength(body)
      if (size > maxBatchBytes) tooLarge.push(row.seq)
      else if (bytes + size > maxBatchBytes) break
      else {
        bytes += size
        entries.push({ Id: row.seq, MessageBody: body })
      }
    }
    if (tooLarge.length > 0) {
      options.log.error(
        { seqs: tooLarge },
        'outbox event larger than SQS takes; it stays in the outbox',
      )
    }
    const output: Partial<Pick<SendMessageBatchCommandOutput, 'Successful' | 'Failed'>> =
      entries.length === 0
        ? {}
        : await options.sqs.send(
            new SendMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: entries }),
          )
    const sent = (output.Successful ?? []).map((entry) => entry.Id)
    if (sent.length > 0) {
      await client.query('delete from event_outbox where seq = any($1::bigint[])', [sent])
    }
    await client.query('commit')
    for (const entry of output.Failed ?? []) {
      // A sender fault would fail again on every retry; it is logged loudly
      // and stays visible in the oldest-age metric rather than being dropped.
      options.log[entry.SenderFault ? 'error' : 'warn'](
        { seq: entry.Id, errorCode: entry.Code, senderFault: entry.SenderFault },
        'SQS rejected an outbox event; it stays in the outbox',
      )
    }
    const claimed = entries.length + tooLarge.length
    return { claimed, sent: sent.length, failed: claimed - sent.length }
  } catch (error) {
    await client.query('rollback').catch(() => {
      broken = true
    })
    throw error
  } finally {
    client.release(broken)
  }
}

/**
 * Runs the relay loop until stop(). While SQS or the database fails, it
 * backs off with jitter; events wait in the table, so memory holds at most
 * one batch whatever the length of the outage.
 */
export function startOutboxRelay(options: RelayOptions): OutboxRelay {
  const ownsSqs = options.sqs === undefined
  const sqs =
    options.sqs ??
    createSqsClient({
      ...(options.region ? { region: options.region } : {}),
      requestTimeoutMs: 5000,
    })
  const batchSize = Math.min(Math.max(options.batchSize ?? maxBatchSize, 1), maxBatchSize)
  const idleDelayMs = options.idleDelayMs ?? 250
  const backoff = options.backoff ?? defaultBackoff
  const metrics = options.registry ? relayMetrics(options.registry, options.db) : undefined
  const sleeper = new Sleeper()
  let stopping = false

  const loop = async () => {
    let failures = 0
    while (!stopping) {
      let result: BatchResult | undefined
      try {
        // One merge takes what was pending; more only when the code limit
        // left rows behind, so a steady trickle does not split into many
        // small events. At most a full batch's worth.
        for (let merges = 0; merges < batchSize; merges++) {
          if (!(await sealClicks(options.db)).more) break
        }
        result = await relayBatch({ ...options, sqs, batchSize })
        metrics?.sent.inc(result.sent)
        if (result.failed > 0) metrics?.failed.inc({ reason: 'entry' }, result.failed)
      } catch (error) {
        metrics?.failed.inc({ reason: 'request' })
        options.log.warn({ err: error, failures: failures + 1 }, 'outbox relay round failed')
      }
      if (result === undefined || (result.claimed > 0 && result.sent === 0)) {
        failures += 1
        await sleeper.sleep(backoffDelay(failures, backoff, options.random))
        continue
      }
      failures = 0
      if (result.claimed < batchSize) await sleeper.sleep(idleDelayMs)
    }
  }
  const running = loop()

  return {
    async stop() {
      stopping = true
      sleeper.wake()
      await running
      if (ownsSqs) sqs.destroy()
    },
  }
}
