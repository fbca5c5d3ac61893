-- migration: oauth states issued by the host
-- One row per OAuth state the host issued (GET /api/integrations/{id}/oauth/start). nonce_hash = SHA-256 of
-- the state's random nonce; the state text is never stored. consumed_at is set once, by the callback.
CREATE TABLE oauth_states(
  nonce_hash     BLOB PRIMARY KEY,
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  consumed_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX oauth_states_by_expiry ON oauth_states(expires_at);
