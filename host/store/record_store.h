// Synced provider records (with the out-of-order guard, tombstones and a per-tenant change sequence) and the
// stored results of idempotent actions. Built on Store's database (migrations/sqlite/0003_records.sql).
//
// Contract (as for Store): thread-safe; every method returns once durable; tenant-scoped by the FIRST
// parameter; failures are values (kInvalidArgument for rows that disagree with the tenant parameter,
// kUnavailable when the database is busy or closing, kInternal otherwise). No SQLite type in this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"

namespace ih::store {

class Store;

// One record as a plugin reports it. `data_json` must be a JSON object (validated by the caller: the store
// keeps the bytes as given).
struct RecordInput {
  std::string id;          // the provider's id, e.g. "cus_123"
  std::string data_json;   // JSON object
  int64_t updated_at = 0;  // provider timestamp, unix seconds
};

struct Record {
  std::string integration_id;
  std::string model;
  std::string id;
  std::string data_json;  // for a tombstone: the last data stored before the delete ("{}" if none)
  int64_t updated_at = 0;
  bool deleted = false;
  int64_t seq = 0;  // the tenant's change sequence number of the last write to this record
};

struct UpsertStats {
  size_t written = 0;  // inserted or changed (each took a new seq)
  size_t skipped = 0;  // older than stored, or identical to it (no new seq)
};

// Written rules, per (tenant, integration, model, id):
//  - An upsert older (updated_at strictly smaller) than the stored row is skipped. An equal updated_at
//  replaces
//    the row, unless the data is byte-identical (then nothing changes and no seq is taken).
//  - A tombstone (remove) is subject to the same guard. A tombstone wins ties: an upsert with the same
//    updated_at as a tombstone is skipped, so a late list page cannot resurrect a deleted object. A remove of
//    an unknown id stores a tombstone, so a later-arriving older upsert stays skipped.
//  - Every write that changes a row takes the tenant's next seq (strictly increasing, per tenant).
class RecordStore {
 public:
  // `store` is borrowed and must outlive this object. Destroy this object before the Store: its destructor
  // releases statements cached on the writer connection (it queues one write).
  explicit RecordStore(Store& store);
  ~RecordStore();
  RecordStore(const RecordStore&) = delete;
  RecordStore& operator=(const RecordStore&) = delete;

  // All of `records` in ONE write task (one transaction): all are applied or none. `stats` may be null.
  Status upsert(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                const std::vector<RecordInput>& records, UpsertStats* stats = nullptr);
  // As upsert, and in the same transaction sets plugin state `state_key` = `state_value` (the sync cursor of
  // the page), so a crash never stores a cursor without its records or the reverse.
  Status upsertWithState(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                         const std::vector<RecordInput>& records, std::string_view state_key,
                         std::string_view state_value, UpsertStats* stats = nullptr);
  // Stores a tombstone. `*written` (may be null) says whether it changed anything (false when guarded).
  Status remove(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                std::string_view id, int64_t updated_at, bool* written = nullptr);
  // The same two queued without waiting (sinks::WriteGroup): an error return means nothing was queued; a
  // failure to store is reported to `group` (may be null: nobody is told).
  Status upsertAsync(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                     std::vector<RecordInput> records, sinks::Deferred group);
  Status removeAsync(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                     std::string_view id, int64_t updated_at, sinks::Deferred group);

  // A record's data member `field` (1-64 of [A-Za-z0-9_]) equal to the string `value`.
  struct FieldEquals {
    std::string field;
    std::string value;
  };
  // Changes of one model after `after_seq`, in seq order, at most `limit`. Tombstones included.
  Result<std::vector<Record>> listChanges(std::string_view tenant_id, std::string_view integration_id,
                                          std::string_view model, int64_t after_seq, size_t limit);

  // One bounded step of a filtered listing: among the next `window` changes after `after_seq` (seq order),
  // those whose data matches every condition, at most `limit`. A request never reads more than `window` rows,
  // however rare the matches. kInvalidArgument for a field name out of the rule.
  struct FilteredPage {
    std::vector<Record> records;
    int64_t next_after = 0;  // continue after this seq: the last record returned, or the end of the window
    bool has_more = false;   // more matches, or changes not yet scanned
  };
  Result<FilteredPage> listMatching(std::string_view tenant_id, std::string_view integration_id,
                                    std::string_view model, int64_t after_seq, size_t limit,
                                    const std::vector<FieldEquals>& where, size_t window);
  // One record (tombstones included: check `deleted`); nullopt when never stored.
  Result<std::optional<Record>> get(std::string_view tenant_id, std::string_view integration_id,
                                    std::string_view model, std::string_view id);

 private:
  Status write(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
               const std::vector<RecordInput>& records, const std::string_view* state, UpsertStats* stats);

  Store& store_;
};

// The stored outcome of an action called with an Idempotency-Key.
struct ActionResult {
  std::string tenant_id;
  std::string integration_id;
  std::string idempotency_key;
  std::string request_hash;  // bytes; identifies the request the key was first used with
  int status = 200;          // HTTP status that was answered
  std::string response_json;
  int64_t created_at = 0;  // unix ms
};

class ActionResultStore {
 public:
  // `store` is borrowed and must outlive this object.
  explicit ActionResultStore(Store& store) : store_(store) {}

  Result<std::optional<ActionResult>> find(std::string_view tenant_id, std::string_view integration_id,
                                           std::string_view idempotency_key);
  // First writer wins: kAlreadyExists when the key is already stored (the stored row is unchanged).
  Status save(std::string_view tenant_id, const ActionResult& result);
  // Admin, cross-tenant (retention): deletes results created before `created_before` (unix ms).
  Result<size_t> purgeBefore(int64_t created_before);

 private:
  Store& store_;
};

}  // namespace ih::store
