-- migration: webhook inbox in its own file: events, attempts, object watermarks
-- SQLite only: the inbox's tables live in their own database file (<name>-inbox.db beside the main file), with
-- their own writer, WAL and fsync, so webhook intake and dispatch bookkeeping commit in parallel with the
-- records and events that handlings write to the main file. The same tables as the main schema's migrations
-- 2, 7, 8, 9 and 13 made (main migration 15 moves an existing inbox here). PostgreSQL keeps them in its one
-- database.
CREATE TABLE webhook_events(
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  integration_id   TEXT NOT NULL,
  tenant_id        TEXT NOT NULL DEFAULT '',
  account          TEXT NOT NULL DEFAULT '',
  event_id         TEXT NOT NULL,
  type             TEXT NOT NULL DEFAULT '',
  object_id        TEXT NOT NULL DEFAULT '',
  occurred_at      INTEGER NOT NULL DEFAULT 0,
  payload          BLOB NOT NULL,
  payload_sha256   BLOB NOT NULL,
  headers_json     TEXT NOT NULL DEFAULT '{}',
  status           TEXT NOT NULL
                   CHECK(status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'unroutable')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  received_at      INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  processed_at     INTEGER,
  last_error       TEXT,
  duplicates       INTEGER NOT NULL DEFAULT 0,
  conflicts        INTEGER NOT NULL DEFAULT 0,
  payload_codec    TEXT NOT NULL DEFAULT '',
  replays          INTEGER NOT NULL DEFAULT 0,
  claimed_by       TEXT NOT NULL DEFAULT '',
  claim_expires_at INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX webhook_events_dedupe ON webhook_events(integration_id, tenant_id, event_id);
CREATE INDEX webhook_events_due ON webhook_events(next_attempt_at, id) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_events_by_tenant ON webhook_events(tenant_id, id);
CREATE INDEX webhook_events_by_status ON webhook_events(status, id);
CREATE INDEX webhook_events_processed ON webhook_events(processed_at) WHERE status = 'processed';
CREATE INDEX webhook_events_in_flight ON webhook_events(tenant_id, integration_id, object_id)
  WHERE status = 'processing' AND object_id != '';

CREATE TABLE webhook_attempts(
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  event_row   INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
  attempt     INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  ok          INTEGER NOT NULL,
  error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_by_event ON webhook_attempts(event_row, id);

CREATE TABLE webhook_objects(
  tenant_id      TEXT NOT NULL,
  integration_id TEXT NOT NULL,
  object_id      TEXT NOT NULL,
  occurred_at    INTEGER NOT NULL,
  PRIMARY KEY(tenant_id, integration_id, object_id)
) WITHOUT ROWID;
