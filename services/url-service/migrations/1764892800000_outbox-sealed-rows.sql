-- Up Migration

-- Redirects write their click counts unsealed; the relay merges unsealed
-- rows into one sealed row (a url.clicks event with a new id) before it
-- sends anything. Only a sealed row is ever sent, and a sealed row is never
-- merged again: a row sent once and left behind by a crash goes out again
-- with the same event id, which the worker skips. Rows written before this
-- migration are complete events already, hence the default.
ALTER TABLE event_outbox ADD COLUMN sealed boolean NOT NULL DEFAULT true;

-- Down Migration
ALTER TABLE event_outbox DROP COLUMN sealed;
