-- migration: the webhook inbox moves to its own database file
-- The inbox's tables (events, attempts, object watermarks) move to <name>-inbox.db (schema:
-- migrations/sqlite_inbox/), attached as "inbox" while this runs. webhook_routes stays: it is configuration
-- that names tenants. Row ids move unchanged, and so do the AUTOINCREMENT counters: an inbox row id is part of
-- the dedupe keys of the events its handlings emitted, so a pruned id must never be handed out again. INSERT OR
-- IGNORE: a copy interrupted after the inbox file committed (the two files commit apart) runs again safely.
INSERT OR IGNORE INTO inbox.webhook_events(
    id, integration_id, tenant_id, account, event_id, type, object_id, occurred_at, payload, payload_sha256,
    headers_json, status, attempts, next_attempt_at, received_at, updated_at, processed_at, last_error,
    duplicates, conflicts, payload_codec, replays, claimed_by, claim_expires_at)
  SELECT id, integration_id, tenant_id, account, event_id, type, object_id, occurred_at, payload,
    payload_sha256, headers_json, status, attempts, next_attempt_at, received_at, updated_at, processed_at,
    last_error, duplicates, conflicts, payload_codec, replays, claimed_by, claim_expires_at
  FROM main.webhook_events;
INSERT OR IGNORE INTO inbox.webhook_attempts(id, event_row, attempt, started_at, duration_ms, ok, error)
  SELECT id, event_row, attempt, started_at, duration_ms, ok, error FROM main.webhook_attempts;
INSERT OR IGNORE INTO inbox.webhook_objects(tenant_id, integration_id, object_id, occurred_at)
  SELECT tenant_id, integration_id, object_id, occurred_at FROM main.webhook_objects;
-- The counters only ever go up: the higher of the two files' wins.
UPDATE inbox.sqlite_sequence
  SET seq = max(seq, (SELECT m.seq FROM main.sqlite_sequence AS m WHERE m.name = inbox.sqlite_sequence.name))
  WHERE name IN (SELECT name FROM main.sqlite_sequence WHERE name IN ('webhook_events', 'webhook_attempts'));
INSERT INTO inbox.sqlite_sequence(name, seq)
  SELECT m.name, m.seq FROM main.sqlite_sequence AS m
  WHERE m.name IN ('webhook_events', 'webhook_attempts')
    AND NOT EXISTS (SELECT 1 FROM inbox.sqlite_sequence AS i WHERE i.name = m.name);
DROP TABLE main.webhook_attempts;
DROP TABLE main.webhook_objects;
DROP TABLE main.webhook_events;
