// Persistence for the host: tenants, API keys, vault ciphertexts, connections, audit log and plugin state.
//
// Contract:
//  - Store is thread-safe. Every method is synchronous (it returns once the data is durable in the database)
//    unless its comment says "async".
//  - Tenant scoping lives here: every method that touches tenant data takes `tenant_id` as its FIRST
//  parameter
//    and filters by it in SQL. Row structs also carry a tenant_id; when it disagrees with the parameter the
//    call fails with kInvalidArgument. The few cross-tenant methods say so ("admin, cross-tenant").
//  - Failures are values. A uniqueness violation is kAlreadyExists naming what exists; a missing row is
//    kNotFound; a database busy beyond busy_timeout_ms is kUnavailable; anything else unexpected is kInternal
//    with the database's message (never bound values: they may be secrets).
//  - Timestamps are unix milliseconds.
//
// Two backends behind the same methods: SQLite (one file, WAL) and PostgreSQL (a server that N replicas
// share). Either way one writer thread per process group-commits and a pool of read connections serves reads.
// No database type appears in this header.
//
// Adding tables (inbox, records, events, ...): add the next numbered file to host/store/migrations/sqlite/ AND
// host/store/migrations/postgres/ (NNNN_<name>.sql, same number and first line, embedded at build time; never
// edit or renumber one that has shipped: it has been applied to databases in the field), then add methods here
// and implement them in a new host/store/<area>.cpp on top of Db::write / Db::read (host/store/db.h), in SQL both
// backends run (host/store/sql.h). Each migration runs in its own transaction at open; a database whose version
// is newer than the binary refuses to open.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ih::store {

class Db;

enum class StorageBackend { kSqlite, kPostgres };

struct Options {
  std::string path;  // SQLite: database file; its parent directory is created when missing
  StorageBackend backend = StorageBackend::kSqlite;
  std::string url;             // PostgreSQL: postgresql://user@host:port/db (may hold a password)
  int read_connections = 4;    // parallel readers (WAL lets them run beside the writer)
  int busy_timeout_ms = 5000;  // how long to wait for another process (the ihost CLI) holding the write lock
  size_t max_batch = 1024;     // writes committed together in one transaction at most
  bool durable = true;         // [storage] synchronous = "full": commits fsynced before they are acknowledged
  int statement_timeout_ms = 30000;  // PostgreSQL: the server cancels a statement running longer
  // This process among the replicas sharing the database: claims (webhook events being dispatched, deliveries
  // being sent) carry it, so a restart releases its own claims at once. Empty: "<hostname>/<pid>".
  std::string replica_id;
  // How long a claim holds before another replica may take it over (PostgreSQL: its holder is presumed dead).
  // Well above a plugin call's deadline.
  int64_t claim_lease_ms = 5 * 60 * 1000;
};

struct Tenant {
  std::string id;
  std::string name;  // unique
  int64_t created_at = 0;
};

struct ApiKey {
  std::string id;
  std::string tenant_id;
  std::string display_prefix;  // shown to humans, e.g. "ihk_live_ab12…"; never enough to authenticate
  std::string key_hash;        // bytes of the key's hash; unique
  std::string scopes;          // space-separated
  int64_t created_at = 0;
  std::optional<int64_t> last_used_at;
  std::optional<int64_t> revoked_at;
};

// One vault ciphertext. The store never sees plaintext.
struct SecretRow {
  std::string tenant_id;
  std::string integration_id;
  std::string purpose;     // e.g. "api_key", "webhook_secret", "oauth_refresh_token"
  std::string key_id;      // vault master key that encrypted it
  std::string nonce;       // bytes
  std::string ciphertext;  // bytes, including the GCM tag
  int64_t updated_at = 0;
};

enum class ConnectionStatus { kActive, kInactive, kError };
// "active" | "inactive" | "error" (the value stored and shown in APIs).
std::string_view connectionStatusName(ConnectionStatus status);

struct Connection {
  std::string tenant_id;
  std::string integration_id;
  ConnectionStatus status = ConnectionStatus::kActive;
  std::string info_json = "{}";  // non-secret facts (masked key, livemode); must be valid JSON
  int64_t connected_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> last_check_at;
  std::optional<bool> last_check_ok;
  std::optional<std::string> last_error;
};

struct AuditEntry {
  int64_t id = 0;  // assigned by the store; ignored when appending
  std::string tenant_id;
  std::string integration_id;      // empty when the action is not about an integration
  std::string actor;               // "api_key:<id>", "admin", "scheduler", ...
  std::string action;              // "integration.connect", ...
  std::string detail_json = "{}";  // must be valid JSON; never secrets
  int64_t at = 0;
};

// SQLite: the file that holds the webhook inbox beside the main database file `path` ("ihost.db" ->
// "ihost-inbox.db"; other names get "-inbox" appended). Empty for ":memory:" and "file:" URIs: their inbox
// stays in the main database.
std::string inboxPathFor(const std::string& path);

class Store {
 public:
  // Opens (creating when missing) the database, applies pending migrations and starts the writer.
  // Fails with kFailedPrecondition when the database's schema is newer than this binary knows, kUnavailable
  // when another process keeps it locked, kInternal otherwise.
  static Result<std::unique_ptr<Store>> open(const Options& options);
  // Completes every queued write (async ones included), then closes the connections.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schemaVersion() const;
  static int latestSchemaVersion();
  bool isPostgres() const;
  const std::string& replicaId() const { return replica_id_; }
  int64_t claimLeaseMs() const { return claim_lease_ms_; }

  // --- tenants (admin) ---
  // kAlreadyExists when the id or the name is taken.
  Status createTenant(const Tenant& tenant);
  Result<std::vector<Tenant>> listTenants();  // ordered by name
  Result<Tenant> getTenant(std::string_view id);
  Result<Tenant> findTenantByName(std::string_view name);

  // --- API keys ---
  // kAlreadyExists when the id or the hash exists; kInternal (foreign key) when the tenant does not.
  Status insertApiKey(const ApiKey& key);
  // Authentication lookup. Not tenant-scoped by design: it is how the tenant is found. Revoked keys are
  // kNotFound, so a caller cannot forget to check revoked_at.
  Result<ApiKey> findApiKeyByHash(std::string_view key_hash);
  Result<std::vector<ApiKey>> listApiKeys(
      std::string_view tenant_id);  // revoked ones included, by created_at
  // Idempotent (keeps the first revocation time). kNotFound unless the key belongs to this tenant.
  Status revokeApiKey(std::string_view tenant_id, std::string_view key_id, int64_t at);
  // Async, fire-and-forget through the writer: records last use (never moves it backwards). Failures are
  // logged.
  void touchApiKey(std::string_view key_id, int64_t at);

  // --- secrets (vault ciphertexts) ---
  Status putSecret(const SecretRow& row);  // insert or replace
  Result<SecretRow> getSecret(std::string_view tenant_id, std::string_view integration_id,
                              std::string_view purpose);
  Status deleteSecrets(std::string_view tenant_id,
                       std::string_view integration_id);  // ok when there were none
  // Admin, cross-tenant (key rotation): up to `limit` rows encrypted with another key than `key_id`.
  Result<std::vector<SecretRow>> listSecretsNotUsingKey(std::string_view key_id, size_t limit);
  // Compare-and-swap on (primary key, key_id, nonce): writes new_row only if the stored row still is old_row.
  // Returns false when it changed (or vanished) meanwhile. kInvalidArgument if the two rows' keys differ.
  Result<bool> replaceSecretIfUnchanged(const SecretRow& old_row, const SecretRow& new_row);
  Result<size_t> countSecretsByKey(std::string_view key_id);  // admin, cross-tenant
  // Moves on after every write of secrets through this object (the ones above, saveConnection,
  // removeConnection), once it is final: what was read before a write is stale once this changed.
  uint64_t secretsGeneration() const { return secrets_generation_.load(std::memory_order_acquire); }

  // --- connections + audit ---
  // One transaction: replaces the integration's secrets with `secrets`, upserts `connection`, appends
  // `audit`. On any failure nothing is stored. All rows must be for `tenant_id` and
  // connection.integration_id.
  Status saveConnection(std::string_view tenant_id, const std::vector<SecretRow>& secrets,
                        const Connection& connection, const AuditEntry& audit);
  // One transaction: deletes the secrets, marks the connection inactive (updated_at = audit.at), appends
  // `audit`. kNotFound (and nothing changes) when the tenant has no such connection.
  Status removeConnection(std::string_view tenant_id, std::string_view integration_id,
                          const AuditEntry& audit);
  // Stores the outcome of a credentials check; `error` is stored redacted (ih::redact). An active/error
  // connection becomes active or error accordingly; an inactive one stays inactive. kNotFound without
  // connection.
  Status recordHealthCheck(std::string_view tenant_id, std::string_view integration_id, bool ok,
                           std::string_view error, int64_t at);
  Result<std::optional<Connection>> getConnection(std::string_view tenant_id,
                                                  std::string_view integration_id);
  Result<std::vector<Connection>> listConnections(std::string_view tenant_id);  // by integration_id
  // Scheduler: tenants connected to the integration (status active or error, i.e. credentials present).
  Result<std::vector<std::string>> listActiveTenants(std::string_view integration_id);
  Status appendAudit(const AuditEntry& entry);
  // Entries with id > after_id, oldest first, at most `limit` (a cursor: pass the last id seen).
  Result<std::vector<AuditEntry>> listAudit(std::string_view tenant_id, int64_t after_id, size_t limit);

  // --- plugin state (cursors etc., scoped by tenant + integration) ---
  Result<std::optional<std::string>> getState(std::string_view tenant_id, std::string_view integration_id,
                                              std::string_view key);
  Status putState(std::string_view tenant_id, std::string_view integration_id, std::string_view key,
                  std::string_view value);

  // --- rate budgets shared by replicas (PostgreSQL; admin, cross-tenant) ---
  // Takes one token from `key`'s bucket on the server (refilled at `rate_per_s` by the server's clock, holding
  // at most max(1, rate) tokens; a debt deeper than `max_debt_s` seconds is not taken on). Returns how many
  // seconds the caller should wait for its token (0 when one was there). kFailedPrecondition on SQLite.
  Result<double> takeRateToken(std::string_view key, double rate_per_s, double max_debt_s);

  // --- host metadata (not tenant data): vault canary, pepper check, ... ---
  Result<std::optional<std::string>> getMeta(std::string_view key);
  Status putMeta(std::string_view key, std::string_view value);

  // The database core, for the area stores of this module (InboxStore, RecordStore, ...) that are built on
  // it. Db is private to host/store/; code outside this module cannot use it.
  Db& database() { return *db_; }
  // The webhook inbox's tables (webhook_events, webhook_attempts, webhook_objects): on SQLite a file of their
  // own with its own writer (inboxPathFor), so intake and dispatch bookkeeping commit in parallel with the
  // records and events of handlings; otherwise database().
  Db& inboxDatabase() { return inbox_db_ ? *inbox_db_ : *db_; }

 private:
  Store(std::unique_ptr<Db> inbox_db, std::unique_ptr<Db> db, const Options& options, std::string replica_id);

  // Bumps secrets_generation_ when the writing method returns (its write is final by then).
  class SecretsWritten;

  // Closed after db_: a write finishing on the main writer may queue the inbox's next one (an outcome after
  // its handling's writes).
  const std::unique_ptr<Db> inbox_db_;  // null: the inbox is in db_
  const std::unique_ptr<Db> db_;
  const std::string replica_id_;
  const int64_t claim_lease_ms_;
  const std::string url_;  // PostgreSQL: for the connections opened beside the pool (EventFeed)
  friend class EventFeed;
  std::atomic<uint64_t> secrets_generation_{0};
};

}  // namespace ih::store
