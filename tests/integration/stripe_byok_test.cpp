// stripe_byok end to end: a real ihost (TestHost, real libstripe_byok.so, real SQLite) talking over real HTTP
// to the in-process Stripe double, which also delivers signed webhooks back to the host.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "stripe_double/stripe_double.h"
#include "support/eventually.h"
#include "support/stripe_fixture.h"
#include "support/test_host.h"

namespace {

using ih::stripe_double::Fault;
using ih::stripe_double::FaultKind;
using ih::stripe_double::StripeDouble;
using nlohmann::json;

constexpr char kKey[] = "sk_test_ihostbyokintegration0001";
constexpr char kPk[] = "pk_test_ihostbyokintegration0001";
constexpr char kWhsec[] = "whsec_integration_test_secret_01";

std::unique_ptr<ih::stripe_double::StripeDouble> startDouble() {
  return ih::test::startStripeDouble(kKey);
}

ih::test::TestHostOptions hostOptions(const std::string& api_base_url) {
  ih::test::TestHostOptions o;
  o.extra_toml = ih::test::stripeByokToml(api_base_url);
  return o;
}

struct Env {
  std::unique_ptr<StripeDouble> stripe = startDouble();
  ih::test::TestHost host{hostOptions(stripe->url())};
  ih::test::TestHost::TenantKey tenant = host.createTenant("acme");

  struct Answer {
    int status = 0;
    json body;
  };
  Answer request(const std::string& method, const std::string& path, const json& body = json::object()) {
    auto client = host.client();
    client->set_read_timeout(std::chrono::seconds(60));
    httplib::Result res =
        method == "GET" ? client->Get(path.c_str(), ih::test::bearer(tenant.api_key))
        : method == "DELETE"
            ? client->Delete(path.c_str(), ih::test::bearer(tenant.api_key))
            : client->Post(path.c_str(), ih::test::bearer(tenant.api_key), body.dump(), "application/json");
    REQUIRE(res);
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  Answer connect(const json& body) { return request("POST", "/api/integrations/stripe/connect", body); }
  Answer action(const std::string& name, const json& input) {
    return request("POST", "/api/integrations/stripe/actions/" + name, input);
  }
  bool connected() { return request("GET", "/api/integrations/stripe").body.value("connected", false); }
  void connectGood() {
    auto r = connect({{"secret_key", kKey}, {"publishable_key", kPk}, {"webhook_secret", kWhsec}});
    INFO(r.body.dump());
    REQUIRE(r.status == 200);
  }
  size_t count(const std::string& method, const std::string& path) {
    size_t n = 0;
    for (const auto& r : stripe->requests())
      if (r.method == method && r.path == path) ++n;
    return n;
  }
};

using ih::test::eventually;

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json buyer(const std::string& ref, int64_t price) {
  return {{"reference", ref},
          {"email", ref + "@example.com"},
          {"name", "Buyer " + ref},
          {"items", json::array({{{"title", "Lot 1"}, {"quantity", 1}, {"price", price}},
                                 {{"title", "Lot 2"}, {"quantity", 2}, {"amount", 0}}})}};
}

}  // namespace

TEST_CASE("stripe_byok: connect good, bad, wrong mode and provider down", "[stripe]") {
  Env env;
  auto bad = env.connect({{"secret_key", "sk_test_notaknownkey000001"}, {"publishable_key", kPk}});
  CHECK(bad.status == 422);
  CHECK(bad.body.dump().find("Stripe rejected the API key") != std::string::npos);
  CHECK_FALSE(env.connected());

  auto mode = env.connect({{"secret_key", kKey}, {"publishable_key", "pk_live_abc123"}});
  CHECK(mode.status == 400);
  CHECK(mode.body.dump().find("secret key is a test key but publishable key is live") != std::string::npos);
  auto format = env.connect({{"secret_key", "xk_test_1"}, {"publishable_key", kPk}});
  CHECK(format.status == 400);
  CHECK_FALSE(env.connected());

  env.stripe->addFault(Fault{"/v1/balance", "GET", 10, FaultKind::kServerError, 0});
  auto down = env.connect({{"secret_key", kKey}, {"publishable_key", kPk}});
  CHECK(down.status == 502);
  CHECK(down.body.dump().find("Stripe is unreachable") != std::string::npos);
  CHECK_FALSE(env.connected());
  env.stripe->clearFaults();

  env.connectGood();
  CHECK(env.connected());
  auto test = env.request("GET", "/api/integrations/stripe/test");
  CHECK(test.status == 200);
  CHECK(test.body["ok"] == true);
  CHECK(test.body["detail"]["detail"]["livemode"] == false);  // the host wraps the plugin result
  for (const auto& r : env.stripe->requests()) {
    if (r.path == "/v1/balance") CHECK(r.header("Stripe-Version") == "2024-06-20");
  }
  CHECK(env.request("DELETE", "/api/integrations/stripe").status == 200);
  CHECK_FALSE(env.connected());
}

TEST_CASE("stripe_byok: ensure_products is idempotent, retries keep the Idempotency-Key", "[stripe]") {
  Env env;
  env.connectGood();
  env.stripe->addFault(Fault{"/v1/products", "POST", 1, FaultKind::kLockTimeout, 0});
  env.stripe->addFault(Fault{"/v1/prices", "POST", 1, FaultKind::kServerError, 0});
  auto first = env.action("ensure_products", json::object());
  INFO(first.body.dump());
  REQUIRE(first.status == 200);
  CHECK(first.body["plans"]["starter"].get<std::string>().rfind("price_", 0) == 0);
  CHECK(first.body["created"].size() == 2);

  // The retried POSTs carried the same Idempotency-Key as the failed attempt.
  std::vector<ih::stripe_double::RecordedRequest> products;
  for (const auto& r : env.stripe->requests())
    if (r.method == "POST" && r.path == "/v1/products") products.push_back(r);
  REQUIRE(products.size() == 3);  // 429 lock_timeout, then starter, then pro
  CHECK(products[0].status == 429);
  CHECK(products[1].status == 200);
  CHECK_FALSE(products[0].header("Idempotency-Key").empty());
  CHECK(products[0].header("Idempotency-Key") == products[1].header("Idempotency-Key"));
  std::vector<ih::stripe_double::RecordedRequest> prices;
  for (const auto& r : env.stripe->requests())
    if (r.method == "POST" && r.path == "/v1/prices") prices.push_back(r);
  REQUIRE(prices.size() == 3);
  CHECK(prices[0].status == 500);
  CHECK(prices[0].header("Idempotency-Key") == prices[1].header("Idempotency-Key"));

  const size_t posts = env.count("POST", "/v1/products") + env.count("POST", "/v1/prices");
  auto second = env.action("ensure_products", json::object());
  REQUIRE(second.status == 200);
  CHECK(second.body["plans"] == first.body["plans"]);
  CHECK(second.body["created"].empty());
  CHECK(env.count("POST", "/v1/products") + env.count("POST", "/v1/prices") == posts);
}

TEST_CASE("stripe_byok: create_invoices survives a mid-batch failure and a rerun creates nothing new",
          "[stripe]") {
  Env env;
  env.connectGood();
  const json input = {{"reference", "show-42"},
                      {"buyers", json::array({buyer("b1", 1500), buyer("b2", 700), buyer("b3", 0)})}};
  // Every attempt of the first buyer's first item fails (the host tries 3 times).
  env.stripe->addFault(Fault{"/v1/invoiceitems", "POST", 3, FaultKind::kServerError, 0});
  auto first = env.action("create_invoices", input);
  INFO(first.body.dump());
  REQUIRE(first.status == 200);
  CHECK(first.body["failed"] == 1);
  CHECK(first.body["created"] == 2);
  CHECK(first.body["results"][0]["ok"] == false);
  CHECK(first.body["results"][1]["ok"] == true);
  CHECK(first.body["results"][1]["status"] == "open");
  CHECK(first.body["results"][1]["amount_due"] == 700);
  CHECK(first.body["results"][1]["hosted_invoice_url"].is_string());

  auto second = env.action("create_invoices", input);
  INFO(second.body.dump());
  REQUIRE(second.status == 200);
  CHECK(second.body["failed"] == 0);
  CHECK(second.body["created"] == 0);  // b1's draft from the first run is completed, not recreated
  CHECK(second.body["results"][0]["status"] == "open");
  CHECK(second.body["results"][0]["amount_due"] == 1500);
  CHECK(second.body["results"][1]["invoice_id"] == first.body["results"][1]["invoice_id"]);
  CHECK(env.count("POST", "/v1/customers") == 3);
  size_t created_invoices = 0;
  for (const auto& r : env.stripe->requests())
    if (r.method == "POST" && r.path == "/v1/invoices" && r.status == 200) ++created_invoices;
  CHECK(created_invoices == 3);

  auto third = env.action("create_invoices", input);
  REQUIRE(third.status == 200);
  CHECK(third.body["created"] == 0);
  CHECK(third.body["existing"] == 3);
  CHECK(env.count("POST", "/v1/customers") == 3);

  auto record = env.request(
      "GET", "/api/records/stripe/invoice/" + second.body["results"][0]["invoice_id"].get<std::string>());
  CHECK(record.status == 200);
}

TEST_CASE("stripe_byok: a show's invoices keep their lines, list by reference, and are sent or copied",
          "[stripe]") {
  Env env;
  env.connectGood();
  REQUIRE(env.action("create_invoices", {{"reference", "show-1"},
                                         {"buyers", json::array({buyer("b1", 1500), buyer("b2", 700)})}})
              .status == 200);
  REQUIRE(
      env.action("create_invoices", {{"reference", "show-2"}, {"buyers", json::array({buyer("b3", 900)})}})
          .status == 200);

  auto show1 = env.request("GET", "/api/records/stripe/invoice?data.reference=show-1");
  INFO(show1.body.dump());
  REQUIRE(show1.status == 200);
  REQUIRE(show1.body["data"].size() == 2);
  std::string b1_invoice;
  for (const json& r : show1.body["data"]) {
    CHECK(r["data"]["reference"] == "show-1");
    if (r["data"]["buyer"] == "b1") b1_invoice = r["id"];
  }
  REQUIRE_FALSE(b1_invoice.empty());
  const json b1 = env.request("GET", "/api/records/stripe/invoice/" + b1_invoice).body["data"];
  INFO(b1.dump());
  REQUIRE(b1["lines"].size() == 2);
  CHECK(b1["lines_complete"] == true);
  CHECK(b1["lines"][0]["title"] == "Lot 1");
  CHECK(b1["lines"][0]["quantity"] == 1);
  CHECK(b1["lines"][0]["amount"] == 1500);
  CHECK(b1["lines"][0]["ref"].is_string());
  CHECK(b1["lines"][1]["title"] == "Lot 2");
  CHECK(b1["lines"][1]["amount"] == 0);
  CHECK(env.request("GET", "/api/records/stripe/invoice?data.reference=show-2").body["data"].size() == 1);
  CHECK(env.request("GET", "/api/records/stripe/invoice?data.reference=show-3").body["data"].empty());
  CHECK(env.request("GET", "/api/records/stripe/invoice?data.reference=show-1&data.buyer=b2")
            .body["data"]
            .size() == 1);
  auto bad = env.request("GET", "/api/records/stripe/invoice?data.no-such-field=x");
  CHECK(bad.status == 400);
  CHECK(bad.body["error"]["message"].get<std::string>().find("[A-Za-z0-9_]") != std::string::npos);

  // Send link: Stripe emails it (invoice.sent); Copy link: only the URL, nothing sent.
  auto sent = env.action("send_invoice", {{"invoice", b1_invoice}});
  INFO(sent.body.dump());
  REQUIRE(sent.status == 200);
  CHECK(sent.body["sent"] == true);
  CHECK(sent.body["reference"] == "show-1");
  CHECK(sent.body["hosted_invoice_url"].get<std::string>().find("/hosted/invoices/" + b1_invoice) !=
        std::string::npos);
  CHECK(env.count("POST", "/v1/invoices/" + b1_invoice + "/send") == 1);
  auto copied = env.action("send_invoice", {{"invoice", b1_invoice}, {"email", false}});
  REQUIRE(copied.status == 200);
  CHECK(copied.body["sent"] == false);
  CHECK(copied.body["hosted_invoice_url"] == sent.body["hosted_invoice_url"]);
  CHECK(env.count("POST", "/v1/invoices/" + b1_invoice + "/send") == 1);
  CHECK(env.action("send_invoice", {{"invoice", "in_nosuchinvoice"}}).status == 404);
  CHECK(env.action("send_invoice", {{"invoice", b1_invoice}, {"email", "yes"}}).status == 400);
}

TEST_CASE("stripe_byok: setup, PaymentIntent and simulate_payment deliver a signed webhook", "[stripe]") {
  Env env;
  env.connectGood();
  // The tenant comes from the API key (the host's call_info), never from the input.
  auto spoofed =
      env.action("setup", {{"tenant", "ten_someone_else"},
                           {"answers", {{"public_url", env.host.app().baseUrl()}, {"catalog", "none"}}}});
  CHECK(spoofed.status == 400);
  CHECK(spoofed.body.dump().find("tenant of the API key") != std::string::npos);
  auto setup =
      env.action("setup", {{"answers", {{"public_url", env.host.app().baseUrl()}, {"catalog", "none"}}}});
  INFO(setup.body.dump());
  REQUIRE(setup.status == 200);
  CHECK(setup.body["webhook_endpoint"]["created"] == true);
  CHECK(setup.body["webhook_endpoint"]["url"] ==
        env.host.app().baseUrl() + "/webhooks/stripe/" + env.tenant.tenant_id);
  CHECK(setup.body.dump().find("whsec_") == std::string::npos);
  // A second setup keeps the endpoint (its secret is stored).
  auto again =
      env.action("setup", {{"tenant", env.tenant.tenant_id},
                           {"answers", {{"public_url", env.host.app().baseUrl()}, {"catalog", "none"}}}});
  REQUIRE(again.status == 200);
  CHECK(again.body["webhook_endpoint"]["created"] == false);

  auto intent =
      env.action("create_payment_intent", {{"amount", 2500}, {"currency", "usd"}, {"reference", "o1"}});
  INFO(intent.body.dump());
  REQUIRE(intent.status == 200);
  CHECK(intent.body["publishable_key"] == kPk);
  CHECK(intent.body["client_secret"].get<std::string>().find("_secret_") != std::string::npos);
  const std::string pi = intent.body["payment_intent_id"];

  auto paid = env.action("simulate_payment", {{"payment_intent", pi}});
  INFO(paid.body.dump());
  REQUIRE(paid.status == 200);
  CHECK(paid.body["status"] == "succeeded");

  CHECK(eventually([&] { return env.request("GET", "/api/records/stripe/payment/" + pi).status == 200; }));
  auto record = env.request("GET", "/api/records/stripe/payment/" + pi);
  INFO(record.body.dump());
  CHECK(record.body.dump().find("succeeded") != std::string::npos);
  CHECK(eventually([&] {
    return env.request("GET", "/api/events").body.dump().find("payment.succeeded") != std::string::npos;
  }));
  // Every verified Stripe event handled is announced as stripe.webhook.received.
  json received;
  CHECK(eventually([&] {
    const json page = env.request("GET", "/api/events?type=stripe.webhook.received&limit=500").body;
    for (const json& e : page["data"])
      if (e["data"]["type"] == "payment_intent.succeeded") received = e;
    return !received.is_null();
  }));
  CHECK(received["data"]["object_id"] == pi);
  CHECK(received["data"]["id"].get<std::string>().rfind("evt_", 0) == 0);
  CHECK(received["data"]["livemode"] == false);
  CHECK(received["data"]["stale"] == false);
}

TEST_CASE("stripe_byok: the stripe.* events can be turned off in the settings", "[stripe]") {
  auto stripe = startDouble();
  ih::test::TestHostOptions options;
  options.extra_toml = ih::test::stripeByokToml(
      stripe->url(),
      "emit_webhook_received = false\nemit_sync_started = false\nemit_transaction_created = false\n");
  ih::test::TestHost host(options);
  auto tenant = host.createTenant("acme");
  auto client = host.client();
  const auto auth = ih::test::bearer(tenant.api_key);
  auto post = [&](const std::string& path, const json& body) {
    auto res = client->Post(path.c_str(), auth, body.dump(), "application/json");
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 200);
    return json::parse(res->body);
  };
  post("/api/integrations/stripe/connect",
       {{"secret_key", kKey}, {"publishable_key", kPk}, {"webhook_secret", kWhsec}});
  post("/api/integrations/stripe/actions/setup",
       {{"answers", {{"public_url", host.app().baseUrl()}, {"catalog", "none"}}}});
  const json intent = post("/api/integrations/stripe/actions/create_payment_intent",
                           {{"amount", 2500}, {"currency", "usd"}, {"reference", "o2"}});
  post("/api/integrations/stripe/actions/simulate_payment",
       {{"payment_intent", intent["payment_intent_id"]}});
  post("/api/integrations/stripe/jobs/catalog/run", json::object());
  auto events = [&] { return client->Get("/api/events?limit=500", auth)->body; };
  CHECK(eventually([&] { return events().find("payment.succeeded") != std::string::npos; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string all = events();
  CHECK(all.find("stripe.webhook.received") == std::string::npos);
  CHECK(all.find("stripe.sync.started") == std::string::npos);
  CHECK(all.find("sync.completed") != std::string::npos);  // the host's own events stay
}

TEST_CASE("stripe_byok: a one-time catalog item is bought once per buyer, a second purchase is 409",
          "[stripe]") {
  std::unique_ptr<StripeDouble> stripe = startDouble();
  ih::test::TestHostOptions options;
  options.extra_toml = ih::test::stripeByokToml(
      stripe->url(),
      "catalog = [{key = \"starter\", name = \"Starter\", amount = 900, currency = \"usd\", interval = "
      "\"month\"}, {key = \"compliance_pack\", name = \"Compliance Pack\", amount = 99900, currency = "
      "\"usd\", "
      "interval = \"one_time\"}]\n");
  ih::test::TestHost host(options);
  auto tenant = host.createTenant("shop");
  auto call = [&](const std::string& path, const json& body) {
    auto res =
        host.client()->Post(path.c_str(), ih::test::bearer(tenant.api_key), body.dump(), "application/json");
    REQUIRE(res);
    INFO(path << " -> " << res->status << " " << res->body);
    return std::make_pair(res->status, json::parse(res->body, nullptr, false));
  };
  auto action = [&](const std::string& name, const json& input) {
    return call("/api/integrations/stripe/actions/" + name, input);
  };
  REQUIRE(call("/api/integrations/stripe/connect",
               {{"secret_key", kKey}, {"publishable_key", kPk}, {"webhook_secret", kWhsec}})
              .first == 200);
  REQUIRE(action("setup", {{"answers", {{"public_url", host.app().baseUrl()}, {"catalog", "none"}}}}).first ==
          200);

  // The catalog provisions a one-time price (no `recurring`) beside the recurring one; a rerun creates nothing.
  auto ensured = action("ensure_products", json::object());
  REQUIRE(ensured.first == 200);
  const std::string one_time_price = ensured.second["plans"]["compliance_pack"];
  httplib::Client stripe_api(stripe->url());
  auto got = stripe_api.Get(("/v1/prices/" + one_time_price).c_str(),
                            {{"Authorization", std::string("Bearer ") + kKey}});
  REQUIRE(got);
  REQUIRE(got->status == 200);
  const json price = json::parse(got->body);
  CHECK(price["recurring"].is_null());
  CHECK(price["unit_amount"] == 99900);
  CHECK(price["type"] == "one_time");
  CHECK(action("ensure_products", json::object()).second["created"].empty());

  // A one-time item needs its buyer.
  auto anonymous = action("create_payment_intent", {{"price", "compliance_pack"}});
  CHECK(anonymous.first == 400);
  CHECK(anonymous.second.dump().find("buyer is required") != std::string::npos);

  auto first = action("create_payment_intent", {{"price", "compliance_pack"}, {"buyer", "user_42"}});
  REQUIRE(first.first == 200);
  CHECK(first.second["amount"] == 99900);
  const std::string pi = first.second["payment_intent_id"];
  // Asked again before paying: the same open PaymentIntent, not a second one.
  auto again = action("create_payment_intent", {{"price", "compliance_pack"}, {"buyer", "user_42"}});
  REQUIRE(again.first == 200);
  CHECK(again.second["payment_intent_id"] == pi);

  REQUIRE(action("simulate_payment", {{"payment_intent", pi}}).first == 200);
  // Once the payment_intent.succeeded webhook is handled, the buyer owns it: a second purchase is refused.
  std::pair<int, json> second;
  REQUIRE(eventually([&] {
    second = action("create_payment_intent", {{"price", "compliance_pack"}, {"buyer", "user_42"}});
    return second.first == 409;
  }));
  CHECK(second.second["error"]["message"].get<std::string>().find("already owns compliance_pack") !=
        std::string::npos);
  CHECK(second.second["error"]["message"].get<std::string>().find(pi) != std::string::npos);
  auto record =
      host.client()->Get(("/api/records/stripe/payment/" + pi).c_str(), ih::test::bearer(tenant.api_key));
  REQUIRE(record);
  auto data = json::parse(record->body)["data"];
  CHECK(data["plan"] == "compliance_pack");
  CHECK(data["buyer"] == "user_42");

  // Another buyer may buy it; recurring plans are not limited.
  CHECK(action("create_payment_intent", {{"price", "compliance_pack"}, {"buyer", "user_43"}}).first == 200);
  CHECK(action("create_payment_intent", {{"price", "starter"}, {"buyer", "user_42"}}).first == 200);
}

TEST_CASE("stripe_byok: checkout starts a trialing subscription kept as a record, the portal links back",
          "[stripe]") {
  Env env;
  env.connectGood();
  REQUIRE(env.action("setup", {{"answers", {{"public_url", env.host.app().baseUrl()}, {"catalog", "all"}}}})
              .status == 200);
  // Refused before Stripe is called: no plan, an unknown plan, no success_url anywhere.
  CHECK(env.action("create_checkout_session", {{"buyer", "user_1"}}).status == 400);
  CHECK(env.action("create_checkout_session", {{"plan", "gold"}, {"buyer", "user_1"}}).status == 404);
  auto no_url = env.action("create_checkout_session", {{"plan", "starter"}, {"buyer", "user_1"}});
  CHECK(no_url.status == 400);
  CHECK(no_url.body.dump().find("success_url is required") != std::string::npos);

  auto session =
      env.action("create_checkout_session",
                 {{"plan", "starter"},
                  {"buyer", "user_1"},
                  {"customer_email", "user1@example.com"},
                  {"success_url", "https://app.example.com/billing/done?session={CHECKOUT_SESSION_ID}"},
                  {"cancel_url", "https://app.example.com/billing"}});
  INFO(session.body.dump());
  REQUIRE(session.status == 200);
  CHECK(session.body["mode"] == "subscription");
  CHECK(session.body["trial_days"] == 7);  // the default catalog's Starter
  const std::string cs = session.body["checkout_session_id"];
  const std::string url = session.body["url"];
  REQUIRE(url.rfind(env.stripe->url() + "/hosted/checkout/" + cs, 0) == 0);

  // The customer completes Stripe's page; the browser is sent to success_url.
  httplib::Client browser(env.stripe->url());
  auto paid = browser.Post(("/hosted/checkout/" + cs + "/pay").c_str());
  REQUIRE(paid);
  CHECK(paid->status == 303);
  CHECK(paid->get_header_value("Location") == "https://app.example.com/billing/done?session=" + cs);

  httplib::Client stripe_api(env.stripe->url());
  auto got = stripe_api.Get(("/v1/checkout/sessions/" + cs).c_str(),
                            {{"Authorization", std::string("Bearer ") + kKey}});
  REQUIRE(got);
  const json completed = json::parse(got->body);
  CHECK(completed["status"] == "complete");
  CHECK(completed["payment_status"] == "no_payment_required");  // in trial
  CHECK(completed["client_reference_id"] == "user_1");
  const std::string sub = completed["subscription"];
  const std::string customer = completed["customer"];

  // customer.subscription.created reached the host and became the subscription record.
  REQUIRE(eventually(
      [&] { return env.request("GET", "/api/records/stripe/subscription/" + sub).status == 200; }));
  const json record = env.request("GET", "/api/records/stripe/subscription/" + sub).body["data"];
  INFO(record.dump());
  CHECK(record["status"] == "trialing");
  CHECK(record["buyer"] == "user_1");
  CHECK(record["plan"] == "starter");
  CHECK(record["lookup_key"] == "starter");
  CHECK(record["customer"] == customer);
  CHECK(record["trial_end"].get<int64_t>() - now() > 6 * 86400);
  CHECK(record["trial_end"].get<int64_t>() - now() <= 7 * 86400 + 5);

  auto portal = env.action("create_billing_portal_session",
                           {{"customer", customer}, {"return_url", "https://app.example.com/billing"}});
  INFO(portal.body.dump());
  REQUIRE(portal.status == 200);
  CHECK(portal.body["customer"] == customer);
  CHECK(portal.body["return_url"] == "https://app.example.com/billing");
  auto page = browser.Get(portal.body["url"].get<std::string>().substr(env.stripe->url().size()).c_str());
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find(customer) != std::string::npos);
  CHECK(env.action("create_billing_portal_session", {{"customer", "cus_nosuchcustomer1"}}).status == 404);
}

TEST_CASE("stripe_byok: report_usage sends one meter event per idempotency key, whatever the repeats",
          "[stripe]") {
  Env env;
  env.connectGood();
  const json usage = {{"customer", "cus_meteredcustomer01"},
                      {"event_name", "api_requests"},
                      {"value", 25},
                      {"idempotency_key", "usage-2026-12-03T10:00-acme"}};
  // Refused before Stripe is called.
  for (const json& bad :
       {json({{"event_name", "api_requests"}, {"value", 1}, {"idempotency_key", "k"}}),
        json({{"customer", "cus_x1"}, {"value", 1}, {"idempotency_key", "k"}}),
        json({{"customer", "cus_x1"}, {"event_name", "e"}, {"value", -1}, {"idempotency_key", "k"}}),
        json({{"customer", "cus_x1"}, {"event_name", "e"}, {"value", "25"}, {"idempotency_key", "k"}}),
        json({{"customer", "cus_x1"}, {"event_name", "e"}, {"value", 1}}),
        json({{"customer", "cus_x1"},
              {"event_name", "e"},
              {"value", 1},
              {"idempotency_key", std::string(101, 'k')}})}) {
    INFO(bad.dump());
    CHECK(env.action("report_usage", bad).status == 400);
  }
  CHECK(env.count("POST", "/v1/billing/meter_events") == 0);

  auto first = env.action("report_usage", usage);
  INFO(first.body.dump());
  REQUIRE(first.status == 200);
  CHECK(first.body["duplicate"] == false);
  CHECK(first.body["identifier"] == "usage-2026-12-03T10:00-acme");
  CHECK(first.body["value"] == 25);
  CHECK(first.body["timestamp"].is_number_integer());
  const ih::stripe_double::RecordedRequest* sent = nullptr;
  auto requests = env.stripe->requests();
  for (const auto& r : requests)
    if (r.path == "/v1/billing/meter_events") sent = &r;
  REQUIRE(sent != nullptr);
  CHECK(sent->status == 200);
  CHECK(sent->body.find("event_name=api_requests") != std::string::npos);
  CHECK(sent->body.find("payload%5Bstripe_customer_id%5D=cus_meteredcustomer01") != std::string::npos);
  CHECK(sent->body.find("payload%5Bvalue%5D=25") != std::string::npos);
  CHECK(sent->body.find("identifier=usage-2026-12-03T10%3A00-acme") != std::string::npos);
  const std::string idempotency_key = sent->header("Idempotency-Key");
  CHECK(!idempotency_key.empty());

  // The caller retries: the same Idempotency-Key, Stripe answers the first result again.
  auto again = env.action("report_usage", usage);
  REQUIRE(again.status == 200);
  CHECK(again.body["duplicate"] == false);
  CHECK(again.body["timestamp"] == first.body["timestamp"]);
  // The same key with another value is a conflict, not a second event.
  json changed = usage;
  changed["value"] = 26;
  CHECK(env.action("report_usage", changed).status == 409);

  // Two days later the Idempotency-Key has expired; Stripe still knows the identifier: nothing is reported twice.
  env.stripe->setClockOffset(2 * 86400);
  auto late = env.action("report_usage", usage);
  INFO(late.body.dump());
  REQUIRE(late.status == 200);
  CHECK(late.body["duplicate"] == true);
  size_t accepted = 0;
  for (const auto& r : env.stripe->requests())
    if (r.path == "/v1/billing/meter_events" && r.status == 200) ++accepted;
  CHECK(accepted == 2);  // the first and its idempotent replay; the late one was refused as a duplicate
  // Another key is another event.
  json next = usage;
  next["idempotency_key"] = "usage-2026-12-03T11:00-acme";
  auto other = env.action("report_usage", next);
  REQUIRE(other.status == 200);
  CHECK(other.body["duplicate"] == false);
}

TEST_CASE("stripe_byok: subscription events out of order keep the newest state", "[stripe]") {
  Env env;
  env.connectGood();
  const int64_t t = now();
  auto event = [&](const std::string& id, const std::string& status, int64_t created) {
    return json({{"id", id},
                 {"object", "event"},
                 {"type", "customer.subscription.updated"},
                 {"created", created},
                 {"livemode", false},
                 {"data",
                  {{"object",
                    {{"id", "sub_ooo1"},
                     {"object", "subscription"},
                     {"status", status},
                     {"customer", "cus_1"},
                     {"cancel_at_period_end", false},
                     {"items", {{"data", json::array({{{"price", {{"id", "price_1"}}}}})}}}}}}}})
        .dump();
  };
  auto deliver = [&](const std::string& body) {
    auto client = env.host.client();
    httplib::Headers headers = {{"Stripe-Signature", StripeDouble::signatureHeader(kWhsec, now(), body)}};
    auto res =
        client->Post(("/webhooks/stripe/" + env.tenant.tenant_id).c_str(), headers, body, "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
  };
  deliver(event("evt_new", "active", t));
  CHECK(eventually([&] {
    auto r = env.request("GET", "/api/records/stripe/subscription/sub_ooo1");
    return r.status == 200 && r.body.dump().find("active") != std::string::npos;
  }));
  deliver(event("evt_old", "trialing", t - 60));
  // Wait until the inbox has handled the older event (processed: applied or skipped as out of order), then
  // the record must still show the newer state.
  CHECK(eventually([&] {
    auto events = env.request("GET", "/api/webhooks?status=processed");
    if (events.status != 200 || !events.body.contains("data")) return false;
    for (const auto& e : events.body["data"])
      if (e.value("event_id", "") == "evt_old") return true;
    return false;
  }));
  auto r = env.request("GET", "/api/records/stripe/subscription/sub_ooo1");
  INFO(r.body.dump());
  CHECK(r.body.dump().find("active") != std::string::npos);
  CHECK(r.body.dump().find("trialing") == std::string::npos);

  // A forged signature is refused.
  auto client = env.host.client();
  auto forged =
      client->Post(("/webhooks/stripe/" + env.tenant.tenant_id).c_str(),
                   {{"Stripe-Signature", StripeDouble::signatureHeader("whsec_wrong", now(), "{}")}}, "{}",
                   "application/json");
  REQUIRE(forged);
  CHECK(forged->status == 400);
}

TEST_CASE("stripe_byok: ihost setup --non-interactive end to end", "[stripe]") {
  Env env;
  auto connected = env.connect({{"secret_key", kKey}, {"publishable_key", kPk}});  // no webhook secret
  REQUIRE(connected.status == 200);
  // Connection info keeps the plugin's key names: only string values are masked ("webhook_secret_set"
  // contains "_secret_", which the text-wide redaction used to turn into "****_set").
  INFO(connected.body.dump());
  CHECK(connected.body["info"]["webhook_secret_set"] == false);
  const std::string cmd = std::string(IH_IHOST_BIN) + " setup stripe --tenant " + env.tenant.tenant_id +
                          " --non-interactive --config " + env.host.configPath() +
                          " --set public_url=" + env.host.app().baseUrl() + " --set catalog=all 2>&1";
  std::string output;
  int rc = -1;
  {
    FILE* pipe = popen(cmd.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, pipe))
      output.append(buf, n);
    rc = pclose(pipe);
  }
  INFO(output);
  REQUIRE(rc == 0);
  CHECK(output.find("webhook endpoint created") != std::string::npos);
  CHECK(output.find("whsec_") == std::string::npos);
  CHECK(output.find(kKey) == std::string::npos);
  CHECK(env.count("POST", "/v1/webhook_endpoints") == 1);
  CHECK(env.count("POST", "/v1/prices") == 2);

  // The secret setup stored verifies the double's deliveries to the running server.
  auto intent = env.action("create_payment_intent", {{"price", "starter"}});
  REQUIRE(intent.status == 200);
  CHECK(intent.body["amount"] == 900);
  const std::string pi = intent.body["payment_intent_id"];
  REQUIRE(env.action("simulate_payment", {{"payment_intent", pi}}).status == 200);
  CHECK(eventually([&] { return env.request("GET", "/api/records/stripe/payment/" + pi).status == 200; }));

  // Missing answer without a default: a clear failure.
  const std::string missing = std::string(IH_IHOST_BIN) + " setup stripe --tenant " + env.tenant.tenant_id +
                              " --non-interactive --config " + env.host.configPath() + " >/dev/null 2>&1";
  CHECK(std::system(missing.c_str()) != 0);
}
