import type { Queryable } from '../db/database.js'
import type { UrlEvent } from '../events/event.js'

export interface ApplyResult {
  /** Events applied by this call: their ids were not yet in processed_events. */
  applied: UrlEvent[]
  /** Events skipped because an earlier delivery already applied them. */
  duplicates: number
}

/**
 * Applies a batch in ONE statement, hence one transaction, with one
 * idempotency record per event: the event ids go into processed_events, and
 * only the counts of events whose id was newly inserted are added. A
 * redelivered or re-published event finds its id there and changes nothing,
 * so at-least-once delivery counts exactly once. A second worker holding the
 * same id blocks on the insert until the first commits, then skips it.
 * `incoming` has a row per (event, code): a url.clicks event names many
 * codes, a version 1 click one code once, a creation counts nothing.
 */
const applySql = `
with incoming as (
  select distinct on (id, code) id, code, n, occurred_at
  from jsonb_to_recordset($1::jsonb) as e(id uuid, code text, n int, occurred_at timestamptz)
  order by id, code
), fresh as (
  insert into processed_events (event_id)
  select distinct id from incoming
  on conflict (event_id) do nothing
  returning event_id
), clicks as (
  select i.code, sum(i.n) as n, max(i.occurred_at) as last_at
  from incoming i join fresh f on f.event_id = i.id
  where i.n > 0
  group by i.code
), counted as (
  update urls u
  set clicks = u.clicks + c.n,
      last_clicked_at = greatest(u.last_clicked_at, c.last_at)
  from clicks c
  where u.code = c.code
  returning u.code
)
select event_id from fresh`

/** One row per code an event counts: (id, code, clicks, when). */
function countsOf(event: UrlEvent) {
  switch (event.type) {
    case 'url.created':
      return [{ id: event.id, code: event.code, n: 0, occurred_at: event.occurredAt }]
    case 'url.clicked':
      return [{ id: event.id, code: event.code, n: 1, occurred_at: event.occurredAt }]
    case 'url.clicks':
      return event.clicks.map((click) => ({
        id: event.id,
        code: click.code,
        n: click.count,
        occurred_at: click.lastClickedAt,
      }))
  }
}

export async function applyEvents(
  db: Queryable,
  events: readonly UrlEvent[],
): Promise<ApplyResult> {
  if (events.length === 0) return { applied: [], duplicates: 0 }
  const result = await db.query(applySql, [JSON.stringify(events.flatMap(countsOf))])
  const fresh = new Set(result.rows.map((row: { event_id: string }) => row.event_id))
  const applied: UrlEvent[] = []
  for (const event of events) {
    // A batch may hold the same event twice; the first copy is the applied one.
    if (fresh.delete(event.id)) applied.push(event)
  }
  return { applied, duplicates: events.length - applied.length }
}

/**
 * Deletes idempotency records older than the retention, a bounded chunk per
 * call. Safe once the retention exceeds the queue's MessageRetentionPeriod:
 * SQS cannot redeliver a message older than that.
 */
export async function pruneProcessedEvents(
  db: Queryable,
  retentionHours: number,
  limit = 10_000,
): Promise<number> {
  const result = await db.query(
    `delete from processed_events where event_id in (
       select event_id from processed_events
       where processed_at < now() - make_interval(hours => $1)
       limit $2)`,
    [retentionHours, limit],
  )
  return result.rowCount ?? 0
}
