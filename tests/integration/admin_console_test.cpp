// The admin console host side: embedded assets with their security headers, the admin token acting as a
// tenant (X-Ihost-Tenant), and the workflow API answering stripe_byok's real setup prompts over HTTP against
// the Stripe double.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "store/store.h"
#include "stripe_double/stripe_double.h"
#include "support/eventually.h"
#include "support/stripe_fixture.h"
#include "support/test_host.h"

namespace {

using nlohmann::json;

constexpr char kKey[] = "sk_test_ihostconsoleworkflow00001";
constexpr char kPk[] = "pk_test_ihostconsoleworkflow00001";

using ih::test::eventually;

httplib::Headers asTenant(const std::string& admin_token, const std::string& tenant) {
  return {{"Authorization", "Bearer " + admin_token}, {"X-Ihost-Tenant", tenant}};
}

std::string header(const httplib::Result& res, const char* name) {
  return res->has_header(name) ? res->get_header_value(name) : std::string();
}

}  // namespace

TEST_CASE("admin console: embedded assets with CSP, content types and ETags", "[admin]") {
  ih::test::TestHost host;
  auto client = host.client();

  auto index = client->Get("/admin");
  REQUIRE(index);
  CHECK(index->status == 200);
  CHECK(header(index, "Content-Type") == "text/html; charset=utf-8");
  const std::string csp = header(index, "Content-Security-Policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(header(index, "X-Content-Type-Options") == "nosniff");
  CHECK(header(index, "Cache-Control") == "no-cache");
  // The page loads its script and style as files: no inline <script> body, no inline style attribute.
  CHECK(index->body.find("<script src=\"/admin/app.js\"") != std::string::npos);
  CHECK(index->body.find("<script>") == std::string::npos);
  CHECK(index->body.find(" style=") == std::string::npos);

  // Any console page path (no file extension) is the console too.
  auto page = client->Get("/admin/webhooks");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body == index->body);

  auto js = client->Get("/admin/app.js");
  REQUIRE(js);
  CHECK(js->status == 200);
  CHECK(header(js, "Content-Type") == "text/javascript; charset=utf-8");
  CHECK(js->body.find("\"use strict\"") != std::string::npos);
  auto css = client->Get("/admin/app.css");
  REQUIRE(css);
  CHECK(header(css, "Content-Type") == "text/css; charset=utf-8");

  // Revalidation: the same ETag answers 304 without a body; another file has another ETag.
  const std::string etag = header(js, "ETag");
  REQUIRE(etag.size() == 34);
  CHECK(etag != header(css, "ETag"));
  auto again = client->Get("/admin/app.js", {{"If-None-Match", etag}});
  REQUIRE(again);
  CHECK(again->status == 304);
  CHECK(again->body.empty());
  auto stale = client->Get("/admin/app.js", {{"If-None-Match", "\"0000\""}});
  REQUIRE(stale);
  CHECK(stale->status == 200);

  // Every script the page loads is served, the vendored chart library (uPlot, scripts/vendor-uplot.sh) from
  // its subfolder, under the same CSP; its licence as text. Only embedded names exist: no path walking.
  for (const char* script : {"app.js", "invoices.js", "catalog.js", "analytics.js", "vendor/uPlot.iife.min.js"}) {
    CAPTURE(script);
    CHECK(index->body.find("<script src=\"/admin/" + std::string(script) + "\" defer>") != std::string::npos);
    auto file = client->Get("/admin/" + std::string(script));
    REQUIRE(file);
    CHECK(file->status == 200);
    CHECK(header(file, "Content-Type") == "text/javascript; charset=utf-8");
    CHECK(header(file, "Content-Security-Policy") == csp);
  }
  auto uplot_css = client->Get("/admin/vendor/uPlot.min.css");
  REQUIRE(uplot_css);
  CHECK(header(uplot_css, "Content-Type") == "text/css; charset=utf-8");
  auto licence = client->Get("/admin/vendor/uPlot.LICENSE.txt");
  REQUIRE(licence);
  CHECK(header(licence, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(licence->body.find("MIT") != std::string::npos);
  for (const char* outside : {"/admin/vendor/../app.js", "/admin/vendor/%2e%2e/app.js", "/admin/uPlot.min.css"}) {
    CAPTURE(outside);
    auto res = client->Get(outside);
    REQUIRE(res);
    CHECK(res->status == 404);
  }

  auto missing = client->Get("/admin/nothing.js");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body)["error"]["code"] == "not_found");
}

TEST_CASE("admin console: disabled with [admin] console = false", "[admin]") {
  ih::test::TestHostOptions options;
  options.extra_toml = "[admin]\nconsole = false\n";
  ih::test::TestHost host(options);
  auto res = host.client()->Get("/admin");
  REQUIRE(res);
  CHECK(res->status == 404);
}

TEST_CASE("admin token acts as a tenant with X-Ihost-Tenant, audited", "[admin][tenancy]") {
  ih::test::TestHost host;
  auto acme = host.createTenant("acme");
  auto other = host.createTenant("other");
  auto client = host.client();

  auto who = client->Get("/api/whoami", asTenant(host.adminToken(), acme.tenant_id));
  REQUIRE(who);
  CHECK(who->status == 200);
  CHECK(json::parse(who->body)["tenant"]["id"] == acme.tenant_id);
  // By name too.
  auto by_name = client->Get("/api/whoami", asTenant(host.adminToken(), "other"));
  REQUIRE(by_name);
  CHECK(json::parse(by_name->body)["tenant"]["id"] == other.tenant_id);

  auto unknown = client->Get("/api/integrations", asTenant(host.adminToken(), "ten_nope"));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  CHECK(json::parse(unknown->body)["error"]["code"] == "unknown_tenant");

  auto wrong_token = client->Get("/api/integrations", asTenant("iha_not_the_token", acme.tenant_id));
  REQUIRE(wrong_token);
  CHECK(wrong_token->status == 401);

  // A tenant key cannot borrow the header to reach another tenant.
  auto borrowed = client->Get(
      "/api/whoami", {{"Authorization", "Bearer " + acme.api_key}, {"X-Ihost-Tenant", other.tenant_id}});
  REQUIRE(borrowed);
  CHECK(borrowed->status == 403);
  auto own = client->Get("/api/whoami",
                         {{"Authorization", "Bearer " + acme.api_key}, {"X-Ihost-Tenant", acme.tenant_id}});
  REQUIRE(own);
  CHECK(own->status == 200);

  // Without the header the admin token is still not a tenant key.
  auto bare = client->Get("/api/integrations", ih::test::bearer(host.adminToken()));
  REQUIRE(bare);
  CHECK(bare->status == 401);

  // A state-changing call on behalf of acme lands in acme's audit log (and only there).
  auto changed = client->Post("/api/endpoints", asTenant(host.adminToken(), acme.tenant_id),
                              R"({"url":"http://127.0.0.1:9/hook"})", "application/json");
  REQUIRE(changed);
  auto audit = host.app().store().listAudit(acme.tenant_id, 0, 100);
  REQUIRE(audit.isOk());
  bool found = false;
  for (const auto& e : *audit) {
    if (e.action != "admin.on_behalf") continue;
    found = true;
    CHECK(e.actor == "admin");
    auto detail = json::parse(e.detail_json);
    CHECK(detail["method"] == "POST");
    CHECK(detail["path"] == "/api/endpoints");
    CHECK(detail["status"] == changed->status);
  }
  CHECK(found);
  auto other_audit = host.app().store().listAudit(other.tenant_id, 0, 100);
  REQUIRE(other_audit.isOk());
  for (const auto& e : *other_audit)
    CHECK(e.action != "admin.on_behalf");
}

namespace {

ih::test::TestHostOptions stripeHost(const std::string& api_base_url) {
  ih::test::TestHostOptions o;
  o.extra_toml = ih::test::stripeByokToml(api_base_url);
  return o;
}

struct WorkflowEnv {
  std::unique_ptr<ih::stripe_double::StripeDouble> stripe = ih::test::startStripeDouble(kKey);
  ih::test::TestHost host{stripeHost(stripe->url())};
  ih::test::TestHost::TenantKey tenant = host.createTenant("acme");
  std::unique_ptr<httplib::Client> client = host.client();

  httplib::Headers auth() const { return asTenant(host.adminToken(), tenant.tenant_id); }
  json get(const std::string& path) {
    auto res = client->Get(path.c_str(), auth());
    REQUIRE(res);
    return json::parse(res->body);
  }
  std::pair<int, json> post(const std::string& path, const json& body) {
    auto res = client->Post(path.c_str(), auth(), body.dump(), "application/json");
    REQUIRE(res);
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  // Waits until the run asks for `key`, then returns the run.
  json waitFor(const std::string& run, const std::string& key) {
    json state;
    REQUIRE(eventually([&] {
      state = get("/api/workflows/" + run);
      return state["pending_prompt"].is_object() && state["pending_prompt"]["key"] == key;
    }));
    CHECK(state["status"] == "waiting");
    return state;
  }
};

}  // namespace

TEST_CASE("workflow API: stripe_byok setup answered prompt by prompt over HTTP", "[admin][stripe]") {
  WorkflowEnv env;
  auto connected =
      env.post("/api/integrations/stripe/connect", {{"secret_key", kKey}, {"publishable_key", kPk}});
  REQUIRE(connected.first == 200);

  auto started = env.post("/api/integrations/stripe/workflows/setup", json::object());
  REQUIRE(started.first == 202);
  const std::string run = started.second["id"];
  CHECK(run.rfind("wf_", 0) == 0);

  json state = env.waitFor(run, "confirm_key");
  CHECK(state["pending_prompt"]["kind"] == "confirm");
  CHECK(state["pending_prompt"]["default"] == "yes");
  // The message masks the key.
  const std::string message = state["pending_prompt"]["message"];
  CHECK(message.find(kKey) == std::string::npos);
  CHECK(message.find("test mode") != std::string::npos);

  // A wrong key is refused, nothing is consumed.
  auto mismatch = env.post("/api/workflows/" + run + "/answer", {{"key", "catalog"}, {"value", "all"}});
  CHECK(mismatch.first == 409);
  CHECK(mismatch.second["error"]["code"] == "prompt_mismatch");
  auto bad = env.post("/api/workflows/" + run + "/answer", {{"value", "yes"}});
  CHECK(bad.first == 400);

  CHECK(env.post("/api/workflows/" + run + "/answer", {{"key", "confirm_key"}, {"value", true}}).first ==
        200);
  state = env.waitFor(run, "catalog");
  CHECK(state["pending_prompt"]["kind"] == "choice");
  CHECK(state["pending_prompt"]["choices"] == json::array({"all", "none", "starter", "pro"}));
  CHECK(env.post("/api/workflows/" + run + "/answer", {{"key", "catalog"}, {"value", "starter"}}).first ==
        200);
  state = env.waitFor(run, "public_url");
  CHECK(env.post("/api/workflows/" + run + "/answer",
                 {{"key", "public_url"}, {"value", "https://ihost.example.com/"}})
            .first == 200);

  REQUIRE(eventually([&] {
    state = env.get("/api/workflows/" + run);
    return state["status"] != "running" && state["status"] != "waiting";
  }));
  INFO(state.dump(2));
  REQUIRE(state["status"] == "succeeded");
  CHECK(state["pending_prompt"].is_null());
  CHECK(state["prompts"].size() == 3);
  CHECK(state["prompts"][0]["answer"] == "yes");
  CHECK(state["prompts"][1]["answer"] == "starter");
  CHECK(state["result"]["webhook_endpoint"]["url"] ==
        "https://ihost.example.com/webhooks/stripe/" + env.tenant.tenant_id);
  CHECK(state["result"]["webhook_secret_stored"] == true);
  CHECK(state["result"]["plans"].contains("starter"));
  CHECK_FALSE(state["result"]["plans"].contains("pro"));
  // The live log shows the steps; the signing secret Stripe returned never appears in the run.
  bool saw_step = false;
  for (const auto& line : state["log"])
    if (line["message"].get<std::string>().rfind("done: webhook endpoint created", 0) == 0) saw_step = true;
  CHECK(saw_step);
  CHECK(state.dump().find("whsec_") == std::string::npos);

  // Stripe really got the endpoint.
  size_t created = 0;
  for (const auto& r : env.stripe->requests())
    if (r.method == "POST" && r.path == "/v1/webhook_endpoints") ++created;
  CHECK(created == 1);

  // Runs are per tenant: another tenant's key sees nothing.
  auto other = env.host.createTenant("other");
  auto hidden = env.client->Get(("/api/workflows/" + run).c_str(), ih::test::bearer(other.api_key));
  REQUIRE(hidden);
  CHECK(hidden->status == 404);
  // The answer endpoint refuses once nothing is pending.
  auto late = env.post("/api/workflows/" + run + "/answer", {{"key", "catalog"}, {"value", "all"}});
  CHECK(late.first == 409);
  CHECK(late.second["error"]["code"] == "no_pending_prompt");
}

TEST_CASE("workflow API: cancel refuses the pending prompt, unknown actions and integrations",
          "[admin][stripe]") {
  WorkflowEnv env;
  REQUIRE(
      env.post("/api/integrations/stripe/connect", {{"secret_key", kKey}, {"publishable_key", kPk}}).first ==
      200);
  auto started = env.post("/api/integrations/stripe/workflows/setup", json::object());
  REQUIRE(started.first == 202);
  const std::string run = started.second["id"];
  env.waitFor(run, "confirm_key");
  auto cancelled = env.client->Delete(("/api/workflows/" + run).c_str(), env.auth());
  REQUIRE(cancelled);
  CHECK(cancelled->status == 200);
  json state;
  REQUIRE(eventually([&] {
    state = env.get("/api/workflows/" + run);
    return state["status"] == "cancelled";
  }));
  CHECK(state["error"].is_object());
  CHECK(state["finished_at"].is_string());
  // The plugin stopped at the cancelled prompt: it did not go on with the defaults (no catalog, no endpoint).
  size_t writes = 0;
  for (const auto& r : env.stripe->requests())
    if (r.method == "POST") ++writes;
  CHECK(writes == 0);

  CHECK(env.post("/api/integrations/stripe/workflows/nope", json::object()).first == 404);
  CHECK(env.post("/api/integrations/nope/workflows/setup", json::object()).first == 404);
  CHECK(env.post("/api/integrations/stripe/workflows/setup", json::array()).first == 400);
  auto missing = env.client->Get("/api/workflows/wf_doesnotexist", env.auth());
  REQUIRE(missing);
  CHECK(missing->status == 404);
}
