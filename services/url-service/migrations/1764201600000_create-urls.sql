-- Up Migration
CREATE TABLE urls (
  code text PRIMARY KEY,
  url text NOT NULL CONSTRAINT urls_url_length CHECK (char_length(url) <= 2048),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  clicks bigint NOT NULL DEFAULT 0 CONSTRAINT urls_clicks_nonnegative CHECK (clicks >= 0),
  last_clicked_at timestamptz
);

-- Serves the newest-first listing: keyset pagination on (created_at, code).
CREATE INDEX urls_created_at_code_idx ON urls (created_at DESC, code DESC);

-- Down Migration
DROP TABLE urls;
