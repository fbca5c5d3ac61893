// OAuth states (migration 6, migrations/sqlite/0006_oauth.sql). See oauth_store.h.
#include "store/oauth_store.h"

#include "store/db.h"
#include "store/store.h"

namespace ih::store {

OAuthStore::OAuthStore(Store& store) : db_(store.database()) {}

Status OAuthStore::insertState(const OAuthStateRow& row) {
  return db_.writeSync([&](sql::Connection& db) {
    sql::Statement q(
        db,
        "INSERT INTO oauth_states(nonce_hash, tenant_id, integration_id, created_at, expires_at) "
        "VALUES(?, ?, ?, ?, ?)");
    q.bindBlob(1, row.nonce_hash);
    q.bindText(2, row.tenant_id);
    q.bindText(3, row.integration_id);
    q.bind(4, row.created_at);
    q.bind(5, row.expires_at);
    q.exec();
    return Status::ok();
  });
}

Result<std::optional<OAuthStateRow>> OAuthStore::findState(std::string_view nonce_hash) {
  return db_.read([&](sql::Connection& db) -> Result<std::optional<OAuthStateRow>> {
    sql::Statement q(
        db,
        "SELECT tenant_id, integration_id, created_at, expires_at, consumed_at FROM oauth_states "
        "WHERE nonce_hash = ?");
    q.bindBlob(1, nonce_hash);
    if (!q.executeStep()) return std::optional<OAuthStateRow>();
    OAuthStateRow row;
    row.nonce_hash = std::string(nonce_hash);
    row.tenant_id = q.getColumn(0).getString();
    row.integration_id = q.getColumn(1).getString();
    row.created_at = q.getColumn(2).getInt64();
    row.expires_at = q.getColumn(3).getInt64();
    if (!q.getColumn(4).isNull()) row.consumed_at = q.getColumn(4).getInt64();
    return std::optional<OAuthStateRow>(std::move(row));
  });
}

Result<bool> OAuthStore::consumeState(std::string_view nonce_hash, int64_t now_ms) {
  bool consumed = false;
  Status st = db_.writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "UPDATE oauth_states SET consumed_at = ? "
                     "WHERE nonce_hash = ? AND consumed_at IS NULL AND expires_at > ?");
    q.bind(1, now_ms);
    q.bindBlob(2, nonce_hash);
    q.bind(3, now_ms);
    consumed = q.exec() == 1;
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return consumed;
}

Result<size_t> OAuthStore::pruneStates(int64_t before_ms) {
  size_t deleted = 0;
  Status st = db_.writeSync([&](sql::Connection& db) {
    sql::Statement q(db, "DELETE FROM oauth_states WHERE expires_at < ?");
    q.bind(1, before_ms);
    deleted = static_cast<size_t>(q.exec());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return deleted;
}

}  // namespace ih::store
