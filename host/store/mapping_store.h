// Mappings of provider objects to the tenant's own ids (migration 11, migrations/sqlite/0011_mappings.sql;
// host/mappings validates and serves them).
//
// Contract (as for Store): thread-safe; tenant-scoped by the FIRST parameter; failures are values. No SQLite
// type in this header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ih::store {

class Store;

struct MappingEntry {
  std::string kind;         // e.g. "product"
  std::string external_id;  // the provider's id
  std::string internal_id;  // the tenant's id
};

struct MappingSet {
  std::vector<MappingEntry> entries;  // ordered by (kind, external_id)
  std::optional<int64_t> updated_at;  // unix seconds; nullopt when never set
};

class MappingStore {
 public:
  // `store` is borrowed and must outlive this object.
  explicit MappingStore(Store& store) : store_(store) {}

  Result<MappingSet> get(std::string_view tenant_id, std::string_view integration_id);
  // One transaction: the tenant's whole set for the integration becomes `entries`, updated_at = `now`.
  Status replace(std::string_view tenant_id, std::string_view integration_id,
                 const std::vector<MappingEntry>& entries, int64_t now);

 private:
  Store& store_;
};

}  // namespace ih::store
