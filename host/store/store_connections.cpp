// Store: vault ciphertexts, connections and the audit log.
#include <utility>

#include "log/log.h"
#include "store/db.h"
#include "store/store.h"

namespace ih::store {
namespace {

// Rows carry their tenant; the explicit parameter is the authority and a disagreement is a caller bug.
Status checkTenant(std::string_view tenant_id, std::string_view row_tenant, std::string_view what) {
  if (tenant_id.empty()) return Status::invalidArgument("tenant id is empty");
  if (row_tenant != tenant_id) {
    return Status::invalidArgument(std::string(what) + " belongs to tenant " + inQuotes(row_tenant) +
                                   ", not to tenant " + inQuotes(tenant_id));
  }
  return Status::ok();
}

constexpr const char* kSecretColumns =
    "tenant_id, integration_id, purpose, key_id, nonce, ciphertext, updated_at";

SecretRow secretFrom(sql::Statement& q) {
  SecretRow r;
  r.tenant_id = q.getColumn(0).getString();
  r.integration_id = q.getColumn(1).getString();
  r.purpose = q.getColumn(2).getString();
  r.key_id = q.getColumn(3).getString();
  r.nonce = q.getColumn(4).getString();
  r.ciphertext = q.getColumn(5).getString();
  r.updated_at = q.getColumn(6).getInt64();
  return r;
}

void upsertSecret(sql::Connection& db, const SecretRow& row) {
  sql::Statement q(
      db,
      "INSERT INTO secrets(tenant_id, integration_id, purpose, key_id, nonce, ciphertext, updated_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(tenant_id, integration_id, purpose) DO UPDATE SET "
      "key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext, "
      "updated_at = excluded.updated_at");
  q.bind(1, row.tenant_id);
  q.bind(2, row.integration_id);
  q.bind(3, row.purpose);
  q.bind(4, row.key_id);
  q.bindBlob(5, row.nonce);
  q.bindBlob(6, row.ciphertext);
  q.bind(7, row.updated_at);
  q.exec();
}

void deleteSecretsOf(sql::Connection& db, std::string_view tenant_id, std::string_view integration_id) {
  sql::Statement q(db, "DELETE FROM secrets WHERE tenant_id = ? AND integration_id = ?");
  q.bindText(1, tenant_id);
  q.bindText(2, integration_id);
  q.exec();
}

void insertAudit(sql::Connection& db, std::string_view tenant_id, const AuditEntry& e) {
  sql::Statement q(db,
                   "INSERT INTO audit_log(tenant_id, integration_id, actor, action, detail_json, at) "
                   "VALUES (?, ?, ?, ?, ?, ?)");
  q.bindText(1, tenant_id);
  q.bind(2, e.integration_id);
  q.bind(3, e.actor);
  q.bind(4, e.action);
  q.bind(5, e.detail_json);
  q.bind(6, e.at);
  q.exec();
}

Result<ConnectionStatus> connectionStatusFrom(const std::string& name) {
  if (name == "active") return ConnectionStatus::kActive;
  if (name == "inactive") return ConnectionStatus::kInactive;
  if (name == "error") return ConnectionStatus::kError;
  return Status::internal("unknown connection status " + inQuotes(name) + " in the database");
}

constexpr const char* kConnectionColumns =
    "tenant_id, integration_id, status, info_json, connected_at, updated_at, last_check_at, last_check_ok, "
    "last_error";

Result<Connection> connectionFrom(sql::Statement& q) {
  Connection c;
  c.tenant_id = q.getColumn(0).getString();
  c.integration_id = q.getColumn(1).getString();
  Result<ConnectionStatus> status = connectionStatusFrom(q.getColumn(2).getString());
  if (!status.isOk()) return status.status();
  c.status = *status;
  c.info_json = q.getColumn(3).getString();
  c.connected_at = q.getColumn(4).getInt64();
  c.updated_at = q.getColumn(5).getInt64();
  if (!q.getColumn(6).isNull()) c.last_check_at = q.getColumn(6).getInt64();
  if (!q.getColumn(7).isNull()) c.last_check_ok = q.getColumn(7).getInt() != 0;
  if (!q.getColumn(8).isNull()) c.last_error = q.getColumn(8).getString();
  return c;
}

}  // namespace

std::string_view connectionStatusName(ConnectionStatus status) {
  switch (status) {
    case ConnectionStatus::kActive:
      return "active";
    case ConnectionStatus::kInactive:
      return "inactive";
    case ConnectionStatus::kError:
      return "error";
  }
  return "error";
}

// --- secrets ---

class Store::SecretsWritten {
 public:
  explicit SecretsWritten(Store& store) : store_(store) {}
  ~SecretsWritten() { store_.secrets_generation_.fetch_add(1, std::memory_order_release); }
  SecretsWritten(const SecretsWritten&) = delete;
  SecretsWritten& operator=(const SecretsWritten&) = delete;

 private:
  Store& store_;
};

Status Store::putSecret(const SecretRow& row) {
  SecretsWritten written(*this);
  return db_->writeSync([&](sql::Connection& db) {
    upsertSecret(db, row);
    return Status::ok();
  });
}

Result<SecretRow> Store::getSecret(std::string_view tenant_id, std::string_view integration_id,
                                   std::string_view purpose) {
  return db_->read([&](sql::Connection& db) -> Result<SecretRow> {
    sql::Statement q(db, std::string("SELECT ") + kSecretColumns +
                             " FROM secrets WHERE tenant_id = ? AND integration_id = ? AND purpose = ?");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    q.bindText(3, purpose);
    if (!q.executeStep()) {
      return Status::notFound("no " + std::string(purpose) + " secret for integration " +
                              inQuotes(integration_id));
    }
    return secretFrom(q);
  });
}

Status Store::deleteSecrets(std::string_view tenant_id, std::string_view integration_id) {
  SecretsWritten written(*this);
  return db_->writeSync([&](sql::Connection& db) {
    deleteSecretsOf(db, tenant_id, integration_id);
    return Status::ok();
  });
}

Result<std::vector<SecretRow>> Store::listSecretsNotUsingKey(std::string_view key_id, size_t limit) {
  return db_->read([&](sql::Connection& db) -> Result<std::vector<SecretRow>> {
    sql::Statement q(db, std::string("SELECT ") + kSecretColumns +
                             " FROM secrets WHERE key_id <> ? ORDER BY tenant_id, integration_id, purpose "
                             "LIMIT ?");
    q.bindText(1, key_id);
    q.bind(2, static_cast<int64_t>(limit));
    std::vector<SecretRow> out;
    while (q.executeStep())
      out.push_back(secretFrom(q));
    return out;
  });
}

Result<bool> Store::replaceSecretIfUnchanged(const SecretRow& old_row, const SecretRow& new_row) {
  SecretsWritten written(*this);
  if (old_row.tenant_id != new_row.tenant_id || old_row.integration_id != new_row.integration_id ||
      old_row.purpose != new_row.purpose) {
    return Status::invalidArgument("replaceSecretIfUnchanged: the old and new rows have different keys");
  }
  bool replaced = false;
  Status st = db_->writeSync([&](sql::Connection& db) {
    sql::Statement q(
        db,
        "UPDATE secrets SET key_id = ?, nonce = ?, ciphertext = ?, updated_at = ? "
        "WHERE tenant_id = ? AND integration_id = ? AND purpose = ? AND key_id = ? AND nonce = ?");
    q.bind(1, new_row.key_id);
    q.bindBlob(2, new_row.nonce);
    q.bindBlob(3, new_row.ciphertext);
    q.bind(4, new_row.updated_at);
    q.bind(5, old_row.tenant_id);
    q.bind(6, old_row.integration_id);
    q.bind(7, old_row.purpose);
    q.bind(8, old_row.key_id);
    q.bindBlob(9, old_row.nonce);
    replaced = q.exec() == 1;
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return replaced;
}

Result<size_t> Store::countSecretsByKey(std::string_view key_id) {
  return db_->read([&](sql::Connection& db) -> Result<size_t> {
    sql::Statement q(db, "SELECT COUNT(*) FROM secrets WHERE key_id = ?");
    q.bindText(1, key_id);
    q.executeStep();
    return static_cast<size_t>(q.getColumn(0).getInt64());
  });
}

// --- connections ---

Status Store::saveConnection(std::string_view tenant_id, const std::vector<SecretRow>& secrets,
                             const Connection& connection, const AuditEntry& audit) {
  if (Status st = checkTenant(tenant_id, connection.tenant_id, "the connection"); !st.isOk()) return st;
  if (Status st = checkTenant(tenant_id, audit.tenant_id, "the audit entry"); !st.isOk()) return st;
  for (const SecretRow& s : secrets) {
    if (Status st = checkTenant(tenant_id, s.tenant_id, "a secret"); !st.isOk()) return st;
    if (s.integration_id != connection.integration_id) {
      return Status::invalidArgument("a secret is for integration " + inQuotes(s.integration_id) + ", not " +
                                     inQuotes(connection.integration_id));
    }
  }
  SecretsWritten written(*this);
  return db_->writeSync([&](sql::Connection& db) {
    deleteSecretsOf(db, tenant_id, connection.integration_id);
    for (const SecretRow& s : secrets)
      upsertSecret(db, s);
    sql::Statement q(
        db,
        "INSERT INTO connections(tenant_id, integration_id, status, info_json, connected_at, "
        "updated_at, last_check_at, last_check_ok, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(tenant_id, integration_id) DO UPDATE SET status = excluded.status, "
        "info_json = excluded.info_json, connected_at = excluded.connected_at, "
        "updated_at = excluded.updated_at, last_check_at = excluded.last_check_at, "
        "last_check_ok = excluded.last_check_ok, last_error = excluded.last_error");
    q.bindText(1, tenant_id);
    q.bind(2, connection.integration_id);
    q.bindText(3, connectionStatusName(connection.status));
    q.bind(4, connection.info_json);
    q.bind(5, connection.connected_at);
    q.bind(6, connection.updated_at);
    if (connection.last_check_at) q.bind(7, *connection.last_check_at);
    if (connection.last_check_ok) q.bind(8, *connection.last_check_ok ? 1 : 0);
    if (connection.last_error) q.bind(9, *connection.last_error);
    q.exec();
    insertAudit(db, tenant_id, audit);
    return Status::ok();
  });
}

Status Store::removeConnection(std::string_view tenant_id, std::string_view integration_id,
                               const AuditEntry& audit) {
  if (Status st = checkTenant(tenant_id, audit.tenant_id, "the audit entry"); !st.isOk()) return st;
  SecretsWritten written(*this);
  return db_->writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "UPDATE connections SET status = 'inactive', updated_at = ? "
                     "WHERE tenant_id = ? AND integration_id = ?");
    q.bind(1, audit.at);
    q.bindText(2, tenant_id);
    q.bindText(3, integration_id);
    if (q.exec() == 0)
      return Status::notFound("integration " + inQuotes(integration_id) + " is not connected");
    deleteSecretsOf(db, tenant_id, integration_id);
    insertAudit(db, tenant_id, audit);
    return Status::ok();
  });
}

Status Store::recordHealthCheck(std::string_view tenant_id, std::string_view integration_id, bool ok,
                                std::string_view error, int64_t at) {
  return db_->writeSync([&](sql::Connection& db) {
    sql::Statement q(
        db,
        "UPDATE connections SET last_check_at = ?1, last_check_ok = ?2, last_error = ?3, "
        "updated_at = CASE WHEN updated_at > ?4 THEN updated_at ELSE ?4 END, "
        "status = CASE WHEN status = 'inactive' THEN 'inactive' WHEN ?5 <> 0 THEN 'active' ELSE 'error' END "
        "WHERE tenant_id = ?6 AND integration_id = ?7");
    q.bind(1, at);
    q.bind(2, ok ? 1 : 0);
    if (!ok) q.bind(3, redact(error));
    q.bind(4, at);
    q.bind(5, ok ? 1 : 0);
    q.bindText(6, tenant_id);
    q.bindText(7, integration_id);
    if (q.exec() == 0)
      return Status::notFound("integration " + inQuotes(integration_id) + " is not connected");
    return Status::ok();
  });
}

Result<std::optional<Connection>> Store::getConnection(std::string_view tenant_id,
                                                       std::string_view integration_id) {
  return db_->read([&](sql::Connection& db) -> Result<std::optional<Connection>> {
    sql::Statement q(db, std::string("SELECT ") + kConnectionColumns +
                             " FROM connections WHERE tenant_id = ? AND integration_id = ?");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    if (!q.executeStep()) return std::optional<Connection>();
    Result<Connection> c = connectionFrom(q);
    if (!c.isOk()) return c.status();
    return std::optional<Connection>(std::move(c).value());
  });
}

Result<std::vector<Connection>> Store::listConnections(std::string_view tenant_id) {
  return db_->read([&](sql::Connection& db) -> Result<std::vector<Connection>> {
    sql::Statement q(db, std::string("SELECT ") + kConnectionColumns +
                             " FROM connections WHERE tenant_id = ? ORDER BY integration_id");
    q.bindText(1, tenant_id);
    std::vector<Connection> out;
    while (q.executeStep()) {
      Result<Connection> c = connectionFrom(q);
      if (!c.isOk()) return c.status();
      out.push_back(std::move(c).value());
    }
    return out;
  });
}

Result<std::vector<std::string>> Store::listActiveTenants(std::string_view integration_id) {
  return db_->read([&](sql::Connection& db) -> Result<std::vector<std::string>> {
    sql::Statement q(db,
                     "SELECT tenant_id FROM connections WHERE integration_id = ? "
                     "AND status IN ('active', 'error') ORDER BY tenant_id");
    q.bindText(1, integration_id);
    std::vector<std::string> out;
    while (q.executeStep())
      out.push_back(q.getColumn(0).getString());
    return out;
  });
}

// --- audit ---

Status Store::appendAudit(const AuditEntry& entry) {
  if (entry.tenant_id.empty()) return Status::invalidArgument("audit entry has no tenant id");
  return db_->writeSync([&](sql::Connection& db) {
    insertAudit(db, entry.tenant_id, entry);
    return Status::ok();
  });
}

Result<std::vector<AuditEntry>> Store::listAudit(std::string_view tenant_id, int64_t after_id, size_t limit) {
  return db_->read([&](sql::Connection& db) -> Result<std::vector<AuditEntry>> {
    sql::Statement q(db,
                     "SELECT id, tenant_id, integration_id, actor, action, detail_json, at FROM audit_log "
                     "WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?");
    q.bindText(1, tenant_id);
    q.bind(2, after_id);
    q.bind(3, static_cast<int64_t>(limit));
    std::vector<AuditEntry> out;
    while (q.executeStep()) {
      AuditEntry e;
      e.id = q.getColumn(0).getInt64();
      e.tenant_id = q.getColumn(1).getString();
      e.integration_id = q.getColumn(2).getString();
      e.actor = q.getColumn(3).getString();
      e.action = q.getColumn(4).getString();
      e.detail_json = q.getColumn(5).getString();
      e.at = q.getColumn(6).getInt64();
      out.push_back(std::move(e));
    }
    return out;
  });
}

}  // namespace ih::store
