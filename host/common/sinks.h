// Interfaces through which plugin calls reach the records store, the event stream and the webhook inbox.
// Header-only and at the bottom of the module order, so records, events and the inbox implement them and the
// runtime calls them without either depending on the other.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "common/status.h"

namespace ih::sinks {

// The writes of one plugin call that need not be durable when the plugin's host call returns, because what
// the call achieved is recorded after them, in the same or a later transaction (the inbox's handling of a
// webhook: its attempt outcome). A sink given a group validates at once (the plugin still sees bad input),
// queues the write behind the ones before it and returns; a write that then fails to be stored is reported
// here, at the latest by the time a write queued after it runs. Thread-safe.
class WriteGroup {
 public:
  void fail(const Status& status) {
    std::lock_guard lock(mu_);
    if (first_failure_.isOk()) first_failure_ = status;
  }
  // Ok, or the first failure.
  Status status() const {
    std::lock_guard lock(mu_);
    return first_failure_;
  }

 private:
  mutable std::mutex mu_;
  Status first_failure_;  // GUARDED_BY(mu_)
};

// Null: write synchronously (the call returns once the write is durable).
using Deferred = std::shared_ptr<WriteGroup>;

// Where plugin records and events go. Implemented by the records and events modules; thread-safe.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // `records_json` is an array of {"id","data","updated_at"}; older than stored → skipped. With `deferred`
  // set, see WriteGroup.
  virtual Status upsert(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                        std::string_view records_json, const Deferred& deferred) = 0;
  virtual Status remove(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                        std::string_view id, int64_t updated_at, const Deferred& deferred) = 0;
  // upsert + plugin state `state_key` = `state_value` in ONE transaction (a sync page with its cursor).
  virtual Status commit(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                        std::string_view records_json, std::string_view state_key,
                        std::string_view state_value) = 0;
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // `dedupe_key`: empty, or a key that makes the event at-most-once per tenant: an emit with a key already
  // stored succeeds and stores nothing (a webhook handled again after a crash re-emits the same events).
  // With `deferred` set, see WriteGroup.
  virtual Status emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
                      std::string_view data_json, std::string_view dedupe_key, const Deferred& deferred) = 0;
};

// The webhook inbox as seen from plugin calls: feeding reconciled events in, and routing platform accounts.
// Implemented by the inbox module; thread-safe.
class InboxSink {
 public:
  virtual ~InboxSink() = default;
  // Stores an event as if its webhook had arrived (deduplicated by event id). `meta_json`:
  // {"event_id","type","occurred_at","object_id"?}. Returns true when it was a duplicate.
  virtual Result<bool> ingest(std::string_view integration_id, std::string_view tenant_id,
                              std::string_view meta_json, std::string_view body) = 0;
  // Binds (or unbinds) a provider account to a tenant for platform webhooks. kConflict when another tenant
  // holds the account.
  virtual Status bindAccount(std::string_view integration_id, std::string_view account,
                             std::string_view tenant_id, bool bind) = 0;
};

}  // namespace ih::sinks
