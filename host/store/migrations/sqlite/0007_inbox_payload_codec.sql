-- migration: webhook payloads stored compressed (payload_codec)
ALTER TABLE webhook_events ADD COLUMN payload_codec TEXT NOT NULL DEFAULT '';
