// Store: open, tenants, API keys, plugin state. Connections, secrets and audit are in store_connections.cpp.
#include "store/store.h"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <utility>

#include "common/clock.h"
#include "log/log.h"
#include "store/db.h"

namespace ih::store {
namespace {

Tenant tenantFrom(sql::Statement& q) {
  return Tenant{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt64()};
}

std::optional<int64_t> optionalInt(const sql::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}

constexpr const char* kApiKeyColumns =
    "id, tenant_id, display_prefix, key_hash, scopes, created_at, last_used_at, revoked_at";

ApiKey apiKeyFrom(sql::Statement& q) {
  ApiKey k;
  k.id = q.getColumn(0).getString();
  k.tenant_id = q.getColumn(1).getString();
  k.display_prefix = q.getColumn(2).getString();
  k.key_hash = q.getColumn(3).getString();
  k.scopes = q.getColumn(4).getString();
  k.created_at = q.getColumn(5).getInt64();
  k.last_used_at = optionalInt(q.getColumn(6));
  k.revoked_at = optionalInt(q.getColumn(7));
  return k;
}

}  // namespace

std::string inboxPathFor(const std::string& path) {
  if (path.empty() || path == ":memory:" || path.rfind("file:", 0) == 0) return {};
  constexpr std::string_view kDb = ".db";
  if (path.size() > kDb.size() && path.ends_with(kDb)) {
    return path.substr(0, path.size() - kDb.size()) + "-inbox.db";
  }
  return path + "-inbox";
}

namespace {

// SQLite's header field `user_version` (unused otherwise) of one file; 0 when never set.
Result<int64_t> pairId(Db& db) {
  return db.read([](sql::Connection& c) -> Result<int64_t> {
    sql::Statement q(c, "PRAGMA user_version");
    return q.executeStep() ? q.getColumn(0).getInt64() : int64_t{0};
  });
}

Status setPairId(Db& db, int64_t id) {
  return db.writeSync([id](sql::Connection& c) {
    c.exec("PRAGMA user_version = " + std::to_string(id));
    return Status::ok();
  });
}

// The main file and the inbox file belong together: both carry the same random id in their header
// (`user_version`, which copies and backups of a file keep). A file restored or replaced without the other
// (the webhooks stored before are then missing, or belong elsewhere) is reported at start, once: the pair is
// then given a new id.
void checkInboxPair(Store& store, const std::string& path, const std::string& inbox_path) {
  auto main_id = pairId(store.database());
  auto inbox_id = pairId(store.inboxDatabase());
  if (!main_id.isOk() || !inbox_id.isOk()) {
    log::warn("store: cannot check that the inbox file belongs with the database",
              {{"error", (main_id.isOk() ? inbox_id.status() : main_id.status()).toString()}});
    return;
  }
  if (*main_id != 0 && *main_id == *inbox_id) return;
  if (*main_id != 0 || *inbox_id != 0) {
    log::error(
        "store: the webhook inbox file does not belong with this database (one of them was restored or "
        "replaced without the other): webhook events stored before may be missing. Restore both files from "
        "the same backup (docs/operations.md, \"Backups (SQLite)\")",
        {{"database", path}, {"inbox", inbox_path}});
  }
  std::random_device device;
  const int64_t id = static_cast<int64_t>(device() & 0x7fffffffu) | 1;  // positive, never 0
  Status st = setPairId(store.inboxDatabase(), id);
  if (st.isOk()) st = setPairId(store.database(), id);
  if (!st.isOk())
    log::warn("store: cannot pair the inbox file with the database", {{"error", st.toString()}});
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const Options& options) {
  DbOptions db_options;
  db_options.backend = options.backend == StorageBackend::kPostgres ? Backend::kPostgres : Backend::kSqlite;
  db_options.path = options.path;
  db_options.url = options.url;
  db_options.read_connections = options.read_connections;
  db_options.busy_timeout_ms = options.busy_timeout_ms;
  db_options.max_batch = options.max_batch;
  db_options.durable = options.durable;
  db_options.statement_timeout_ms = options.statement_timeout_ms;
  // SQLite: the inbox's file first, so that the main file's migration 15 can move an existing inbox into it.
  std::unique_ptr<Db> inbox_db;
  const std::string inbox_path =
      db_options.backend == Backend::kSqlite ? inboxPathFor(options.path) : std::string();
  if (!inbox_path.empty()) {
    DbOptions inbox_options = db_options;
    inbox_options.path = inbox_path;
    inbox_options.read_connections = std::min(db_options.read_connections, 2);  // listings, backlog gauges
    // Its hot pages are few (rows append; the due and status indexes follow ids): 8 MB ran as fast as 64 MB
    // (6,546-6,554 against 6,431-6,522 webhooks/s) with 55-70 MB less peak RSS.
    inbox_options.writer_cache_mb = 8;
    Result<std::unique_ptr<Db>> opened = openSqlite(inbox_options, sqliteInboxMigrations());
    if (!opened.isOk()) return opened.status();
    inbox_db = std::move(opened).value();
    db_options.attach_inbox = inbox_path;
  }
  Result<std::unique_ptr<Db>> db = Db::open(db_options);
  if (!db.isOk()) return db.status();
  std::string replica_id = options.replica_id;
  if (replica_id.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    replica_id = std::string(host[0] != '\0' ? host : "ihost") + "/" + std::to_string(::getpid());
  }
  auto store = std::unique_ptr<Store>(
      new Store(std::move(inbox_db), std::move(db).value(), options, std::move(replica_id)));
  if (!inbox_path.empty()) checkInboxPair(*store, options.path, inbox_path);
  return store;
}

Store::Store(std::unique_ptr<Db> inbox_db, std::unique_ptr<Db> db, const Options& options,
             std::string replica_id)
    : inbox_db_(std::move(inbox_db)),
      db_(std::move(db)),
      replica_id_(std::move(replica_id)),
      claim_lease_ms_(std::max<int64_t>(options.claim_lease_ms, 1000)),
      url_(options.backend == StorageBackend::kPostgres ? options.url : std::string()) {}

bool Store::isPostgres() const {
  return db_->dialect() == sql::Dialect::kPostgres;
}
Store::~Store() = default;

int Store::schemaVersion() const {
  return db_->schemaVersion();
}
int Store::latestSchemaVersion() {
  return static_cast<int>(sqliteMigrations().size());
}

// --- tenants ---

Status Store::createTenant(const Tenant& tenant) {
  Status st = db_->writeSync([&](sql::Connection& db) {
    sql::Statement q(db, "INSERT INTO tenants(id, name, created_at) VALUES (?, ?, ?)");
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
  return db_->read([](sql::Connection& db) -> Result<std::vector<Tenant>> {
    sql::Statement q(db, "SELECT id, name, created_at FROM tenants ORDER BY name");
    std::vector<Tenant> out;
    while (q.executeStep())
      out.push_back(tenantFrom(q));
    return out;
  });
}

Result<Tenant> Store::getTenant(std::string_view id) {
  return db_->read([&](sql::Connection& db) -> Result<Tenant> {
    sql::Statement q(db, "SELECT id, name, created_at FROM tenants WHERE id = ?");
    q.bindText(1, id);
    if (!q.executeStep()) return Status::notFound("tenant " + inQuotes(id) + " not found");
    return tenantFrom(q);
  });
}

Result<Tenant> Store::findTenantByName(std::string_view name) {
  return db_->read([&](sql::Connection& db) -> Result<Tenant> {
    sql::Statement q(db, "SELECT id, name, created_at FROM tenants WHERE name = ?");
    q.bindText(1, name);
    if (!q.executeStep()) return Status::notFound("tenant " + inQuotes(name) + " not found");
    return tenantFrom(q);
  });
}

// --- API keys ---

Status Store::insertApiKey(const ApiKey& key) {
  Status st = db_->writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "INSERT INTO api_keys(id, tenant_id, display_prefix, key_hash, scopes, created_at, "
                     "last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, key.id);
    q.bind(2, key.tenant_id);
    q.bind(3, key.display_prefix);
    q.bindBlob(4, key.key_hash);
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
  return db_->read([&](sql::Connection& db) -> Result<ApiKey> {
    sql::Statement q(db, std::string("SELECT ") + kApiKeyColumns +
                             " FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL");
    q.bindBlob(1, key_hash);
    if (!q.executeStep()) return Status::notFound("api key not found");
    return apiKeyFrom(q);
  });
}

Result<std::vector<ApiKey>> Store::listApiKeys(std::string_view tenant_id) {
  return db_->read([&](sql::Connection& db) -> Result<std::vector<ApiKey>> {
    sql::Statement q(db, std::string("SELECT ") + kApiKeyColumns +
                             " FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id");
    q.bindText(1, tenant_id);
    std::vector<ApiKey> out;
    while (q.executeStep())
      out.push_back(apiKeyFrom(q));
    return out;
  });
}

Status Store::revokeApiKey(std::string_view tenant_id, std::string_view key_id, int64_t at) {
  return db_->writeSync([&](sql::Connection& db) {
    sql::Statement q(
        db, "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ?");
    q.bind(1, at);
    q.bindText(2, tenant_id);
    q.bindText(3, key_id);
    if (q.exec() == 0) return Status::notFound("api key " + inQuotes(key_id) + " not found");
    return Status::ok();
  });
}

void Store::touchApiKey(std::string_view key_id, int64_t at) {
  db_->writeAsync(
      [id = std::string(key_id), at](sql::Connection& db) {
        sql::Statement q(db,
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
  return db_->read([&](sql::Connection& db) -> Result<std::optional<std::string>> {
    sql::Statement q(db,
                     "SELECT value FROM plugin_state WHERE tenant_id = ? AND integration_id = ? AND key = ?");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    q.bindText(3, key);
    if (!q.executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(q.getColumn(0).getString());
  });
}

Status Store::putState(std::string_view tenant_id, std::string_view integration_id, std::string_view key,
                       std::string_view value) {
  return db_->writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "INSERT INTO plugin_state(tenant_id, integration_id, key, value, updated_at) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT(tenant_id, integration_id, key) "
                     "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    q.bindText(3, key);
    q.bindBlob(4, value);
    q.bind(5, nowMs());
    q.exec();
    return Status::ok();
  });
}

Result<std::optional<std::string>> Store::getMeta(std::string_view key) {
  return db_->read([&](sql::Connection& db) -> Result<std::optional<std::string>> {
    sql::Statement q(db, "SELECT value FROM host_meta WHERE key = ?");
    q.bindText(1, key);
    if (!q.executeStep()) return std::optional<std::string>();
    return std::optional<std::string>(q.getColumn(0).getString());
  });
}

Status Store::putMeta(std::string_view key, std::string_view value) {
  return db_->writeSync([&](sql::Connection& db) {
    sql::Statement q(
        db,
        "INSERT INTO host_meta(key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
    q.bindText(1, key);
    q.bindBlob(2, value);
    q.bind(3, nowMs());
    q.exec();
    return Status::ok();
  });
}

// --- shared rate budgets ---

Result<double> Store::takeRateToken(std::string_view key, double rate_per_s, double max_debt_s) {
  if (!isPostgres()) return Status::failedPrecondition("shared rate budgets need PostgreSQL");
  if (!(rate_per_s > 0)) return Status::invalidArgument("rate must be positive");
  double tokens = 0;
  Status st = db_->writeSync([&](sql::Connection& db) {
    // One statement: the bucket is created full, or refilled for the time since its last take (server clock,
    // never backwards), capped at one second of burst, then one token is taken; the row lock orders the
    // replicas' takes.
    sql::Statement q(
        db,
        "INSERT INTO rate_buckets(key, tokens, updated_ms) VALUES (?1, CAST(?2 AS DOUBLE PRECISION) - 1, "
        "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)) "
        "ON CONFLICT(key) DO UPDATE SET tokens = GREATEST(-CAST(?4 AS DOUBLE PRECISION), "
        "LEAST(CAST(?2 AS DOUBLE PRECISION), rate_buckets.tokens + GREATEST(0, "
        "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT) - rate_buckets.updated_ms) * "
        "CAST(?3 AS DOUBLE PRECISION) / 1000.0) - 1), "
        "updated_ms = GREATEST(rate_buckets.updated_ms, CAST(extract(epoch FROM clock_timestamp()) * 1000 AS "
        "BIGINT)) RETURNING tokens");
    q.bindText(1, key);
    q.bind(2, std::max(1.0, rate_per_s));
    q.bind(3, rate_per_s);
    q.bind(4, max_debt_s * rate_per_s);
    if (!q.executeStep()) return Status::internal("rate bucket upsert returned nothing");
    tokens = q.getColumn(0).getDouble();
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return tokens >= 0 ? 0.0 : -tokens / rate_per_s;
}

}  // namespace ih::store
