-- migration: core: tenants, api keys, secrets, connections, audit log, host metadata, plugin state
CREATE TABLE tenants(
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE api_keys(
  id             TEXT PRIMARY KEY,
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  display_prefix TEXT NOT NULL,
  key_hash       BLOB NOT NULL UNIQUE,
  scopes         TEXT NOT NULL DEFAULT '',
  created_at     INTEGER NOT NULL,
  last_used_at   INTEGER,
  revoked_at     INTEGER
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id, created_at);

CREATE TABLE secrets(
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL,
  purpose        TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  nonce          BLOB NOT NULL,
  ciphertext     BLOB NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY(tenant_id, integration_id, purpose)
) WITHOUT ROWID;
CREATE INDEX secrets_by_key ON secrets(key_id);

CREATE TABLE connections(
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL,
  status         TEXT NOT NULL CHECK(status IN ('active', 'inactive', 'error')),
  info_json      TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(info_json)),
  connected_at   INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  last_check_at  INTEGER,
  last_check_ok  INTEGER,
  last_error     TEXT,
  PRIMARY KEY(tenant_id, integration_id)
) WITHOUT ROWID;
CREATE INDEX connections_by_integration ON connections(integration_id, status);

CREATE TABLE audit_log(
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL DEFAULT '',
  actor          TEXT NOT NULL,
  action         TEXT NOT NULL,
  detail_json    TEXT NOT NULL DEFAULT '{}' CHECK(json_valid(detail_json)),
  at             INTEGER NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log(tenant_id, id);

CREATE TABLE host_meta(
  key        TEXT PRIMARY KEY,
  value      BLOB NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE plugin_state(
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL,
  key            TEXT NOT NULL,
  value          BLOB NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY(tenant_id, integration_id, key)
) WITHOUT ROWID;
