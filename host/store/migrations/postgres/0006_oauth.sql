-- migration: oauth states issued by the host
-- One row per OAuth state the host issued (GET /api/integrations/{id}/oauth/start). nonce_hash = SHA-256 of
-- the state's random nonce; the state text is never stored. consumed_at is set once, by the callback.
CREATE TABLE oauth_states(
  nonce_hash     BYTEA CONSTRAINT "oauth_states.nonce_hash" PRIMARY KEY,
  tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  integration_id TEXT COLLATE "C" NOT NULL,
  created_at     BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL,
  consumed_at    BIGINT
);
CREATE INDEX oauth_states_by_expiry ON oauth_states(expires_at);
