// Synced provider records: the RecordSink plugins write through (JSON validated here), and the tenant API
// that reads them (changes by cursor, one record). Storage rules (out-of-order guard, tombstones, per-tenant
// seq) are in store/record_store.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "common/sinks.h"
#include "common/status.h"
#include "store/record_store.h"

namespace ih::http {
class Server;
}
namespace ih::tenancy {
class Tenancy;
}

namespace ih::records {

// Most records one upsert call may carry (it is one transaction on the single writer).
inline constexpr size_t kMaxRecordsPerCall = 50000;

// Thread-safe. Destroy before the Store it was built on.
class Records final : public sinks::RecordSink {
 public:
  // `store` is borrowed and must outlive this object.
  explicit Records(store::Store& store);

  // `records_json`: [{"id":string,"data":object,"updated_at":integer unix seconds}, ...]. The whole array is
  // one transaction. kInvalidArgument naming the element and field when the JSON is malformed (nothing is
  // written); kTooLarge beyond kMaxRecordsPerCall. Older-than-stored records are skipped, not errors.
  // `deferred` (may be null): validated now, stored later (sinks::WriteGroup).
  Status upsert(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                std::string_view records_json, const sinks::Deferred& deferred) override;
  Status upsert(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                std::string_view records_json) {
    return upsert(tenant_id, integration_id, model, records_json, nullptr);
  }
  Status remove(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                std::string_view id, int64_t updated_at, const sinks::Deferred& deferred) override;
  Status remove(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                std::string_view id, int64_t updated_at) {
    return remove(tenant_id, integration_id, model, id, updated_at, nullptr);
  }
  Status commit(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                std::string_view records_json, std::string_view state_key,
                std::string_view state_value) override {
    return upsertWithState(tenant_id, integration_id, model, records_json, state_key, state_value);
  }
  // upsert + plugin state `state_key` = `state_value` in the same transaction (a sync page and its cursor).
  Status upsertWithState(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                         std::string_view records_json, std::string_view state_key,
                         std::string_view state_value, store::UpsertStats* stats = nullptr);

  store::RecordStore& recordStore() { return store_; }

 private:
  store::RecordStore store_;
};

// Validates `records_json` (see Records::upsert) into rows; `model` is checked too. Exposed for
// tests/benches.
Result<std::vector<store::RecordInput>> parseRecords(std::string_view model, std::string_view records_json);

// kInvalidArgument naming the rule unless `model` is a record model name: 1-64 characters of [A-Za-z0-9_.-].
Status checkModel(std::string_view model);

// Whether an integration id names a configured, enabled integration (the API answers 404 otherwise).
using KnownIntegration = std::function<bool(std::string_view integration_id)>;

// GET /api/records/{integration}/{model}?after=<seq>&limit=<1..1000, default 100>[&data.<field>=<value>...]
//   (data.<field>: only records whose data member <field> ([A-Za-z0-9_], 1-64) is that string; at most 4. A
//   filtered page reads at most 5,000 changes: it may hold fewer than `limit` records, even none, with
//   has_more true; continue from next_after)
//   → {"object":"list","data":[{"id","model","data","updated_at","deleted","seq"}],"next_after":seq,
//      "has_more":bool}   (changes in seq order; tombstones have "deleted":true and their last data)
// GET /api/records/{integration}/{model}/{id} → the record (a tombstone answers 200 with "deleted":true), 404
//   record_not_found otherwise.
// Both need the "read" scope and only ever see the caller's tenant. 404 unknown_integration when `known` (if
// set) says no; 400 invalid_request for a model name that can never exist or after/limit out of range.
// `tenancy` and `records` are borrowed and must outlive the server. Call before server.start().
// `annotate` (may be null): for the records of one answer, members to add to each (text like
// `"mapped":{...}`, or empty for none); its failure fails the request.
using Annotate = std::function<Result<std::vector<std::string>>(
    std::string_view tenant_id, std::string_view integration_id, std::string_view model,
    const std::vector<store::Record>& rows)>;
void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Records& records,
                    KnownIntegration known = nullptr, Annotate annotate = nullptr);

}  // namespace ih::records
