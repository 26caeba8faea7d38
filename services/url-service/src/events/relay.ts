import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { Connectable } from '../db/database.js'
import {
  type BackoffOptions,
  backoffDelay,
  defaultBackoff,
  type EventLog,
  Sleeper,
} from './backoff.js'
import { createSqsClient } from './sqs.js'

/** SendMessageBatch takes at most ten entries. */
export const maxBatchSize = 10

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
 * Publishes one batch: claims the oldest rows no other relay holds, sends
 * them in one SendMessageBatch call, and deletes exactly the rows SQS
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
      'select seq, payload from event_outbox order by seq limit $1 for update skip locked',
      [options.batchSize],
    )
    if (rows.length === 0) {
      await client.query('commit')
      return { claimed: 0, sent: 0, failed: 0 }
    }
    const output = await options.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: rows.map((row) => ({ Id: row.seq, MessageBody: JSON.stringify(row.payload) })),
      }),
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
    return { claimed: rows.length, sent: sent.length, failed: rows.length - sent.length }
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
