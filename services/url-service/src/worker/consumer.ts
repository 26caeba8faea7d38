import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import { inLinkedSpan } from '@zt/service-kit'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { Queryable } from '../db/database.js'
import {
  type BackoffOptions,
  backoffDelay,
  defaultBackoff,
  type EventLog,
  Sleeper,
} from '../events/backoff.js'
import { UrlEvent } from '../events/event.js'
import { applyEvents, pruneProcessedEvents } from './apply.js'

export interface ConsumerOptions {
  db: Queryable
  sqs: SQSClient
  queueUrl: string
  log: EventLog
  registry?: Registry
  /** Long-poll wait, 0..20 s. */
  waitTimeSeconds?: number
  /**
   * Requested on receive and renewed while a batch is still being applied;
   * the worker config owns the default (defaultVisibilityTimeoutSeconds).
   */
  visibilityTimeoutSeconds: number
  /** processed_events rows older than this are pruned; keep it above the queue's retention. */
  dedupRetentionHours?: number
  backoff?: BackoffOptions
  random?: () => number
}

export interface EventConsumer {
  /** Stops polling, finishes the batch in hand, then resolves. */
  stop(): Promise<void>
  /** For /readyz: throws while the last ReceiveMessage failed. */
  checkQueue(): void
}

export type FailureReason = 'receive' | 'invalid' | 'apply' | 'delete' | 'visibility' | 'prune'

interface WorkerMetrics {
  processed: Counter<'type'>
  duplicates: Counter
  failed: Counter<'reason'>
  lag: Histogram
}

function workerMetrics(registry: Registry): WorkerMetrics {
  return {
    processed: new Counter({
      name: 'events_processed_total',
      help: 'Events applied to the database for the first time',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'events_duplicates_total',
      help: 'Deliveries of events that were already applied (redelivery or re-publish)',
      registers: [registry],
    }),
    failed: new Counter({
      name: 'events_failed_total',
      help: 'Failures by stage; invalid messages are left for the redrive policy',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    lag: new Histogram({
      name: 'events_lag_seconds',
      help: 'From the moment an event occurred to the moment the worker applied it',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
  }
}

interface Parsed {
  valid: Array<{ message: Message; event: UrlEvent }>
  invalid: Array<{ message: Message; reason: string }>
}

function parseMessages(messages: readonly Message[]): Parsed {
  const parsed: Parsed = { valid: [], invalid: [] }
  for (const message of messages) {
    let body: unknown
    try {
      body = JSON.parse(message.Body ?? '')
    } catch {
      parsed.invalid.push({ message, reason: 'body is not JSON' })
      continue
    }
    const result = UrlEvent.safeParse(body)
    if (result.success) parsed.valid.push({ message, event: result.data })
    else {
      const issue = result.error.issues[0]
      parsed.invalid.push({
        message,
        reason: `${issue?.path.join('.') || '(event)'}: ${issue?.message ?? 'invalid'}`,
      })
    }
  }
  return parsed
}

/**
 * When an event happened, for the lag metric. A url.clicks event keeps only
 * each code's newest click; its oldest such time is the closest to the
 * oldest click it carries.
 */
function occurredAt(event: UrlEvent): number {
  if (event.type !== 'url.clicks') return Date.parse(event.occurredAt)
  return Math.min(...event.clicks.map((click) => Date.parse(click.lastClickedAt)))
}

const pruneIntervalMs = 3600_000

/** What every step of the consumer reads: its settings, resolved once, and its metrics. */
interface Consumer {
  db: Queryable
  sqs: SQSClient
  queueUrl: string
  log: EventLog
  metrics: WorkerMetrics | undefined
  waitTimeSeconds: number
  visibilityTimeoutSeconds: number
  retentionHours: number
  backoff: BackoffOptions
  random: (() => number) | undefined
}

/** What the loop changes while it runs, and stop() and checkQueue() read. */
interface LoopState {
  stopping: boolean
  receiveError: Error | undefined
  nextPruneAt: number
  readonly sleeper: Sleeper
  readonly polling: AbortController
}

function countFailure(consumer: Consumer, reason: FailureReason, count = 1): void {
  consumer.metrics?.failed.inc({ reason }, count)
}

/** Renews the visibility of messages still being worked on, so no other worker takes them. */
function keepInvisible(consumer: Consumer, messages: readonly Message[]): () => void {
  const { sqs, queueUrl, visibilityTimeoutSeconds } = consumer
  const renew = async () => {
    try {
      const output = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((message, i) => ({
            Id: String(i),
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: visibilityTimeoutSeconds,
          })),
        }),
      )
      if (output.Failed?.length) countFailure(consumer, 'visibility', output.Failed.length)
    } catch (error) {
      countFailure(consumer, 'visibility')
      consumer.log.warn({ err: error }, 'could not extend message visibility')
    }
  }
  const timer = setInterval(renew, (visibilityTimeoutSeconds * 1000) / 2)
  return () => clearInterval(timer)
}

async function deleteMessages(consumer: Consumer, messages: readonly Message[]): Promise<void> {
  const { sqs, queueUrl, log } = consumer
  try {
    const output = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((message, i) => ({
          Id: String(i),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    )
    if (output.Failed?.length) {
      countFailure(consumer, 'delete', output.Failed.length)
      log.warn(
        { failed: output.Failed.map((entry) => entry.Code) },
        'could not delete applied messages; their redelivery will be skipped as duplicates',
      )
    }
  } catch (error) {
    countFailure(consumer, 'delete', messages.length)
    log.warn(
      { err: error, count: messages.length },
      'could not delete applied messages; their redelivery will be skipped as duplicates',
    )
  }
}

/** Returns false when the batch could not be applied (the caller backs off). */
async function handleBatch(consumer: Consumer, messages: readonly Message[]): Promise<boolean> {
  const { log, metrics } = consumer
  const { valid, invalid } = parseMessages(messages)
  for (const { message, reason } of invalid) {
    // Not deleted: after maxReceiveCount receives the redrive policy moves
    // it to the dead-letter queue, where it can be inspected. The body is
    // not logged; the id finds it there.
    log.error(
      {
        messageId: message.MessageId,
        receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
        reason,
      },
      'invalid event message left for the dead-letter queue',
    )
  }
  if (invalid.length > 0) countFailure(consumer, 'invalid', invalid.length)
  if (valid.length === 0) return true

  const inHand = valid.map((entry) => entry.message)
  const stopRenewing = keepInvisible(consumer, inHand)
  try {
    const events = valid.map((entry) => entry.event)
    // One span for the batch, linked to the redirects its events count.
    const traces = events.flatMap((event) => ('traces' in event ? (event.traces ?? []) : []))
    const result = await inLinkedSpan('process url events', traces, () =>
      applyEvents(consumer.db, events),
    )
    const now = Date.now()
    for (const event of result.applied) {
      metrics?.processed.inc({ type: event.type })
      metrics?.lag.observe(Math.max(0, (now - occurredAt(event)) / 1000))
    }
    metrics?.duplicates.inc(result.duplicates)
  } catch (error) {
    countFailure(consumer, 'apply', valid.length)
    log.error(
      { err: error, count: valid.length },
      'could not apply events; they will be redelivered',
    )
    return false
  } finally {
    stopRenewing()
  }
  await deleteMessages(consumer, inHand)
  return true
}

/** At most once an hour, whatever the batch rate. */
async function pruneIfDue(consumer: Consumer, state: LoopState): Promise<void> {
  if (Date.now() < state.nextPruneAt) return
  state.nextPruneAt = Date.now() + pruneIntervalMs
  try {
    const removed = await pruneProcessedEvents(consumer.db, consumer.retentionHours)
    if (removed > 0) consumer.log.info({ removed }, 'pruned old idempotency records')
  } catch (error) {
    countFailure(consumer, 'prune')
    consumer.log.warn({ err: error }, 'could not prune idempotency records')
  }
}

async function consumeUntilStopped(consumer: Consumer, state: LoopState): Promise<void> {
  const { sqs, log } = consumer
  const sleepAfter = (failures: number) =>
    state.sleeper.sleep(backoffDelay(failures, consumer.backoff, consumer.random))
  let failures = 0
  while (!state.stopping) {
    await pruneIfDue(consumer, state)
    let messages: Message[]
    try {
      const output = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: consumer.queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: consumer.waitTimeSeconds,
          VisibilityTimeout: consumer.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: state.polling.signal },
      )
      messages = output.Messages ?? []
      state.receiveError = undefined
    } catch (error) {
      if (state.stopping) break
      state.receiveError = error instanceof Error ? error : new Error(String(error))
      countFailure(consumer, 'receive')
      failures += 1
      log.warn({ err: error, failures }, 'could not receive from the queue')
      await sleepAfter(failures)
      continue
    }
    if (messages.length === 0) {
      failures = 0
      continue
    }
    if (await handleBatch(consumer, messages)) failures = 0
    else {
      failures += 1
      await sleepAfter(failures)
    }
  }
}

/**
 * Long-polls the queue and applies each batch in one database transaction,
 * deleting the messages only after the commit. A crash anywhere before the
 * delete leaves the messages to reappear; the idempotency table makes the
 * second application a no-op.
 */
export function startConsumer(options: ConsumerOptions): EventConsumer {
  const consumer: Consumer = {
    db: options.db,
    sqs: options.sqs,
    queueUrl: options.queueUrl,
    log: options.log,
    metrics: options.registry ? workerMetrics(options.registry) : undefined,
    waitTimeSeconds: options.waitTimeSeconds ?? 20,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    retentionHours: options.dedupRetentionHours ?? 14 * 24,
    backoff: options.backoff ?? defaultBackoff,
    random: options.random,
  }
  const state: LoopState = {
    stopping: false,
    receiveError: undefined,
    nextPruneAt: Date.now(),
    sleeper: new Sleeper(),
    polling: new AbortController(),
  }
  const running = consumeUntilStopped(consumer, state)

  return {
    async stop() {
      state.stopping = true
      // Aborting the long poll loses nothing: anything it received becomes
      // visible again after the visibility timeout.
      state.polling.abort()
      state.sleeper.wake()
      await running
    },
    checkQueue() {
      const { receiveError } = state
      if (receiveError) throw new Error(`last receive failed: ${receiveError.name}`)
    },
  }
}
