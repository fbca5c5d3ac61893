// N replicas on one PostgreSQL database: three real `ihost serve` processes share a schema. Signed webhooks are
// spread over them, some sent to two replicas, and one replica is SIGKILLed mid-run. Hidden ([.]): it runs in
// the postgres_test_integration lane (tests/CMakeLists.txt), which selects [postgres].
#include <httplib.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "store/store.h"
#include "support/host_process.h"
#include "support/temp_dir.h"
#include "support/test_store.h"
#include "support/webhook_test_signature.h"
#include "vault/vault.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kSecret[] = "whsec_replicas_secret";
constexpr char kAdmin[] = "iha_replicas_admin_token";
constexpr int kReplicas = 3;

struct Replica {
  int port = 0;
  std::string config;
  std::unique_ptr<ih::test::HostGuard> guard;
};

// Writes replica `index`'s config: the shared schema, its own port and replica id, a 3 s claim lease (a dead
// replica's webhooks are taken over within seconds), the webhook_test plugin emitting one event per handling.
std::string writeConfig(const ih::test::TempDir& dir, int index, int port, const std::string& url) {
  const std::string path = dir.file("replica" + std::to_string(index) + ".toml");
  ih::test::writeFile(path,
                      "[server]\nlisten = \"127.0.0.1:" + std::to_string(port) +
                          "\"\nworker_threads = 16\n\n[storage]\nbackend = \"postgres\"\nurl = \"" + url +
                          "\"\nreplica_id = \"replica-" + std::to_string(index) +
                          "\"\nclaim_lease_ms = 3000\n\n[vault]\nkey_file = \"vault.keys\"\n\n"
                          "[plugins]\ndir = \"" IH_TEST_PLUGIN_DIR
                          "/webhook_test\"\n\n[log]\nlevel = \"warn\"\n\n[inbox]\nworkers = 2\n"
                          "retry_schedule_s = [1, 1, 1]\n\n[integrations.hooks]\nplugin = \"webhook_test\"\n"
                          "emit_events = true\nwebhook_secret = \"" +
                          kSecret + "\"\n");
  return path;
}

struct Sent {
  int status = 0;
  bool duplicate = false;
};

Sent post(httplib::Client& client, const std::string& body) {
  auto r = client.Post("/webhooks/hooks/t_rep",
                       {{"X-Test-Signature", ih::test::webhookTestSignature(kSecret, body)}}, body,
                       "application/json");
  if (!r) return {};
  Sent sent{r->status, false};
  if (r->status == 200) sent.duplicate = json::parse(r->body, nullptr, false).value("duplicate", false);
  return sent;
}

}  // namespace

TEST_CASE("replicas: 3 processes, redeliveries across them, one SIGKILLed: every acked event processed once",
          "[.][postgres]") {
  ih::test::TempDir dir;
  const std::string db = dir.file("shared.db");
  const std::string url = ih::test::testStoreOptions(db).url;
  REQUIRE(ih::vault::initKeyFile(dir.file("vault.keys")).isOk());
  {
    auto store = ih::store::Store::open(ih::test::testStoreOptions(db));
    REQUIRE(store.isOk());
    REQUIRE((*store)->createTenant({"t_rep", "replicas", 1}).isOk());
  }
  std::vector<Replica> replicas(kReplicas);
  for (int i = 0; i < kReplicas; ++i) {
    replicas[i].port = ih::test::freePort();
    replicas[i].config = writeConfig(dir, i, replicas[i].port, url);
    replicas[i].guard = std::make_unique<ih::test::HostGuard>(
        ih::test::spawnHost(replicas[i].config, dir.file("replica" + std::to_string(i) + ".log"),
                            {{"IHOST_ADMIN_TOKEN", kAdmin}}));
  }
  for (const Replica& r : replicas)
    REQUIRE(ih::test::waitHealthy(r.port, 30s));

  // Three senders, each to its own replica; every 5th event is delivered again to the next replica (a
  // redelivery), which must say duplicate. The victim is killed once a third of the events went out.
  constexpr int kVictim = 2;
  constexpr int kPerSender = 300;
  std::mutex mu;
  std::set<std::string> acked;  // GUARDED_BY(mu)
  std::atomic<int> sent{0}, duplicates_reported{0}, duplicates_expected{0}, first_acks_wrong{0};
  std::vector<std::thread> senders;
  for (int s = 0; s < kReplicas; ++s) {
    senders.emplace_back([&, s] {
      httplib::Client primary("127.0.0.1", replicas[s].port);
      httplib::Client other("127.0.0.1", replicas[(s + 1) % kReplicas].port);
      for (httplib::Client* c : {&primary, &other}) {
        c->set_connection_timeout(1);
        c->set_read_timeout(5);
      }
      for (int i = 0; i < kPerSender; ++i) {
        const std::string id = "evt_r" + std::to_string(s) + "_" + std::to_string(i);
        const std::string body =
            json{{"id", id}, {"type", "invoice.paid"}, {"data", {{"object", {{"id", "in_" + id}}}}}}.dump();
        const Sent first = post(primary, body);
        sent.fetch_add(1);
        if (first.status == 200) {
          if (first.duplicate) first_acks_wrong.fetch_add(1);
          std::lock_guard lock(mu);
          acked.insert(id);
        }
        if (first.status == 200 && i % 5 == 0) {
          const Sent again = post(other, body);
          if (again.status == 200) {
            duplicates_expected.fetch_add(1);
            if (again.duplicate) duplicates_reported.fetch_add(1);
          }
        }
      }
    });
  }
  while (sent.load() < kReplicas * kPerSender / 3)
    std::this_thread::sleep_for(1ms);
  replicas[kVictim].guard->stop(SIGKILL);
  for (auto& t : senders)
    t.join();
  INFO("acked " << acked.size() << " of " << kReplicas * kPerSender);
  // Everything sent to the two survivors, and what the victim acked before it died.
  REQUIRE(acked.size() >= static_cast<size_t>(2 * kPerSender + kPerSender / 10));
  CHECK(first_acks_wrong == 0);
  CHECK(duplicates_expected > 0);
  CHECK(duplicates_reported == duplicates_expected);  // every redelivery to another replica was one

  // The survivors finish everything, the victim's claims included once its lease ran out.
  std::map<std::string, std::string> status_by_id;
  size_t unprocessed = acked.size();
  for (auto deadline = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < deadline;) {
    status_by_id = ih::test::webhookStatuses(replicas[0].port, kAdmin);
    unprocessed = 0;
    for (const auto& id : acked)
      unprocessed += status_by_id[id] == "processed" ? 0 : 1;
    if (unprocessed == 0) break;
    std::this_thread::sleep_for(200ms);
  }
  size_t missing = 0;
  for (const auto& id : acked)
    missing += status_by_id.count(id) ? 0 : 1;
  CHECK(missing == 0);      // 0 acked events lost
  CHECK(unprocessed == 0);  // all processed
  // Processed once: one "test.received" event per stored webhook, none twice (the handling the victim was in
  // when it died ran again on a survivor; its events are stored once per webhook).
  const int64_t stored = ih::test::testStoreScalar(db, "SELECT count(*) FROM webhook_events");
  CHECK(ih::test::testStoreScalar(db, "SELECT count(*) FROM events WHERE type = 'test.received'") == stored);
  CHECK(ih::test::testStoreScalar(
            db, "SELECT count(DISTINCT data_json) FROM events WHERE type = 'test.received'") == stored);
  CHECK(ih::test::testStoreScalar(db, "SELECT count(*) FROM webhook_events WHERE status <> 'processed'") ==
        0);
  WARN("replicas: " << acked.size() << " acked, " << stored << " stored, " << duplicates_reported.load()
                    << " redeliveries reported duplicate, "
                    << ih::test::testStoreScalar(db, "SELECT count(*) FROM webhook_events WHERE attempts > 1")
                    << " handled again after the kill (claims taken over)");
  for (int i = 0; i < kReplicas; ++i) {
    if (i != kVictim) replicas[i].guard->stop(SIGTERM);
  }
}
