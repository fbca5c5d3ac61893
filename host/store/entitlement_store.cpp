// Entitlements view (migration 10, migrations/sqlite/0010_entitlements.sql). See entitlement_store.h.
#include "store/entitlement_store.h"

#include "store/db.h"
#include "store/store.h"

namespace ih::store {
namespace {

constexpr const char* kColumns =
    "SELECT integration_id, model, record_id, customer, key, status, expires_at, updated_at FROM "
    "entitlements ";

EntitlementRow rowFrom(sql::Statement& q) {
  EntitlementRow r;
  r.integration_id = q.getColumn(0).getString();
  r.model = q.getColumn(1).getString();
  r.record_id = q.getColumn(2).getString();
  r.customer = q.getColumn(3).getString();
  r.key = q.getColumn(4).getString();
  r.status = q.getColumn(5).getString();
  if (!q.getColumn(6).isNull()) r.expires_at = q.getColumn(6).getInt64();
  r.updated_at = q.getColumn(7).getInt64();
  return r;
}

}  // namespace

Result<EntitlementCursor> EntitlementStore::cursor(std::string_view tenant_id,
                                                   std::string_view integration_id, std::string_view model) {
  return store_.database().read([&](sql::Connection& db) -> Result<EntitlementCursor> {
    sql::Statement q(db,
                     "SELECT mapping, last_seq FROM entitlement_cursors "
                     "WHERE tenant_id = ? AND integration_id = ? AND model = ?");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    q.bindText(3, model);
    EntitlementCursor c;
    if (q.executeStep()) {
      c.mapping = q.getColumn(0).getString();
      c.last_seq = q.getColumn(1).getInt64();
    }
    return c;
  });
}

Result<std::vector<EntitlementRow>> EntitlementStore::forCustomer(std::string_view tenant_id,
                                                                  std::string_view customer, size_t limit) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<EntitlementRow>> {
    sql::Statement q(db, std::string(kColumns) +
                             "WHERE tenant_id = ? AND customer = ? "
                             "ORDER BY key, integration_id, model, record_id LIMIT ?");
    q.bindText(1, tenant_id);
    q.bindText(2, customer);
    q.bind(3, static_cast<int64_t>(limit));
    std::vector<EntitlementRow> out;
    while (q.executeStep())
      out.push_back(rowFrom(q));
    return out;
  });
}

Result<std::vector<EntitlementRow>> EntitlementStore::forRecords(std::string_view tenant_id,
                                                                 std::string_view integration_id,
                                                                 std::string_view model,
                                                                 const std::vector<std::string>& ids) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<EntitlementRow>> {
    sql::Statement q(db, std::string(kColumns) +
                             "WHERE tenant_id = ? AND integration_id = ? AND model = ? AND record_id = ?");
    std::vector<EntitlementRow> out;
    for (const std::string& id : ids) {
      q.reset();
      q.bindText(1, tenant_id);
      q.bindText(2, integration_id);
      q.bindText(3, model);
      q.bindText(4, id);
      if (q.executeStep()) out.push_back(rowFrom(q));
    }
    return out;
  });
}

Status EntitlementStore::apply(std::string_view tenant_id, std::string_view integration_id,
                               std::string_view model, const std::vector<std::string>& removed,
                               const std::vector<EntitlementRow>& rows, std::string_view mapping,
                               int64_t last_seq) {
  return store_.database().writeSync([&](sql::Connection& db) {
    auto scope = [&](sql::Statement& q) {
      q.bindText(1, tenant_id);
      q.bindText(2, integration_id);
      q.bindText(3, model);
    };
    sql::Statement del(db,
                       "DELETE FROM entitlements "
                       "WHERE tenant_id = ? AND integration_id = ? AND model = ? AND record_id = ?");
    for (const std::string& id : removed) {
      del.reset();
      scope(del);
      del.bindText(4, id);
      del.exec();
    }
    sql::Statement put(
        db,
        "INSERT INTO entitlements(tenant_id, integration_id, model, record_id, customer, key, status, "
        "expires_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(tenant_id, integration_id, model, record_id) DO UPDATE SET customer = "
        "excluded.customer, "
        "key = excluded.key, status = excluded.status, expires_at = excluded.expires_at, "
        "updated_at = excluded.updated_at");
    for (const EntitlementRow& r : rows) {
      put.reset();
      scope(put);
      put.bindText(4, r.record_id);
      put.bindText(5, r.customer);
      put.bindText(6, r.key);
      put.bindText(7, r.status);
      if (r.expires_at) {
        put.bind(8, *r.expires_at);
      } else {
        put.bindNull(8);
      }
      put.bind(9, r.updated_at);
      put.exec();
    }
    sql::Statement cur(db,
                       "INSERT INTO entitlement_cursors(tenant_id, integration_id, model, mapping, last_seq) "
                       "VALUES(?, ?, ?, ?, ?) ON CONFLICT(tenant_id, integration_id, model) "
                       "DO UPDATE SET mapping = excluded.mapping, last_seq = excluded.last_seq");
    scope(cur);
    cur.bindText(4, mapping);
    cur.bind(5, last_seq);
    cur.exec();
    return Status::ok();
  });
}

Result<std::vector<std::pair<std::string, int64_t>>> EntitlementStore::recordSequences() {
  return store_.database().read(
      [&](sql::Connection& db) -> Result<std::vector<std::pair<std::string, int64_t>>> {
        sql::Statement q(db, "SELECT tenant_id, last_seq FROM record_sequences ORDER BY tenant_id");
        std::vector<std::pair<std::string, int64_t>> out;
        while (q.executeStep())
          out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getInt64());
        return out;
      });
}

}  // namespace ih::store
