import { currentTraceparent } from '@zt/service-kit'
import type { Queryable } from '../db/database.js'
import type { VisitRecorder } from '../visits.js'
import { type ClickCount, clickBatchMaxVisits, clicksEvent, maxTracesPerEvent } from './event.js'

/**
 * The statement that writes a complete event to the transactional outbox:
 * the JSON in parameter `$payloadParam`, once per row of `source` (a CTE of
 * the same statement) when given. Embedded in the statement that made the
 * change (the URL insert), the event commits or rolls back with it; the
 * relay publishes it later, so the caller never waits on SQS.
 */
export function outboxInsert(payloadParam: number, source?: string): string {
  const from = source ? ` FROM ${source}` : ''
  return `INSERT INTO event_outbox (payload) SELECT $${payloadParam}::jsonb${from}`
}

/**
 * Writes click counts as one unsealed row, for the relay to merge before it
 * sends (see the migration that added `sealed`). The insert commits
 * asynchronously (synchronous_commit off for this statement's own
 * transaction only): it does not wait for a WAL flush, which measured
 * several times the cost of the resolve itself. The row is then durable
 * against any crash of url-service; only a crash of the database server
 * within about three wal_writer_delay periods can lose the newest clicks
 * (never corrupt anything). Call it on a pool, outside a transaction: inside
 * one it would make that whole transaction's commit asynchronous.
 */
export async function recordClicks(
  db: Queryable,
  clicks: ClickCount[],
  traces: string[] = [],
): Promise<void> {
  await db.query(
    `WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
     INSERT INTO event_outbox (payload, sealed) SELECT $1::jsonb, false FROM relaxed`,
    [JSON.stringify(clicksEvent(clicks, traces))],
  )
}

export interface ClickBatchOptions {
  /** A batch closes at this many visits (at most clickBatchMaxVisits), even while an insert is in flight. */
  maxVisits?: number
}

/**
 * The resolve route's VisitRecorder backed by the outbox, with group commit
 * as databases do it for their own log: while no insert is in flight a
 * visit is written at once (with whatever arrived in the same turn of the
 * event loop); while one is, visits gather into the next batch, which is
 * written when it ends. So a lone redirect never waits on a timer, and
 * under load the batches grow with the database's latency. A batch becomes
 * one insert of counts per code, and every redirect in it answers only once
 * that insert committed: an answered redirect's click survives any
 * url-service crash, as with one insert per redirect. A failed insert fails
 * every visit of its batch alike.
 */
export function outboxVisitRecorder(db: Queryable, options: ClickBatchOptions = {}): VisitRecorder {
  const maxVisits = Math.min(options.maxVisits ?? clickBatchMaxVisits, clickBatchMaxVisits)

  interface Batch {
    readonly counts: Map<string, { count: number; last: Date }>
    visits: number
    /** The first redirects' trace contexts, for the worker to link to. */
    readonly traces: string[]
    scheduled: boolean
    readonly committed: PromiseWithResolvers<void>
  }
  let next: Batch | undefined
  let inFlight = 0

  const write = (batch: Batch) => {
    if (next === batch) next = undefined
    inFlight += 1
    const clicks = [...batch.counts].map(([code, c]) => ({
      code,
      count: c.count,
      lastClickedAt: c.last.toISOString(),
    }))
    recordClicks(db, clicks, batch.traces)
      .then(batch.committed.resolve, batch.committed.reject)
      .finally(() => {
        inFlight -= 1
        if (inFlight === 0 && next) write(next)
      })
  }

  return {
    record(visit) {
      if (!next) {
        next = {
          counts: new Map(),
          visits: 0,
          traces: [],
          scheduled: false,
          committed: Promise.withResolvers(),
        }
      }
      const batch = next
      const seen = batch.counts.get(visit.code)
      if (!seen) batch.counts.set(visit.code, { count: 1, last: visit.at })
      else {
        seen.count += 1
        if (visit.at > seen.last) seen.last = visit.at
      }
      batch.visits += 1
      const traceparent = batch.traces.length < maxTracesPerEvent ? currentTraceparent() : undefined
      if (traceparent) batch.traces.push(traceparent)
      if (batch.visits >= maxVisits) write(batch)
      else if (inFlight === 0 && !batch.scheduled) {
        // The rest of this turn's requests join before it is written.
        batch.scheduled = true
        setImmediate(() => {
          if (next === batch) write(batch)
        })
      }
      return batch.committed.promise
    },
  }
}
