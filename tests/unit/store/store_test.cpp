#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

using ih::StatusCode;
using ih::store::ApiKey;
using ih::store::AuditEntry;
using ih::store::Connection;
using ih::store::ConnectionStatus;
using ih::store::SecretRow;
using ih::store::Store;
using ih::store::Tenant;

namespace {

std::unique_ptr<Store> openStore(const std::string& path, int busy_timeout_ms = 5000) {
  ih::store::Options options;
  options.busy_timeout_ms = busy_timeout_ms;
  auto store = Store::open(ih::test::testStoreOptions(path, options));
  INFO(store.status().toString());
  REQUIRE(store.isOk());
  return std::move(store).value();
}

// Reads the file through a separate connection, as another process would.
int64_t countRows(const std::string& path, const std::string& sql) {
  return ih::test::testStoreScalar(path, sql);
}

void addTenant(Store& store, const std::string& id) {
  REQUIRE(store.createTenant(Tenant{id, id + "-name", 1000}).isOk());
}

SecretRow secret(const std::string& tenant, const std::string& integration, const std::string& purpose,
                 const std::string& key_id, const std::string& nonce) {
  return SecretRow{tenant, integration, purpose, key_id, nonce, std::string("ct\0\x01\xff", 5) + purpose,
                   2000};
}

AuditEntry audit(const std::string& tenant, const std::string& integration, const std::string& action,
                 const std::string& detail = "{}") {
  return AuditEntry{0, tenant, integration, "api_key:k1", action, detail, 3000};
}

Connection connection(const std::string& tenant, const std::string& integration) {
  Connection c;
  c.tenant_id = tenant;
  c.integration_id = integration;
  c.info_json = R"({"key":"sk_test_****abcd","livemode":false})";
  c.connected_at = 3000;
  c.updated_at = 3000;
  return c;
}

}  // namespace

TEST_CASE("migrations apply once and the parent directory is created", "[store][sqlite]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("nested/deeper/ihost.db");
  int64_t tables = 0;
  {
    auto store = openStore(path);
    CHECK(store->schemaVersion() == Store::latestSchemaVersion());
    CHECK(Store::latestSchemaVersion() >= 1);
    tables = countRows(path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'");
    CHECK(tables >= 7);  // six v1 tables + schema_migrations (+ sqlite_sequence)
  }
  {
    auto store = openStore(path);
    CHECK(store->schemaVersion() == Store::latestSchemaVersion());
  }
  CHECK(countRows(path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'") == tables);
  CHECK(countRows(path, "SELECT COUNT(*) FROM schema_migrations") == Store::latestSchemaVersion());
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  CHECK(raw.execAndGet("PRAGMA journal_mode").getString() == "wal");
}

TEST_CASE("a database newer than the binary is refused with a clear message", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  openStore(path).reset();
  const int future_version = Store::latestSchemaVersion() + 7;
  ih::test::testStoreExec(path, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (" +
                                    std::to_string(future_version) + ", 'from the future', 0)");
  auto store = Store::open(ih::test::testStoreOptions(path));
  REQUIRE_FALSE(store.isOk());
  CHECK(store.status().code() == StatusCode::kFailedPrecondition);
  const std::string name = ih::test::testStoreIsPostgres() ? "" : path;  // PostgreSQL: the URL, masked
  CHECK_THAT(store.status().message(),
             Catch::StartsWith("database " + name) &&
                 Catch::EndsWith(" has schema version " + std::to_string(future_version) +
                                 " but this ihost binary knows up to " +
                                 std::to_string(Store::latestSchemaVersion()) +
                                 ". Upgrade ihost, or restore a backup made before the upgrade."));
}

TEST_CASE("tenants: create, get, find, list, duplicates", "[store]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("ihost.db"));
  REQUIRE(store->createTenant(Tenant{"t_2", "zeta", 10}).isOk());
  REQUIRE(store->createTenant(Tenant{"t_1", "acme", 20}).isOk());

  auto dup_name = store->createTenant(Tenant{"t_3", "acme", 30});
  CHECK(dup_name.code() == StatusCode::kAlreadyExists);
  CHECK(dup_name.message() == "tenant \"acme\" already exists");
  auto dup_id = store->createTenant(Tenant{"t_1", "other", 30});
  CHECK(dup_id.code() == StatusCode::kAlreadyExists);
  CHECK(dup_id.message() == "tenant id \"t_1\" already exists");

  auto got = store->getTenant("t_1");
  REQUIRE(got.isOk());
  CHECK(got->name == "acme");
  CHECK(got->created_at == 20);
  auto found = store->findTenantByName("zeta");
  REQUIRE(found.isOk());
  CHECK(found->id == "t_2");
  CHECK(store->getTenant("t_9").status().code() == StatusCode::kNotFound);
  CHECK(store->findTenantByName("nope").status().code() == StatusCode::kNotFound);

  auto all = store->listTenants();
  REQUIRE(all.isOk());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "acme");
  CHECK((*all)[1].name == "zeta");
}

TEST_CASE("api keys: lookup by hash, list and revoke are tenant-scoped", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  auto store = openStore(path);
  addTenant(*store, "A");
  addTenant(*store, "B");
  const std::string hash_a("\x00\x01hashA\xfe", 8);  // binary, with a NUL
  const std::string hash_b("\x00\x01hashB\xfe", 8);
  REQUIRE(
      store->insertApiKey(ApiKey{"k_a", "A", "ihk_live_aa11…", hash_a, "read write", 100, {}, {}}).isOk());
  REQUIRE(store->insertApiKey(ApiKey{"k_b", "B", "ihk_live_bb22…", hash_b, "read", 100, {}, {}}).isOk());

  auto dup = store->insertApiKey(ApiKey{"k_c", "A", "ihk_live_cc33…", hash_a, "", 100, {}, {}});
  CHECK(dup.code() == StatusCode::kAlreadyExists);
  CHECK(dup.message().find("hashA") == std::string::npos);
  CHECK(store->insertApiKey(ApiKey{"k_x", "nobody", "ihk_live_xx…", "h", "", 1, {}, {}}).code() ==
        StatusCode::kInternal);  // foreign key: the tenant must exist

  auto found = store->findApiKeyByHash(hash_a);
  REQUIRE(found.isOk());
  CHECK(found->id == "k_a");
  CHECK(found->tenant_id == "A");
  CHECK(found->key_hash == hash_a);
  CHECK(found->scopes == "read write");
  CHECK_FALSE(found->revoked_at.has_value());
  CHECK(store->findApiKeyByHash(std::string("\x00\x01", 2)).status().code() == StatusCode::kNotFound);

  // B cannot revoke A's key, and A's key keeps working.
  CHECK(store->revokeApiKey("B", "k_a", 500).code() == StatusCode::kNotFound);
  CHECK(store->findApiKeyByHash(hash_a).isOk());

  auto list_a = store->listApiKeys("A");
  REQUIRE(list_a.isOk());
  REQUIRE(list_a->size() == 1);
  CHECK((*list_a)[0].id == "k_a");

  REQUIRE(store->revokeApiKey("A", "k_a", 500).isOk());
  REQUIRE(store->revokeApiKey("A", "k_a", 900).isOk());  // idempotent, keeps the first time
  CHECK(store->findApiKeyByHash(hash_a).status().code() == StatusCode::kNotFound);
  list_a = store->listApiKeys("A");
  REQUIRE(list_a.isOk());
  REQUIRE(list_a->size() == 1);
  CHECK((*list_a)[0].revoked_at == std::optional<int64_t>(500));
  CHECK(store->findApiKeyByHash(hash_b).isOk());

  // touchApiKey is async; closing the store drains it.
  store->touchApiKey("k_b", 7000);
  store->touchApiKey("k_b", 6000);  // older: must not move last_used_at backwards
  store.reset();
  store = openStore(path);
  auto list_b = store->listApiKeys("B");
  REQUIRE(list_b.isOk());
  REQUIRE(list_b->size() == 1);
  CHECK((*list_b)[0].last_used_at == std::optional<int64_t>(7000));
}

TEST_CASE("secrets: put, get, delete are tenant-scoped, key rotation helpers", "[store]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("ihost.db"));
  addTenant(*store, "A");
  addTenant(*store, "B");
  const std::string nonce("\x00nonce\x00\x01\x02\x03\x04\x05", 12);
  REQUIRE(store->putSecret(secret("A", "stripe", "api_key", "v1", nonce)).isOk());
  REQUIRE(store->putSecret(secret("A", "stripe", "webhook_secret", "v1", "n2")).isOk());
  REQUIRE(store->putSecret(secret("B", "stripe", "api_key", "v2", "n3")).isOk());

  auto got = store->getSecret("A", "stripe", "api_key");
  REQUIRE(got.isOk());
  CHECK(got->nonce == nonce);
  CHECK(got->ciphertext == std::string("ct\0\x01\xff", 5) + "api_key");
  CHECK(got->key_id == "v1");
  CHECK(store->getSecret("B", "stripe", "webhook_secret").status().code() == StatusCode::kNotFound);

  CHECK(*store->countSecretsByKey("v1") == 2);
  auto not_v2 = store->listSecretsNotUsingKey("v2", 10);
  REQUIRE(not_v2.isOk());
  CHECK(not_v2->size() == 2);
  CHECK(store->listSecretsNotUsingKey("v2", 1)->size() == 1);

  REQUIRE(store->deleteSecrets("B", "stripe").isOk());  // B's only
  CHECK(store->getSecret("A", "stripe", "api_key").isOk());
  CHECK(store->getSecret("B", "stripe", "api_key").status().code() == StatusCode::kNotFound);
  REQUIRE(store->deleteSecrets("A", "stripe").isOk());
  CHECK(*store->countSecretsByKey("v1") == 0);
}

TEST_CASE("replaceSecretIfUnchanged is a compare-and-swap", "[store]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("ihost.db"));
  addTenant(*store, "A");
  const SecretRow v1 = secret("A", "stripe", "api_key", "v1", "nonce-1");
  REQUIRE(store->putSecret(v1).isOk());

  SecretRow v2 = secret("A", "stripe", "api_key", "v2", "nonce-2");
  v2.ciphertext = "re-encrypted";
  auto swapped = store->replaceSecretIfUnchanged(v1, v2);
  REQUIRE(swapped.isOk());
  CHECK(*swapped);
  CHECK(store->getSecret("A", "stripe", "api_key")->ciphertext == "re-encrypted");

  // A rotation that read v1 before the swap must not overwrite the newer row.
  SecretRow stale = secret("A", "stripe", "api_key", "v3", "nonce-3");
  swapped = store->replaceSecretIfUnchanged(v1, stale);
  REQUIRE(swapped.isOk());
  CHECK_FALSE(*swapped);
  CHECK(store->getSecret("A", "stripe", "api_key")->key_id == "v2");

  SecretRow other_row = v2;
  other_row.purpose = "webhook_secret";
  CHECK(store->replaceSecretIfUnchanged(v2, other_row).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("saveConnection stores secrets, connection and audit atomically", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  auto store = openStore(path);
  addTenant(*store, "A");
  addTenant(*store, "B");
  auto countAll = [&](const std::string& tenant) {
    return countRows(path, "SELECT (SELECT COUNT(*) FROM secrets WHERE tenant_id = '" + tenant +
                               "') + (SELECT COUNT(*) FROM connections WHERE tenant_id = '" + tenant +
                               "') + (SELECT COUNT(*) FROM audit_log WHERE tenant_id = '" + tenant + "')");
  };

  SECTION("a tenant that does not exist stores nothing") {
    auto st =
        store->saveConnection("ghost", {secret("ghost", "stripe", "api_key", "v1", "n")},
                              connection("ghost", "stripe"), audit("ghost", "stripe", "integration.connect"));
    CHECK(st.code() == StatusCode::kInternal);
    CHECK(countAll("ghost") == 0);
  }

  SECTION("a failure in the last statement rolls back the earlier ones, old secrets included") {
    REQUIRE(store->putSecret(secret("A", "stripe", "api_key", "v0", "old")).isOk());
    auto st = store->saveConnection(
        "A",
        {secret("A", "stripe", "api_key", "v1", "n1"), secret("A", "stripe", "webhook_secret", "v1", "n2")},
        connection("A", "stripe"), audit("A", "stripe", "integration.connect", "{not json"));
    CHECK(st.code() == StatusCode::kInternal);
    CHECK(countRows(path, "SELECT COUNT(*) FROM connections") == 0);
    CHECK(countRows(path, "SELECT COUNT(*) FROM audit_log") == 0);
    auto kept = store->getSecret("A", "stripe", "api_key");
    REQUIRE(kept.isOk());
    CHECK(kept->nonce == "old");
    CHECK(store->getSecret("A", "stripe", "webhook_secret").status().code() == StatusCode::kNotFound);
  }

  SECTION("rows of another tenant are refused before anything is written") {
    auto st = store->saveConnection("A", {secret("B", "stripe", "api_key", "v1", "n")},
                                    connection("A", "stripe"), audit("A", "stripe", "integration.connect"));
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK(countAll("A") + countAll("B") == 0);
  }

  SECTION("connect, health check, list, disconnect") {
    REQUIRE(store
                ->saveConnection("A", {secret("A", "stripe", "api_key", "v1", "n1")},
                                 connection("A", "stripe"),
                                 audit("A", "stripe", "integration.connect", R"({"livemode":false})"))
                .isOk());
    CHECK(countAll("A") == 3);
    CHECK(countAll("B") == 0);

    auto conn = store->getConnection("A", "stripe");
    REQUIRE(conn.isOk());
    REQUIRE(conn->has_value());
    CHECK((*conn)->status == ConnectionStatus::kActive);
    CHECK((*conn)->info_json == R"({"key":"sk_test_****abcd","livemode":false})");
    CHECK_FALSE((*conn)->last_check_at.has_value());
    CHECK_FALSE(store->getConnection("B", "stripe")->has_value());
    CHECK(*store->listActiveTenants("stripe") == std::vector<std::string>{"A"});

    REQUIRE(store->recordHealthCheck("A", "stripe", false, "invalid key sk_live_AAAABBBBCCCCDDDD1234", 4000)
                .isOk());
    conn = store->getConnection("A", "stripe");
    CHECK((*conn)->status == ConnectionStatus::kError);
    CHECK((*conn)->last_check_ok == std::optional<bool>(false));
    REQUIRE((*conn)->last_error.has_value());
    CHECK((*conn)->last_error->find("AAAABBBB") == std::string::npos);
    CHECK(store->recordHealthCheck("B", "stripe", true, "", 4000).code() == StatusCode::kNotFound);
    REQUIRE(store->recordHealthCheck("A", "stripe", true, "", 4500).isOk());
    conn = store->getConnection("A", "stripe");
    CHECK((*conn)->status == ConnectionStatus::kActive);
    CHECK_FALSE((*conn)->last_error.has_value());
    CHECK(store->listConnections("A")->size() == 1);
    CHECK(store->listConnections("B")->empty());

    // B cannot disconnect A.
    CHECK(store->removeConnection("B", "stripe", audit("B", "stripe", "integration.disconnect")).code() ==
          StatusCode::kNotFound);
    CHECK(countAll("B") == 0);
    REQUIRE(store->removeConnection("A", "stripe", audit("A", "stripe", "integration.disconnect")).isOk());
    conn = store->getConnection("A", "stripe");
    CHECK((*conn)->status == ConnectionStatus::kInactive);
    CHECK(store->getSecret("A", "stripe", "api_key").status().code() == StatusCode::kNotFound);
    CHECK(store->listActiveTenants("stripe")->empty());

    auto log = store->listAudit("A", 0, 10);
    REQUIRE(log.isOk());
    REQUIRE(log->size() == 2);
    CHECK((*log)[0].action == "integration.connect");
    CHECK((*log)[1].action == "integration.disconnect");
    auto after = store->listAudit("A", (*log)[0].id, 10);
    REQUIRE(after->size() == 1);
    CHECK((*after)[0].action == "integration.disconnect");
    CHECK(store->listAudit("B", 0, 10)->empty());
    REQUIRE(store->appendAudit(audit("B", "", "tenant.note")).isOk());
    CHECK(store->listAudit("B", 0, 10)->size() == 1);
    CHECK(store->listAudit("A", 0, 10)->size() == 2);
  }
}

TEST_CASE("plugin state is scoped by tenant and integration", "[store]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("ihost.db"));
  addTenant(*store, "A");
  addTenant(*store, "B");
  const std::string cursor("cur\0sor", 7);
  REQUIRE(store->putState("A", "stripe", "cursor", cursor).isOk());
  CHECK(*store->getState("A", "stripe", "cursor") == std::optional<std::string>(cursor));
  CHECK_FALSE(store->getState("B", "stripe", "cursor")->has_value());
  CHECK_FALSE(store->getState("A", "other", "cursor")->has_value());

  REQUIRE(store->putState("B", "stripe", "cursor", "b-1").isOk());
  REQUIRE(store->putState("A", "stripe", "cursor", "a-2").isOk());
  CHECK(*store->getState("A", "stripe", "cursor") == std::optional<std::string>("a-2"));
  CHECK(*store->getState("B", "stripe", "cursor") == std::optional<std::string>("b-1"));
  CHECK(store->putState("ghost", "stripe", "cursor", "x").code() == StatusCode::kInternal);  // no such tenant
}

TEST_CASE("a write waits for another process holding the lock, then reports unavailable", "[store][sqlite]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  auto store = openStore(path, /*busy_timeout_ms=*/100);
  addTenant(*store, "A");
  SQLite::Database cli(path, SQLite::OPEN_READWRITE);
  cli.exec("BEGIN IMMEDIATE");
  CHECK(store->putState("A", "stripe", "k", "v").code() == StatusCode::kUnavailable);
  CHECK(store->getTenant("A").isOk());  // WAL: reads go on while another connection writes
  cli.exec("COMMIT");
  CHECK(store->putState("A", "stripe", "k", "v").isOk());
}

TEST_CASE("concurrent writers all land through group commit", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  auto store = openStore(path);
  addTenant(*store, "A");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  std::atomic<int> failures{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "k" + std::to_string(t) + "_" + std::to_string(i);
        if (!store->putState("A", "stripe", key, "value-" + key).isOk()) failures++;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(failures == 0);
  CHECK(countRows(path, "SELECT COUNT(*) FROM plugin_state") == kThreads * kPerThread);
  CHECK(*store->getState("A", "stripe", "k7_1999") == std::optional<std::string>("value-k7_1999"));
  std::cout << "[store] group commit: " << kThreads * kPerThread << " putState from " << kThreads
            << " threads in " << seconds << " s = " << static_cast<int>(kThreads * kPerThread / seconds)
            << " writes/s\n";
}
