import { randomUUID } from 'node:crypto'
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs'
import { type FauxqsServer, startFauxqs } from 'fauxqs'
import type { Database, Queryable } from '../../src/db/database.js'
import type { UrlClickedEvent } from '../../src/events/event.js'
import { recordClicks } from '../../src/events/outbox.js'
import { createSqsClient } from '../../src/events/sqs.js'
import { defaultVisibilityTimeoutSeconds } from '../../src/worker/config.js'
import {
  type ConsumerOptions,
  type EventConsumer,
  startConsumer,
} from '../../src/worker/consumer.js'
import { silent } from '../helpers/setup.js'

interface Tap {
  teardown(fn: () => unknown): void
}

export { silent }

/** Short enough to keep a file bounded, long enough to stay out of the scheduler's noise. */
export const fastBackoff = { baseMs: 20, maxMs: 200 }

export async function insertUrl(db: Database, code: string): Promise<void> {
  await db.query(`insert into urls (code, url) values ($1, 'https://example.com/')`, [code])
}

/** A click as the version 1 producer wrote it: one event per redirect. */
export function v1Click(code: string, occurredAt = new Date()): UrlClickedEvent {
  return {
    version: 1,
    id: randomUUID(),
    type: 'url.clicked',
    code,
    occurredAt: occurredAt.toISOString(),
    referrerHost: null,
    userAgentFamily: 'other',
  }
}

/** `n` redirects of `code`, each written as its own batch (one outbox row), as under light load. */
export async function recordVisits(db: Queryable, code: string, n: number, at = new Date()) {
  for (let i = 0; i < n; i++) {
    await recordClicks(db, [{ code, count: 1, lastClickedAt: at.toISOString() }])
  }
}

/** The bodies waiting in the emulator's queue, without receiving them. */
export function queuedBodies(queue: Queue, name = 'events'): string[] {
  const state = queue.server.inspectQueue(name)
  return [
    ...(state?.messages.ready ?? []),
    ...(state?.messages.inflight ?? []).map((m) => m.message),
  ].map((message) => message.body)
}

export async function clicksOf(
  db: Database,
  code: string,
): Promise<{ clicks: number; lastClickedAt: Date | null }> {
  const { rows } = await db.query<{ clicks: string; last_clicked_at: Date | null }>(
    'select clicks, last_clicked_at from urls where code = $1',
    [code],
  )
  return { clicks: Number(rows[0]?.clicks), lastClickedAt: rows[0]?.last_clicked_at ?? null }
}

export async function count(db: Database, table: 'event_outbox' | 'processed_events') {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from ${table}`)
  return rows[0]?.n ?? 0
}

export interface Queue {
  server: FauxqsServer
  port: number
  queueUrl: string
  dlqName: string
  /** A client built the production way (createSqsClient), pointed at the emulator by env. */
  sqs: SQSClient
  /** Stops the emulator; a later start() on the same port brings an empty queue of the same URL. */
  stop(): Promise<void>
  start(): Promise<void>
}

export interface QueueOptions {
  visibilityTimeoutSeconds?: number
  maxReceiveCount?: number
}

/**
 * fauxqs speaking the real SQS wire protocol on loopback. The SDK finds it
 * through AWS_ENDPOINT_URL_SQS, as a local run would.
 */
export async function startQueue(t: Tap, options: QueueOptions = {}): Promise<Queue> {
  process.env.AWS_REGION = 'us-east-1'
  process.env.AWS_ACCESS_KEY_ID = 'test'
  process.env.AWS_SECRET_ACCESS_KEY = 'test'
  let server = await startFauxqs({ port: 0, logger: false })
  const port = server.port
  process.env.AWS_ENDPOINT_URL_SQS = `http://127.0.0.1:${port}`
  const create = () => {
    const dlq = server.createQueue('events-dlq')
    return server.createQueue('events', {
      attributes: {
        VisibilityTimeout: String(
          options.visibilityTimeoutSeconds ?? defaultVisibilityTimeoutSeconds,
        ),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.queueArn,
          maxReceiveCount: String(options.maxReceiveCount ?? 5),
        }),
      },
    }).queueUrl
  }
  const queueUrl = create()
  const sqs = createSqsClient({ requestTimeoutMs: 5000 })
  let running = true
  const queue: Queue = {
    get server() {
      return server
    },
    port,
    queueUrl,
    dlqName: 'events-dlq',
    sqs,
    async stop() {
      running = false
      await server.stop()
    },
    async start() {
      server = await startFauxqs({ port, logger: false })
      running = true
      create()
    },
  }
  t.teardown(async () => {
    sqs.destroy()
    if (running) await server.stop()
  })
  return queue
}

/** Publishes raw bodies straight to the queue, as a duplicate publish or a bad producer would. */
export async function sendRaw(queue: Queue, bodies: readonly string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await queue.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: `m${i + j}`, MessageBody: body })),
      }),
    )
  }
}

/** Polls until the condition holds; fails after the deadline instead of hanging the file. */
export async function eventually(
  condition: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * The worker's consumer on the emulator's queue with the tests' short waits
 * (any option can be overridden), stopped at teardown.
 */
export function consume(
  t: Tap,
  queue: Queue,
  options: Pick<ConsumerOptions, 'db'> & Partial<ConsumerOptions>,
): EventConsumer {
  const consumer = startConsumer({
    sqs: queue.sqs,
    queueUrl: queue.queueUrl,
    log: silent,
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: 30,
    backoff: fastBackoff,
    ...options,
  })
  t.teardown(() => consumer.stop())
  return consumer
}
