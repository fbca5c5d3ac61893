// Hostile OAuth: start on integrations that cannot do OAuth, callbacks with missing, forged, tampered, reused
// or absurd states, codes that are not Stripe codes, and query text that is not UTF-8. A refused callback
// stores nothing and never reaches Stripe's token endpoint.
#include "hostile_env.h"

namespace ih::hostile {
namespace {

const Headers kJson = {{"Accept", "application/json"}};

size_t tokenExchanges(Env& env) {
  size_t n = 0;
  for (const auto& r : env.stripe().requests())
    if (r.path == "/oauth/token") ++n;
  return n;
}

// A fresh, valid state for tenant A.
std::string startState(Env& env) {
  Answer start = env.get("/api/integrations/stripe_connect/oauth/start", env.a.auth());
  INFO(start.text());
  REQUIRE(start.status == 200);
  const std::string state = queryParam(start.body_json["url"].get<std::string>(), "state");
  REQUIRE(state.rfind("v1.", 0) == 0);
  return state;
}

}  // namespace

TEST_CASE("oauth start: unknown disabled and non-OAuth integrations are 404 - a hostile Host header is 400",
          "[hostile][oauth]") {
  Env env;
  const auto before = env.rowCounts();
  for (const char* id : {"nope", "off", "stripe", "echo"}) {
    INFO(id);
    CHECK_ERROR(env.get(std::string("/api/integrations/") + id + "/oauth/start", env.a.auth()), 404,
                "unknown_integration");
  }
  for (const std::string& host :
       {std::string("127.0.0.1\xff\xfe"), std::string(300, 'h'), std::string("a b")}) {
    INFO("Host: " << host.substr(0, 40));
    CHECK_ERROR(
        rawBytes(env.port(), "GET /api/integrations/stripe_connect/oauth/start HTTP/1.1\r\nHost: " + host +
                                 "\r\nAuthorization: Bearer " + env.a.key + "\r\nConnection: close\r\n\r\n"),
        400, "invalid_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("oauth callback: missing garbage forged and tampered states are 400 invalid_state - nothing stored",
          "[hostile][oauth]") {
  Env env;
  const std::string good = startState(env);
  const auto before = env.rowCounts();
  std::string tampered = good;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  std::string other_expiry = good;
  {
    const size_t second_dot = good.find('.', 3);
    const size_t third_dot = good.find('.', second_dot + 1);
    other_expiry.replace(second_dot + 1, third_dot - second_dot - 1, "999999999999");
  }
  CHECK_ERROR(env.get("/oauth/stripe_connect/callback?code=ac_x", kJson), 400, "invalid_state");
  for (const std::string& state :
       {std::string("x"), std::string("v1...."), tampered, other_expiry,
        "v1." + std::string(43, 'a') + ".99999999999999999999999999999999999999." + std::string(43, 'a'),
        "v1." + std::string(43, 'a') + ".-1." + std::string(43, 'a'), std::string(50000, '.'),
        std::string(20000, 'v')}) {
    INFO("state " << state.substr(0, 60));
    CHECK_ERROR(env.get("/oauth/stripe_connect/callback?code=ac_x&state=" + state, kJson), 400,
                "invalid_state");
  }
  CHECK(env.rowCounts() == before);
  CHECK(tokenExchanges(env) == 0);
  // The good state was not burnt by the forgeries.
  CHECK(env.connectThroughOAuth(env.get("/api/integrations/stripe_connect/oauth/start", env.a.auth())
                                    .body_json["url"]
                                    .get<std::string>()) == 200);
  CHECK(env.healthy());
}

TEST_CASE("oauth callback: a reused state is 400 state_already_used and changes nothing",
          "[hostile][oauth]") {
  Env env;
  Answer start = env.get("/api/integrations/stripe_connect/oauth/start", env.a.auth());
  REQUIRE(start.status == 200);
  const std::string callback = env.consentRedirect(start.body_json["url"].get<std::string>());
  CHECK(env.get(callback, kJson).status == 200);
  const auto before = env.rowCounts();
  const size_t exchanges = tokenExchanges(env);
  CHECK_ERROR(env.get(callback, kJson), 400, "state_already_used");
  CHECK(env.rowCounts() == before);
  CHECK(tokenExchanges(env) == exchanges);
  CHECK(env.healthy());
}

TEST_CASE("oauth callback: codes that are not Stripe codes are 400 before Stripe's token endpoint",
          "[hostile][oauth]") {
  Env env;
  const auto before_all = env.rowCounts();
  for (const std::string& code : {std::string(60000, 'c'), std::string("ac_../../v1/balance"),
                                  std::string("ac_%0D%0AX:1"), std::string("")}) {
    const std::string state = startState(env);
    INFO("code " << code.substr(0, 40));
    CHECK_ERROR(env.get("/oauth/stripe_connect/callback?code=" + code + "&state=" + state, kJson), 400,
                "invalid_request");
  }
  CHECK(tokenExchanges(env) == 0);
  CHECK(env.count("SELECT count(*) FROM connections") == 0);
  CHECK(env.count("SELECT count(*) FROM secrets") == 0);
  CHECK(env.rowCounts().at("webhook_routes") == before_all.at("webhook_routes"));
  CHECK(env.healthy());
}

TEST_CASE("oauth callback: query text that is not UTF-8 is 400 (never 500) and leaves the state usable",
          "[hostile][oauth]") {
  Env env;
  const std::string state = startState(env);
  const auto before = env.rowCounts();
  for (const std::string& query : {"error=access_denied&error_description=%FF%FE&state=" + state,
                                   "code=ac_%C0%AF&state=" + state, "x%FF=1&code=ac_1&state=" + state}) {
    INFO(query.substr(0, 60));
    CHECK_ERROR(env.get("/oauth/stripe_connect/callback?" + query, kJson), 400, "invalid_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(tokenExchanges(env) == 0);
  CHECK(env.count("SELECT count(*) FROM oauth_states WHERE consumed_at IS NOT NULL") == 0);
  CHECK(env.healthy());
}

TEST_CASE(
    "oauth callback: a declined authorization with a 60 KB description is 403 with a bounded answer and "
    "audit",
    "[hostile][oauth]") {
  Env env;
  const std::string state = startState(env);
  const auto before = env.rowCounts();
  Answer r = env.get("/oauth/stripe_connect/callback?error=access_denied&error_description=" +
                         std::string(60000, 'd') + "&state=" + state,
                     kJson);
  CHECK_ERROR(r, 403, "access_denied");
  CHECK(r.body.size() < 4096);
  Answer page = env.get(
      "/oauth/stripe_connect/callback?error=" + std::string(60000, 'e') + "&state=" + startState(env), {});
  CHECK(page.status == 400);
  CHECK(page.body.size() < 4096);
  // Each refusal is audited once, with its text cut.
  auto after = env.rowCounts();
  CHECK(after.at("audit_log") == before.at("audit_log") + 2);
  CHECK(env.count("SELECT max(length(detail_json)) FROM audit_log") < 4096);
  CHECK(env.count("SELECT count(*) FROM connections") == 0);
  CHECK(tokenExchanges(env) == 0);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
