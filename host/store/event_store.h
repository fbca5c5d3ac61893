// Normalized events per tenant (migrations/sqlite/0003_records.sql): append with a monotonically increasing
// id (never reused), list after an id with an optional type prefix, purge by age.
//
// Contract (as for Store): thread-safe; tenant-scoped by the FIRST parameter; failures are values. No SQLite
// type in this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"

namespace ih::store {

class Store;

struct EventRow {
  int64_t id = 0;  // assigned by the store on append
  std::string tenant_id;
  std::string integration_id;  // empty for host events that concern no integration
  std::string type;            // e.g. "invoice.paid"
  int64_t occurred_at = 0;     // unix ms
  std::string data_json;       // JSON object (validated by the caller)
  // Empty: always appended. Otherwise at most one event per (tenant, dedupe_key) is ever stored: a second
  // append with the key stores nothing and yields the row with id 0.
  std::string dedupe_key;
};

class EventStore {
 public:
  // `store` is borrowed and must outlive this object. Destroy this object before the Store (its destructor
  // releases a statement cached on the writer connection).
  explicit EventStore(Store& store);
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Called on the store's writer thread once the append is final (committed, or failed), in id order across
  // all appends. Must be quick and must not write to the store.
  using AppendDone = std::function<void(Result<EventRow>)>;
  // Async: queues the insert; `done` receives the row with its id (0: a repeat of a stored dedupe key,
  // nothing stored). kInvalidArgument (through `done`) when row.tenant_id differs from `tenant_id`. `group`
  // (may be null) learns of a failure before any write queued after this one runs (sinks::WriteGroup).
  void appendAsync(std::string_view tenant_id, EventRow row, AppendDone done,
                   sinks::Deferred group = nullptr);
  // Blocking form of appendAsync.
  Result<EventRow> append(std::string_view tenant_id, EventRow row);

  // Events with id > after_id, oldest first, at most `limit`; only types starting with `type_prefix` when it
  // is non-empty.
  Result<std::vector<EventRow>> list(std::string_view tenant_id, int64_t after_id,
                                     std::string_view type_prefix, size_t limit);
  // The tenant's newest event id (0 when none).
  Result<int64_t> lastId(std::string_view tenant_id);
  // Admin, cross-tenant (the replicas' fan-out, events/): events with id > after_id, oldest first, at most
  // `limit`; and the newest id of all (0 when none).
  Result<std::vector<EventRow>> listAll(int64_t after_id, size_t limit);
  Result<int64_t> lastIdOfAll();
  // Admin, cross-tenant (retention): deletes events that occurred before `occurred_before` (unix ms).
  Result<size_t> purgeBefore(int64_t occurred_before);

 private:
  Store& store_;
};

}  // namespace ih::store
