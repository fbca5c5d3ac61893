// Scheduled syncs end to end: the real example .so against a fake provider on loopback (/ping,
// /items?after=), real SQLite leases and run history, the jobs API on its own http::Server beside the
// TestHost's App (the App does not wire the scheduler in yet).
#include <httplib.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/app.h"
#include "events/events.h"
#include "http/server.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "store/scheduler_store.h"
#include "store/store.h"
#include "support/eventually.h"
#include "support/test_host.h"
#include "vault/vault.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The provider the example plugin syncs from: items ordered by id, two per page, cursor = last id sent.
struct FakeProvider {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<std::string> ids;                  // GUARDED_BY(mu), sorted
  std::map<std::string, int> item_calls_by_key;  // GUARDED_BY(mu) Authorization -> /items calls
  std::vector<std::string> afters;               // GUARDED_BY(mu) ?after= values seen
  std::atomic<int> delay_ms{0};

  FakeProvider() {
    server.Get("/ping", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"account":"acct_fake"})", "application/json");
    });
    server.Get("/items", [this](const httplib::Request& req, httplib::Response& res) {
      if (int d = delay_ms.load(); d > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d));
      std::string after = req.get_param_value("after");
      std::lock_guard lock(mu);
      item_calls_by_key[req.get_header_value("Authorization")]++;
      afters.push_back(after);
      json items = json::array();
      bool more = false;
      for (const auto& id : ids) {
        if (id <= after) continue;
        if (items.size() == 2) {
          more = true;
          break;
        }
        items.push_back({{"id", id}, {"updated_at", 100}, {"name", "item " + id}});
      }
      json body = {{"items", items}, {"has_more", more}};
      if (!items.empty()) body["next_cursor"] = items.back()["id"];
      res.set_content(body.dump(), "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this]() { server.listen_after_bind(); });
    while (!server.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~FakeProvider() {
    server.stop();
    thread.join();
  }
  void addItems(int from, int to) {
    std::lock_guard lock(mu);
    for (int i = from; i <= to; ++i) {
      char id[16];
      std::snprintf(id, sizeof(id), "it_%03d", i);
      ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
  }
  int callsFor(const std::string& api_key) {
    std::lock_guard lock(mu);
    return item_calls_by_key["Bearer " + api_key];
  }
};

// `jobs_toml` may name the provider's address as @PROVIDER@ (for more integrations of the example plugin).
ih::test::TestHostOptions hostOptions(int provider_port, std::string jobs_toml = "") {
  ih::test::TestHostOptions o;
  const std::string provider = "http://127.0.0.1:" + std::to_string(provider_port);
  for (size_t at = jobs_toml.find("@PROVIDER@"); at != std::string::npos; at = jobs_toml.find("@PROVIDER@"))
    jobs_toml.replace(at, 10, provider);
  o.extra_toml = "[integrations.example]\nplugin = \"example\"\napi_base_url = \"" + provider +
                 "\"\nwebhook_secret = \"whsec_scheduler_test_0123456789\"\n\n" + jobs_toml;
  return o;
}

// The scheduler over the TestHost's App, and the jobs API on its own loopback server.
struct SchedulerHost {
  FakeProvider provider;
  ih::test::TestHost host;
  std::unique_ptr<ih::scheduler::Scheduler> scheduler;
  std::unique_ptr<ih::http::Server> server;

  explicit SchedulerHost(const std::string& jobs_toml = "", ih::scheduler::Options options = fastOptions())
      : host(hostOptions(provider.port, jobs_toml)) {
    auto& app = host.app();
    auto created =
        ih::scheduler::Scheduler::create(app.config(), app.runtime(), app.store(), &app.events(), options);
    if (!created.isOk()) FAIL(created.status().message());
    scheduler = std::move(created).value();
    ih::http::ServerOptions server_options;
    server_options.port = 0;
    server_options.worker_threads = 4;
    server = std::make_unique<ih::http::Server>(server_options);
    ih::scheduler::registerRoutes(*server, app.tenancy(), *scheduler);
    REQUIRE(server->start().isOk());
  }
  ~SchedulerHost() {
    server->stop();
    scheduler->stop();
  }

  static ih::scheduler::Options fastOptions() {
    ih::scheduler::Options o;
    o.discovery_interval = 100ms;
    o.progress_interval = 50ms;
    o.lease_ttl = 3s;
    o.api_wait = 5s;
    return o;
  }

  // A tenant connected to the example integration with its own provider key.
  ih::test::TestHost::TenantKey connected(const std::string& name, const std::string& api_key) {
    auto t = host.createTenant(name);
    auto res = host.client()->Post("/api/integrations/example/connect", ih::test::bearer(t.api_key),
                                   json{{"api_key", api_key}}.dump(), "application/json");
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 200);
    return t;
  }

  httplib::Result call(const std::string& method, const std::string& key, const std::string& path,
                       const std::string& body = "") {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(30);
    if (method == "POST") return c.Post(path.c_str(), ih::test::bearer(key), body, "application/json");
    return c.Get(path.c_str(), ih::test::bearer(key));
  }

  std::vector<ih::store::JobRun> runs(const std::string& tenant) {
    auto r = scheduler->history().listRuns(tenant, "example", "sync", 100);
    REQUIRE(r.isOk());
    return *r;
  }
};

using ih::test::eventually;

}  // namespace

TEST_CASE("scheduler: a scheduled run fires for each connected tenant, never for disconnected ones",
          "[scheduler]") {
  SchedulerHost h("[integrations.example.jobs.sync]\nevery = \"1s\"\n");
  h.provider.addItems(1, 3);
  auto a = h.connected("acme", "ex_acmeacme1");
  auto b = h.connected("globex", "ex_globexgl1");
  auto c = h.host.createTenant("initech");  // never connected
  auto d = h.connected("umbrella", "ex_umbrella1");
  auto off = h.host.client()->Post("/api/integrations/example/disconnect", ih::test::bearer(d.api_key), "",
                                   "application/json");
  REQUIRE(off);
  REQUIRE(off->status < 300);

  REQUIRE(h.scheduler->start().isOk());
  auto succeeded = [&](const std::string& tenant, size_t n) {
    size_t ok = 0;
    for (const auto& r : h.runs(tenant))
      ok += r.status == "succeeded";
    return ok >= n;
  };
  REQUIRE(eventually([&] { return succeeded(a.tenant_id, 2) && succeeded(b.tenant_id, 2); }));
  CHECK(h.runs(c.tenant_id).empty());
  CHECK(h.runs(d.tenant_id).empty());
  CHECK(h.provider.callsFor("ex_umbrella1") == 0);

  const auto first = h.runs(a.tenant_id).back();  // oldest
  CHECK(first.trigger == "schedule");
  CHECK(first.rows == 3);  // from the plugin's result ("synced")
  // The second scheduled run is incremental: nothing new.
  CHECK(h.runs(a.tenant_id).front().status != "failed");

  auto events = h.host.app().events().list(a.tenant_id, 0, "sync.", 10);
  REQUIRE(events.isOk());
  REQUIRE(!events->empty());
  json data = json::parse(events->front().data_json);
  CHECK(events->front().type == "sync.completed");
  CHECK(data["job"] == "sync");
  CHECK(data["integration"] == "example");
  CHECK(data["run_id"].is_number_integer());
  CHECK(data.contains("duration_ms"));

  // next_run_at is known for a scheduled tenant.
  auto res = h.call("GET", a.api_key, "/api/integrations/example/jobs");
  REQUIRE(res);
  json jobs = json::parse(res->body);
  CHECK(jobs["data"][0]["every"] == "1s");
  CHECK(jobs["data"][0]["next_run_at"].is_string());
}

// N replicas each keep a timer per job and tenant; between them a scheduled job still runs once per period.
// Three schedulers over one database (as three `ihost serve` would be; the PostgreSQL lane runs this on a
// server): consecutive scheduled runs start at least ~0.8 period apart, and not three times as often.
TEST_CASE("scheduler: replicas run a scheduled job once per period between them", "[scheduler]") {
  SchedulerHost h("[integrations.example.jobs.sync]\nevery = \"2s\"\n");
  h.provider.addItems(1, 3);
  auto a = h.connected("acme", "ex_acmeacme1");
  std::vector<std::unique_ptr<ih::scheduler::Scheduler>> others;
  for (int i = 0; i < 2; ++i) {
    auto options = SchedulerHost::fastOptions();
    options.holder = "replica-" + std::to_string(i + 2);
    auto& app = h.host.app();
    auto created =
        ih::scheduler::Scheduler::create(app.config(), app.runtime(), app.store(), &app.events(), options);
    REQUIRE(created.isOk());
    others.push_back(std::move(created).value());
  }
  REQUIRE(h.scheduler->start().isOk());
  for (auto& s : others)
    REQUIRE(s->start().isOk());
  std::this_thread::sleep_for(9s);
  for (auto& s : others)
    s->stop();
  h.scheduler->stop();

  std::vector<int64_t> starts;
  for (const auto& r : h.runs(a.tenant_id)) {
    if (r.trigger == "schedule") starts.push_back(r.started_at);
  }
  std::sort(starts.begin(), starts.end());
  INFO("scheduled runs: " << starts.size());
  CHECK(starts.size() >= 2);
  CHECK(starts.size() <= 6);  // 9 s / (0.81 x 2 s) + 1; three unaware replicas would make ~13
  for (size_t i = 1; i < starts.size(); ++i)
    CHECK(starts[i] - starts[i - 1] >= 1600);
}

TEST_CASE("scheduler: a job never overlaps itself (409 while running, scheduled turn skipped)",
          "[scheduler]") {
  auto options = SchedulerHost::fastOptions();
  options.api_wait = 200ms;
  SchedulerHost h("", options);
  h.provider.addItems(1, 2);
  auto a = h.connected("acme", "ex_acmeacme1");
  h.provider.delay_ms = 1500;

  auto first = h.call("POST", a.api_key, "/api/integrations/example/jobs/sync/run", R"({"full":true})");
  REQUIRE(first);
  INFO(first->body);
  REQUIRE(first->status == 202);  // longer than api_wait
  json run = json::parse(first->body)["run"];
  CHECK(run["status"] == "running");
  CHECK(run["full"] == true);
  CHECK(first->get_header_value("Location").find("/runs/") != std::string::npos);

  auto second = h.call("POST", a.api_key, "/api/integrations/example/jobs/sync/run");
  REQUIRE(second);
  CHECK(second->status == 409);
  CHECK(json::parse(second->body)["error"]["code"] == "job_running");
  auto scheduled =
      h.scheduler->trigger(a.tenant_id, "example", "sync", ih::scheduler::Trigger::kSchedule, false);
  CHECK(scheduled.status().code() == ih::StatusCode::kConflict);

  const int64_t id = run["id"];
  REQUIRE(eventually([&] {
    auto r = h.scheduler->history().getRun(a.tenant_id, id);
    return r.isOk() && r->has_value() && (*r)->status == "succeeded";
  }));
  CHECK(h.runs(a.tenant_id).size() == 1);
  auto one = h.call("GET", a.api_key, "/api/integrations/example/jobs/sync/runs/" + std::to_string(id));
  REQUIRE(one);
  CHECK(json::parse(one->body)["rows"] == 2);
  // Once finished, the next run may start.
  h.provider.delay_ms = 0;
  auto again = h.scheduler->runNow(a.tenant_id, "example", "sync", ih::scheduler::Trigger::kManual, false);
  REQUIRE(again.isOk());
  CHECK(again->status == "succeeded");
}

TEST_CASE("scheduler: a crashed holder's lease is taken over once expired", "[scheduler]") {
  SchedulerHost h;
  h.provider.addItems(1, 1);
  auto a = h.connected("acme", "ex_acmeacme1");
  auto& history = h.scheduler->history();
  const int64_t now = nowMs();

  // A live lease of another process: refused.
  auto live = history.acquireLease(a.tenant_id, "example", "sync", "otherhost:42/abc", now, now + 60000);
  REQUIRE(live.isOk());
  REQUIRE(*live);
  auto refused = h.scheduler->runNow(a.tenant_id, "example", "sync", ih::scheduler::Trigger::kManual, false);
  CHECK(refused.status().code() == ih::StatusCode::kConflict);
  REQUIRE(history.releaseLease(a.tenant_id, "example", "sync", "otherhost:42/abc").isOk());

  // The "crashed" holder: its lease expired, its run row still says running.
  REQUIRE(*history.acquireLease(a.tenant_id, "example", "sync", "crashed:7/dead", now - 20000, now - 5000));
  ih::store::JobRun stale;
  stale.tenant_id = a.tenant_id;
  stale.integration_id = "example";
  stale.job = "sync";
  stale.trigger = "schedule";
  stale.started_at = now - 20000;
  auto stale_id = history.insertRun(a.tenant_id, stale);
  REQUIRE(stale_id.isOk());

  auto run = h.scheduler->runNow(a.tenant_id, "example", "sync", ih::scheduler::Trigger::kManual, false);
  REQUIRE(run.isOk());
  CHECK(run->status == "succeeded");
  auto old = history.getRun(a.tenant_id, *stale_id);
  REQUIRE(old.isOk());
  REQUIRE(old->has_value());
  CHECK((*old)->status == "failed");
  CHECK((*old)->error.find("abandoned") != std::string::npos);
}

TEST_CASE("scheduler: an incremental run picks up exactly the new items (cursor), full starts over",
          "[scheduler]") {
  SchedulerHost h;
  h.provider.addItems(1, 5);
  auto a = h.connected("acme", "ex_acmeacme1");
  using ih::scheduler::Trigger;

  auto first = h.scheduler->runNow(a.tenant_id, "example", "sync", Trigger::kCli, false);
  REQUIRE(first.isOk());
  CHECK(first->status == "succeeded");
  CHECK(first->rows == 5);
  CHECK(first->trigger == "cli");

  h.provider.addItems(6, 7);
  {
    std::lock_guard lock(h.provider.mu);
    h.provider.afters.clear();
  }
  auto second = h.scheduler->runNow(a.tenant_id, "example", "sync", Trigger::kManual, false);
  REQUIRE(second.isOk());
  CHECK(second->rows == 2);
  {
    std::lock_guard lock(h.provider.mu);
    REQUIRE(!h.provider.afters.empty());
    CHECK(h.provider.afters.front() == "it_005");
  }
  auto nothing = h.scheduler->runNow(a.tenant_id, "example", "sync", Trigger::kManual, false);
  REQUIRE(nothing.isOk());
  CHECK(nothing->rows == 0);

  auto full = h.scheduler->runNow(a.tenant_id, "example", "sync", Trigger::kManual, true);
  REQUIRE(full.isOk());
  CHECK(full->rows == 7);
  CHECK(full->full);

  auto records = h.host.client()->Get("/api/records/example/item?limit=100", ih::test::bearer(a.api_key));
  REQUIRE(records);
  CHECK(json::parse(records->body)["data"].size() == 7);
}

TEST_CASE("scheduler: manual run API, job list and history are tenant-scoped", "[scheduler]") {
  SchedulerHost h;
  h.provider.addItems(1, 3);
  auto a = h.connected("acme", "ex_acmeacme1");
  auto b = h.host.createTenant("globex");  // not connected

  auto res = h.call("POST", a.api_key, "/api/integrations/example/jobs/sync/run", "{}");
  REQUIRE(res);
  INFO(res->body);
  REQUIRE(res->status == 200);
  json run = json::parse(res->body)["run"];
  CHECK(run["status"] == "succeeded");
  CHECK(run["rows"] == 3);
  CHECK(run["trigger"] == "manual");
  CHECK(run["duration_ms"].is_number_integer());

  auto missing = h.call("POST", a.api_key, "/api/integrations/example/jobs/nope/run");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto not_connected = h.call("POST", b.api_key, "/api/integrations/example/jobs/sync/run");
  REQUIRE(not_connected);
  CHECK(not_connected->status == 409);
  CHECK(json::parse(not_connected->body)["error"]["code"] == "not_connected");
  auto bad_body = h.call("POST", a.api_key, "/api/integrations/example/jobs/sync/run", R"({"full":"yes"})");
  REQUIRE(bad_body);
  CHECK(bad_body->status == 400);

  json jobs = json::parse(h.call("GET", a.api_key, "/api/integrations/example/jobs")->body);
  REQUIRE(jobs["data"].size() == 1);
  CHECK(jobs["data"][0]["name"] == "sync");
  CHECK(jobs["data"][0]["every"] == "15m");
  CHECK(jobs["data"][0]["enabled"] == true);
  CHECK(jobs["data"][0]["last_run"]["id"] == run["id"]);
  CHECK(jobs["data"][0]["last_run"]["rows"] == 3);
  CHECK(jobs["data"][0]["next_run_at"].is_null());  // schedule not started in this test

  REQUIRE(h.scheduler->runNow(a.tenant_id, "example", "sync", ih::scheduler::Trigger::kManual, false).isOk());
  json history =
      json::parse(h.call("GET", a.api_key, "/api/integrations/example/jobs/sync/runs?limit=1")->body);
  REQUIRE(history["data"].size() == 1);
  CHECK(history["data"][0]["id"] > run["id"]);
  CHECK(h.call("GET", a.api_key, "/api/integrations/example/jobs/sync/runs?limit=0")->status == 400);

  // Tenant B sees neither A's runs nor A's last run.
  json theirs = json::parse(h.call("GET", b.api_key, "/api/integrations/example/jobs/sync/runs")->body);
  CHECK(theirs["data"].empty());
  CHECK(json::parse(h.call("GET", b.api_key, "/api/integrations/example/jobs")->body)["data"][0]["last_run"]
            .is_null());
  CHECK(h.call("GET", b.api_key, "/api/integrations/example/jobs/sync/runs/" + run["id"].dump())->status ==
        404);
  CHECK(h.call("GET", a.api_key, "/api/integrations/nope/jobs")->status == 404);
}

TEST_CASE("scheduler: TOML overrides every and enabled=false", "[scheduler]") {
  SECTION("every") {
    SchedulerHost h("[integrations.example.jobs.sync]\nevery = \"2h\"\n");
    auto a = h.host.createTenant("acme");
    json jobs = json::parse(h.call("GET", a.api_key, "/api/integrations/example/jobs")->body);
    CHECK(jobs["data"][0]["every_seconds"] == 7200);
    CHECK(jobs["data"][0]["every"] == "2h");
  }
  SECTION("enabled = false") {
    // A second integration of the same plugin, scheduled every second, shows the schedule running: once it
    // has run twice, the disabled job would have had its chances too.
    SchedulerHost h(
        "[integrations.example.jobs.sync]\nevery = \"1s\"\nenabled = false\n\n"
        "[integrations.control]\nplugin = \"example\"\napi_base_url = \"@PROVIDER@\"\n"
        "webhook_secret = \"whsec_scheduler_control_0123456789\"\n"
        "[integrations.control.jobs.sync]\nevery = \"1s\"\n");
    h.provider.addItems(1, 1);
    auto a = h.connected("acme", "ex_acmeacme1");
    auto res_control = h.host.client()->Post("/api/integrations/control/connect", ih::test::bearer(a.api_key),
                                             json{{"api_key", "ex_control001"}}.dump(), "application/json");
    REQUIRE(res_control);
    REQUIRE(res_control->status == 200);
    REQUIRE(h.scheduler->start().isOk());
    CHECK(eventually([&] {
      auto control = h.scheduler->history().listRuns(a.tenant_id, "control", "sync", 100);
      return control.isOk() && control->size() >= 2;
    }));
    CHECK(h.runs(a.tenant_id).empty());
    CHECK(h.provider.callsFor("ex_acmeacme1") == 0);
    auto res = h.call("POST", a.api_key, "/api/integrations/example/jobs/sync/run");
    REQUIRE(res);
    CHECK(res->status == 409);
    CHECK(json::parse(res->body)["error"]["code"] == "job_disabled");
    json jobs = json::parse(h.call("GET", a.api_key, "/api/integrations/example/jobs")->body);
    CHECK(jobs["data"][0]["enabled"] == false);
  }
}

TEST_CASE("scheduler: a job the plugin does not declare is refused with file:line and the known jobs",
          "[scheduler]") {
  // The host refuses to start: the scheduler is built by App::create.
  FakeProvider provider;
  ih::test::TempDir dir;
  REQUIRE(ih::vault::initKeyFile(dir.file("vault.keys")).isOk());
  ih::test::writeFile(
      dir.path() / "ihost.toml",
      "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"db.sqlite\"\n[vault]\nkey_file = "
      "\"vault.keys\"\n[plugins]\ndir = \"" IH_PLUGIN_DIR "\"\n" +
          hostOptions(provider.port, "[integrations.example.jobs.synk]\nevery = \"5m\"\n").extra_toml);
  auto cfg = ih::config::loadFile(dir.file("ihost.toml"), {});
  REQUIRE(cfg.isOk());
  auto created = ih::app::App::create(std::move(*cfg), {});
  REQUIRE(!created.isOk());
  const std::string message = created.status().message();
  INFO(message);
  CHECK(created.status().code() == ih::StatusCode::kInvalidArgument);
  CHECK(message.find("ihost.toml:") != std::string::npos);
  CHECK(message.find("integrations.example.jobs.synk") != std::string::npos);
  CHECK(message.find("Known jobs: sync") != std::string::npos);
}
