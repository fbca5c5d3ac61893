// Entitlements end to end: the real stripe_byok plugin declares its mapping, the Stripe double runs Checkout
// and PaymentIntents and delivers signed webhooks, the host derives GET /api/entitlements and emits
// entitlements.changed; cancellation, replay, tenant isolation and a restart.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "stripe_double/stripe_double.h"
#include "support/eventually.h"
#include "support/stripe_fixture.h"
#include "support/test_host.h"

namespace {

using ih::test::eventually;
using nlohmann::json;

constexpr char kKey[] = "sk_test_ihostentitlements00000001";
constexpr char kPk[] = "pk_test_ihostentitlements00000001";
constexpr char kWhsec[] = "whsec_entitlements_test_secret_01";

struct Env {
  std::unique_ptr<ih::stripe_double::StripeDouble> stripe = ih::test::startStripeDouble(kKey);
  ih::test::TestHost host{[this] {
    ih::test::TestHostOptions o;
    o.extra_toml = ih::test::stripeByokToml(
        stripe->url(),
        "catalog = [{key = \"starter\", name = \"Starter\", amount = 900, currency = \"usd\", interval = "
        "\"month\", trial_days = 7}, {key = \"compliance_pack\", name = \"Compliance Pack\", amount = 99900, "
        "currency = \"usd\", interval = \"one_time\"}]\n");
    return o;
  }()};
  ih::test::TestHost::TenantKey tenant = host.createTenant("acme");

  std::pair<int, json> call(const std::string& method, const std::string& path, const json& body = nullptr,
                            const std::string& key = {}) {
    auto client = host.client();
    client->set_read_timeout(std::chrono::seconds(60));
    auto headers = ih::test::bearer(key.empty() ? tenant.api_key : key);
    httplib::Result res = method == "GET"
                              ? client->Get(path.c_str(), headers)
                              : client->Post(path.c_str(), headers, body.dump(), "application/json");
    REQUIRE(res);
    INFO(method << " " << path << " -> " << res->status << " " << res->body);
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  std::pair<int, json> action(const std::string& name, const json& input) {
    return call("POST", "/api/integrations/stripe/actions/" + name, input);
  }
  json entitlements(const std::string& customer, const std::string& key = {}) {
    auto [status, body] = call("GET", "/api/entitlements?customer=" + customer, nullptr, key);
    REQUIRE(status == 200);
    return body;
  }
  // The entitlements.changed events for `customer`, oldest first.
  std::vector<json> changes(const std::string& customer) {
    auto [status, body] = call("GET", "/api/events?type=entitlements.&limit=500");
    REQUIRE(status == 200);
    std::vector<json> out;
    for (const json& e : body["data"])
      if (e["type"] == "entitlements.changed" && e["data"]["customer"] == customer) out.push_back(e);
    return out;
  }
};

}  // namespace

TEST_CASE("entitlements: a checkout subscription grants its plan while trialing, cancellation takes it away",
          "[entitlements][stripe]") {
  Env env;
  REQUIRE(env.call("POST", "/api/integrations/stripe/connect",
                   {{"secret_key", kKey}, {"publishable_key", kPk}, {"webhook_secret", kWhsec}})
              .first == 200);
  REQUIRE(env.action("setup", {{"answers", {{"public_url", env.host.app().baseUrl()}, {"catalog", "all"}}}})
              .first == 200);
  CHECK(env.entitlements("user_1")["data"].empty());

  auto session =
      env.action("create_checkout_session",
                 {{"plan", "starter"}, {"buyer", "user_1"}, {"success_url", "https://app.example.com/done"}});
  REQUIRE(session.first == 200);
  const std::string cs = session.second["checkout_session_id"];
  httplib::Client browser(env.stripe->url());
  auto paid = browser.Post(("/hosted/checkout/" + cs + "/pay").c_str());
  REQUIRE(paid);
  REQUIRE(paid->status == 303);

  // The customer.subscription.created webhook becomes the record, the record the entitlement.
  REQUIRE(eventually([&] { return !env.entitlements("user_1")["data"].empty(); }));
  json view = env.entitlements("user_1");
  INFO(view.dump());
  CHECK(view["object"] == "list");
  CHECK(view["customer"] == "user_1");
  CHECK(view["keys"] == json::array({"starter"}));
  REQUIRE(view["data"].size() == 1);
  const json row = view["data"][0];
  CHECK(row["key"] == "starter");
  CHECK(row["status"] == "trialing");
  CHECK(row["integration"] == "stripe");
  CHECK(row["model"] == "subscription");
  CHECK(row["expires_at"].is_number_integer());
  const std::string sub = row["record_id"];
  CHECK(sub.rfind("sub_", 0) == 0);

  REQUIRE(eventually([&] { return env.changes("user_1").size() == 1; }));
  const json granted = env.changes("user_1")[0];
  CHECK(granted["integration"] == "stripe");
  CHECK(granted["data"]["added"] == json::array({"starter"}));
  CHECK(granted["data"]["keys"] == json::array({"starter"}));

  // Another tenant asking about the same reference sees nothing.
  auto other = env.host.createTenant("globex");
  CHECK(env.entitlements("user_1", other.api_key)["data"].empty());

  // Replaying the webhooks changes nothing and emits nothing new.
  auto [listed, hooks] = env.call("GET", "/api/webhooks?limit=100");
  REQUIRE(listed == 200);
  for (const json& h : hooks["data"])
    CHECK(env.call("POST", "/api/webhooks/" + std::to_string(h["id"].get<int64_t>()) + "/replay",
                   json::object())
              .first == 202);
  CHECK(eventually([&] {
    auto [s, b] = env.call("GET", "/api/webhooks?limit=100");
    for (const json& h : b["data"])
      if (h["status"] != "processed") return false;
    return true;
  }));
  CHECK(env.entitlements("user_1")["keys"] == json::array({"starter"}));
  CHECK(env.changes("user_1").size() == 1);

  // Canceled at Stripe: customer.subscription.deleted -> status canceled -> the plan is gone.
  httplib::Client stripe_api(env.stripe->url());
  auto canceled = stripe_api.Delete(("/v1/subscriptions/" + sub).c_str(),
                                    {{"Authorization", std::string("Bearer ") + kKey}});
  REQUIRE(canceled);
  REQUIRE(canceled->status == 200);
  REQUIRE(eventually([&] { return env.entitlements("user_1")["data"].empty(); }));
  REQUIRE(eventually([&] { return env.changes("user_1").size() == 2; }));
  const json lost = env.changes("user_1")[1];
  CHECK(lost["data"]["removed"] == json::array({"starter"}));
  CHECK(lost["data"]["keys"].empty());

  // The view survives a restart and nothing is emitted again.
  env.host.restart();
  CHECK(env.entitlements("user_1")["data"].empty());
  CHECK(env.changes("user_1").size() == 2);
}

TEST_CASE("entitlements: a paid one-time item is owned, bad requests are refused", "[entitlements][stripe]") {
  Env env;
  REQUIRE(env.call("POST", "/api/integrations/stripe/connect",
                   {{"secret_key", kKey}, {"publishable_key", kPk}, {"webhook_secret", kWhsec}})
              .first == 200);
  REQUIRE(env.action("setup", {{"answers", {{"public_url", env.host.app().baseUrl()}, {"catalog", "all"}}}})
              .first == 200);
  auto intent = env.action("create_payment_intent", {{"price", "compliance_pack"}, {"buyer", "user_9"}});
  REQUIRE(intent.first == 200);
  const std::string pi = intent.second["payment_intent_id"];
  // Created but not paid: nothing yet.
  CHECK(env.entitlements("user_9")["data"].empty());
  REQUIRE(env.action("simulate_payment", {{"payment_intent", pi}}).first == 200);
  REQUIRE(eventually([&] { return env.entitlements("user_9")["keys"] == json::array({"compliance_pack"}); }));
  const json row = env.entitlements("user_9")["data"][0];
  CHECK(row["model"] == "payment");
  CHECK(row["record_id"] == pi);
  CHECK(row["status"] == "succeeded");
  CHECK(row["expires_at"].is_null());

  // The customer reference is required and bounded; the API key is required.
  for (const std::string& query :
       {std::string(), std::string("?customer="), "?customer=" + std::string(201, 'c')}) {
    auto [status, body] = env.call("GET", "/api/entitlements" + query);
    CHECK(status == 400);
    CHECK(body["error"]["code"] == "invalid_request");
  }
  auto anonymous = env.host.client()->Get("/api/entitlements?customer=user_9");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
}
