import type { Queryable } from '../db/database.js'
import type { UrlEvent } from '../events/event.js'

export interface ApplyResult {
  /** Events applied by this call: their ids were not yet in processed_events. */
  applied: UrlEvent[]
  /** Events skipped because an earlier delivery already applied them. */
  duplicates: number
}

/**
 * Applies a batch in ONE statement, hence one transaction: the event ids go
 * into processed_events, and only the clicks whose id was newly inserted
 * count. A redelivered or re-published event finds its id there and changes
 * nothing, so at-least-once delivery counts exactly once. A second worker
 * holding the same id blocks on the insert until the first commits, then
 * skips it.
 */
const applySql = `
with incoming as (
  select distinct on (id) id, type, code, occurred_at
  from jsonb_to_recordset($1::jsonb) as e(id uuid, type text, code text, occurred_at timestamptz)
  order by id
), fresh as (
  insert into processed_events (event_id)
  select id from incoming
  on conflict (event_id) do nothing
  returning event_id
), clicks as (
  select i.code, count(*) as n, max(i.occurred_at) as last_at
  from incoming i join fresh f on f.event_id = i.id
  where i.type = 'url.clicked'
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

export async function applyEvents(
  db: Queryable,
  events: readonly UrlEvent[],
): Promise<ApplyResult> {
  if (events.length === 0) return { applied: [], duplicates: 0 }
  const rows = events.map((event) => ({
    id: event.id,
    type: event.type,
    code: event.code,
    occurred_at: event.occurredAt,
  }))
  const result = await db.query(applySql, [JSON.stringify(rows)])
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
