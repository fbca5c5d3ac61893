// The cache of opened secrets: a real SQLite store, a real key file and AES-GCM vault.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "support/temp_dir.h"
#include "tenancy/secret_cache.h"
#include "vault/vault.h"

using ih::StatusCode;
using ih::store::SecretRow;
using ih::store::Store;
using ih::tenancy::SecretCache;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  ih::test::TempDir dir;
  std::unique_ptr<Store> store = openStore(dir.file("db.sqlite"));
  std::unique_ptr<ih::vault::Vault> vault = openVault(dir.file("vault.keys"));

  static std::unique_ptr<Store> openStore(const std::string& path) {
    ih::store::Options options;
    options.path = path;
    auto store = Store::open(options);
    REQUIRE(store.isOk());
    return std::move(store).value();
  }
  static std::unique_ptr<ih::vault::Vault> openVault(const std::string& path) {
    REQUIRE(ih::vault::initKeyFile(path).isOk());
    auto ring = ih::vault::loadKeyRing(path, "");
    REQUIRE(ring.isOk());
    return std::make_unique<ih::vault::Vault>(std::move(ring).value());
  }
  // Seals `value` as the vault would for a plugin's secret and stores it through `into`.
  void put(Store& into, const std::string& tenant, const std::string& purpose, const std::string& value) {
    ih::Status created = into.createTenant({tenant, tenant, 0});
    REQUIRE((created.isOk() || created.code() == StatusCode::kAlreadyExists));
    auto sealed = vault->seal(value, {tenant, "stripe", purpose});
    REQUIRE(sealed.isOk());
    REQUIRE(into.putSecret({tenant, "stripe", purpose, sealed->key_id, sealed->nonce, sealed->ciphertext, 1})
                .isOk());
  }
};

std::string opened(SecretCache& cache, const std::string& tenant, const std::string& purpose) {
  auto r = cache.open(tenant, "stripe", purpose);
  if (!r.isOk())
    return "<" + std::string(r.status().code() == StatusCode::kNotFound ? "none" : "error") + ">";
  return std::string(r->view());
}

}  // namespace

TEST_CASE("secret cache: a second open is served without the store or the vault", "[tenancy]") {
  Fixture f;
  f.put(*f.store, "t1", "secret:whsec", "whsec_one");
  SecretCache cache(*f.store, *f.vault);
  CHECK(opened(cache, "t1", "secret:whsec") == "whsec_one");
  const uint64_t opens = f.vault->stats().opens;
  for (int i = 0; i < 5; ++i)
    CHECK(opened(cache, "t1", "secret:whsec") == "whsec_one");
  CHECK(f.vault->stats().opens == opens);
  CHECK(cache.stats().hits == 5);
  CHECK(cache.stats().misses == 1);
}

TEST_CASE("secret cache: keys never cross tenants, integrations or purposes", "[tenancy]") {
  Fixture f;
  f.put(*f.store, "t1", "secret:whsec", "whsec_t1");
  f.put(*f.store, "t2", "secret:whsec", "whsec_t2");
  f.put(*f.store, "t1", "credentials", R"({"k":"t1"})");
  SecretCache cache(*f.store, *f.vault);
  for (int round = 0; round < 2; ++round) {  // cold, then warm
    CHECK(opened(cache, "t1", "secret:whsec") == "whsec_t1");
    CHECK(opened(cache, "t2", "secret:whsec") == "whsec_t2");
    CHECK(opened(cache, "t1", "credentials") == R"({"k":"t1"})");
    CHECK(opened(cache, "t2", "credentials") == "<none>");
    CHECK(opened(cache, "t3", "secret:whsec") == "<none>");
    // The key's parts are separated: "t1" + "stripe" is not "t1s" + "tripe".
    auto other = cache.open("t1s", "tripe", "secret:whsec");
    CHECK(other.status().code() == StatusCode::kNotFound);
  }
  CHECK(cache.stats().hits == 6);
}

TEST_CASE("secret cache: any secret write in this process drops what was cached, absent ones too",
          "[tenancy]") {
  Fixture f;
  SecretCache cache(*f.store, *f.vault);
  CHECK(opened(cache, "t1", "secret:whsec") == "<none>");
  CHECK(opened(cache, "t1", "secret:whsec") == "<none>");  // remembered
  f.put(*f.store, "t1", "secret:whsec", "whsec_first");    // a setup
  CHECK(opened(cache, "t1", "secret:whsec") == "whsec_first");
  f.put(*f.store, "t1", "secret:whsec", "whsec_rotated");  // the tenant rotates its signing secret
  CHECK(opened(cache, "t1", "secret:whsec") == "whsec_rotated");
  REQUIRE(f.store->deleteSecrets("t1", "stripe").isOk());  // disconnect
  CHECK(opened(cache, "t1", "secret:whsec") == "<none>");
}

TEST_CASE("secret cache: a write by another process is seen after the time to live", "[tenancy]") {
  Fixture f;
  f.put(*f.store, "t1", "secret:whsec", "whsec_old");
  SecretCache cache(*f.store, *f.vault, {16, 300ms});
  CHECK(opened(cache, "t1", "secret:whsec") == "whsec_old");
  {
    // The CLI: its own Store on the same file, so this process's generation does not move.
    auto cli = Fixture::openStore(f.dir.file("db.sqlite"));
    f.put(*cli, "t1", "secret:whsec", "whsec_new");
  }
  CHECK(opened(cache, "t1", "secret:whsec") == "whsec_old");
  std::this_thread::sleep_for(350ms);
  CHECK(opened(cache, "t1", "secret:whsec") == "whsec_new");
}

TEST_CASE("secret cache: bounded, least recently used first out, and 0 entries keeps nothing", "[tenancy]") {
  Fixture f;
  for (const char* t : {"a", "b", "c"})
    f.put(*f.store, t, "secret:whsec", std::string("whsec_") + t);
  SecretCache cache(*f.store, *f.vault, {2, 10s});
  CHECK(opened(cache, "a", "secret:whsec") == "whsec_a");
  CHECK(opened(cache, "b", "secret:whsec") == "whsec_b");
  CHECK(opened(cache, "a", "secret:whsec") == "whsec_a");  // a is now the most recent
  CHECK(opened(cache, "c", "secret:whsec") == "whsec_c");  // evicts b
  CHECK(cache.stats().entries == 2);
  CHECK(cache.stats().evictions == 1);
  const uint64_t misses = cache.stats().misses;
  CHECK(opened(cache, "a", "secret:whsec") == "whsec_a");
  CHECK(cache.stats().misses == misses);
  CHECK(opened(cache, "b", "secret:whsec") == "whsec_b");
  CHECK(cache.stats().misses == misses + 1);

  SecretCache off(*f.store, *f.vault, {0, 10s});
  const uint64_t opens = f.vault->stats().opens;
  CHECK(opened(off, "a", "secret:whsec") == "whsec_a");
  CHECK(opened(off, "a", "secret:whsec") == "whsec_a");
  CHECK(f.vault->stats().opens == opens + 2);
  CHECK(off.stats().entries == 0);
}

TEST_CASE("secret cache: many readers and a rotating writer never see another tenant's or a torn secret",
          "[tenancy]") {
  Fixture f;
  for (const char* t : {"a", "b"})
    f.put(*f.store, t, "secret:whsec", std::string("whsec_") + t + "_0");
  SecretCache cache(*f.store, *f.vault, {1, 10s});  // one entry: every other lookup evicts
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      const std::string tenant = r % 2 ? "a" : "b";
      while (!stop.load()) {
        const std::string got = opened(cache, tenant, "secret:whsec");
        if (got.rfind("whsec_" + tenant + "_", 0) != 0) wrong.fetch_add(1);
      }
    });
  }
  for (int i = 1; i <= 20; ++i)
    f.put(*f.store, "a", "secret:whsec", "whsec_a_" + std::to_string(i));
  stop.store(true);
  for (auto& t : readers)
    t.join();
  CHECK(wrong.load() == 0);
  CHECK(opened(cache, "a", "secret:whsec") == "whsec_a_20");  // the last write, not a stale entry
}
