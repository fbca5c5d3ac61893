// Webhook inbox end to end: real HTTP on loopback, real SQLite, the real webhook_test .so, real HMAC.
// The inbox is assembled beside the TestHost's App from the App's own store/runtime/tenancy (the App does not
// wire the inbox itself yet), on its own http::Server.
#include <httplib.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "app/metrics_routes.h"
#include "config/config.h"
#include "events/events.h"
#include "http/server.h"
#include "inbox/inbox.h"
#include "store/inbox_store.h"
#include "store/store.h"
#include "support/eventually.h"
#include "support/test_host.h"
#include "support/test_store.h"
#include "support/webhook_test_signature.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kSecret[] = "whsec_inbox_test_secret";
constexpr char kAdminToken[] = "iha_inbox_test_admin_token";

using ih::test::unixSeconds;

std::string signature(const std::string& body, int64_t t = unixSeconds(),
                      const std::string& secret = kSecret) {
  return ih::test::webhookTestSignature(secret, body, t);
}

ih::test::TestHostOptions hostOptions(const std::string& extra_settings = "") {
  ih::test::TestHostOptions o;
  o.plugins_dir = std::string(IH_TEST_PLUGIN_DIR) + "/webhook_test";
  // The host's own inbox only takes intake (workers = 0): the Harness below dispatches with fast retries.
  o.extra_toml =
      std::string(
          "[inbox]\nworkers = 0\n\n[integrations.hooks]\nplugin = \"webhook_test\"\nwebhook_secret = \"") +
      kSecret + "\"\ntolerance_s = 300\n" + extra_settings;
  o.env = {{"IHOST_ADMIN_TOKEN", kAdminToken}};
  return o;
}

ih::inbox::Options fastOptions(int workers = 2) {
  ih::inbox::Options o;
  o.retry_schedule = {50ms, 50ms};
  o.workers = workers;
  o.idle_poll = 200ms;
  return o;
}

// An Inbox + its own HTTP server on the TestHost's App.
class Harness {
 public:
  Harness(ih::test::TestHost& host, ih::inbox::Options options) : host_(host) {
    inbox_ = std::make_unique<ih::inbox::Inbox>(host.app().store(), host.app().runtime(), std::move(options));
    ih::http::ServerOptions so;
    so.port = 0;
    so.max_body_bytes = 64 * 1024;
    so.worker_threads = 16;
    server_ = std::make_unique<ih::http::Server>(so);
    inbox_->registerRoutes(*server_, host.app().tenancy());
    ih::metrics::registerRoutes(*server_);
    REQUIRE(inbox_->start().isOk());
    REQUIRE(server_->start().isOk());
  }
  ~Harness() {
    server_->stop();
    inbox_->stop();
  }
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    c->set_connection_timeout(5);
    c->set_read_timeout(20);
    return c;
  }
  httplib::Result post(const std::string& path, const std::string& body, const std::string& sig) const {
    httplib::Headers h = {{"X-Test-Signature", sig}, {"User-Agent", "Stripe/1.0"}};
    return client()->Post(path.c_str(), h, body, "application/json");
  }
  httplib::Result postSigned(const std::string& path, const std::string& body) const {
    return post(path, body, signature(body));
  }
  json getJson(const std::string& path, const std::string& key, int expect = 200) const {
    auto r = client()->Get(path.c_str(), ih::test::bearer(key));
    REQUIRE(r);
    INFO(path << " -> " << r->body);
    REQUIRE(r->status == expect);
    return json::parse(r->body);
  }
  ih::inbox::Inbox& inbox() { return *inbox_; }
  int port() const { return server_->port(); }

 private:
  ih::test::TestHost& host_;
  std::unique_ptr<ih::inbox::Inbox> inbox_;
  std::unique_ptr<ih::http::Server> server_;
};

std::string event(const std::string& id, const json& extra = json::object()) {
  json e = {{"id", id}, {"type", "invoice.paid"}, {"data", {{"object", {{"id", "in_1"}, {"amount", 100}}}}}};
  for (auto& [k, v] : extra.items())
    e[k] = v;
  return e.dump();
}

using ih::test::eventually;

json adminEvent(Harness& h, int64_t id) {
  return h.getJson("/api/admin/webhooks/" + std::to_string(id), kAdminToken);
}

json findByEventId(Harness& h, const std::string& event_id) {
  json list = h.getJson("/api/admin/webhooks?limit=500", kAdminToken);
  for (auto& e : list["data"]) {
    if (e["event_id"] == event_id) return e;
  }
  return json();
}

std::string statusOf(Harness& h, const std::string& event_id) {
  json e = findByEventId(h, event_id);
  return e.is_null() ? std::string() : e["status"].get<std::string>();
}

// Every line of a Prometheus exposition is a comment or `name{labels} value`.
void requireValidExposition(const std::string& text) {
  static const std::regex kSample(
      R"re(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*")*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)re");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    INFO(line);
    REQUIRE(std::regex_match(line, kSample));
  }
}

double metricValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace

// [inbox] keys reach the dispatcher (the TOML side is in tests/unit/config): a key parsed but not passed on would
// leave the old fixed claim size of 16 in place.
TEST_CASE("inbox: every [inbox] key reaches the dispatcher's options", "[inbox]") {
  ih::config::InboxConfig c;
  c.retry_schedule_s = {5, 50};
  c.workers = 3;
  c.claim_batch = 77;
  c.retention_days = 9;
  const ih::inbox::Options o = ih::inbox::optionsFrom(c);
  CHECK(o.retry_schedule ==
        std::vector<std::chrono::milliseconds>{std::chrono::seconds(5), std::chrono::seconds(50)});
  CHECK(o.workers == 3);
  CHECK(o.claim_batch == 77);
  CHECK(o.retention_days == 9);
  CHECK(ih::inbox::optionsFrom(ih::config::InboxConfig{}).claim_batch == 128);
}

TEST_CASE("inbox: signed webhooks are stored then processed, bad signatures are refused and not stored",
          "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto tenant = host.createTenant("acme");
  Harness h(host, fastOptions());
  const std::string path = "/webhooks/hooks/" + tenant.tenant_id;

  auto ok = h.postSigned(path, event("evt_ok_1"));
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(json::parse(ok->body) == json{{"received", true}, {"duplicate", false}});

  const std::string body = event("evt_bad_1");
  auto wrong_secret = h.post(path, body, signature(body, unixSeconds(), "whsec_other"));
  REQUIRE(wrong_secret);
  CHECK(wrong_secret->status == 400);
  CHECK(json::parse(wrong_secret->body)["error"]["code"] == "invalid_signature");
  auto stale = h.post(path, body, signature(body, unixSeconds() - 3600));
  REQUIRE(stale);
  CHECK(stale->status == 400);
  auto tampered = h.post(path, body + " ", signature(body));
  REQUIRE(tampered);
  CHECK(tampered->status == 400);
  auto missing = h.client()->Post(path.c_str(), body, "application/json");
  REQUIRE(missing);
  CHECK(missing->status == 400);

  auto unknown_integration = h.postSigned("/webhooks/nope/" + tenant.tenant_id, body);
  REQUIRE(unknown_integration);
  CHECK(unknown_integration->status == 404);
  auto unknown_tenant = h.postSigned("/webhooks/hooks/t_does_not_exist", body);
  REQUIRE(unknown_tenant);
  CHECK(unknown_tenant->status == 404);

  REQUIRE(eventually([&] { return statusOf(h, "evt_ok_1") == "processed"; }));
  CHECK(findByEventId(h, "evt_bad_1").is_null());
  auto seen = host.app().store().getState(tenant.tenant_id, "hooks", "seen/evt_ok_1");
  REQUIRE(seen.isOk());
  REQUIRE(seen->has_value());
  CHECK(json::parse(**seen)["attempt"] == 1);

  // Detail: signature header masked, the attempt listed.
  json detail = adminEvent(h, findByEventId(h, "evt_ok_1")["id"].get<int64_t>());
  CHECK(detail["headers"]["X-Test-Signature"].get<std::string>().find("v1=") == std::string::npos);
  CHECK(detail["headers"]["User-Agent"] == "Stripe/1.0");
  CHECK(detail["attempt_log"].size() == 1);
  CHECK(detail["attempt_log"][0]["ok"] == true);

  auto metrics = h.client()->Get("/metrics");
  REQUIRE(metrics);
  REQUIRE(metrics->status == 200);
  requireValidExposition(metrics->body);
  CHECK(metricValue(metrics->body,
                    R"(ihost_webhooks_received_total{integration="hooks",result="invalid_signature"})") >= 4);
  CHECK(metricValue(metrics->body,
                    R"(ihost_webhooks_received_total{integration="hooks",result="accepted"})") >= 1);
  CHECK(metricValue(metrics->body, R"(ihost_webhook_dispatch_duration_seconds_count{integration="hooks"})") >=
        1);
  CHECK(metrics->body.find("ihost_webhooks_backlog ") != std::string::npos);
}

TEST_CASE("ABI 1.3: a handler shares its call with threads, each thread reads its own last_error",
          "[inbox][abi]") {
  ih::test::TestHost host(hostOptions());
  auto tenant = host.createTenant("acme");
  Harness h(host, fastOptions());
  auto ok = h.postSigned("/webhooks/hooks/" + tenant.tenant_id, event("evt_threads_1", {{"threads", 8}}));
  REQUIRE(ok);
  REQUIRE(ok->status == 200);
  REQUIRE(eventually([&] { return statusOf(h, "evt_threads_1") == "processed"; }));
  auto seen = host.app().store().getState(tenant.tenant_id, "hooks", "seen/evt_threads_1");
  REQUIRE(seen.isOk());
  REQUIRE(seen->has_value());
  const json state = json::parse(**seen);
  CHECK(state["thread_calls"] == 8 * 50);
  CHECK(state["thread_mismatches"] == 0);
}

TEST_CASE("inbox: one object's events are handled one at a time, in order, others meanwhile", "[inbox]") {
  ih::test::TestHost host(hostOptions("handle_delay_ms = 400\n"));
  auto tenant = host.createTenant("acme");
  Harness h(host, fastOptions(2));
  const std::string path = "/webhooks/hooks/" + tenant.tenant_id;
  const int64_t t = unixSeconds();
  // Two events of object in_1 in the same second (as invoice.finalized and invoice.paid often are): the
  // second arrives while the first is being handled, with a free worker waiting.
  auto first = h.postSigned(path, event("evt_obj_1", {{"created", t}}));
  REQUIRE(first);
  REQUIRE(first->status == 200);
  REQUIRE(eventually([&] { return statusOf(h, "evt_obj_1") == "processing"; }));
  auto second = h.postSigned(path, event("evt_obj_2", {{"created", t}}));
  REQUIRE(second);
  REQUIRE(second->status == 200);
  auto other =
      h.postSigned(path, event("evt_other", {{"created", t}, {"data", {{"object", {{"id", "in_2"}}}}}}));
  REQUIRE(other);
  REQUIRE(other->status == 200);
  for (const char* id : {"evt_obj_1", "evt_obj_2", "evt_other"})
    REQUIRE(eventually([&] { return statusOf(h, id) == "processed"; }));

  auto seen = [&](const std::string& id) {
    auto s = host.app().store().getState(tenant.tenant_id, "hooks", "seen/" + id);
    REQUIRE(s.isOk());
    REQUIRE(s->has_value());
    return json::parse(**s);
  };
  const json a = seen("evt_obj_1"), b = seen("evt_obj_2"), c = seen("evt_other");
  INFO(a.dump() << "\n" << b.dump() << "\n" << c.dump());
  // The second event of in_1 waited for the first to finish (not handled concurrently, not before it)...
  CHECK(b["started_ms"].get<int64_t>() >= a["finished_ms"].get<int64_t>());
  // ...while another object's event was handled by the free worker meanwhile.
  CHECK(c["started_ms"].get<int64_t>() < a["finished_ms"].get<int64_t>());
}

TEST_CASE("inbox: a repeated event id is a duplicate, with another payload a conflict, processed once",
          "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto tenant = host.createTenant("acme");
  Harness h(host, fastOptions());
  const std::string path = "/webhooks/hooks/" + tenant.tenant_id;
  const std::string body = event("evt_dup");
  REQUIRE(h.postSigned(path, body)->status == 200);
  auto again = h.postSigned(path, body);
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(json::parse(again->body) == json{{"received", true}, {"duplicate", true}});
  auto other = h.postSigned(path, event("evt_dup", {{"extra", 1}}));
  REQUIRE(other);
  CHECK(other->status == 200);
  CHECK(json::parse(other->body) == json{{"received", true}, {"duplicate", true}, {"conflict", true}});

  REQUIRE(eventually([&] { return statusOf(h, "evt_dup") == "processed"; }));
  std::this_thread::sleep_for(200ms);
  json row = findByEventId(h, "evt_dup");
  CHECK(row["duplicates"] == 1);
  CHECK(row["conflicts"] == 1);
  CHECK(row["attempts"] == 1);
  CHECK(h.getJson("/api/admin/webhooks", kAdminToken)["data"].size() == 1);
}

TEST_CASE("inbox: failures retry, then dead-letter, replay processes with the current plugin code",
          "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto tenant = host.createTenant("acme");
  Harness h(host, fastOptions());
  REQUIRE(
      h.postSigned("/webhooks/hooks/" + tenant.tenant_id, event("evt_fail", {{"fail", 5}, {"leak", true}}))
          ->status == 200);
  REQUIRE(eventually([&] { return statusOf(h, "evt_fail") == "dead"; }));
  json row = findByEventId(h, "evt_fail");
  const int64_t id = row["id"];
  CHECK(row["attempts"] == 3);  // 1 + two retries
  json detail = h.getJson("/api/webhooks/" + std::to_string(id), tenant.api_key);
  REQUIRE(detail["attempt_log"].size() == 3);
  for (auto& a : detail["attempt_log"]) {
    CHECK(a["ok"] == false);
    CHECK(a["error"].get<std::string>().find("planned failure") != std::string::npos);
    CHECK(a["error"].get<std::string>().find("sk_live_51HqLyjWDarjtT1zdp7dc4eC3") == std::string::npos);
  }
  CHECK(detail["last_error"].get<std::string>().find("sk_live_51HqLyjWDarjtT1zdp7dc4eC3") ==
        std::string::npos);

  auto metrics = h.client()->Get("/metrics");
  CHECK(metricValue(metrics->body, R"(ihost_webhooks_dead_total{integration="hooks"})") >= 1);

  // "Fix the plugin", replay: processed, attempts restarted at 1.
  REQUIRE(host.app().store().putState(tenant.tenant_id, "hooks", "fixed", "1").isOk());
  auto replay = h.client()->Post(("/api/webhooks/" + std::to_string(id) + "/replay").c_str(),
                                 ih::test::bearer(tenant.api_key), "", "application/json");
  REQUIRE(replay);
  CHECK(replay->status == 202);
  REQUIRE(eventually([&] { return statusOf(h, "evt_fail") == "processed"; }));
  CHECK(findByEventId(h, "evt_fail")["attempts"] == 1);
  CHECK(h.getJson("/api/webhooks/" + std::to_string(id), tenant.api_key)["attempt_log"].size() == 4);
}

TEST_CASE("inbox: a webhook's events are emitted once across retries, a replay emits them again", "[inbox]") {
  ih::test::TestHost host(hostOptions("emit_events = true\n"));
  auto tenant = host.createTenant("acme");
  Harness h(host, fastOptions());
  // Attempt 1 emits two events, then fails; attempt 2 emits the same two and succeeds.
  REQUIRE(h.postSigned("/webhooks/hooks/" + tenant.tenant_id,
                       event("evt_once", {{"fail", 1}, {"emit_first", true}, {"twice", true}}))
              ->status == 200);
  REQUIRE(eventually([&] { return statusOf(h, "evt_once") == "processed"; }));
  const json row = findByEventId(h, "evt_once");
  CHECK(row["attempts"] == 2);
  auto received = [&] {
    json out = json::array();
    auto events = host.app().events().list(tenant.tenant_id, 0, "test.received", 100);
    REQUIRE(events.isOk());
    for (const auto& e : *events)
      out.push_back(json::parse(e.data_json));
    return out;
  };
  CHECK(received() == json::parse(R"([{"event_id":"evt_once","n":1},{"event_id":"evt_once","n":2}])"));

  // A replay is a new handling: its events are new events.
  auto replay = h.client()->Post(("/api/webhooks/" + row["id"].dump() + "/replay").c_str(),
                                 ih::test::bearer(tenant.api_key), "", "application/json");
  REQUIRE(replay);
  REQUIRE(replay->status == 202);
  REQUIRE(eventually([&] { return received().size() == 4; }));
  REQUIRE(eventually([&] { return statusOf(h, "evt_once") == "processed"; }));
  std::this_thread::sleep_for(200ms);
  CHECK(received().size() == 4);
}

TEST_CASE("inbox: an attempt whose events could not be stored is recorded failed and retried", "[inbox]") {
  ih::test::TestHost host(hostOptions("emit_events = true\n"));
  auto tenant = host.createTenant("acme");
  // A real database failure for the deferred insert: a trigger refuses this webhook's event.
  ih::test::testStoreExec(
      host.dbPath(),
      ih::test::testStoreIsPostgres()
          ? "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.data_json "
            "LIKE '%evt_unstored%' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$; "
            "CREATE TRIGGER refuse_event BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_event()"
          : "CREATE TRIGGER refuse_event BEFORE INSERT ON events WHEN NEW.data_json LIKE '%evt_unstored%' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  Harness h(host, fastOptions());
  REQUIRE(h.postSigned("/webhooks/hooks/" + tenant.tenant_id, event("evt_unstored"))->status == 200);
  int64_t id = 0;
  REQUIRE(eventually([&] {
    json row = findByEventId(h, "evt_unstored");
    if (row.is_null() || row["attempts"] < 1) return false;
    id = row["id"];
    return true;
  }));
  // The plugin returned ok, but its event was not stored: attempt 1 is a failure naming why.
  json first;
  REQUIRE(eventually([&] {
    first = h.getJson("/api/webhooks/" + std::to_string(id), tenant.api_key);
    return !first["attempt_log"].empty();
  }));
  CHECK(first["attempt_log"][0]["ok"] == false);
  CHECK(first["attempt_log"][0]["error"].get<std::string>().find(
            "storing the records or events of the handling failed") != std::string::npos);
  // With storage healthy again the retry stores the event exactly once and the webhook is processed (the
  // trigger may let through a third attempt at most: the schedule allows three).
  ih::test::testStoreExec(host.dbPath(), ih::test::testStoreIsPostgres()
                                             ? "DROP TRIGGER refuse_event ON events"
                                             : "DROP TRIGGER refuse_event");
  REQUIRE(eventually([&] { return statusOf(h, "evt_unstored") == "processed"; }));
  auto events = host.app().events().list(tenant.tenant_id, 0, "test.received", 100);
  REQUIRE(events.isOk());
  REQUIRE(events->size() == 1);
  CHECK(json::parse(events->front().data_json)["event_id"] == "evt_unstored");
  json detail = h.getJson("/api/webhooks/" + std::to_string(id), tenant.api_key);
  CHECK(detail["attempt_log"].back()["ok"] == true);
}

TEST_CASE("inbox: CLI replay by status picks dead events", "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto tenant = host.createTenant("acme");
  {
    Harness h(host, fastOptions());
    for (int i = 0; i < 3; ++i) {
      REQUIRE(h.postSigned("/webhooks/hooks/" + tenant.tenant_id,
                           event("evt_d" + std::to_string(i), {{"fail", 9}}))
                  ->status == 200);
    }
    REQUIRE(eventually([&] {
      return statusOf(h, "evt_d0") == "dead" && statusOf(h, "evt_d1") == "dead" &&
             statusOf(h, "evt_d2") == "dead";
    }));
  }
  REQUIRE(host.app().store().putState(tenant.tenant_id, "hooks", "fixed", "1").isOk());
  ih::store::ReplayFilter filter;
  filter.statuses = {ih::store::InboxStatus::kDead};
  filter.integration_id = "hooks";
  auto replayed = ih::inbox::replay(host.app().store(), filter);
  REQUIRE(replayed.isOk());
  CHECK(*replayed == 3);
  Harness h(host, fastOptions());
  REQUIRE(eventually([&] {
    return statusOf(h, "evt_d0") == "processed" && statusOf(h, "evt_d1") == "processed" &&
           statusOf(h, "evt_d2") == "processed";
  }));
}

TEST_CASE("inbox: pending and interrupted events survive a restart", "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto tenant = host.createTenant("acme");
  {
    Harness h(host, fastOptions(/*workers=*/0));  // intake only
    for (int i = 0; i < 5; ++i) {
      REQUIRE(
          h.postSigned("/webhooks/hooks/" + tenant.tenant_id, event("evt_r" + std::to_string(i)))->status ==
          200);
    }
    // Simulate a crash mid-dispatch: claim two and never complete them.
    ih::store::InboxStore events(host.app().store());
    auto claimed = events.claimDue(std::numeric_limits<int64_t>::max() / 2, 2);
    REQUIRE(claimed.isOk());
    CHECK(claimed->size() == 2);
    CHECK(statusOf(h, "evt_r0") == "processing");
  }
  host.restart();
  Harness h(host, fastOptions());
  REQUIRE(eventually([&] {
    for (int i = 0; i < 5; ++i) {
      if (statusOf(h, "evt_r" + std::to_string(i)) != "processed") return false;
    }
    return true;
  }));
}

TEST_CASE("inbox: platform webhooks route by account, unknown accounts are acked and kept unroutable",
          "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto a = host.createTenant("alpha");
  auto b = host.createTenant("beta");
  Harness h(host, fastOptions());
  auto put = h.client()->Put("/api/admin/webhooks/routes/hooks/acct_alpha", ih::test::bearer(kAdminToken),
                             json{{"tenant", a.tenant_id}}.dump(), "application/json");
  REQUIRE(put);
  REQUIRE(put->status == 200);

  auto routed = h.postSigned("/webhooks/hooks", event("evt_p1", {{"account", "acct_alpha"}}));
  REQUIRE(routed);
  CHECK(routed->status == 200);
  auto unroutable = h.postSigned("/webhooks/hooks", event("evt_p2", {{"account", "acct_unknown"}}));
  REQUIRE(unroutable);
  CHECK(unroutable->status == 200);
  CHECK(json::parse(unroutable->body)["routed"] == false);

  REQUIRE(eventually([&] { return statusOf(h, "evt_p1") == "processed"; }));
  CHECK(findByEventId(h, "evt_p1")["tenant"] == a.tenant_id);
  CHECK(h.getJson("/api/webhooks", a.api_key)["data"].size() == 1);
  CHECK(h.getJson("/api/webhooks", b.api_key)["data"].empty());
  json unroutable_list = h.getJson("/api/admin/webhooks?status=unroutable", kAdminToken);
  REQUIRE(unroutable_list["data"].size() == 1);
  CHECK(unroutable_list["data"][0]["account"] == "acct_unknown");
  const int64_t id = unroutable_list["data"][0]["id"];

  // Replaying before the account is mapped is refused; after mapping it goes to that tenant.
  auto early = h.client()->Post(("/api/admin/webhooks/" + std::to_string(id) + "/replay").c_str(),
                                ih::test::bearer(kAdminToken), "", "application/json");
  REQUIRE(early);
  CHECK(early->status == 409);
  REQUIRE(h.inbox().events().setRoute("hooks", "acct_unknown", b.tenant_id).isOk());
  auto late = h.client()->Post(("/api/admin/webhooks/" + std::to_string(id) + "/replay").c_str(),
                               ih::test::bearer(kAdminToken), "", "application/json");
  REQUIRE(late);
  CHECK(late->status == 202);
  REQUIRE(eventually([&] { return statusOf(h, "evt_p2") == "processed"; }));
  CHECK(findByEventId(h, "evt_p2")["tenant"] == b.tenant_id);

  auto metrics = h.client()->Get("/metrics");
  CHECK(metricValue(metrics->body,
                    R"(ihost_webhooks_received_total{integration="hooks",result="unroutable"})") >= 1);
}

TEST_CASE("inbox: oversize bodies get 413, malformed payloads 400", "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto tenant = host.createTenant("acme");
  Harness h(host, fastOptions());
  const std::string path = "/webhooks/hooks/" + tenant.tenant_id;
  std::string big = event("evt_big", {{"pad", std::string(100 * 1024, 'x')}});
  auto too_big = h.postSigned(path, big);
  REQUIRE(too_big);
  CHECK(too_big->status == 413);
  auto not_json = h.postSigned(path, "this is not json");
  REQUIRE(not_json);
  CHECK(not_json->status == 400);
  CHECK(json::parse(not_json->body)["error"]["code"] == "invalid_payload");
  auto no_id = h.postSigned(path, R"({"type":"x"})");
  REQUIRE(no_id);
  CHECK(no_id->status == 400);
  CHECK(h.getJson("/api/admin/webhooks", kAdminToken)["data"].empty());
}

TEST_CASE("inbox: tenants only see and replay their own events", "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto a = host.createTenant("alpha");
  auto b = host.createTenant("beta");
  Harness h(host, fastOptions());
  REQUIRE(h.postSigned("/webhooks/hooks/" + a.tenant_id, event("evt_iso"))->status == 200);
  REQUIRE(eventually([&] { return statusOf(h, "evt_iso") == "processed"; }));
  const int64_t id = findByEventId(h, "evt_iso")["id"];
  const std::string detail = "/api/webhooks/" + std::to_string(id);

  CHECK(h.getJson(detail, a.api_key)["event_id"] == "evt_iso");
  h.getJson(detail, b.api_key, 404);
  CHECK(h.getJson("/api/webhooks", b.api_key)["data"].empty());
  auto replay =
      h.client()->Post((detail + "/replay").c_str(), ih::test::bearer(b.api_key), "", "application/json");
  REQUIRE(replay);
  CHECK(replay->status == 404);
  CHECK(h.client()->Get("/api/webhooks")->status == 401);
  CHECK(h.client()->Get("/api/admin/webhooks", ih::test::bearer(a.api_key))->status == 401);

  // Filters and the cursor.
  for (int i = 0; i < 4; ++i) {
    REQUIRE(h.postSigned("/webhooks/hooks/" + a.tenant_id, event("evt_page" + std::to_string(i)))->status ==
            200);
  }
  json page1 = h.getJson("/api/webhooks?limit=3", a.api_key);
  REQUIRE(page1["data"].size() == 3);
  REQUIRE(page1["next_cursor"].is_string());
  json page2 =
      h.getJson("/api/webhooks?limit=3&cursor=" + page1["next_cursor"].get<std::string>(), a.api_key);
  CHECK(page2["data"].size() == 2);
  CHECK(h.getJson("/api/webhooks?type=nope", a.api_key)["data"].empty());
  h.getJson("/api/webhooks?status=bogus", a.api_key, 400);
}

TEST_CASE("inbox: an event older than what was applied for its object is dispatched with stale=true",
          "[inbox]") {
  ih::test::TestHost host(hostOptions());
  auto tenant = host.createTenant("acme");
  Harness h(host, fastOptions(1));
  const std::string path = "/webhooks/hooks/" + tenant.tenant_id;
  REQUIRE(h.postSigned(path, event("evt_new", {{"created", 2000}}))->status == 200);
  REQUIRE(eventually([&] { return statusOf(h, "evt_new") == "processed"; }));
  REQUIRE(h.postSigned(path, event("evt_old", {{"created", 1000}}))->status == 200);
  REQUIRE(eventually([&] { return statusOf(h, "evt_old") == "processed"; }));
  auto state = [&](const std::string& id) {
    auto s = host.app().store().getState(tenant.tenant_id, "hooks", "seen/" + id);
    REQUIRE(s.isOk());
    REQUIRE(s->has_value());
    return json::parse(**s);
  };
  CHECK(state("evt_new")["stale"] == false);
  CHECK(state("evt_old")["stale"] == true);
}
