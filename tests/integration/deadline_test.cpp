// Plugin call deadlines ([plugins] call_timeout_ms / job_timeout_ms, a job's own `timeout`, ABI 1.5
// call_remaining_ms) through the real server and the real hostile_echo plugin .so: a call past its deadline
// is answered 504 deadline_exceeded (a run: failed), whether the plugin stops by itself, ignores the deadline,
// or waits on a slow upstream through the host's http_request; it is counted and the host keeps answering.
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/store.h"
#include "support/eventually.h"
#include "support/host_process.h"
#include "support/temp_dir.h"
#include "support/test_host.h"
#include "vault/vault.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// An upstream that answers after `delay_ms`.
class SlowUpstream {
 public:
  explicit SlowUpstream(int delay_ms) {
    server_.Get("/slow", [delay_ms](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~SlowUpstream() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/slow"; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

ih::test::TestHostOptions options() {
  ih::test::TestHostOptions o;
  o.plugins_dir = std::string(IH_TEST_PLUGIN_DIR) + "/hostile_echo";
  o.extra_toml =
      "[integrations.echo]\nplugin = \"hostile_echo\"\n[integrations.echo.jobs.spin]\ntimeout = \"1s\"\n";
  o.env["IHOST_PLUGINS__CALL_TIMEOUT_MS"] = "400";
  return o;
}

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("a plugin call past its deadline is answered 504 deadline_exceeded, counted, and the host goes on",
          "[deadline]") {
  SlowUpstream upstream(4000);
  ih::test::TestHost host(options());
  auto tenant = host.createTenant("acme");
  auto client = host.client();
  client->set_read_timeout(std::chrono::seconds(30));
  const auto auth = ih::test::bearer(tenant.api_key);
  auto action = [&](const std::string& name, const json& input, double& seconds) {
    const auto start = Clock::now();
    auto res = client->Post(("/api/integrations/echo/actions/" + name).c_str(), auth, input.dump(),
                            "application/json");
    seconds = secondsSince(start);
    REQUIRE(res);
    INFO(res->body);
    return std::make_pair(res->status, json::parse(res->body, nullptr, false));
  };

  double seconds = 0;
  // A cooperative plugin: sees call_remaining_ms reach 0 and stops.
  auto [status, body] = action("spin", json::object(), seconds);
  CHECK(status == 504);
  CHECK(body["error"]["code"] == "deadline_exceeded");
  CHECK_THAT(body["error"]["message"].get<std::string>(),
             Catch::Contains("ran past its 400 ms deadline in actions") &&
                 Catch::Contains("stopped at the deadline"));
  CHECK(seconds >= 0.35);
  CHECK(seconds < 3);

  // A plugin that never looks: its failure after the deadline is still the deadline's.
  auto [late_status, late] = action("spin", {{"ignore_deadline", true}, {"ms", 900}}, seconds);
  CHECK(late_status == 504);
  CHECK(late["error"]["code"] == "deadline_exceeded");
  CHECK(seconds >= 0.85);

  // A slow upstream: the host's http_request stops waiting at the call's deadline (the upstream takes 4 s).
  auto [fetch_status, fetched] = action("fetch", {{"url", upstream.url()}}, seconds);
  CHECK(fetch_status == 504);
  CHECK(fetched["error"]["code"] == "deadline_exceeded");
  CHECK(seconds < 2.5);

  // Within the deadline nothing changes.
  auto health = client->Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto metrics = client->Get("/metrics");
  REQUIRE(metrics);
  CHECK_THAT(
      metrics->body,
      Catch::Contains("ihost_plugin_deadline_exceeded_total{integration=\"echo\",handler=\"run_action\"} 3"));
}

TEST_CASE("an integration's own call_timeout_ms wins over [plugins] call_timeout_ms", "[deadline]") {
  auto o = options();
  o.extra_toml = "[integrations.echo]\nplugin = \"hostile_echo\"\ncall_timeout_ms = 1500\n";
  ih::test::TestHost host(o);
  auto tenant = host.createTenant("acme");
  auto client = host.client();
  client->set_read_timeout(std::chrono::seconds(30));
  const auto start = Clock::now();
  auto res = client->Post("/api/integrations/echo/actions/spin", ih::test::bearer(tenant.api_key), "{}",
                          "application/json");
  const double seconds = secondsSince(start);
  REQUIRE(res);
  INFO(res->body);
  CHECK(res->status == 504);
  CHECK_THAT(res->body, Catch::Contains("ran past its 1500 ms deadline"));
  CHECK(seconds >= 1.4);
}

TEST_CASE("a job runs under its own timeout and fails as deadline exceeded", "[deadline]") {
  ih::test::TestHost host(options());
  auto tenant = host.createTenant("acme");
  auto client = host.client();
  client->set_read_timeout(std::chrono::seconds(30));
  const auto auth = ih::test::bearer(tenant.api_key);
  // hostile_echo takes no connection (no connect, no OAuth): its jobs run for any tenant, as its actions do.
  auto started = client->Post("/api/integrations/echo/jobs/spin/run", auth, "{}", "application/json");
  REQUIRE(started);
  INFO(started->body);
  REQUIRE((started->status == 200 || started->status == 202));
  json run = json::parse(started->body)["run"];
  const std::string path =
      "/api/integrations/echo/jobs/spin/runs/" + std::to_string(run["id"].get<int64_t>());
  REQUIRE(ih::test::eventually(
      [&] {
        run = json::parse(client->Get(path.c_str(), auth)->body);
        return run["status"] != "running";
      },
      std::chrono::seconds(15)));
  INFO(run.dump());
  CHECK(run["status"] == "failed");
  CHECK_THAT(run["error"].get<std::string>(), Catch::Contains("ran past its 1000 ms deadline in jobs"));
  // The job's own 1 s, not the 400 ms call deadline nor the hour of job_timeout_ms.
  CHECK(run["duration_ms"].get<int64_t>() >= 950);
  CHECK(run["duration_ms"].get<int64_t>() < 5000);
}

TEST_CASE("ihost serve exits after shutdown_timeout_ms when a plugin call never returns",
          "[deadline][serve]") {
  ih::test::TempDir dir;
  const int port = ih::test::freePort();
  const std::string config = dir.file("ihost.toml");
  ih::test::writeFile(config, "[server]\nlisten = \"127.0.0.1:" + std::to_string(port) +
                                  "\"\nshutdown_timeout_ms = 1000\n[storage]\npath = \"ihost.db\"\n"
                                  "[vault]\nkey_file = \"vault.keys\"\n[plugins]\ndir = \"" IH_TEST_PLUGIN_DIR
                                  "/hostile_echo\"\ncall_timeout_ms = 60000\n[log]\nlevel = \"warn\"\n"
                                  "[integrations.echo]\nplugin = \"hostile_echo\"\n");
  REQUIRE(ih::vault::initKeyFile(dir.file("vault.keys")).isOk());
  {
    ih::store::Options o;
    o.path = dir.file("ihost.db");
    auto store = ih::store::Store::open(o);
    REQUIRE(store.isOk());
    REQUIRE((*store)->createTenant({"t_stuck", "stuck", 1}).isOk());
  }
  const std::string log_file = dir.file("ihost.log");
  const pid_t pid =
      ih::test::spawnHost(config, log_file, {{"IHOST_ADMIN_TOKEN", "iha_shutdown_admin_token"}});
  REQUIRE(pid > 0);
  struct Reaper {  // no orphan when a REQUIRE fails
    pid_t pid;
    bool reaped = false;
    ~Reaper() {
      if (!reaped) ih::test::stopHost(pid, SIGKILL);
    }
  } reaper{pid};
  REQUIRE(ih::test::waitHealthy(port));

  // A plugin call that ignores its (60 s) deadline for 20 s.
  std::thread stuck([port] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(30));
    (void)c.Post("/api/integrations/echo/actions/spin",
                 {{"Authorization", "Bearer iha_shutdown_admin_token"}, {"X-Ihost-Tenant", "t_stuck"}},
                 R"({"ignore_deadline":true,"ms":20000})", "application/json");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = Clock::now();
  REQUIRE(::kill(pid, SIGTERM) == 0);
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && secondsSince(start) < 15)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double seconds = secondsSince(start);
  stuck.join();
  REQUIRE(done == pid);
  reaper.reaped = true;
  CHECK(seconds >= 0.9);
  CHECK(seconds < 6);  // 1 s of drain, not the 20 s the plugin wanted
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_THAT(ih::test::readFile(log_file), Catch::Contains("shutdown did not finish in time"));
}
