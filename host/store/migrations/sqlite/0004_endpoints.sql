-- migration: outbound webhook endpoints, deliveries, attempts
-- A tenant's webhook receivers. event_types: space-separated prefixes ("*" = every type). Only events with
-- id > after_event_id (the newest event when the endpoint was created) are fanned out to it.
CREATE TABLE endpoints(
  id                         TEXT PRIMARY KEY,
  tenant_id                  TEXT NOT NULL REFERENCES tenants(id),
  url                        TEXT NOT NULL,
  description                TEXT NOT NULL DEFAULT '',
  event_types                TEXT NOT NULL,
  secret                     TEXT NOT NULL,
  previous_secret            TEXT NOT NULL DEFAULT '',
  previous_secret_expires_at INTEGER NOT NULL DEFAULT 0,
  disabled                   INTEGER NOT NULL DEFAULT 0,
  disabled_reason            TEXT NOT NULL DEFAULT '',
  consecutive_failed_events  INTEGER NOT NULL DEFAULT 0,
  failing_since              INTEGER NOT NULL DEFAULT 0,
  after_event_id             INTEGER NOT NULL,
  created_at                 INTEGER NOT NULL,
  updated_at                 INTEGER NOT NULL
);
CREATE INDEX endpoints_by_tenant ON endpoints(tenant_id, created_at);

-- One event to one endpoint. `sending` rows were claimed by a worker; a restart puts them back to pending.
CREATE TABLE endpoint_deliveries(
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id       TEXT NOT NULL REFERENCES tenants(id),
  endpoint_id     TEXT NOT NULL,
  event_id        INTEGER NOT NULL,
  status          TEXT NOT NULL CHECK(status IN ('pending', 'sending', 'succeeded', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX endpoint_deliveries_due ON endpoint_deliveries(status, next_attempt_at);
CREATE INDEX endpoint_deliveries_by_endpoint ON endpoint_deliveries(endpoint_id, status, created_at);

-- Every HTTP attempt. response: a redacted snippet of the body, or the transport error.
CREATE TABLE endpoint_attempts(
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id),
  endpoint_id TEXT NOT NULL,
  delivery_id INTEGER NOT NULL,
  event_id    INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  at          INTEGER NOT NULL,
  http_status INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  succeeded   INTEGER NOT NULL,
  response    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX endpoint_attempts_by_endpoint ON endpoint_attempts(endpoint_id, id);

-- The fan-out cursor: every event with id <= last_event_id has its deliveries queued.
CREATE TABLE endpoint_fanout(
  id            INTEGER PRIMARY KEY CHECK(id = 1),
  last_event_id INTEGER NOT NULL
);
INSERT INTO endpoint_fanout(id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM events;
