// Out-of-process plugins (isolation = "process"): the real fault_inject plugin runs in `ihost plugin-runner`
// children of a real host. Host services are proxied (state, events, records, large results); every fault
// (abort, segfault, _exit, throw across the ABI, garbage results, a busy loop, a sleep past the deadline, a
// memory hog past the cap) costs only that integration's runner, which restarts; other integrations and the
// host stay up; a kill -9 under webhook load loses no acknowledged event.
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/eventually.h"
#include "support/run_command.h"
#include "support/test_host.h"

namespace {

using nlohmann::json;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

const char* const kFaults[] = {"abort", "segfault", "exit", "throw", "garbage", "loop", "sleep", "leak"};

// A host with the fault_inject plugin as `integrations` (ids), each isolated unless named in `in_process`.
struct IsolatedHost {
  std::unique_ptr<ih::test::TestHost> host;
  ih::test::TestHost::TenantKey tenant;
  httplib::Headers auth, admin;
  std::unique_ptr<httplib::Client> client;

  explicit IsolatedHost(const std::vector<std::string>& integrations, const std::string& extra = "") {
    std::string toml = "[inbox]\nretry_schedule_s = [1, 1, 1, 1, 1, 1, 1, 1]\n";
    for (const std::string& id : integrations) {
      toml += "[integrations." + id + "]\nplugin = \"fault_inject\"\nlabel = \"" + id + "\"\n";
      if (id.rfind("inproc", 0) != 0) toml += "isolation = \"process\"\n";
    }
    ih::test::TestHostOptions options;
    options.plugins_dir = std::string(IH_TEST_PLUGIN_DIR) + "/fault_inject";
    options.plugins_toml =
        std::string("runner = \"") + IH_IHOST_BIN + "\"\nrunner_memory_mb = 512\ncall_timeout_ms = 1500\n";
    options.extra_toml = toml + extra;
    host = std::make_unique<ih::test::TestHost>(options);
    tenant = host->createTenant("acme");
    auth = ih::test::bearer(tenant.api_key);
    admin = ih::test::bearer(host->adminToken());
    client = host->client();
    client->set_read_timeout(30, 0);
  }

  // {status, body} of an action.
  std::pair<int, json> action(const std::string& integration, const std::string& name,
                              const std::string& input = "{}") {
    auto r = client->Post(("/api/integrations/" + integration + "/actions/" + name).c_str(), auth, input,
                          "application/json");
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }
  // The runner entry of `integration` in /api/admin/plugins (null when it runs in-process).
  json runner(const std::string& integration) {
    auto r = client->Get("/api/admin/plugins", admin);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    const json report = json::parse(r->body);
    for (const json& in : report["integrations"])
      if (in["integration"] == integration) return in.value("runner", json());
    FAIL("no such integration in /api/admin/plugins: " << integration);
    return json();
  }
  // The pid that answers "ok" (after a crash: once the runner is back).
  int okPid(const std::string& integration) {
    int pid = 0;
    ih::test::eventually(
        [&] {
          auto [status, body] = action(integration, "ok");
          if (status != 200 || !body.is_object()) return false;
          pid = body.value("pid", 0);
          return true;
        },
        std::chrono::seconds(15), std::chrono::milliseconds(100));
    return pid;
  }
};

}  // namespace

TEST_CASE("isolation: the plugin runs in a runner process and every host service reaches it", "[isolation]") {
  IsolatedHost h({"iso", "inproc"});
  auto [status, ok] = h.action("iso", "ok");
  INFO(ok.dump());
  REQUIRE(status == 200);
  const int runner_pid = ok["pid"].get<int>();
  CHECK(runner_pid != getpid());
  CHECK(ok["label"] == "iso");
  // The same .so in-process answers from the host's own pid.
  auto [in_status, in_ok] = h.action("inproc", "ok");
  REQUIRE(in_status == 200);
  CHECK(in_ok["pid"].get<int>() == getpid());

  const json runner = h.runner("iso");
  REQUIRE(runner.is_object());
  CHECK(runner["up"] == true);
  CHECK(runner["pid"] == runner_pid);
  CHECK(runner["restarts"] == 0);
  CHECK(h.runner("inproc").is_null());
  // The operator's view: ihost plugins list --running.
  auto listed = ih::test::runCommand(std::string(IH_IHOST_BIN) + " plugins list --running --config " +
                                     h.host->configPath() +
                                     " --url http://127.0.0.1:" + std::to_string(h.host->port()) + " 2>&1");
  INFO(listed.out);
  CHECK(listed.rc == 0);
  CHECK_THAT(listed.out,
             Catch::Contains("isolated: runner pid " + std::to_string(runner_pid) + ", restarts 0"));

  // call_info, state_put/get and emit_event go through the proxy with the host's own context.
  auto [echo_status, echo] = h.action("iso", "echo", R"({"n":7,"text":"héllo"})");
  INFO(echo.dump());
  REQUIRE(echo_status == 200);
  CHECK(echo["input"]["n"] == 7);
  CHECK(echo["input"]["text"] == "héllo");
  CHECK(echo["tenant"] == h.tenant.tenant_id);
  CHECK(json::parse(echo["state"].get<std::string>())["n"] == 7);
  CHECK(echo["emit_status"] == 0);
  auto events = h.client->Get("/api/events?types=fault.echo", h.auth);
  REQUIRE(events);
  CHECK(events->body.find("fault.echo") != std::string::npos);

  // A large result crosses intact.
  auto [big_status, big] = h.action("iso", "big", R"({"bytes":3000000})");
  REQUIRE(big_status == 200);
  CHECK(big["data"].get<std::string>().size() == 3000000);
  CHECK(big["data"].get<std::string>().find_first_not_of('x') == std::string::npos);

  // A route too.
  auto who = h.client->Get("/api/integrations/iso/routes/whoami", h.auth);
  REQUIRE(who);
  CHECK(who->status == 200);
  CHECK(json::parse(who->body)["pid"] == runner_pid);
}

TEST_CASE("isolation: every fault costs only its own runner - the host and other integrations stay up",
          "[isolation]") {
  std::vector<std::string> ids = {"bystander"};
  for (const char* fault : kFaults)
    ids.push_back(std::string("f_") + fault);
  IsolatedHost h(ids);
  const int bystander = h.okPid("bystander");
  REQUIRE(bystander > 0);

  for (const char* fault : kFaults) {
    // Under ASan: no address-space cap, and a deliberate segfault would be reported as the sanitizer's finding
    // (the Release lane runs both).
    if (kAddressSanitizer && (std::string(fault) == "leak" || std::string(fault) == "segfault")) continue;
    const std::string id = std::string("f_") + fault;
    INFO(fault);
    const int before = h.okPid(id);
    REQUIRE(before > 0);
    std::string input = "{}";
    if (std::string(fault) == "sleep") input = R"({"ms":6000})";
    if (std::string(fault) == "leak") input = R"({"mb":4096})";
    const auto started = std::chrono::steady_clock::now();
    auto [status, body] = h.action(id, fault, input);
    const auto took = std::chrono::steady_clock::now() - started;
    INFO(status << " " << body.dump());
    CHECK(status >= 500);
    CHECK(status != 0);  // answered, not dropped
    REQUIRE(body.is_object());
    CHECK(body.contains("error"));
    if (std::string(fault) == "loop" || std::string(fault) == "sleep") {
      CHECK(status == 504);  // the deadline (1.5 s) plus the kill grace, not the plugin's 6 s
      CHECK(took < std::chrono::milliseconds(5500));
    }
    // The host is fine, a bystander still answers from its same runner, and this integration recovers.
    auto health = h.client->Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(h.okPid("bystander") == bystander);
    const int after = h.okPid(id);
    CHECK(after > 0);
    // Past the cap, malloc fails: the plugin reports it (500, or 504 when filling 500 MiB took longer than the
    // deadline on a busy machine) and its runner lives on, or the C++ runtime aborts and the runner restarts.
    const bool leak_survived = std::string(fault) == "leak" && after == before;
    const bool crashed = std::string(fault) != "garbage" && std::string(fault) != "throw" && !leak_survived;
    if (crashed) {
      CHECK(after != before);
      const json runner = h.runner(id);
      CHECK(runner["restarts"].get<int>() >= 1);
      CHECK(runner["last_exit"].is_string());
    } else {
      CHECK(after == before);  // a failed call is not a crash
    }
  }
  auto metrics = h.client->Get("/metrics", h.admin);
  REQUIRE(metrics);
  CHECK(metrics->body.find("ihost_plugin_runner_restarts_total{integration=\"f_abort\"}") !=
        std::string::npos);
}

TEST_CASE("isolation: a runner's crash names the signal - garbage and throws are plain errors",
          "[isolation]") {
  IsolatedHost h({"crash"});
  h.okPid("crash");
  auto [status, body] = h.action("crash", kAddressSanitizer ? "abort" : "segfault");
  INFO(body.dump());
  CHECK(status == 503);
  const std::string signal = kAddressSanitizer ? "SIGABRT" : "SIGSEGV";
  CHECK(body["error"]["code"] == "plugin_unavailable");
  CHECK(body["error"]["message"].get<std::string>().find(signal) != std::string::npos);
  h.okPid("crash");
  CHECK(h.runner("crash")["last_exit"].get<std::string>().find(signal) != std::string::npos);

  auto [thrown_status, thrown] = h.action("crash", "throw");
  CHECK(thrown_status == 500);
  CHECK(thrown["error"]["message"].get<std::string>().find("thrown across the ABI") != std::string::npos);
  auto [garbage_status, garbage] = h.action("crash", "garbage");
  CHECK(garbage_status == 500);
}

#if __has_include(<seccomp.h>)
TEST_CASE("isolation: the seccomp filter denies files, sockets and signals to the host in the runner",
          "[isolation]") {
  IsolatedHost h({"sandboxed", "inproc"});
  // The runner runs as the host's user: only the filter keeps it from the host's files (the vault key ring
  // here; the database file with SQLite), the host's memory and the host itself.
  const std::string input = json{{"read", h.host->dir().file("vault.keys")}}.dump();
  auto [status, body] = h.action("sandboxed", "socket", input);
  INFO(body.dump());
  REQUIRE(status == 200);
  CHECK(body["opened"] == false);
  CHECK(body["socket_errno"] == EPERM);
  CHECK(body["created"] == false);
  CHECK(body["open_errno"] == EPERM);
  CHECK(body["read"] == false);
  CHECK(body["read_errno"] == EPERM);
  CHECK(body["signal_parent_errno"] == EPERM);
  // In-process the same plugin can (it is trusted there).
  auto [in_status, in_body] = h.action("inproc", "socket", input);
  REQUIRE(in_status == 200);
  CHECK(in_body["opened"] == true);
  CHECK(in_body["read"] == true);
}
#endif

TEST_CASE("isolation: kill -9 of a runner under webhook load loses no acknowledged event", "[isolation]") {
  IsolatedHost h({"hooks"});
  const int first = h.okPid("hooks");
  REQUIRE(first > 0);
  const std::string path = "/webhooks/hooks/" + h.tenant.tenant_id;
  // The senders run until the runner has been killed twice and events were sent after the second kill, so the
  // kills land inside the load however fast the machine is.
  std::atomic<int> acked{0}, refused{0}, sent{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 3; ++t) {
    senders.emplace_back([&] {
      auto c = h.host->client();
      while (!stop.load()) {
        const int n = sent++;
        const std::string body = R"({"id":"evt_)" + std::to_string(n) +
                                 R"(","type":"thing.happened","created":)" + std::to_string(1700000000 + n) +
                                 "}";
        auto r = c->Post(path.c_str(), body, "application/json");
        if (r && r->status == 200) {
          ++acked;
        } else {
          ++refused;
        }
      }
    });
  }
  int kills = 0;
  for (int round = 0; round < 2; ++round) {
    const int before = acked.load();
    REQUIRE(ih::test::eventually([&] { return acked.load() >= before + 50; }, std::chrono::seconds(30)));
    json runner = h.runner("hooks");
    if (runner.is_object() && runner["up"] == true) {
      ::kill(runner["pid"].get<int>(), SIGKILL);
      ++kills;
    }
  }
  const int afterKills = acked.load();
  REQUIRE(ih::test::eventually([&] { return acked.load() >= afterKills + 50; }, std::chrono::seconds(30)));
  stop = true;
  for (auto& s : senders)
    s.join();
  const int kEvents = sent.load();
  CHECK(kills >= 1);
  // Verification happens in the runner too: a request that met a dead runner may be refused (retryable 503),
  // never lost silently. Acked ones must all be processed.
  INFO("acked " << acked << " refused " << refused);
  CHECK(acked + refused == kEvents);
  CHECK(acked > 0);
  std::set<std::string> processed;
  REQUIRE(ih::test::eventually(
      [&] {
        processed.clear();
        std::string after;
        for (;;) {
          std::string url = "/api/records/hooks/events?limit=500";
          if (!after.empty()) url += "&after=" + after;
          auto r = h.client->Get(url.c_str(), h.auth);
          if (!r || r->status != 200) return false;
          const json page = json::parse(r->body);
          for (const json& rec : page["data"])
            processed.insert(rec["id"].get<std::string>());
          if (!page.value("has_more", false)) break;
          after = page.value("next_after", std::string());
          if (after.empty()) break;
        }
        return static_cast<int>(processed.size()) >= acked.load();
      },
      std::chrono::seconds(60), std::chrono::milliseconds(250)));
  CHECK(static_cast<int>(processed.size()) >= acked.load());
  CHECK(h.runner("hooks")["restarts"].get<int>() >= 1);
}

TEST_CASE("isolation: a runner that stops reading its socket is killed - the host never blocks on it",
          "[isolation]") {
  IsolatedHost h({"stopped"});
  const int pid = h.okPid("stopped");
  REQUIRE(pid > 0);
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  // An input larger than the socket's buffer: sending it to a process that does not read would block forever.
  const std::string input = json{{"pad", std::string(900000, 'p')}}.dump();
  const auto started = std::chrono::steady_clock::now();
  auto [status, body] = h.action("stopped", "echo", input);
  INFO(status << " " << body.dump());
  CHECK((status == 503 || status == 504));  // 504 when the blocked send outlasted the 1.5 s call deadline
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  CHECK(body["error"]["message"].get<std::string>().find("stopped reading its socket") != std::string::npos);
  CHECK(h.okPid("stopped") != pid);
}

TEST_CASE("isolation: a runner that floods its socket with 256 MiB of frames is absorbed or cut off",
          "[isolation]") {
  // The host either keeps up (the socket pushes back on the runner) or, when a call's queue passes 4,096 frames
  // or 128 MiB, kills the runner as a protocol violation; it never buffers without bound, and a bystander is
  // untouched. Here the flooding call then sleeps past its deadline: killed too.
  IsolatedHost h({"flooder", "bystander"});
  const int pid = h.okPid("flooder");
  const int bystander = h.okPid("bystander");
  auto [status, body] = h.action("flooder", "flood", R"({"really":true})");
  INFO(status << " " << body.dump());
  CHECK((status == 503 || status == 504));
  CHECK(h.okPid("flooder") != pid);
  CHECK(h.okPid("bystander") == bystander);
  auto health = h.client->Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
}

TEST_CASE("isolation: in-process, a plugin that ignores its deadline holds its call (deadline only)",
          "[isolation]") {
  // In-process code cannot be stopped: the host waits for it and keeps a successful answer (docs/security.md).
  // Isolated, the same call is cut at the deadline plus the kill grace (the fault test above).
  IsolatedHost h({"inproc"});
  const auto started = std::chrono::steady_clock::now();
  auto [status, body] = h.action("inproc", "sleep", R"({"ms":2000})");
  INFO(body.dump());
  CHECK(status == 200);
  CHECK(body["slept_ms"] == 2000);
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(2000));
}

TEST_CASE(
    "isolation: an isolated plugin's odd respond is refused as in process (502), a good one goes through",
    "[isolation]") {
  // respond travels one-way from a runner: the runner checks it with the host's rules, and the host again.
  ih::test::TestHostOptions options;
  options.plugins_dir = std::string(IH_TEST_PLUGIN_DIR) + "/hostile_echo";
  options.plugins_toml = std::string("runner = \"") + IH_IHOST_BIN + "\"\n";
  options.extra_toml = "[integrations.echo]\nplugin = \"hostile_echo\"\nisolation = \"process\"\n";
  ih::test::TestHost host(options);
  const auto tenant = host.createTenant("acme");
  auto client = host.client();
  const auto auth = ih::test::bearer(tenant.api_key);
  for (const json& reply :
       {json{{"status", 200}, {"headers", {{"X-Evil", "a\r\nSet-Cookie: session=stolen"}}}, {"body", "{}"}},
        json{{"status", 200}, {"headers", {{"Bad Name", "x"}}}, {"body", "{}"}},
        json{{"status", 100}, {"body", ""}}}) {
    auto r = client->Post("/api/integrations/echo/routes/reply", auth, reply.dump(), "application/json");
    REQUIRE(r);
    INFO(reply.dump() << " -> " << r->status << " " << r->body);
    CHECK(r->status == 502);
    CHECK(r->body.find("plugin_error") != std::string::npos);
    CHECK(!r->has_header("Set-Cookie"));
  }
  auto fine =
      client->Post("/api/integrations/echo/routes/reply", auth,
                   json{{"status", 418}, {"headers", {{"X-Fine", "yes"}}}, {"body", "{\"tea\":true}"}}.dump(),
                   "application/json");
  REQUIRE(fine);
  CHECK(fine->status == 418);
  CHECK(fine->get_header_value("X-Fine") == "yes");
  CHECK(fine->body == "{\"tea\":true}");
}
