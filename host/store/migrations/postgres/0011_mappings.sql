-- migration: mappings of provider objects to the tenant's own ids (host/mappings)
-- Per (tenant, integration): for each kind the plugin's manifest declares ("product", "price", ...), provider
-- id -> the tenant's id. PUT /api/integrations/{id}/mappings replaces the whole set in one transaction;
-- mapping_sets keeps when it was last replaced.
CREATE TABLE mappings(
  tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  integration_id TEXT COLLATE "C" NOT NULL,
  kind           TEXT COLLATE "C" NOT NULL,
  external_id    TEXT COLLATE "C" NOT NULL,    -- the provider's id (e.g. prod_...)
  internal_id    TEXT COLLATE "C" NOT NULL,    -- the tenant's own id (e.g. a SKU)
  PRIMARY KEY(tenant_id, integration_id, kind, external_id)
);

CREATE TABLE mapping_sets(
  tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  integration_id TEXT COLLATE "C" NOT NULL,
  updated_at     BIGINT NOT NULL, -- unix seconds
  PRIMARY KEY(tenant_id, integration_id)
);
