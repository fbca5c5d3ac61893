-- migration: events emitted while handling a webhook are stored once per handling
-- A webhook handled again after a crash (claimed, handler ran, host killed before the outcome was recorded)
-- emits the same events again: they carry a dedupe key ("inbox:<row>:<replays>:<type>:<n>") and the second
-- insert is a no-op. Events without a key (NULL) are never deduplicated. A replay is a new handling: the
-- key's <replays> part changes, so a replay emits new events.
ALTER TABLE events ADD COLUMN dedupe_key TEXT COLLATE "C";
CREATE UNIQUE INDEX events_dedupe ON events(tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
ALTER TABLE webhook_events ADD COLUMN replays BIGINT NOT NULL DEFAULT 0;
