-- migration: webhook events in flight by object (one object's events one at a time)
-- Events being dispatched, by object: the claim skips an event while another event of the same object is in
-- flight, so one object's events are handled one at a time (entries exist only while 'processing').
CREATE INDEX webhook_events_in_flight ON webhook_events(tenant_id, integration_id, object_id)
  WHERE status = 'processing' AND object_id != '';
