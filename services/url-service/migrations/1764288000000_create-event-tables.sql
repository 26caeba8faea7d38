-- Up Migration

-- Transactional outbox: url-service writes an event in the transaction that
-- made the change; the relay publishes it to SQS and deletes the row. The
-- identity column orders the relay's claims and is the batch entry id.
CREATE TABLE event_outbox (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)
-- Every row is inserted once and deleted soon after: vacuum by a fixed
-- number of dead rows, not a fraction of a table that is usually near empty.
WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);

-- The worker's idempotency record: an event id is applied at most once.
-- Rows older than the queue's retention period can never be redelivered;
-- the worker prunes them by processed_at.
CREATE TABLE processed_events (
  event_id uuid PRIMARY KEY,
  processed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);

-- Down Migration
DROP TABLE processed_events;
DROP TABLE event_outbox;
