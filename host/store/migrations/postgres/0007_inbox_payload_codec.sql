-- migration: webhook payloads stored compressed (payload_codec)
ALTER TABLE webhook_events ADD COLUMN payload_codec TEXT COLLATE "C" NOT NULL DEFAULT '';
