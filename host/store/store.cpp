// Store: open, tenants, API keys, plugin state. Connections, secrets and audit are in store_connections.cpp.
#include "store/store.h"

#include <utility>

#include "common/clock.h"
#include "log/log.h"
#include "store/sqlite_db.h"

namespace ih::store {
namespace {

Tenant tenantFrom(SQLite::Statement& q) {
  return Tenant{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64()};
}

std::optional<int64_t> optionalInt(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

constexpr const char* kApiKeyColumns =
    "id, tenant_id, display_prefix, key_hash, scopes, created_at, last_used_at, revoked_at";

ApiKey apiKeyFrom(SQLite::Statement& q) {
  ApiKey k;
  k.id = q.getColumn(0).getString();
  k.tenant_id = q.getColumn(1).getString();
  k.display_prefix = q.getColumn(2).getString();
  k.key_hash = columnBytes(q.getColumn(3));
  k.scopes = q.getColumn(4).getString();
  k.created_at = q.getColumn(5).getInt64();
  k.last_used_at = optionalInt(q.getColumn(6));
  k.revoked_at = optionalInt(q.getColumn(7));
  return k;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const Options& options) {
  DbOptions db_options{options.path, options.read_connections, options.busy_timeout_ms, options.max_batch};
  db_options.durable = options.durable;
  Result<std::unique_ptr<SqliteDb>> db = SqliteDb::open(db_options, allMigrations());
  if (!db.isOk()) return db.status();
  return std::unique_ptr<Store>(new Store(std::move(db).value()));
}

Store::Store(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
Store::~Store() = default;

int Store::schemaVersion() const {
  return db_->schemaVersion();
}
int Store::latestSchemaVersion() {
  return static_cast<int>(allMigrations().size());
}

// --- tenants ---

Status Store::createTenant(const Tenant& tenant) {
  Status st = db_->writeSync([&](SQLite::Database& db) {
    SQLite::Statement q(db, "INSERT INTO tenants(id, name, created_at) VALUES (?, ?, ?)");
    q.bind(1, tenant.id);
    q.bind(2, tenant.name);
    q.bind(3, tenant.created_at);
    q.exec();
    return Status::ok();
  });
  if (st.code() == StatusCode::kAlreadyExists) {
    const bool name_taken = st.message().find("tenants.name") != std::string::npos;
    return Status::alreadyExists(name_taken ? "tenant " + inQuotes(tenant.name) + " already exists"
                                            : "tenant id " + inQuotes(tenant.id) + " already exists");
  }
  return st;
}

Result<std::vector<Tenant>> Store::listTenants() {
  return db_->read([](SQLite::Database& db) -> Result<std::vector<Tenant>> {
    SQLite::Statement q(db, "SELECT id, name, created_at FROM tenants ORDER BY name");
    std::vector<Tenant> out;
    while (q.executeStep())
      out.push_back(tenantFrom(q));
    return out;
  });
}

Result<Tenant> Store::getTenant(std::string_view id) {
  return db_->read([&](SQLite::Database& db) -> Result<Tenant> {
    CachedStatement cached(db, "SELECT id, name, created_at FROM tenants WHERE id = ?");
    SQLite::Statement& q = *cached;
    bindText(q, 1, id);
    if (!q.executeStep()) return Status::notFound("tenant " + inQuotes(id) + " not found");
    return tenantFrom(q);
  });
}

Result<Tenant> Store::findTenantByName(std::string_view name) {
  return db_->read([&](SQLite::Database& db) -> Result<Tenant> {
    SQLite::Statement q(db, "SELECT id, name, created_at FROM tenants WHERE name = ?");
    bindText(q, 1, name);
    if (!q.executeStep()) return Status::notFound("tenant " + inQuotes(name) + " not found");
    return tenantFrom(q);
  });
}

// --- API keys ---

Status Store::insertApiKey(const ApiKey& key) {
  Status st = db_->writeSync([&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT INTO api_keys(id, tenant_id, display_prefix, key_hash, scopes, created_at, "
                        "last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, key.id);
    q.bind(2, key.tenant_id);
    q.bind(3, key.display_prefix);
    bindBlob(q, 4, key.key_hash);
    q.bind(5, key.scopes);
    q.bind(6, key.created_at);
    if (key.last_used_at) q.bind(7, *key.last_used_at);
    if (key.revoked_at) q.bind(8, *key.revoked_at);
    q.exec();
    return Status::ok();
  });
  if (st.code() == StatusCode::kAlreadyExists) {
    // Never echo the hash: name the key by id and display prefix only.
    const bool hash_taken = st.message().find("api_keys.key_hash") != std::string::npos;
    return Status::alreadyExists(hash_taken ? "an api key with the same hash as " +
                                                  inQuotes(key.display_prefix) + " already exists"
                                            : "api key " + inQuotes(key.id) + " already exists");
  }
  return st;
}

Result<ApiKey> Store::findApiKeyByHash(std::string_view key_hash) {
  return db_->read([&](SQLite::Database& db) -> Result<ApiKey> {
    CachedStatement cached(db, std::string("SELECT ") + kApiKeyColumns +
                                   " FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL");
    SQLite::Statement& q = *cached;
    bindBlob(q, 1, key_hash);
    if (!q.executeStep()) return Status::notFound("api key not found");
    return apiKeyFrom(q);
  });
}

Result<std::vector<ApiKey>> Store::listApiKeys(std::string_view tenant_id) {
  return db_->read([&](SQLite::Database& db) -> Result<std::vector<ApiKey>> {
    SQLite::Statement q(db, std::string("SELECT ") + kApiKeyColumns +
                                " FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id");
    bindText(q, 1, tenant_id);
    std::vector<ApiKey> out;
    while (q.executeStep())
      out.push_back(apiKeyFrom(q));
    return out;
  });
}

Status Store::revokeApiKey(std::string_view tenant_id, std::string_view key_id, int64_t at) {
  return db_->writeSync([&](SQLite::Database& db) {
    SQLite::Statement q(
        db, "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?");
    q.bind(1, at);
    bindText(q, 2, tenant_id);
    bindText(q, 3, key_id);
    if (q.exec() == 0) return Status::notFound("api key " + inQuotes(key_id) + " not found");
    return Status::ok();
  });
}

void Store::touchApiKey(std::string_view key_id, int64_t at) {
  db_->writeAsync(
      [id = std::string(key_id), at](SQLite::Database& db) {
        SQLite::Statement q(db,
                            "UPDATE api_keys SET last_used_at = ? WHERE id = ? "
                            "AND (last_used_at IS NULL OR last_used_at < ?)");
        q.bind(1, at);
        q.bind(2, id);
        q.bind(3, at);
        q.exec();
        return Status::ok();
      },
      [id = std::string(key_id)](const Status& st) {
        if (!st.isOk()) log::warn("recording api key use failed", {{"key_id", id}, {"error", st.toString()}});
      });
}

// --- plugin state ---

Result<std::optional<std::string>> Store::getState(std::string_view tenant_id,
                                                   std::string_view integration_id, std::string_view key) {
  return db_->read([&](SQLite::Database& db) -> Result<std::optional<std::string>> {
    CachedStatement cached(
        db, "SELECT value FROM plugin_state WHERE tenant_id = ? AND integration_id = ? AND key = ?");
    SQLite::Statement& q = *cached;
    bindText(q, 1, tenant_id);
    bindText(q, 2, integration_id);
    bindText(q, 3, key);
    if (!q.executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(columnBytes(q.getColumn(0)));
  });
}

Status Store::putState(std::string_view tenant_id, std::string_view integration_id, std::string_view key,
                       std::string_view value) {
  return db_->writeSync([&](SQLite::Database& db) {
    SQLite::Statement q(db,
                        "INSERT INTO plugin_state(tenant_id, integration_id, key, value, updated_at) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(tenant_id, integration_id, key) "
                        "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
    bindText(q, 1, tenant_id);
    bindText(q, 2, integration_id);
    bindText(q, 3, key);
    bindBlob(q, 4, value);
    q.bind(5, nowMs());
    q.exec();
    return Status::ok();
  });
}

Result<std::optional<std::string>> Store::getMeta(std::string_view key) {
  return db_->read([&](SQLite::Database& db) -> Result<std::optional<std::string>> {
    SQLite::Statement q(db, "SELECT value FROM host_meta WHERE key = ?");
    bindText(q, 1, key);
    if (!q.executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(columnBytes(q.getColumn(0)));
  });
}

Status Store::putMeta(std::string_view key, std::string_view value) {
  return db_->writeSync([&](SQLite::Database& db) {
    SQLite::Statement q(
        db,
        "INSERT INTO host_meta(key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
    bindText(q, 1, key);
    bindBlob(q, 2, value);
    q.bind(3, nowMs());
    q.exec();
    return Status::ok();
  });
}

}  // namespace ih::store
