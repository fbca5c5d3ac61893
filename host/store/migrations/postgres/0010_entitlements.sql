-- migration: entitlements, a view derived from records (host/entitlements)
-- One row per record that currently grants something: the plugin's manifest maps a record model to
-- (customer, key, status in active-list). Rebuilt from the records' change sequence: entitlement_cursors
-- holds, per (tenant, integration, model), the last record seq applied and the mapping it was applied with
-- (a changed mapping rebuilds that model's rows from seq 0).
CREATE TABLE entitlements(
  tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  integration_id TEXT COLLATE "C" NOT NULL,
  model          TEXT COLLATE "C" NOT NULL,
  record_id      TEXT COLLATE "C" NOT NULL,
  customer       TEXT COLLATE "C" NOT NULL,    -- the tenant's own customer reference
  key            TEXT COLLATE "C" NOT NULL,    -- what is granted (a plan or item key)
  status         TEXT COLLATE "C" NOT NULL,    -- the record's status, one of the mapping's active values
  expires_at     BIGINT,                       -- unix seconds, when the mapping names such a member
  updated_at     BIGINT NOT NULL,              -- the record's updated_at (provider time, unix seconds)
  PRIMARY KEY(tenant_id, integration_id, model, record_id)
);
CREATE INDEX entitlements_by_customer ON entitlements(tenant_id, customer);

CREATE TABLE entitlement_cursors(
  tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  integration_id TEXT COLLATE "C" NOT NULL,
  model          TEXT COLLATE "C" NOT NULL,
  mapping        TEXT COLLATE "C" NOT NULL,    -- the mapping the rows were derived with (canonical text)
  last_seq       BIGINT NOT NULL,
  PRIMARY KEY(tenant_id, integration_id, model)
);
