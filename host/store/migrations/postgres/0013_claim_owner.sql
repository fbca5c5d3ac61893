-- migration: claims name their process and expire (N replicas on one database)
-- A webhook event being dispatched ('processing') and an outbound delivery being sent ('sending') record which
-- ihost process claimed them (claimed_by, its replica id) and until when the claim holds (claim_expires_at,
-- unix ms). On PostgreSQL another replica takes over a claim that expired (its holder died); a restarting
-- process releases its own claims at once. With SQLite one process owns the file, so every claim left by a
-- crash is released at start as before.
ALTER TABLE webhook_events ADD COLUMN claimed_by TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE webhook_events ADD COLUMN claim_expires_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE endpoint_deliveries ADD COLUMN claimed_by TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE endpoint_deliveries ADD COLUMN claim_expires_at BIGINT NOT NULL DEFAULT 0;
-- Expired claims, for the takeover in the claim queries.
CREATE INDEX webhook_events_claims ON webhook_events(claim_expires_at) WHERE status = 'processing';
CREATE INDEX endpoint_deliveries_claims ON endpoint_deliveries(claim_expires_at) WHERE status = 'sending';
