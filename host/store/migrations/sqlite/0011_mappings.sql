-- migration: mappings of provider objects to the tenant's own ids (host/mappings)
-- Per (tenant, integration): for each kind the plugin's manifest declares ("product", "price", ...), provider
-- id -> the tenant's id. PUT /api/integrations/{id}/mappings replaces the whole set in one transaction;
-- mapping_sets keeps when it was last replaced.
CREATE TABLE mappings(
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL,
  kind           TEXT NOT NULL,
  external_id    TEXT NOT NULL,    -- the provider's id (e.g. prod_...)
  internal_id    TEXT NOT NULL,    -- the tenant's own id (e.g. a SKU)
  PRIMARY KEY(tenant_id, integration_id, kind, external_id)
) WITHOUT ROWID;

CREATE TABLE mapping_sets(
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  integration_id TEXT NOT NULL,
  updated_at     INTEGER NOT NULL, -- unix seconds
  PRIMARY KEY(tenant_id, integration_id)
) WITHOUT ROWID;
