// Hostile input to actions: the deep-JSON crash (issue 14 item 2), duplicate and absurd Idempotency-Keys,
// and Stripe action inputs that must be refused before anything is sent to Stripe.
#include "hostile_env.h"

namespace ih::hostile {
namespace {

const std::string kIntent = "/api/integrations/stripe/actions/create_payment_intent";

Headers withKey(const Tenant& t, const std::string& idempotency_key) {
  Headers h = t.auth();
  h.emplace_back("Idempotency-Key", idempotency_key);
  return h;
}

}  // namespace

TEST_CASE(
    "actions: 1 MB of nested arrays (issue 14 item 2) is 400 invalid_json naming the depth - host lives",
    "[hostile][actions]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  for (const std::string& target : {kIntent, std::string("/api/integrations/echo/actions/ask"),
                                    std::string("/api/integrations/stripe/actions/ensure_products")}) {
    for (const std::string& body : {deepObjectBody(500000), deepArrays(500000), deepObjectBody(64)}) {
      INFO(target << " with " << body.size() << " bytes");
      Answer r = env.post(target, withKey(env.a, "deep-" + std::to_string(body.size())), body);
      CHECK_ERROR(r, 400, "invalid_json");
      CHECK(r.body_json["error"]["message"].get<std::string>().find("nested deeper than 64") !=
            std::string::npos);
    }
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE("actions: an unknown action is 404 unknown_action - nothing stored or sent", "[hostile][actions]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  for (const std::string& name : {std::string("nope"), std::string(4000, 'a'),
                                  std::string("CREATE_PAYMENT_INTENT"), std::string("setup%00")}) {
    CHECK_ERROR(
        env.post("/api/integrations/stripe/actions/" + name, withKey(env.a, "k-" + name.substr(0, 20)), "{}"),
        404, "unknown_action");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE("actions: an action of a never-connected integration is 409 not_connected before the plugin runs",
          "[hostile][actions]") {
  Env env;
  env.connectStripe(env.b);  // another tenant's connection does not count
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  CHECK_ERROR(env.post(kIntent, withKey(env.a, "nc-1"), R"({"amount":100,"currency":"usd"})"), 409,
              "not_connected");
  CHECK_ERROR(
      env.post("/api/integrations/stripe_connect/actions/create_product", env.a.auth(), R"({"name":"x"})"),
      409, "not_connected");
  CHECK_ERROR(env.post("/api/integrations/example/actions/ping", env.a.auth(), "{}"), 409, "not_connected");
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.upstream().requestCount() == 0);
  CHECK(env.healthy());
}

TEST_CASE(
    "actions: an Idempotency-Key reused with another body is 400 idempotency_error - Stripe sees it once",
    "[hostile][actions]") {
  Env env;
  env.connectStripe(env.a);
  Answer first = env.post(kIntent, withKey(env.a, "order-42"), R"({"amount":1000,"currency":"usd"})");
  INFO(first.text());
  REQUIRE(first.status == 200);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  CHECK_ERROR(env.post(kIntent, withKey(env.a, "order-42"), R"({"amount":999999,"currency":"usd"})"), 400,
              "idempotency_error");
  CHECK_ERROR(env.post("/api/integrations/stripe/actions/simulate_payment", withKey(env.a, "order-42"),
                       R"({"amount":1000,"currency":"usd"})"),
              400, "idempotency_error");
  // The same key and body replay the stored answer without running the action; another tenant's identical key
  // is its own key (it runs, for B, once).
  Answer replay = env.post(kIntent, withKey(env.a, "order-42"), R"({"amount":1000,"currency":"usd"})");
  CHECK(replay.status == 200);
  CHECK(replay.header("Idempotent-Replayed") == "true");
  CHECK(replay.body == first.body);
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE(
    "actions: an Idempotency-Key over 255 bytes not ASCII or with control bytes is 400 - nothing stored",
    "[hostile][actions]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  for (const std::string& key : {std::string(256, 'k'), std::string(40000, 'k'), std::string("key-\xff\xfe"),
                                 std::string("caf\xc3\xa9")}) {
    INFO("key of " << key.size() << " bytes");
    Answer r = env.post(kIntent, withKey(env.a, key), R"({"amount":1000,"currency":"usd"})");
    CHECK_ERROR(r, 400, "invalid_request");
    CHECK(r.body_json["error"]["message"].get<std::string>().find("Idempotency-Key") != std::string::npos);
  }
  // Control bytes in a header value are not HTTP: the server refuses the request before any handler.
  for (const std::string& key : {std::string("abc\x01"
                                             "def"),
                                 std::string("abc\x7f")}) {
    CHECK_ERROR(env.post(kIntent, withKey(env.a, key), R"({"amount":1000,"currency":"usd"})"), 400,
                "bad_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE("actions: create_payment_intent refuses wrong types and absurd values before Stripe",
          "[hostile][actions][stripe]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  for (const json& input :
       {json{{"amount", "1000"}, {"currency", "usd"}}, json{{"amount", -5}, {"currency", "usd"}},
        json{{"amount", 1e300}, {"currency", "usd"}},
        json{{"amount", 100000000000000LL}, {"currency", "usd"}},
        json{{"amount", 1000}, {"currency", std::string(1000000, 'u')}},
        json{{"amount", 1000}, {"currency", "u$d"}}, json{{"amount", 1000}, {"currency", 42}},
        json{{"amount", 1000}, {"currency", "usd"}, {"description", std::string(100000, 'd')}},
        json{{"amount", 1000}, {"currency", "usd"}, {"customer", "../../v1/customers"}},
        json{{"amount", 1000}, {"currency", "usd"}, {"reference", json::array()}},
        json{{"price", "price_/../../v1/balance"}}, json{{"price", std::string(1000000, 'p')}}}) {
    INFO(input.dump().substr(0, 120));
    CHECK_ERROR(env.post(kIntent, env.a.auth(), input.dump()), 400, "invalid_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE("actions: simulate_payment refuses ids that are not Stripe ids (path traversal) before Stripe",
          "[hostile][actions][stripe]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  for (const json& input :
       {json{{"payment_intent", "pi_1/../../../v1/customers"}}, json{{"payment_intent", "pi_1?x=1"}},
        json{{"payment_intent", "in_123"}}, json{{"invoice", "in_1#frag"}},
        json{{"invoice", std::string(1000000, 'i')}}, json{{"payment_intent", 12}},
        json{{"payment_intent", "pi_1"}, {"payment_method", "pm_card_visa\r\nX: y"}}, json::object()}) {
    INFO(input.dump().substr(0, 120));
    CHECK_ERROR(env.post("/api/integrations/stripe/actions/simulate_payment", env.a.auth(), input.dump()),
                400, "invalid_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE("actions: create_invoices refuses the whole batch before Stripe when any buyer is malformed",
          "[hostile][actions][stripe]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  const json good = {{"reference", "b1"},
                     {"email", "b1@example.com"},
                     {"items", json::array({{{"title", "Lot"}, {"price", 500}}})}};
  json no_items = good;
  no_items.erase("items");
  json huge_ref = good;
  huge_ref["reference"] = std::string(1000000, 'r');
  json bad_price = good;
  bad_price["items"][0]["price"] = "price_/../x";
  json bad_quantity = good;
  bad_quantity["items"][0]["quantity"] = -3;
  json bad_email = good;
  bad_email["email"] = json::object();
  for (const json& input :
       {json{{"buyers", "everyone"}}, json{{"buyers", json::array()}},
        json{{"buyers", json::array({good, no_items})}}, json{{"buyers", json::array({good, huge_ref})}},
        json{{"buyers", json::array({bad_price, good})}}, json{{"buyers", json::array({bad_quantity})}},
        json{{"buyers", json::array({bad_email})}}, json{{"buyers", json::array({good})}, {"reference", 5}},
        json{{"buyers", json::array({good, 7})}}}) {
    INFO(input.dump().substr(0, 160));
    CHECK_ERROR(env.post("/api/integrations/stripe/actions/create_invoices", env.a.auth(), input.dump()), 400,
                "invalid_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE("actions: stripe_connect create_product/create_price refuse bad input before Stripe",
          "[hostile][actions][stripe]") {
  Env env;
  env.connectStripe(env.a);  // a BYOK connection does not connect stripe_connect
  CHECK_ERROR(
      env.post("/api/integrations/stripe_connect/actions/create_product", env.a.auth(), R"({"name":"x"})"),
      409, "not_connected");
  // A connected account, through the double's OAuth flow.
  Answer start = env.get("/api/integrations/stripe_connect/oauth/start", env.a.auth());
  REQUIRE(start.status == 200);
  REQUIRE(env.connectThroughOAuth(start.body_json["url"].get<std::string>()) == 200);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  for (const auto& [action, input] : std::vector<std::pair<std::string, json>>{
           {"create_product", json::object()},
           {"create_product", json{{"name", std::string(1000000, 'n')}}},
           {"create_product", json{{"name", 5}}},
           {"create_product", json{{"name", "ok"}, {"metadata", json{{std::string(100, 'k'), "v"}}}}},
           {"create_product", json{{"name", "ok"}, {"metadata", json{{"k", std::string(10000, 'v')}}}}},
           {"create_product", json{{"name", "ok"}, {"metadata", "not an object"}}},
           {"create_price", json{{"product", "prod_1"}, {"unit_amount", "100"}, {"currency", "usd"}}},
           {"create_price", json{{"product", "prod_1/../x"}, {"unit_amount", 100}, {"currency", "usd"}}},
           {"create_price", json{{"product", "prod_1"}, {"unit_amount", -1}, {"currency", "usd"}}},
           {"create_price", json{{"product", "prod_1"}, {"unit_amount", 100}, {"currency", "dollars"}}},
           {"create_price", json{{"product", "prod_1"},
                                 {"unit_amount", 100},
                                 {"currency", "usd"},
                                 {"interval", "fortnight"}}}}) {
    INFO(action << " " << input.dump().substr(0, 120));
    CHECK_ERROR(env.post("/api/integrations/stripe_connect/actions/" + action, env.a.auth(), input.dump()),
                400, "invalid_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE("actions: invalid UTF-8 inside a JSON string and bodies over 1 MB are refused - nothing sent",
          "[hostile][actions]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  CHECK_ERROR(env.post(kIntent, env.a.auth(), "{\"amount\":1000,\"currency\":\"us\xff\"}"), 400,
              "invalid_json");
  CHECK_ERROR(env.post(kIntent, env.a.auth(), "{\"amount\":1000,\"currency\":\"usd\",\"x\":\"\xc0\x80\"}"),
              400, "invalid_json");
  CHECK_ERROR(
      env.post(kIntent, env.a.auth(),
               "{\"amount\":1000,\"currency\":\"usd\",\"pad\":\"" + std::string(1100000, 'p') + "\"}"),
      413, "payload_too_large");
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
