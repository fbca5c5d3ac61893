// Crash safety of the intake: the real `ihost` binary is SIGKILLed while signed events stream in from several
// threads; after a restart every event that got a 200 must be stored and end `processed`.
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "store/event_store.h"
#include "store/store.h"
#include "support/host_process.h"
#include "support/temp_dir.h"
#include "support/webhook_test_signature.h"
#include "vault/vault.h"

namespace {

using ih::test::freePort;
using ih::test::waitHealthy;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kSecret[] = "whsec_sigkill_secret";
constexpr char kAdmin[] = "iha_sigkill_admin_token";

std::string signature(const std::string& body) {
  return ih::test::webhookTestSignature(kSecret, body);
}

// Writes dir/ihost.toml (the webhook_test plugin as integration "hooks" on `port`, with the given extra lines
// for [server], [inbox] and the integration), creates the key file and tenant "t_kill"; returns the config path.
std::string prepareHost(ih::test::TempDir& dir, int port, const std::string& server, const std::string& inbox,
                        const std::string& integration) {
  const std::string config = dir.file("ihost.toml");
  ih::test::writeFile(config, "[server]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n" + server +
                                  "\n[storage]\npath = \"ihost.db\"\n\n[vault]\nkey_file = \"vault.keys\"\n\n"
                                  "[plugins]\ndir = \"" IH_TEST_PLUGIN_DIR
                                  "/webhook_test\"\n\n[log]\nlevel = \"warn\"\n\n[inbox]\n" +
                                  inbox + "\n[integrations.hooks]\nplugin = \"webhook_test\"\n" +
                                  integration + "webhook_secret = \"" + kSecret + "\"\n");
  REQUIRE(ih::vault::initKeyFile(dir.file("vault.keys")).isOk());
  ih::store::Options o;
  o.path = dir.file("ihost.db");
  auto store = ih::store::Store::open(o);
  REQUIRE(store.isOk());
  REQUIRE((*store)->createTenant({"t_kill", "kill", 1}).isOk());
  return config;
}

}  // namespace

TEST_CASE("inbox: every acknowledged event survives SIGKILL of the real binary and is processed", "[inbox]") {
  ih::test::TempDir dir;
  const int port = freePort();
  const std::string config =
      prepareHost(dir, port, "worker_threads = 32\n", "workers = 2\nretry_schedule_s = [1, 1]\n", "");
  const std::string log_file = dir.file("ihost.log");
  ih::test::HostGuard host(ih::test::spawnHost(config, log_file, {{"IHOST_ADMIN_TOKEN", kAdmin}}));
  REQUIRE(waitHealthy(port));
  const std::string path = "/webhooks/hooks/t_kill";

  {
    httplib::Client probe("127.0.0.1", port);
    const std::string body = R"({"id":"evt_probe","type":"probe"})";
    auto r = probe.Post(path.c_str(), {{"X-Test-Signature", signature(body)}}, body, "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }

  std::mutex mu;
  std::set<std::string> acked;  // GUARDED_BY(mu)
  std::atomic<int> sent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", port);
      c.set_keep_alive(true);
      c.set_connection_timeout(1);
      c.set_read_timeout(2);
      for (int i = 0, failures = 0; i < 5000 && failures < 3; ++i) {
        const std::string id = "evt_k" + std::to_string(t) + "_" + std::to_string(i);
        const std::string body =
            json{{"id", id}, {"type", "invoice.paid"}, {"data", {{"object", {{"id", "in_" + id}}}}}}.dump();
        auto r = c.Post(path.c_str(), {{"X-Test-Signature", signature(body)}}, body, "application/json");
        sent.fetch_add(1);
        if (!r) {
          ++failures;
          continue;
        }
        if (r->status == 200) {
          std::lock_guard lock(mu);
          acked.insert(id);
        }
      }
    });
  }
  while (sent.load() < 600)
    std::this_thread::sleep_for(1ms);
  host.stop(SIGKILL);  // mid-stream
  for (auto& th : threads)
    th.join();
  INFO("acked before the kill: " << acked.size());
  REQUIRE(acked.size() >= 300);

  host.reset(ih::test::spawnHost(config, log_file, {{"IHOST_ADMIN_TOKEN", kAdmin}}));
  REQUIRE(waitHealthy(port));
  std::map<std::string, std::string> status_by_id;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  size_t unprocessed = acked.size();
  while (std::chrono::steady_clock::now() < deadline) {
    status_by_id = ih::test::webhookStatuses(port, kAdmin);
    unprocessed = 0;
    for (const auto& id : acked)
      unprocessed += status_by_id[id] == "processed" ? 0 : 1;
    if (unprocessed == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  host.stop(SIGTERM);
  size_t missing = 0;
  for (const auto& id : acked)
    missing += status_by_id.count(id) ? 0 : 1;
  CHECK(missing == 0);
  CHECK(unprocessed == 0);
}

TEST_CASE("inbox: a handling killed after it emitted events does not emit them again on restart", "[inbox]") {
  ih::test::TempDir dir;
  const int port = freePort();
  const std::string config = prepareHost(dir, port, "", "workers = 1\n", "emit_events = true\n");
  const std::string log_file = dir.file("ihost.log");
  ih::test::HostGuard host(ih::test::spawnHost(config, log_file, {{"IHOST_ADMIN_TOKEN", kAdmin}}));
  REQUIRE(waitHealthy(port));
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kAdmin}};
  auto statusOf = [&](const std::string& event_id) {
    httplib::Client admin("127.0.0.1", port);
    admin.set_read_timeout(5);
    auto r = admin.Get("/api/admin/webhooks?limit=50", auth);
    if (!r || r->status != 200) return std::string();
    const json page = json::parse(r->body);
    for (auto& e : page["data"])
      if (e["event_id"] == event_id) return e["status"].get<std::string>();
    return std::string();
  };

  // Each handling emits two events, then holds the call for 1.5 s: the kill lands inside the first one, after
  // its events are committed and before its outcome is.
  httplib::Client c("127.0.0.1", port);
  for (int i = 1; i <= 3; ++i) {
    const std::string body = json{
        {"id", "evt_h" + std::to_string(i)},
        {"type", "invoice.paid"},
        {"twice", true},
        {"hold_ms", 1500}}.dump();
    auto r =
        c.Post("/webhooks/hooks/t_kill", {{"X-Test-Signature", signature(body)}}, body, "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (statusOf("evt_h1") != "processing" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  REQUIRE(statusOf("evt_h1") == "processing");
  std::this_thread::sleep_for(400ms);  // the two emits are done (milliseconds), the hold is not
  host.stop(SIGKILL);

  host.reset(ih::test::spawnHost(config, log_file, {{"IHOST_ADMIN_TOKEN", kAdmin}}));
  REQUIRE(waitHealthy(port));
  deadline = std::chrono::steady_clock::now() + 30s;
  auto allProcessed = [&] {
    return statusOf("evt_h1") == "processed" && statusOf("evt_h2") == "processed" &&
           statusOf("evt_h3") == "processed";
  };
  while (!allProcessed() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  CHECK(allProcessed());
  host.stop(SIGTERM);

  ih::store::Options o;
  o.path = dir.file("ihost.db");
  auto store = ih::store::Store::open(o);
  REQUIRE(store.isOk());
  ih::store::EventStore events(**store);
  auto rows = events.list("t_kill", 0, "test.received", 100);
  REQUIRE(rows.isOk());
  std::map<std::string, int> per_event;
  for (const auto& row : *rows) {
    const json data = json::parse(row.data_json);
    ++per_event[data["event_id"].get<std::string>() + "#" + data["n"].dump()];
  }
  const std::map<std::string, int> once = {{"evt_h1#1", 1}, {"evt_h1#2", 1}, {"evt_h2#1", 1},
                                           {"evt_h2#2", 1}, {"evt_h3#1", 1}, {"evt_h3#2", 1}};
  CHECK(per_event == once);
}
