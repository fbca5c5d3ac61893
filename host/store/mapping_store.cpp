// Mappings (migration 11, migrations/sqlite/0011_mappings.sql). See mapping_store.h.
#include "store/mapping_store.h"

#include "store/db.h"
#include "store/store.h"

namespace ih::store {

Result<MappingSet> MappingStore::get(std::string_view tenant_id, std::string_view integration_id) {
  return store_.database().read([&](sql::Connection& db) -> Result<MappingSet> {
    MappingSet set;
    sql::Statement when(db, "SELECT updated_at FROM mapping_sets WHERE tenant_id = ? AND integration_id = ?");
    when.bindText(1, tenant_id);
    when.bindText(2, integration_id);
    if (when.executeStep()) set.updated_at = when.getColumn(0).getInt64();
    sql::Statement q(db,
                     "SELECT kind, external_id, internal_id FROM mappings "
                     "WHERE tenant_id = ? AND integration_id = ? ORDER BY kind, external_id");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    while (q.executeStep())
      set.entries.push_back(
          {q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getString()});
    return set;
  });
}

Status MappingStore::replace(std::string_view tenant_id, std::string_view integration_id,
                             const std::vector<MappingEntry>& entries, int64_t now) {
  return store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement del(db, "DELETE FROM mappings WHERE tenant_id = ? AND integration_id = ?");
    del.bindText(1, tenant_id);
    del.bindText(2, integration_id);
    del.exec();
    sql::Statement put(db,
                       "INSERT INTO mappings(tenant_id, integration_id, kind, external_id, internal_id) "
                       "VALUES(?, ?, ?, ?, ?)");
    for (const MappingEntry& e : entries) {
      put.reset();
      put.bindText(1, tenant_id);
      put.bindText(2, integration_id);
      put.bindText(3, e.kind);
      put.bindText(4, e.external_id);
      put.bindText(5, e.internal_id);
      put.exec();
    }
    sql::Statement set(
        db,
        "INSERT INTO mapping_sets(tenant_id, integration_id, updated_at) VALUES(?, ?, ?) "
        "ON CONFLICT(tenant_id, integration_id) DO UPDATE SET updated_at = excluded.updated_at");
    set.bindText(1, tenant_id);
    set.bindText(2, integration_id);
    set.bind(3, now);
    set.exec();
    return Status::ok();
  });
}

}  // namespace ih::store
