// Entitlements, a view derived from records (migrations/sqlite/0010_entitlements.sql; host/entitlements keeps
// it current): the rows that grant something, and per (tenant, integration, model) the record seq applied.
//
// Contract (as for Store): thread-safe; tenant-scoped by the FIRST parameter; failures are values. No SQLite
// type in this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ih::store {

class Store;

struct EntitlementRow {
  std::string integration_id;
  std::string model;
  std::string record_id;
  std::string customer;
  std::string key;
  std::string status;
  std::optional<int64_t> expires_at;  // unix seconds
  int64_t updated_at = 0;             // the record's, unix seconds

  bool operator==(const EntitlementRow& o) const {
    return integration_id == o.integration_id && model == o.model && record_id == o.record_id &&
           customer == o.customer && key == o.key && status == o.status && expires_at == o.expires_at &&
           updated_at == o.updated_at;
  }
};

struct EntitlementCursor {
  std::string mapping;   // as last stored; empty when none
  int64_t last_seq = 0;  // 0 when none
};

class EntitlementStore {
 public:
  // `store` is borrowed and must outlive this object.
  explicit EntitlementStore(Store& store) : store_(store) {}

  Result<EntitlementCursor> cursor(std::string_view tenant_id, std::string_view integration_id,
                                   std::string_view model);
  // A customer's rows across integrations, ordered by (key, integration, model, record), at most `limit`.
  Result<std::vector<EntitlementRow>> forCustomer(std::string_view tenant_id, std::string_view customer,
                                                  size_t limit);
  // The stored rows of these records (absent ones are simply missing).
  Result<std::vector<EntitlementRow>> forRecords(std::string_view tenant_id, std::string_view integration_id,
                                                 std::string_view model, const std::vector<std::string>& ids);
  // One transaction: `removed` record ids are deleted, `rows` upserted, and the cursor set to
  // (mapping, last_seq). A changed mapping is rebuilt by starting again from seq 0: every record is visited
  // again (records are never dropped, tombstones stay), so no row outlives its record's new verdict.
  Status apply(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
               const std::vector<std::string>& removed, const std::vector<EntitlementRow>& rows,
               std::string_view mapping, int64_t last_seq);
  // Admin, cross-tenant: every tenant's last record change seq (records' record_sequences), tenant id order.
  Result<std::vector<std::pair<std::string, int64_t>>> recordSequences();

 private:
  Store& store_;
};

}  // namespace ih::store
