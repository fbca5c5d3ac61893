// Hot swap (POST /api/admin/plugins/reload, `ihost plugins reload`) with two real builds of the swap_probe
// plugin (v1, v2: each answer names its version): under a steady load of API calls the .so is replaced in the
// plugins directory and reloaded. No call fails, each is answered by exactly one version, a call already running
// finishes on v1, and after the reload only v2 answers. A broken file is refused and the old version serves on.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ih/hmac.hpp"
#include "loader/registry.h"
#include "support/eventually.h"
#include "support/run_command.h"
#include "support/temp_dir.h"
#include "support/test_host.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kV1 = std::string(IH_TEST_PLUGIN_DIR) + "/swap_probe/v1/libswap_probe.so";
const std::string kV2 = std::string(IH_TEST_PLUGIN_DIR) + "/swap_probe/v2/libswap_probe.so";
constexpr char kSecret[] = "swap-probe-webhook-secret";
const std::string kProbeToml =
    std::string("[integrations.probe]\nplugin = \"swap_probe\"\nwebhook_secret = \"") + kSecret + "\"\n";

// Replaces `to` the way an operator's deploy does: write next to it, then rename over it.
void install(const std::string& from, const fs::path& to) {
  const fs::path tmp = to.string() + ".new";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, to);
}

// A host whose plugins directory holds `first_build` of swap_probe (or nothing), integration "probe" configured,
// tenant "acme", and a client with the tenant's and the admin's credentials.
struct ProbeHost {
  ih::test::TempDir plugins;
  fs::path so = fs::path(plugins.path()) / "libswap_probe.so";
  std::unique_ptr<ih::test::TestHost> host;
  ih::test::TestHost::TenantKey tenant;
  httplib::Headers auth, admin;
  std::unique_ptr<httplib::Client> client;

  explicit ProbeHost(const std::string& first_build, ih::config::Environment env = {},
                     const std::string& extra_toml = "") {
    if (!first_build.empty()) install(first_build, so);
    ih::test::TestHostOptions options;
    options.plugins_dir = plugins.path().string();
    options.extra_toml = kProbeToml + extra_toml;
    options.env = std::move(env);
    host = std::make_unique<ih::test::TestHost>(options);
    tenant = host->createTenant("acme");
    auth = ih::test::bearer(tenant.api_key);
    admin = ih::test::bearer(host->adminToken());
    client = host->client();
  }
  json reload() {
    auto r = client->Post("/api/admin/plugins/reload", admin, "{}", "application/json");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
  json plugins_report() { return json::parse(client->Get("/api/admin/plugins", admin)->body); }
  // "<status> <body>" of the version action.
  std::string version() {
    auto r = client->Post("/api/integrations/probe/actions/version", auth, "{}", "application/json");
    return r ? std::to_string(r->status) + " " + r->body : std::string("no answer");
  }
};

}  // namespace

TEST_CASE("hot swap: v1 -> v2 under API and webhook load, nothing lost, each answered by exactly one version",
          "[hot_swap]") {
  ProbeHost p(kV1);
  auto& host = *p.host;
  const auto& auth = p.auth;
  auto& tenant = p.tenant;

  // A call that is still running on v1 when the switch happens.
  std::string slow_answer;
  std::thread slow([&] {
    auto c = host.client();
    auto r = c->Post("/api/integrations/probe/actions/slow", auth, R"({"ms":1500})", "application/json");
    if (r && r->status == 200) slow_answer = r->body;
  });

  std::atomic<bool> stop{false};
  std::atomic<int> failed{0}, v1{0}, v2{0}, other{0};
  std::atomic<int> v1_after_switch{0};
  std::atomic<bool> switched{false};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&] {
      auto c = host.client();
      while (!stop.load()) {
        const bool after = switched.load();
        auto r = c->Post("/api/integrations/probe/actions/version", auth, "{}", "application/json");
        if (!r || r->status != 200) {
          ++failed;
          continue;
        }
        const json body = json::parse(r->body, nullptr, false);
        const std::string version = body.is_object() ? body.value("version", "") : "";
        if (version == "1.0.0") {
          ++v1;
          if (after) ++v1_after_switch;
        } else if (version == "2.0.0") {
          ++v2;
        } else {
          ++other;
        }
      }
    });
  }
  // Signed webhooks all along: each must be acknowledged, and handled by exactly one version.
  std::atomic<int> hooks_sent{0}, hooks_failed{0};
  std::thread hooks([&] {
    auto c = host.client();
    const std::string path = "/webhooks/probe/" + tenant.tenant_id;
    for (int n = 0; !stop.load(); ++n) {
      const std::string body = R"({"id":"evt_)" + std::to_string(n) + R"("})";
      auto r = c->Post(path.c_str(), {{"X-Probe-Signature", ih::sdk::hmacSha256Hex(kSecret, body)}}, body,
                       "application/json");
      ++hooks_sent;
      if (!r || r->status != 200) ++hooks_failed;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  install(kV2, p.so);
  const json report = p.reload();
  switched = true;
  CHECK(report["refused"] == false);
  REQUIRE(report["files"].size() == 1);
  CHECK(report["files"][0]["status"] == "reloaded");
  CHECK(report["files"][0]["from_version"] == "1.0.0");
  CHECK(report["files"][0]["to_version"] == "2.0.0");
  CHECK(report["files"][0]["integrations"] == json::array({"probe"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  stop = true;
  for (auto& t : load)
    t.join();
  slow.join();
  hooks.join();

  // Every acknowledged webhook is handled, by v1 or v2, once (the state key is written by the one handler).
  CHECK(hooks_failed.load() == 0);
  REQUIRE(hooks_sent.load() > 10);
  int by_v1 = 0, by_v2 = 0;
  for (int n = 0; n < hooks_sent.load(); ++n) {
    const std::string input = R"({"id":"evt_)" + std::to_string(n) + R"("})";
    json seen;
    auto c2 = host.client();
    const bool handled = ih::test::eventually(
        [&] {
          auto r = c2->Post("/api/integrations/probe/actions/seen", auth, input, "application/json");
          if (!r || r->status != 200) return false;
          seen = json::parse(r->body, nullptr, false);
          return seen.is_object() && seen["version"].is_string();
        },
        std::chrono::seconds(20));
    INFO("evt_" << n << ": " << seen.dump());
    REQUIRE(handled);
    (seen["version"] == "1.0.0" ? by_v1 : by_v2)++;
    CHECK((seen["version"] == "1.0.0" || seen["version"] == "2.0.0"));
  }
  CHECK(by_v1 > 0);
  CHECK(by_v2 > 0);

  CHECK(failed.load() == 0);
  CHECK(other.load() == 0);
  CHECK(v1.load() > 0);
  CHECK(v2.load() > 0);
  CHECK(v1_after_switch.load() == 0);              // once the reload answered, only v2 serves new calls
  CHECK(slow_answer == R"({"version":"1.0.0"})");  // started on v1, finished on v1

  // The report of running versions; a second reload changes nothing.
  const json plugins_report = p.plugins_report();
  REQUIRE(plugins_report["integrations"].size() == 1);
  CHECK(plugins_report["integrations"][0]["version"] == "2.0.0");
  CHECK(plugins_report["integrations"][0]["previous_version"] == "1.0.0");
  CHECK(plugins_report["integrations"][0]["reloads"] == 1);
  CHECK(p.reload()["files"][0]["status"] == "unchanged");

  // A broken file is refused with the reason; v2 keeps serving.
  {
    const fs::path tmp = p.so.string() + ".new";
    ih::test::writeFile(tmp, "not a shared library");
    fs::rename(tmp, p.so);
  }
  const json broken = p.reload();
  CHECK(broken["refused"] == true);
  CHECK(broken["files"][0]["status"] == "refused");
  CHECK_THAT(broken["files"][0]["reason"].get<std::string>(), Catch::Contains("not an ELF shared library"));
  CHECK(p.version() == R"(200 {"version":"2.0.0"})");

  // Tenants cannot reload (an admin route: a tenant key is not the admin token).
  auto tenant_reload = p.client->Post("/api/admin/plugins/reload", auth, "{}", "application/json");
  REQUIRE(tenant_reload);
  CHECK(tenant_reload->status == 401);
}

TEST_CASE("hot swap: a removed plugin file makes its integration unavailable until it is back",
          "[hot_swap]") {
  ProbeHost p(kV1);

  // A call running when the file goes finishes on its version; new calls are refused.
  std::string slow_answer;
  std::thread slow([&] {
    auto c2 = p.host->client();
    auto r = c2->Post("/api/integrations/probe/actions/slow", p.auth, R"({"ms":800})", "application/json");
    if (r) slow_answer = std::to_string(r->status) + " " + r->body;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  fs::remove(p.so);
  const json removed = p.reload();
  INFO(removed.dump());
  REQUIRE(removed["files"].size() == 1);
  CHECK(removed["files"][0]["status"] == "removed");
  CHECK(removed["files"][0]["integrations"] == json::array({"probe"}));
  CHECK_THAT(p.version(), Catch::StartsWith("503 ") && Catch::Contains("integration_unavailable") &&
                              Catch::Contains("was removed"));
  // Its webhooks get a 503 too (the provider keeps the delivery and retries), not a final-looking 404.
  const std::string hook = R"({"id":"evt_while_removed"})";
  const std::string hook_path = "/webhooks/probe/" + p.tenant.tenant_id;
  auto held =
      p.client->Post(hook_path.c_str(), {{"X-Probe-Signature", ih::sdk::hmacSha256Hex(kSecret, hook)}}, hook,
                     "application/json");
  REQUIRE(held);
  CHECK(held->status == 503);
  CHECK(held->get_header_value("Retry-After") == "60");
  CHECK_THAT(held->body, Catch::Contains("integration_unavailable"));
  slow.join();
  CHECK(slow_answer == R"(200 {"version":"1.0.0"})");
  const json listed = p.plugins_report();
  CHECK(listed["integrations"].empty());
  REQUIRE(listed["unavailable_integrations"].size() == 1);
  CHECK(listed["unavailable_integrations"][0]["integration"] == "probe");

  // Back (as v2): reloaded, served again.
  install(kV2, p.so);
  const json back = p.reload();
  INFO(back.dump());
  CHECK(back["files"][0]["status"] == "reloaded");
  CHECK(back["files"][0]["to_version"] == "2.0.0");
  CHECK(p.version() == R"(200 {"version":"2.0.0"})");
  CHECK(p.plugins_report()["unavailable_integrations"].empty());
  auto redelivered =
      p.client->Post(hook_path.c_str(), {{"X-Probe-Signature", ih::sdk::hmacSha256Hex(kSecret, hook)}}, hook,
                     "application/json");
  REQUIRE(redelivered);
  CHECK(redelivered->status == 200);  // the provider's retry lands once the plugin is back

  // Back and forth: v1 again, then v2 again (its private copy, still mapped by the retired v2, is reused, not
  // rewritten under it).
  install(kV1, p.so);
  CHECK(p.reload()["files"][0]["to_version"] == "1.0.0");
  CHECK(p.version() == R"(200 {"version":"1.0.0"})");
  install(kV2, p.so);
  CHECK(p.reload()["files"][0]["to_version"] == "2.0.0");
  CHECK(p.version() == R"(200 {"version":"2.0.0"})");
  CHECK(p.plugins_report()["integrations"][0]["reloads"] == 3);
}

TEST_CASE("hot swap: an integration whose plugin was missing at start starts when the file arrives",
          "[hot_swap]") {
  ProbeHost p("");
  CHECK_THAT(p.version(), Catch::StartsWith("503 "));  // configured, plugin not installed
  install(kV1, p.so);
  const json started = p.reload();
  INFO(started.dump());
  CHECK(started["files"][0]["status"] == "started");
  CHECK(started["files"][0]["integrations"] == json::array({"probe"}));
  CHECK(p.version() == R"(200 {"version":"1.0.0"})");
  const json listed = p.plugins_report();
  CHECK(listed["unavailable_integrations"].empty());
  REQUIRE(listed["integrations"].size() == 1);
  // And from then on it reloads like any other.
  install(kV2, p.so);
  CHECK(p.reload()["files"][0]["status"] == "reloaded");
}

TEST_CASE("hot swap: a pinned plugin is upgraded by writing its new digest in the config, then reloading",
          "[hot_swap]") {
  const std::string v1_digest = ih::loader::sha256File(kV1).value();
  const std::string v2_digest = ih::loader::sha256File(kV2).value();
  ProbeHost p(kV1, {}, "[plugins.sha256_allow]\n\"libswap_probe.so\" = \"" + v1_digest + "\"\n");
  install(kV2, p.so);
  const json refused = p.reload();
  CHECK(refused["files"][0]["status"] == "refused");
  CHECK_THAT(refused["files"][0]["reason"].get<std::string>(),
             Catch::Contains("does not match the allow-list"));
  CHECK(p.version() == R"(200 {"version":"1.0.0"})");

  // The operator pins the new build: the reload reads the allow-list again.
  std::string text = ih::test::readFile(p.host->configPath());
  text.replace(text.find(v1_digest), v1_digest.size(), v2_digest);
  ih::test::writeFile(p.host->configPath(), text);
  const json reloaded = p.reload();
  INFO(reloaded.dump());
  CHECK(reloaded["files"][0]["status"] == "reloaded");
  CHECK(p.version() == R"(200 {"version":"2.0.0"})");

  // A configuration file that no longer loads stops the reload, and says so.
  ih::test::writeFile(p.host->configPath(), text + "\n[plugins\n");
  const json broken = p.reload();
  CHECK(broken["refused"] == true);
  CHECK_THAT(broken["files"][0]["reason"].get<std::string>(), Catch::Contains("no longer loads"));
  CHECK(p.version() == R"(200 {"version":"2.0.0"})");
}

TEST_CASE("hot swap: with [plugins] watch, replacing the file is enough", "[hot_swap]") {
  ProbeHost p(kV1, {{"IHOST_PLUGINS__WATCH", "true"}});
  CHECK(p.version() == R"(200 {"version":"1.0.0"})");
  install(kV2, p.so);
  std::string seen;
  CHECK(ih::test::eventually(
      [&] {
        seen = p.version();
        return seen == R"(200 {"version":"2.0.0"})";
      },
      std::chrono::seconds(10)));
  INFO(seen);
  CHECK(p.plugins_report()["integrations"][0]["previous_version"] == "1.0.0");
}

TEST_CASE("ihost plugins reload asks the running server and prints what happened", "[hot_swap][cli]") {
  ProbeHost p(kV1);
  auto& host = *p.host;
  install(kV2, p.so);
  const std::string base = "http://127.0.0.1:" + std::to_string(host.port());
  auto run = ih::test::runCommand(std::string(IH_IHOST_BIN) + " plugins reload --config " +
                                  host.configPath() + " --url " + base + " 2>&1");
  INFO(run.out);
  CHECK(run.rc == 0);
  CHECK_THAT(run.out, Catch::Contains("reloaded") && Catch::Contains("swap_probe 1.0.0 -> 2.0.0 (probe)"));

  auto running = ih::test::runCommand(std::string(IH_IHOST_BIN) + " plugins list --running --config " +
                                      host.configPath() + " --url " + base + " 2>&1");
  INFO(running.out);
  CHECK(running.rc == 0);
  CHECK_THAT(running.out, Catch::Contains("probe  swap_probe 2.0.0  loaded ") &&
                              Catch::Contains("previous 1.0.0  reloads 1"));

  // A server answering with the wrong types (any server may sit at --url): read as absent, never a crash.
  httplib::Server odd;
  odd.Post("/api/admin/plugins/reload", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"files":[{"status":5,"file":[1],"plugin":{},"integrations":"x"},7],"refused":"yes"})",
                    "application/json");
  });
  odd.Get("/api/admin/plugins", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"integrations":[{"loaded_at":9223372036854775807,"reloads":-5,"version":[]},"x"],)"
                    R"("unavailable_integrations":[{"integration":7,"reason":null}]})",
                    "application/json");
  });
  const int odd_port = odd.bind_to_any_port("127.0.0.1");
  std::thread odd_thread([&] { odd.listen_after_bind(); });
  const std::string odd_url = " --url http://127.0.0.1:" + std::to_string(odd_port) + " 2>&1";
  auto odd_reload = ih::test::runCommand(std::string(IH_IHOST_BIN) + " plugins reload --config " +
                                         host.configPath() + odd_url);
  auto odd_list = ih::test::runCommand(std::string(IH_IHOST_BIN) + " plugins list --running --config " +
                                       host.configPath() + odd_url);
  odd.stop();
  odd_thread.join();
  INFO(odd_reload.out << "\n" << odd_list.out);
  CHECK(odd_reload.rc == 0);
  CHECK_THAT(odd_reload.out, Catch::Contains("-  -"));
  CHECK(odd_list.rc == 0);
  CHECK_THAT(odd_list.out, Catch::Contains("loaded 9999-12-31") && Catch::Contains("reloads 0") &&
                               Catch::Contains("-  unavailable: -"));

  auto unreachable = ih::test::runCommand(std::string(IH_IHOST_BIN) + " plugins reload --config " +
                                          host.configPath() + " --url http://127.0.0.1:9 2>&1");
  CHECK(unreachable.rc == 1);
  CHECK_THAT(unreachable.out, Catch::Contains("cannot reach the server at http://127.0.0.1:9"));
}
