// stripe_connect end to end: a real ihost (TestHost, real libstripe_connect.so through the loader, real
// SQLite) and the in-process Stripe double over real HTTP: the OAuth dance through the double's consent page,
// host state checks (tampered, reused, expired, declined), per-account routing of Connect webhooks the double
// signs and delivers, syncs per connected account, deauthorization from both sides, enabled = false.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "inbox/inbox.h"
#include "oauth/oauth.h"
#include "stripe_double/stripe_double.h"
#include "support/eventually.h"
#include "support/test_host.h"
#include "support/test_store.h"

namespace {

using ih::stripe_double::StripeDouble;
using nlohmann::json;

constexpr char kPlatformKey[] = "sk_test_ihostconnectplatform0001";
constexpr char kClientId[] = "ca_ihostdoubleplatform0001";  // the double's default platform client
constexpr char kSuccessUrl[] = "https://app.example.com/settings/stripe";

using ih::test::eventually;

struct Url {
  std::string base;    // scheme://host:port
  std::string target;  // path?query
};
Url splitUrl(const std::string& url) {
  static const std::regex kUrl(R"(^(https?://[^/]+)(/.*)?$)");
  std::smatch m;
  REQUIRE(std::regex_match(url, m, kUrl));
  return {m[1].str(), m[2].str()};
}

std::string htmlUnescape(std::string s) {
  for (size_t at = s.find("&amp;"); at != std::string::npos; at = s.find("&amp;", at + 1))
    s.replace(at, 5, "&");
  return s;
}

std::string queryParam(const std::string& url, const std::string& name) {
  std::smatch m;
  const std::regex re("[?&]" + name + "=([^&]*)");
  if (!std::regex_search(url, m, re)) return {};
  return m[1].str();
}

struct Env {
  explicit Env(std::string extra = "", bool enabled = true) {
    ih::stripe_double::Options o;
    o.api_keys = {kPlatformKey};
    o.webhook_retry_delays_ms = {200, 500};
    auto d = StripeDouble::start(o);
    REQUIRE(d.isOk());
    stripe = std::move(d).value();
    // The platform's Connect webhook endpoint ("Listen to events on Connected accounts"); its URL is set once
    // the host's port is known.
    auto endpoint = stripeCall(
        "POST", "/v1/webhook_endpoints",
        {{"url", "https://placeholder.example.com/hook"}, {"connect", "true"}, {"enabled_events[]", "*"}});
    REQUIRE(endpoint.first == 200);
    endpoint_id = endpoint.second["id"];
    whsec = endpoint.second["secret"];
    ih::test::TestHostOptions options;
    options.extra_toml = "[integrations.stripe_connect]\nplugin = \"stripe_connect\"\n" +
                         std::string(enabled ? "" : "enabled = false\n") + "client_id = \"" + kClientId +
                         "\"\nwebhook_secret = \"" + whsec + "\"\nconnect_base_url = \"" + stripe->url() +
                         "\"\napi_base_url = \"" + stripe->url() + "\"\n" + extra;
    // The platform key comes from the environment, as operators are told to do.
    options.env["IHOST_INTEGRATIONS__STRIPE_CONNECT__SECRET_KEY"] = kPlatformKey;
    host = std::make_unique<ih::test::TestHost>(options);
    base = "http://127.0.0.1:" + std::to_string(host->port());
    REQUIRE(stripeCall("POST", "/v1/webhook_endpoints/" + endpoint_id,
                       {{"url", base + "/webhooks/stripe_connect"}})
                .first == 200);
    REQUIRE(stripe->registerOAuthClient(kClientId, "", base + "/oauth/stripe_connect/callback").isOk());
  }

  // A Stripe API call as the platform (optionally on a connected account), like the Dashboard would make.
  std::pair<int, json> stripeCall(const std::string& method, const std::string& path,
                                  const httplib::Params& form = {}, const std::string& account = "") {
    httplib::Client c(stripe->url());
    httplib::Headers headers = {{"Authorization", std::string("Bearer ") + kPlatformKey}};
    if (!account.empty()) headers.emplace("Stripe-Account", account);
    httplib::Result r = method == "GET" ? c.Get(path.c_str(), headers) : c.Post(path.c_str(), headers, form);
    REQUIRE(r);
    return {r->status, json::parse(r->body, nullptr, false)};
  }

  httplib::Result get(const std::string& target, const httplib::Headers& headers = {}) {
    auto c = host->client();
    return c->Get(target.c_str(), headers);
  }
  json api(const std::string& method, const std::string& path, const std::string& key, int expect,
           const json& body = json::object()) {
    auto c = host->client();
    c->set_read_timeout(std::chrono::seconds(120));
    httplib::Result r = method == "GET"
                            ? c->Get(path.c_str(), ih::test::bearer(key))
                            : c->Post(path.c_str(), ih::test::bearer(key), body.dump(), "application/json");
    REQUIRE(r);
    INFO(method << " " << path << " -> " << r->status << " " << r->body);
    if (expect >= 0) CHECK(r->status == expect);
    return json::parse(r->body, nullptr, false);
  }

  // start → the authorize URL the plugin built.
  std::string startUrl(const std::string& key) {
    json started = api("GET", "/api/integrations/stripe_connect/oauth/start", key, 200);
    return started.value("url", "");
  }
  // Follows the double's consent page ("Connect" or "Deny") and returns the redirect back to ihost.
  std::string consent(const std::string& authorize_url, const std::string& choice) {
    Url u = splitUrl(authorize_url);
    httplib::Client c(u.base);
    auto page = c.Get(u.target.c_str());
    REQUIRE(page);
    INFO(page->body);
    REQUIRE(page->status == 200);
    std::smatch m;
    REQUIRE(std::regex_search(page->body, m, std::regex("id=\"" + choice + "\" href=\"([^\"]+)\"")));
    auto decided = c.Get(htmlUnescape(m[1].str()).c_str());
    REQUIRE(decided);
    REQUIRE(decided->status == 302);
    return decided->get_header_value("Location");
  }
  // The browser lands on ihost's callback.
  httplib::Result callback(const std::string& location, bool json_accept = false) {
    Url u = splitUrl(location);
    REQUIRE(u.base == base);
    httplib::Headers headers;
    if (json_accept) headers.emplace("Accept", "application/json");
    return get(u.target, headers);
  }
  // The whole dance for one tenant; returns its connected account id.
  std::string connectTenant(const ih::test::TestHost::TenantKey& tenant) {
    auto done = callback(consent(startUrl(tenant.api_key), "connect"));
    REQUIRE(done);
    INFO(done->body);
    REQUIRE((done->status == 302 || done->status == 200));
    json info = api("GET", "/api/integrations/stripe_connect", tenant.api_key, 200);
    REQUIRE(info["connected"] == true);
    return info["info"]["account"];
  }
  bool connected(const std::string& key) {
    return api("GET", "/api/integrations/stripe_connect", key, 200).value("connected", false);
  }
  std::optional<std::string> route(const std::string& account) {
    auto routed = host->app().inbox().events().routeTenant("stripe_connect", account);
    REQUIRE(routed.isOk());
    return *routed;
  }
  size_t count(const std::string& method, const std::string& path) {
    size_t n = 0;
    for (const auto& r : stripe->requests())
      if (r.method == method && r.path == path) ++n;
    return n;
  }
  int64_t sql(const std::string& query) { return ih::test::testStoreScalar(host->dbPath(), query); }
  int64_t records(const std::string& tenant, const std::string& model) {
    return sql(
        "SELECT COUNT(*) FROM records WHERE integration_id = 'stripe_connect' AND deleted = 0 AND "
        "tenant_id = '" +
        tenant + "' AND model = '" + model + "'");
  }
  json runJob(const std::string& key, const std::string& job) {
    json run =
        api("POST", "/api/integrations/stripe_connect/jobs/" + job + "/run", key, -1, {{"full", true}});
    REQUIRE(run.contains("run"));
    // 200 when it finished within the API wait, 202 with the run id otherwise: poll until it ends.
    const std::string id = std::to_string(run["run"]["id"].get<int64_t>());
    json last;
    REQUIRE(eventually(
        [&] {
          last = api("GET", "/api/integrations/stripe_connect/jobs/" + job + "/runs/" + id, key, 200);
          const std::string status = last.value("status", "");
          return status == "succeeded" || status == "failed";
        },
        std::chrono::seconds(120)));
    return last;
  }

  std::unique_ptr<StripeDouble> stripe;
  std::string endpoint_id;
  std::string whsec;
  std::unique_ptr<ih::test::TestHost> host;
  std::string base;
};

}  // namespace

TEST_CASE("stripe_connect: full OAuth dance stores encrypted credentials and binds the account",
          "[stripe][connect]") {
  Env env(std::string("success_url = \"") + kSuccessUrl + "\"\n");
  auto tenant = env.host->createTenant("acme");

  const std::string url = env.startUrl(tenant.api_key);
  CHECK(url.rfind(env.stripe->url() + "/oauth/authorize?", 0) == 0);
  CHECK(queryParam(url, "response_type") == "code");
  CHECK(queryParam(url, "client_id") == kClientId);
  CHECK(queryParam(url, "scope") == "read_write");
  CHECK_FALSE(queryParam(url, "state").empty());
  CHECK(queryParam(url, "redirect_uri").find("%2Foauth%2Fstripe_connect%2Fcallback") != std::string::npos);

  const std::string back = env.consent(url, "connect");
  CHECK(queryParam(back, "code").rfind("ac_", 0) == 0);
  auto done = env.callback(back);
  REQUIRE(done);
  CHECK(done->status == 302);
  CHECK(done->get_header_value("Location") ==
        std::string(kSuccessUrl) + "?integration=stripe_connect&status=connected");

  json info = env.api("GET", "/api/integrations/stripe_connect", tenant.api_key, 200);
  CHECK(info["connected"] == true);
  const std::string account = info["info"]["account"];
  CHECK(account.rfind("acct_", 0) == 0);
  CHECK(info["info"]["livemode"] == false);
  CHECK(info["info"]["scope"] == "read_write");
  CHECK(env.route(account) == tenant.tenant_id);

  // The token exchange: platform key, authorization_code grant.
  bool exchanged = false;
  for (const auto& r : env.stripe->requests()) {
    if (r.path != "/oauth/token") continue;
    exchanged = true;
    CHECK(r.header("Authorization") == std::string("Bearer ") + kPlatformKey);
    CHECK(r.body.find("grant_type=authorization_code") != std::string::npos);
  }
  CHECK(exchanged);

  // Credentials are sealed in the vault: neither the account nor a token is readable in the database file.
  const std::string cipher = ih::test::testStoreBytes(
      env.host->dbPath(), "SELECT ciphertext FROM secrets WHERE integration_id = 'stripe_connect'");
  CHECK(cipher.find(account) == std::string::npos);
  CHECK(cipher.find("sk_test_") == std::string::npos);
  CHECK(cipher.find("rt_") == std::string::npos);

  // Every call for the tenant: platform key + Stripe-Account.
  env.stripe->clearRequests();
  json test = env.api("GET", "/api/integrations/stripe_connect/test", tenant.api_key, 200);
  CHECK(test["ok"] == true);
  bool saw = false;
  for (const auto& r : env.stripe->requests()) {
    if (r.path != "/v1/account") continue;
    saw = true;
    CHECK(r.header("Authorization") == std::string("Bearer ") + kPlatformKey);
    CHECK(r.header("Stripe-Account") == account);
  }
  CHECK(saw);

  json audit = env.api("GET", "/api/audit", tenant.api_key, 200);
  bool audited = false;
  for (const auto& e : audit["data"])
    if (e["action"] == "integration.connected" && e["detail"]["via"] == "oauth") audited = true;
  CHECK(audited);
  // POST …/connect explains that this integration connects through OAuth.
  json refused = env.api("POST", "/api/integrations/stripe_connect/connect", tenant.api_key, 400, {{"x", 1}});
  CHECK(refused.dump().find("oauth/start") != std::string::npos);

  // A declined consent ends on the host's page, which links back to the application with status=failed.
  auto declined = env.callback(env.consent(env.startUrl(tenant.api_key), "deny"));
  REQUIRE(declined);
  CHECK(declined->status == 403);
  CHECK(declined->body.find("Back to the application") != std::string::npos);
  CHECK(declined->body.find("integration=stripe_connect&amp;status=failed") != std::string::npos);
}

TEST_CASE("stripe_connect: tampered, reused, expired and declined states store nothing",
          "[stripe][connect]") {
  Env env;
  auto tenant = env.host->createTenant("acme");

  SECTION("tampered") {
    const std::string back = env.consent(env.startUrl(tenant.api_key), "connect");
    std::string state = queryParam(back, "state");
    REQUIRE(state.size() > 10);
    std::string forged = back;
    const size_t at = forged.find(state) + state.size() - 3;
    forged[at] = forged[at] == 'A' ? 'B' : 'A';  // flip a character of the signature
    auto r = env.callback(forged, true);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body)["error"]["code"] == "invalid_state");
    // The expiry is signed too.
    std::string later = back;
    const size_t dot = later.find('.', later.find(state) + 3 + 44);
    later.insert(dot, "9");
    auto r2 = env.callback(later, true);
    REQUIRE(r2);
    CHECK(r2->status == 400);
    auto page = env.callback(back.substr(0, back.find("state=")) + "state=v1.garbage");
    REQUIRE(page);
    CHECK(page->status == 400);
    CHECK(page->get_header_value("Content-Type").find("text/html") != std::string::npos);
    CHECK(page->body.find("invalid") != std::string::npos);
    CHECK(env.count("POST", "/oauth/token") == 0);  // the code was never exchanged
    CHECK_FALSE(env.connected(tenant.api_key));
  }
  SECTION("reused") {
    const std::string back = env.consent(env.startUrl(tenant.api_key), "connect");
    auto first = env.callback(back);
    REQUIRE(first);
    CHECK(first->status == 200);  // no success_url: a small page
    CHECK(first->body.find("is connected") != std::string::npos);
    auto again = env.callback(back, true);
    REQUIRE(again);
    CHECK(again->status == 400);
    CHECK(json::parse(again->body)["error"]["code"] == "state_already_used");
    CHECK(env.count("POST", "/oauth/token") == 1);
  }
  SECTION("concurrent callbacks with one state: exactly one wins") {
    auto state = env.host->app().oauth().issueState(tenant.tenant_id, "stripe_connect");
    REQUIRE(state.isOk());
    std::atomic<int> wins{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] {
        if (env.host->app().oauth().consumeState("stripe_connect", *state).ok) wins.fetch_add(1);
      });
    for (auto& t : threads)
      t.join();
    CHECK(wins.load() == 1);
  }
  SECTION("expired") {
    env.host->app().oauth().setStateTtl(std::chrono::seconds(1));
    const std::string back = env.consent(env.startUrl(tenant.api_key), "connect");
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
    auto r = env.callback(back, true);
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body)["error"]["code"] == "state_expired");
    CHECK(env.count("POST", "/oauth/token") == 0);
    CHECK_FALSE(env.connected(tenant.api_key));
  }
  SECTION("state of another integration or tenant-less") {
    auto r = env.get("/oauth/stripe_connect/callback?code=ac_x", {{"Accept", "application/json"}});
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(json::parse(r->body)["error"]["code"] == "invalid_state");
  }
  SECTION("access_denied explains why and consumes the state") {
    const std::string back = env.consent(env.startUrl(tenant.api_key), "deny");
    CHECK(queryParam(back, "error") == "access_denied");
    auto r = env.callback(back);
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(r->body.find("declined") != std::string::npos);
    auto again = env.callback(back, true);
    REQUIRE(again);
    CHECK(json::parse(again->body)["error"]["code"] == "state_already_used");
    CHECK(env.count("POST", "/oauth/token") == 0);
    CHECK_FALSE(env.connected(tenant.api_key));
  }
}

TEST_CASE(
    "stripe_connect: two tenants, two accounts: webhooks and syncs never cross, unknown accounts are "
    "unroutable",
    "[stripe][connect]") {
  Env env;
  auto a = env.host->createTenant("alpha");
  auto b = env.host->createTenant("beta");
  const std::string acct_a = env.connectTenant(a);
  const std::string acct_b = env.connectTenant(b);
  REQUIRE(acct_a != acct_b);
  CHECK(env.route(acct_a) == a.tenant_id);
  CHECK(env.route(acct_b) == b.tenant_id);

  // Invoices finalized on each connected account: the double signs and delivers them to the Connect endpoint.
  auto invoiceOn = [&](const std::string& account) {
    auto customer = env.stripeCall("POST", "/v1/customers", {{"email", "x@example.com"}}, account);
    REQUIRE(customer.first == 200);
    auto item = env.stripeCall("POST", "/v1/invoiceitems",
                               {{"customer", customer.second["id"]}, {"amount", "1500"}, {"currency", "usd"}},
                               account);
    REQUIRE(item.first == 200);
    auto invoice = env.stripeCall(
        "POST", "/v1/invoices",
        {{"customer", customer.second["id"]}, {"pending_invoice_items_behavior", "include"}}, account);
    REQUIRE(invoice.first == 200);
    const std::string id = invoice.second["id"];
    REQUIRE(env.stripeCall("POST", "/v1/invoices/" + id + "/finalize", {}, account).first == 200);
    return id;
  };
  const std::string inv_a = invoiceOn(acct_a);
  const std::string inv_b = invoiceOn(acct_b);
  REQUIRE(eventually(
      [&] { return env.records(a.tenant_id, "invoice") == 1 && env.records(b.tenant_id, "invoice") == 1; }));
  json rec_a = env.api("GET", "/api/records/stripe_connect/invoice/" + inv_a, a.api_key, 200);
  CHECK(rec_a.dump().find(inv_a) != std::string::npos);
  env.api("GET", "/api/records/stripe_connect/invoice/" + inv_b, a.api_key, 404);  // never crosses
  env.api("GET", "/api/records/stripe_connect/invoice/" + inv_a, b.api_key, 404);

  // Syncs per connected account: each tenant's catalog holds only its own account's products.
  json made_a = env.api("POST", "/api/integrations/stripe_connect/actions/create_product", a.api_key, 200,
                        {{"name", "Alpha plan"}, {"idempotency_key", "alpha-1"}});
  json made_b = env.api("POST", "/api/integrations/stripe_connect/actions/create_product", b.api_key, 200,
                        {{"name", "Beta plan"}});
  CHECK(made_a["account"] == acct_a);
  json price_a = env.api("POST", "/api/integrations/stripe_connect/actions/create_price", a.api_key, 200,
                         {{"product", made_a["product"]["id"]},
                          {"unit_amount", 900},
                          {"currency", "usd"},
                          {"interval", "month"}});
  CHECK(price_a["price"]["recurring"]["interval"] == "month");
  // The same idempotency key returns the same product instead of a second one.
  json again_a = env.api("POST", "/api/integrations/stripe_connect/actions/create_product", a.api_key, 200,
                         {{"name", "Alpha plan"}, {"idempotency_key", "alpha-1"}});
  CHECK(again_a["product"]["id"] == made_a["product"]["id"]);
  for (const auto& r : env.stripe->requests()) {
    if (r.path == "/v1/products" && r.method == "POST") CHECK_FALSE(r.header("Idempotency-Key").empty());
  }
  json run_a = env.runJob(a.api_key, "catalog");
  json run_b = env.runJob(b.api_key, "catalog");
  INFO(run_a.dump() << " " << run_b.dump());
  CHECK(env.records(a.tenant_id, "product") == 1);
  CHECK(env.records(b.tenant_id, "product") == 1);
  env.api("GET", "/api/records/stripe_connect/product/" + made_a["product"]["id"].get<std::string>(),
          a.api_key, 200);
  env.api("GET", "/api/records/stripe_connect/product/" + made_a["product"]["id"].get<std::string>(),
          b.api_key, 404);

  // An event of an account nobody connected: acked, stored unroutable, visible to the operator.
  const std::string body = json({{"id", "evt_unknown_1"},
                                 {"object", "event"},
                                 {"type", "invoice.paid"},
                                 {"account", "acct_nobody"},
                                 {"created", env.stripe->now()},
                                 {"livemode", false},
                                 {"data", {{"object", {{"id", "in_nobody"}, {"object", "invoice"}}}}}})
                               .dump();
  auto c = env.host->client();
  auto r = c->Post("/webhooks/stripe_connect",
                   {{"Stripe-Signature", StripeDouble::signatureHeader(env.whsec, env.stripe->now(), body)}},
                   body, "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["routed"] == false);
  json unroutable = env.api("GET", "/api/admin/webhooks?status=unroutable", env.host->adminToken(), 200);
  bool listed = false;
  for (const auto& e : unroutable["data"])
    if (e.value("account", "") == "acct_nobody") listed = true;
  CHECK(listed);
  // A bad signature is refused (400), never stored.
  auto forged =
      c->Post("/webhooks/stripe_connect",
              {{"Stripe-Signature", StripeDouble::signatureHeader("whsec_wrong", env.stripe->now(), body)}},
              body, "application/json");
  REQUIRE(forged);
  CHECK(forged->status == 400);
}

TEST_CASE("stripe_connect: one Stripe account belongs to one tenant", "[stripe][connect]") {
  Env env;
  auto a = env.host->createTenant("alpha");
  auto b = env.host->createTenant("beta");
  const std::string acct_a = env.connectTenant(a);
  // Beta's user signs in to the account alpha already connected.
  const std::string authorize = env.startUrl(b.api_key) + "&existing=" + acct_a;
  auto refused = env.callback(env.consent(authorize, "connect"), true);
  REQUIRE(refused);
  INFO(refused->body);
  CHECK(refused->status == 409);
  CHECK(json::parse(refused->body)["error"]["code"] == "account_conflict");
  CHECK_FALSE(env.connected(b.api_key));  // nothing stored for beta
  CHECK(env.route(acct_a) == a.tenant_id);
  CHECK(env.connected(a.api_key));
  CHECK(env.sql("SELECT COUNT(*) FROM connections WHERE integration_id = 'stripe_connect' AND tenant_id = '" +
                b.tenant_id + "' AND status = 'active'") == 0);

  // Once alpha disconnects, beta may connect the same account.
  env.api("POST", "/api/integrations/stripe_connect/disconnect", a.api_key, 200);
  CHECK_FALSE(env.route(acct_a).has_value());
  auto taken = env.callback(env.consent(env.startUrl(b.api_key) + "&existing=" + acct_a, "connect"));
  REQUIRE(taken);
  CHECK((taken->status == 302 || taken->status == 200));
  CHECK(env.route(acct_a) == b.tenant_id);
  CHECK(env.connected(b.api_key));
}

TEST_CASE("stripe_connect: deauthorization from ihost and from Stripe", "[stripe][connect]") {
  Env env;
  auto a = env.host->createTenant("alpha");
  auto b = env.host->createTenant("beta");
  const std::string acct_a = env.connectTenant(a);
  const std::string acct_b = env.connectTenant(b);

  // From ihost: the platform revokes at Stripe, the account is released, credentials wiped.
  json out = env.api("POST", "/api/integrations/stripe_connect/disconnect", a.api_key, 200);
  CHECK(out["detail"]["provider_revoked"] == true);
  bool revoked = false;
  for (const auto& r : env.stripe->requests()) {
    if (r.path != "/oauth/deauthorize") continue;
    revoked = true;
    CHECK(r.body.find(std::string("client_id=") + kClientId) != std::string::npos);
    CHECK(r.body.find("stripe_user_id=" + acct_a) != std::string::npos);
    CHECK(r.header("Authorization") == std::string("Bearer ") + kPlatformKey);
  }
  CHECK(revoked);
  CHECK_FALSE(env.connected(a.api_key));
  CHECK_FALSE(env.route(acct_a).has_value());
  CHECK(env.sql("SELECT COUNT(*) FROM secrets WHERE tenant_id = '" + a.tenant_id + "'") == 0);

  // From Stripe: the account owner disconnects; account.application.deauthorized reaches the Connect
  // endpoint.
  httplib::Client c(env.stripe->url());
  auto r = c.Post("/oauth/deauthorize", {{"Authorization", std::string("Bearer ") + kPlatformKey}},
                  httplib::Params{{"client_id", kClientId}, {"stripe_user_id", acct_b}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  REQUIRE(eventually([&] { return !env.connected(b.api_key); }));
  CHECK(eventually([&] { return !env.route(acct_b).has_value(); }));
  CHECK(env.sql("SELECT COUNT(*) FROM secrets WHERE tenant_id = '" + b.tenant_id + "'") == 0);
  json audit = env.api("GET", "/api/audit", b.api_key, 200);
  bool by_provider = false;
  for (const auto& e : audit["data"])
    if (e["action"] == "integration.disconnected" && e["actor"] == "provider") by_provider = true;
  CHECK(by_provider);
  json events = env.api("GET", "/api/events", b.api_key, 200);
  CHECK(events.dump().find("integration.disconnected") != std::string::npos);
  // Jobs for a disconnected tenant do not run.
  env.api("POST", "/api/integrations/stripe_connect/jobs/catalog/run", b.api_key, 409);
}

TEST_CASE("stripe_connect: enabled = false answers 404 everywhere", "[stripe][connect]") {
  Env env("", /*enabled=*/false);
  auto a = env.host->createTenant("alpha");
  env.api("GET", "/api/integrations/stripe_connect/oauth/start", a.api_key, 404);
  auto cb = env.get("/oauth/stripe_connect/callback?code=ac_1&state=v1.x", {{"Accept", "application/json"}});
  REQUIRE(cb);
  CHECK(cb->status == 404);
  env.api("POST", "/api/integrations/stripe_connect/connect", a.api_key, 404, {{"x", 1}});
  auto hook = env.host->client()->Post("/webhooks/stripe_connect", "{}", "application/json");
  REQUIRE(hook);
  CHECK(hook->status == 404);
  json jobs = env.api("GET", "/api/integrations/stripe_connect/jobs", a.api_key, 404);
  CHECK(jobs["error"]["code"] == "unknown_integration");
}

TEST_CASE("stripe_connect: 10k-row backfill on one connected account", "[stripe][connect][backfill]") {
  Env env;
  auto a = env.host->createTenant("alpha");
  auto b = env.host->createTenant("beta");
  const std::string acct_a = env.connectTenant(a);
  env.connectTenant(b);
  ih::stripe_double::SeedOptions seed;
  seed.account = acct_a;
  seed.count = 10000;
  auto seeded = env.stripe->seedBalanceTransactions(seed);
  REQUIRE(seeded.isOk());
  const auto started = std::chrono::steady_clock::now();
  json run = env.runJob(a.api_key, "transactions");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(run.dump());
  CHECK(run.value("status", "") == "succeeded");
  CHECK(env.records(a.tenant_id, "transaction") == 10000);
  CHECK(env.records(b.tenant_id, "transaction") == 0);
  for (const auto& r : env.stripe->requests()) {
    if (r.path == "/v1/balance_transactions") CHECK(r.header("Stripe-Account") == acct_a);
  }
  WARN("stripe_connect backfill: 10000 balance transactions in " << seconds << " s");
}

TEST_CASE("stripe_connect: report_usage meters usage on each tenant's connected account",
          "[stripe][connect]") {
  Env env;
  auto a = env.host->createTenant("alpha");
  auto b = env.host->createTenant("beta");
  const std::string acct_a = env.connectTenant(a);
  const std::string acct_b = env.connectTenant(b);
  const json usage = {{"customer", "cus_meteredcustomer01"},
                      {"event_name", "api_requests"},
                      {"value", 7},
                      {"idempotency_key", "usage-2026-12-03T10:00"}};
  const std::string path = "/api/integrations/stripe_connect/actions/report_usage";
  json first_a = env.api("POST", path, a.api_key, 200, usage);
  CHECK(first_a["duplicate"] == false);
  CHECK(first_a["account"] == acct_a);
  CHECK(first_a["value"] == 7);
  // The same identifier on another connected account is another account's usage.
  json first_b = env.api("POST", path, b.api_key, 200, usage);
  CHECK(first_b["duplicate"] == false);
  CHECK(first_b["account"] == acct_b);
  // A repeat on the same account reports nothing new.
  json again_a = env.api("POST", path, a.api_key, 200, usage);
  CHECK(again_a["value"] == 7);
  std::map<std::string, int> per_account;
  for (const auto& r : env.stripe->requests()) {
    if (r.path != "/v1/billing/meter_events" || r.method != "POST") continue;
    ++per_account[r.header("Stripe-Account")];
    CHECK_FALSE(r.header("Idempotency-Key").empty());
  }
  CHECK(per_account[acct_a] >= 1);
  CHECK(per_account[acct_b] == 1);
  CHECK(per_account.count("") == 0);  // never on the platform's own account
  // Refused before Stripe is called.
  const size_t before = env.stripe->requests().size();
  env.api("POST", path, a.api_key, 400,
          {{"customer", "cus_x1"}, {"event_name", "e"}, {"value", -1}, {"idempotency_key", "k"}});
  env.api("POST", path, a.api_key, 400, {{"customer", "cus_x1"}, {"event_name", "e"}, {"value", 1}});
  CHECK(env.stripe->requests().size() == before);
}
