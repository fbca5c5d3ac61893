-- migration: records, normalized events, idempotent action results
-- Synced provider objects. `seq` is the tenant's change sequence: every insert, update and tombstone takes the
-- next value of record_sequences.last_seq, so "changes after seq N" is an index range scan.
CREATE TABLE records(
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL,
  model          TEXT NOT NULL,
  external_id    TEXT NOT NULL,
  data_json      TEXT NOT NULL,
  updated_at     INTEGER NOT NULL,            -- provider timestamp, unix seconds
  deleted        INTEGER NOT NULL DEFAULT 0,  -- 1 = tombstone
  seq            INTEGER NOT NULL,
  UNIQUE(tenant_id, integration_id, model, external_id)
);
CREATE INDEX records_changes ON records(tenant_id, integration_id, model, seq);

CREATE TABLE record_sequences(
  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
  last_seq  INTEGER NOT NULL
) WITHOUT ROWID;

-- Normalized events; `id` is the public, monotonically increasing event id (never reused).
CREATE TABLE events(
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL DEFAULT '',
  type           TEXT NOT NULL,
  occurred_at    INTEGER NOT NULL,  -- unix ms
  data_json      TEXT NOT NULL
);
CREATE INDEX events_by_tenant ON events(tenant_id, id);
CREATE INDEX events_by_time ON events(occurred_at);

-- Results of actions called with an Idempotency-Key.
CREATE TABLE action_results(
  tenant_id       TEXT NOT NULL REFERENCES tenants(id),
  integration_id  TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_hash    BLOB NOT NULL,
  status          INTEGER NOT NULL,
  response_json   TEXT NOT NULL,
  created_at      INTEGER NOT NULL,  -- unix ms
  PRIMARY KEY(tenant_id, integration_id, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX action_results_by_time ON action_results(created_at);
