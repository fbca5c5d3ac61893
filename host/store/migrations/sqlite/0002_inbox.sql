-- migration: webhook inbox: events, attempts
CREATE TABLE webhook_events(
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  integration_id  TEXT NOT NULL,
  tenant_id       TEXT NOT NULL DEFAULT '',
  account         TEXT NOT NULL DEFAULT '',
  event_id        TEXT NOT NULL,
  type            TEXT NOT NULL DEFAULT '',
  object_id       TEXT NOT NULL DEFAULT '',
  occurred_at     INTEGER NOT NULL DEFAULT 0,
  payload         BLOB NOT NULL,
  payload_sha256  BLOB NOT NULL,
  headers_json    TEXT NOT NULL DEFAULT '{}',
  status          TEXT NOT NULL
                  CHECK(status IN ('pending', 'processing', 'processed', 'failed', 'dead', 'unroutable')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  received_at     INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  processed_at    INTEGER,
  last_error      TEXT,
  duplicates      INTEGER NOT NULL DEFAULT 0,
  conflicts       INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX webhook_events_dedupe ON webhook_events(integration_id, tenant_id, event_id);
CREATE INDEX webhook_events_due ON webhook_events(next_attempt_at, id) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_events_by_tenant ON webhook_events(tenant_id, id);
CREATE INDEX webhook_events_by_status ON webhook_events(status, id);
CREATE INDEX webhook_events_processed ON webhook_events(processed_at) WHERE status = 'processed';

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

CREATE TABLE webhook_routes(
  integration_id TEXT NOT NULL,
  account        TEXT NOT NULL,
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY(integration_id, account)
) WITHOUT ROWID;

CREATE TABLE webhook_objects(
  tenant_id      TEXT NOT NULL,
  integration_id TEXT NOT NULL,
  object_id      TEXT NOT NULL,
  occurred_at    INTEGER NOT NULL,
  PRIMARY KEY(tenant_id, integration_id, object_id)
) WITHOUT ROWID;
