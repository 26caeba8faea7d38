import type { Queryable } from '../db/database.js'
import type { VisitRecorder } from '../visits.js'
import { type ClickInput, clickedEvent } from './event.js'

/**
 * The one statement that writes the transactional outbox: an event row with
 * the JSON in parameter `$payloadParam`, once per row of `source` (a CTE of
 * the same statement) when given. Embedded in the statement that made the
 * change (the URL insert, the click's own), the event commits or rolls back
 * with it; the relay publishes it later, so the caller never waits on SQS.
 */
export function outboxInsert(payloadParam: number, source?: string): string {
  const from = source ? ` FROM ${source}` : ''
  return `INSERT INTO event_outbox (payload) SELECT $${payloadParam}::jsonb${from}`
}

/**
 * Records one redirect in one round trip. The insert commits asynchronously
 * (synchronous_commit off for this statement's own transaction only): the
 * redirect does not wait for a WAL flush, which measured several times the
 * cost of the resolve itself. The row is then durable against any crash of
 * url-service; only a crash of the database server within about three
 * wal_writer_delay periods can lose the newest clicks (never corrupt
 * anything). Call it on a pool, outside a transaction: inside one it would
 * make that whole transaction's commit asynchronous.
 */
export async function recordClick(db: Queryable, click: ClickInput): Promise<void> {
  await db.query(
    `WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
     ${outboxInsert(1, 'relaxed')}`,
    [JSON.stringify(clickedEvent(click))],
  )
}

/**
 * The resolve route's VisitRecorder backed by the outbox: a visit becomes a
 * `url.clicked` row in one insert, and SQS is never on the redirect path.
 */
export function outboxVisitRecorder(db: Queryable): VisitRecorder {
  return {
    record: (visit) =>
      recordClick(db, {
        code: visit.code,
        referrer: visit.referrer,
        userAgent: visit.userAgent,
        occurredAt: visit.at,
      }),
  }
}
