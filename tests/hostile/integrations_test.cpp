// Hostile input to the integrations API: unknown and disabled integrations on every route, connect bodies
// that are too deep, too large, of the wrong types or not UTF-8, and test/disconnect of what was never
// connected.
#include "hostile_env.h"

namespace ih::hostile {
namespace {

struct Route {
  std::string method;
  std::string target;
  bool tenant_auth = true;
};

// Every route that names an integration, with `id` in its place.
std::vector<Route> integrationRoutes(const std::string& id, const std::string& tenant_id) {
  return {{"GET", "/api/integrations/" + id},
          {"POST", "/api/integrations/" + id + "/connect"},
          {"GET", "/api/integrations/" + id + "/test"},
          {"DELETE", "/api/integrations/" + id},
          {"POST", "/api/integrations/" + id + "/disconnect"},
          {"POST", "/api/integrations/" + id + "/actions/ping"},
          {"GET", "/api/integrations/" + id + "/routes/echo"},
          {"POST", "/api/integrations/" + id + "/routes/echo"},
          {"GET", "/api/integrations/" + id + "/jobs"},
          {"POST", "/api/integrations/" + id + "/jobs/sync/run"},
          {"GET", "/api/integrations/" + id + "/jobs/sync/runs"},
          {"GET", "/api/integrations/" + id + "/jobs/sync/runs/1"},
          {"POST", "/api/integrations/" + id + "/workflows/ask"},
          {"GET", "/api/integrations/" + id + "/oauth/start"},
          {"GET", "/api/records/" + id + "/customer"},
          {"GET", "/api/records/" + id + "/customer/cus_1"},
          {"GET", "/plugins/" + id + "/echo", false},
          {"GET", "/oauth/" + id + "/callback?state=v1.x.1.y", false},
          {"POST", "/webhooks/" + id + "/" + tenant_id, false},
          {"POST", "/webhooks/" + id, false}};
}

void checkUnknownEverywhere(Env& env, const std::string& id) {
  const auto before = env.rowCounts();
  for (const auto& r : integrationRoutes(id, env.a.id)) {
    INFO(r.method << " " << r.target);
    Headers h = r.tenant_auth ? env.a.auth() : Headers{};
    h.emplace_back("Accept", "application/json");
    CHECK_ERROR(env.send(r.method, r.target, h, r.method == "GET" || r.method == "DELETE" ? "" : "{}"), 404,
                "unknown_integration");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.upstream().requestCount() == 0);
  CHECK(env.healthy());
}

std::string connectBody(const json& extra = json::object()) {
  json body = {{"secret_key", kStripeKey}, {"publishable_key", kStripePk}};
  for (auto& [k, v] : extra.items())
    body[k] = v;
  return body.dump();
}

}  // namespace

TEST_CASE("integrations: an unknown integration is 404 unknown_integration on every route",
          "[hostile][api]") {
  Env env;
  checkUnknownEverywhere(env, "nope");
}

TEST_CASE("integrations: a disabled integration is 404 unknown_integration on every route",
          "[hostile][api]") {
  Env env;
  checkUnknownEverywhere(env, "off");
}

TEST_CASE("connect: 1 MB of nested arrays is 400 invalid_json naming the depth - nothing stored or sent",
          "[hostile][api][connect]") {
  Env env;
  const auto before = env.rowCounts();
  for (const std::string& body :
       {deepArrays(500000), "{\"secret_key\":" + deepArrays(500000) + "}", deepObjectBody(65)}) {
    Answer r = env.post("/api/integrations/stripe/connect", env.a.auth(), body);
    CHECK_ERROR(r, 400, "invalid_json");
    CHECK(r.body_json["error"]["message"].get<std::string>().find("64") != std::string::npos);
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("connect: a 1 MB secret key is 400 before anything is sent to Stripe", "[hostile][api][connect]") {
  Env env;
  const auto before = env.rowCounts();
  const std::string huge = "sk_test_" + std::string(1000000, 'A');
  CHECK_ERROR(env.post("/api/integrations/stripe/connect", env.a.auth(), connectBody({{"secret_key", huge}})),
              400, "invalid_request");
  CHECK_ERROR(env.post("/api/integrations/stripe/connect", env.a.auth(),
                       connectBody({{"publishable_key", "pk_test_" + std::string(1000000, 'B')}})),
              400, "invalid_request");
  CHECK_ERROR(env.post("/api/integrations/stripe/connect", env.a.auth(),
                       connectBody({{"webhook_secret", "whsec_" + std::string(1000000, 'C')}})),
              400, "invalid_request");
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("connect: wrong JSON types and unknown fields are 400 invalid_request - nothing sent",
          "[hostile][api][connect]") {
  Env env;
  const auto before = env.rowCounts();
  for (const json& extra : {json{{"secret_key", 42}}, json{{"secret_key", nullptr}},
                            json{{"publishable_key", json::array({kStripePk})}},
                            json{{"webhook_secret", json{{"a", 1}}}}, json{{"secret_key", true}}}) {
    INFO(extra.dump());
    CHECK_ERROR(env.post("/api/integrations/stripe/connect", env.a.auth(), connectBody(extra)), 400,
                "invalid_request");
  }
  CHECK_ERROR(
      env.post("/api/integrations/stripe/connect", env.a.auth(), R"({"publishable_key":"pk_test_x"})"), 400,
      "invalid_request");
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("connect: keys with control characters spaces or a header break are 400 before Stripe",
          "[hostile][api][connect]") {
  Env env;
  const auto before = env.rowCounts();
  for (const json& extra :
       {json{{"secret_key", std::string(kStripeKey) + "\r\nX-Evil: 1"}},
        json{{"secret_key", std::string(kStripeKey) + " "}},
        json{{"webhook_secret", std::string(kStripeWhsec) + "\r\nX-Evil: 1"}},
        json{{"webhook_secret", "whsec_"}}, json{{"publishable_key", "pk_test_\u00e9\u00e9\u00e9\u00e9"}}}) {
    INFO(extra.dump());
    CHECK_ERROR(env.post("/api/integrations/stripe/connect", env.a.auth(), connectBody(extra)), 400,
                "invalid_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("connect: bodies that are not UTF-8 not JSON empty or not an object are 400 invalid_json",
          "[hostile][api][connect]") {
  Env env;
  const auto before = env.rowCounts();
  const std::string not_utf8 =
      std::string("{\"secret_key\":\"") + kStripeKey + "\",\"publishable_key\":\"pk_test_\xff\xfe\xc0\xaf\"}";
  for (const std::string& body :
       {not_utf8, std::string("{\"secret_key\":\"\xed\xa0\x80\"}"), std::string(""), std::string("null"),
        std::string("[]"), std::string("\"x\""), std::string("{"), std::string("{\"a\":1}garbage"),
        std::string(1000, '\0')}) {
    INFO("body of " << body.size() << " bytes");
    CHECK_ERROR(env.post("/api/integrations/stripe/connect", env.a.auth(), body), 400, "invalid_json");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("connect: a body over server max_body_bytes is 413 payload_too_large - nothing stored",
          "[hostile][api][connect]") {
  Env env;
  const auto before = env.rowCounts();
  const std::string body = connectBody({{"padding", std::string(2 << 20, 'x')}});
  CHECK_ERROR(env.post("/api/integrations/stripe/connect", env.a.auth(), body), 413, "payload_too_large");
  // Announced but never sent: refused from the header alone.
  CHECK_ERROR(env.send("POST", "/api/integrations/stripe/connect",
                       {{"Authorization", "Bearer " + env.a.key}, {"Content-Length", "99999999999"}}),
              413, "payload_too_large");
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE(
    "connect: test and disconnect of a never-connected integration are 409 not_connected - no audit row",
    "[hostile][api][connect]") {
  Env env;
  const auto before = env.rowCounts();
  CHECK_ERROR(env.get("/api/integrations/stripe/test", env.a.auth()), 409, "not_connected");
  CHECK_ERROR(env.del("/api/integrations/stripe", env.a.auth()), 409, "not_connected");
  CHECK_ERROR(env.post("/api/integrations/stripe/disconnect", env.a.auth(), ""), 409, "not_connected");
  // B connected does not make A connected.
  env.connectStripe(env.b);
  const auto after_b = env.rowCounts();
  const size_t sent = env.stripeRequests();
  CHECK_ERROR(env.get("/api/integrations/stripe/test", env.a.auth()), 409, "not_connected");
  CHECK_ERROR(env.del("/api/integrations/stripe", env.a.auth()), 409, "not_connected");
  CHECK(env.rowCounts() == after_b);
  CHECK(after_b.at("connections") == before.at("connections") + 1);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.get("/api/integrations/stripe", env.b.auth()).body_json.value("connected", false));
  CHECK(env.healthy());
}

}  // namespace ih::hostile
