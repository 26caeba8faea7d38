import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs'
import { Counter, Histogram, type Registry } from 'prom-client'
import {
  type BackoffOptions,
  backoffDelay,
  defaultBackoff,
  type EventLog,
  Sleeper,
} from '../events/backoff.js'
import { UrlEvent } from '../events/event.js'
import type { Queryable } from '../events/outbox.js'
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

const pruneIntervalMs = 3600_000

/**
 * Long-polls the queue and applies each batch in one database transaction,
 * deleting the messages only after the commit. A crash anywhere before the
 * delete leaves the messages to reappear; the idempotency table makes the
 * second application a no-op.
 */
export function startConsumer(options: ConsumerOptions): EventConsumer {
  const waitTimeSeconds = options.waitTimeSeconds ?? 20
  const { visibilityTimeoutSeconds } = options
  const retentionHours = options.dedupRetentionHours ?? 14 * 24
  const backoff = options.backoff ?? defaultBackoff
  const metrics = options.registry ? workerMetrics(options.registry) : undefined
  const { log, sqs, queueUrl } = options
  const sleeper = new Sleeper()
  const polling = new AbortController()
  let stopping = false
  let receiveError: Error | undefined
  let nextPruneAt = Date.now()

  const fail = (reason: FailureReason, count = 1) => metrics?.failed.inc({ reason }, count)

  /** Renews the visibility of messages still being worked on, so no other worker takes them. */
  const keepInvisible = (messages: readonly Message[]) => {
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
        if (output.Failed?.length) fail('visibility', output.Failed.length)
      } catch (error) {
        fail('visibility')
        log.warn({ err: error }, 'could not extend message visibility')
      }
    }
    const timer = setInterval(renew, (visibilityTimeoutSeconds * 1000) / 2)
    return () => clearInterval(timer)
  }

  const deleteMessages = async (messages: readonly Message[]) => {
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
        fail('delete', output.Failed.length)
        log.warn(
          { failed: output.Failed.map((entry) => entry.Code) },
          'could not delete applied messages; their redelivery will be skipped as duplicates',
        )
      }
    } catch (error) {
      fail('delete', messages.length)
      log.warn(
        { err: error, count: messages.length },
        'could not delete applied messages; their redelivery will be skipped as duplicates',
      )
    }
  }

  /** Returns false when the batch could not be applied (the caller backs off). */
  const handleBatch = async (messages: readonly Message[]): Promise<boolean> => {
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
    if (invalid.length > 0) fail('invalid', invalid.length)
    if (valid.length === 0) return true

    const stopRenewing = keepInvisible(valid.map((entry) => entry.message))
    try {
      const result = await applyEvents(
        options.db,
        valid.map((entry) => entry.event),
      )
      const now = Date.now()
      for (const event of result.applied) {
        metrics?.processed.inc({ type: event.type })
        metrics?.lag.observe(Math.max(0, (now - Date.parse(event.occurredAt)) / 1000))
      }
      metrics?.duplicates.inc(result.duplicates)
    } catch (error) {
      fail('apply', valid.length)
      log.error(
        { err: error, count: valid.length },
        'could not apply events; they will be redelivered',
      )
      return false
    } finally {
      stopRenewing()
    }
    await deleteMessages(valid.map((entry) => entry.message))
    return true
  }

  const prune = async () => {
    if (Date.now() < nextPruneAt) return
    nextPruneAt = Date.now() + pruneIntervalMs
    try {
      const removed = await pruneProcessedEvents(options.db, retentionHours)
      if (removed > 0) log.info({ removed }, 'pruned old idempotency records')
    } catch (error) {
      fail('prune')
      log.warn({ err: error }, 'could not prune idempotency records')
    }
  }

  const loop = async () => {
    let failures = 0
    while (!stopping) {
      await prune()
      let messages: Message[]
      try {
        const output = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: waitTimeSeconds,
            VisibilityTimeout: visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: polling.signal },
        )
        messages = output.Messages ?? []
        receiveError = undefined
      } catch (error) {
        if (stopping) break
        receiveError = error instanceof Error ? error : new Error(String(error))
        fail('receive')
        failures += 1
        log.warn({ err: error, failures }, 'could not receive from the queue')
        await sleeper.sleep(backoffDelay(failures, backoff, options.random))
        continue
      }
      if (messages.length === 0) {
        failures = 0
        continue
      }
      if (await handleBatch(messages)) failures = 0
      else {
        failures += 1
        await sleeper.sleep(backoffDelay(failures, backoff, options.random))
      }
    }
  }
  const running = loop()

  return {
    async stop() {
      stopping = true
      // Aborting the long poll loses nothing: anything it received becomes
      // visible again after the visibility timeout.
      polling.abort()
      sleeper.wake()
      await running
    },
    checkQueue() {
      if (receiveError) throw new Error(`last receive failed: ${receiveError.name}`)
    },
  }
}
