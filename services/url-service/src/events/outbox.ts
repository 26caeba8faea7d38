import type pg from 'pg'
import type { VisitRecorder } from '../visits.js'
import { type ClickInput, clickedEvent, createdEvent, type UrlEvent } from './event.js'

/** A pool, a Database, or a client inside a transaction: each can write to the outbox. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>
}

/** What the relay and the worker need: queries, and a client of their own for a transaction. */
export interface Db extends Queryable {
  connect(): Promise<pg.PoolClient>
}

/**
 * Writes events to the transactional outbox. Called with the client of the
 * transaction that made the change, the event commits or rolls back with it;
 * the relay publishes it later, so the caller never waits on SQS.
 */
export async function writeEvents(db: Queryable, events: readonly UrlEvent[]): Promise<void> {
  if (events.length === 0) return
  await db.query('insert into event_outbox (payload) select * from unnest($1::jsonb[])', [
    events.map((event) => JSON.stringify(event)),
  ])
}

/** Records one redirect. One insert; the caller answers only after it succeeded. */
export async function recordClick(db: Queryable, click: ClickInput): Promise<void> {
  await writeEvents(db, [clickedEvent(click)])
}

/** Records a creation; pass the client of the transaction that inserted the URL. */
export async function recordCreated(db: Queryable, created: { code: string }): Promise<void> {
  await writeEvents(db, [createdEvent(created)])
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
