// Hostile callers without a valid identity: no key, garbage keys, revoked keys, keys without the scope, keys
// that claim another tenant, the admin token where a tenant is expected and the other way round.
#include "hostile_env.h"

#include <tuple>

namespace ih::hostile {
namespace {

struct Route {
  std::string method;
  std::string target;
};

// One route of every tenant family (the integration and ids exist, so only the identity is wrong).
std::vector<Route> tenantRoutes() {
  return {{"GET", "/api/integrations"},
          {"GET", "/api/integrations/stripe"},
          {"POST", "/api/integrations/stripe/connect"},
          {"GET", "/api/integrations/stripe/test"},
          {"DELETE", "/api/integrations/stripe"},
          {"POST", "/api/integrations/stripe/disconnect"},
          {"POST", "/api/integrations/stripe/actions/create_payment_intent"},
          {"GET", "/api/integrations/echo/routes/echo"},
          {"GET", "/api/integrations/stripe/jobs"},
          {"POST", "/api/integrations/stripe/jobs/catalog/run"},
          {"GET", "/api/integrations/stripe/jobs/catalog/runs"},
          {"GET", "/api/integrations/stripe_connect/oauth/start"},
          {"POST", "/api/integrations/echo/workflows/ask"},
          {"GET", "/api/workflows/wf_whatever"},
          {"GET", "/api/records/stripe/customer"},
          {"GET", "/api/records/stripe/customer/cus_1"},
          {"GET", "/api/events"},
          {"GET", "/api/events/stream"},
          {"GET", "/api/audit"},
          {"GET", "/api/whoami"},
          {"GET", "/api/webhooks"},
          {"GET", "/api/webhooks/1"},
          {"POST", "/api/webhooks/1/replay"},
          {"GET", "/api/endpoints"},
          {"POST", "/api/endpoints"}};
}

std::vector<Route> adminRoutes() {
  return {{"GET", "/api/admin/tenants"},
          {"POST", "/api/admin/tenants"},
          {"GET", "/api/admin/tenants/acme/keys"},
          {"POST", "/api/admin/tenants/acme/keys"},
          {"DELETE", "/api/admin/tenants/acme/keys/key_x"},
          {"GET", "/api/admin/plugins"},
          {"POST", "/api/admin/plugins/reload"},
          {"GET", "/api/admin/webhooks"},
          {"GET", "/api/admin/webhooks/1"},
          {"POST", "/api/admin/webhooks/1/replay"},
          {"PUT", "/api/admin/webhooks/routes/hooks/acct_1"},
          {"DELETE", "/api/admin/webhooks/routes/hooks/acct_1"}};
}

}  // namespace

TEST_CASE("auth: no Authorization header is 401 unauthenticated on every tenant route", "[hostile][auth]") {
  Env env;
  const auto before = env.rowCounts();
  for (const auto& r : tenantRoutes()) {
    INFO(r.method << " " << r.target);
    CHECK_ERROR(env.send(r.method, r.target, {}, r.method == "GET" || r.method == "DELETE" ? "" : "{}"), 401,
                "unauthenticated");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("auth: garbage bearer tokens (40 KB, wrong scheme) are 401 - invalid UTF-8 or control bytes 400",
          "[hostile][auth]") {
  Env env;
  const auto before = env.rowCounts();
  const std::vector<std::string> tokens = {"Bearer " + std::string(40000, 'k'),
                                           "Bearer ihk_" + std::string(40000, 'A'),
                                           "Basic dXNlcjpwYXNz",
                                           "Bearer",
                                           "Bearer    ",
                                           "ihk_" + env.a.key};
  for (const auto& token : tokens) {
    INFO("Authorization: " << token.substr(0, 40));
    CHECK_ERROR(env.get("/api/whoami", {{"Authorization", token}}), 401, "unauthenticated");
    CHECK_ERROR(env.post("/api/integrations/stripe/connect", {{"Authorization", token}}, "{}"), 401,
                "unauthenticated");
    CHECK_ERROR(env.get("/api/admin/tenants", {{"Authorization", token}}), 401, "unauthenticated");
  }
  // Bytes that are not UTF-8 make a malformed request: 400 naming the header, before any key is looked up.
  CHECK_ERROR(env.get("/api/whoami", {{"Authorization", "Bearer ihk_live_\xff\xfe\xfd"}}), 400,
              "invalid_request");
  // Control bytes in a header value are not HTTP: the server refuses the request before any handler.
  CHECK_ERROR(env.get("/api/whoami", {{"Authorization", "Bearer ihk_live_abc\x01\x02"}}), 400, "bad_request");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("auth: a revoked key is 401 on the API on new event streams and on webhooks replay",
          "[hostile][auth]") {
  Env env;
  const int64_t event = env.storeHookEvent(env.a, "evt_revoked_1");
  Answer revoke = env.del("/api/admin/tenants/acme/keys/" +
                              env.get("/api/whoami", env.a.auth()).body_json["key_id"].get<std::string>(),
                          env.admin());
  REQUIRE(revoke.status == 200);
  const auto before = env.rowCounts();
  CHECK_ERROR(env.get("/api/whoami", env.a.auth()), 401, "unauthenticated");
  CHECK_ERROR(env.get("/api/events/stream", env.a.auth()), 401, "unauthenticated");
  CHECK_ERROR(env.post("/api/webhooks/" + std::to_string(event) + "/replay", env.a.auth(), ""), 401,
              "unauthenticated");
  CHECK_ERROR(env.post("/api/integrations/stripe/connect", env.a.auth(),
                       json{{"secret_key", kStripeKey}, {"publishable_key", kStripePk}}.dump()),
              401, "unauthenticated");
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("auth: a read-only key is 403 insufficient_scope on every write route - nothing stored or sent",
          "[hostile][auth]") {
  Env env;
  Answer created = env.post("/api/admin/tenants/acme/keys", env.admin(), R"({"scopes":["read"]})");
  REQUIRE(created.status == 201);
  const Headers reader = {{"Authorization", "Bearer " + created.body_json["api_key"].get<std::string>()}};
  const int64_t event = env.storeHookEvent(env.a, "evt_scope_1");
  const auto before = env.rowCounts();
  const std::string connect = json{{"secret_key", kStripeKey}, {"publishable_key", kStripePk}}.dump();
  for (const auto& [method, target, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"POST", "/api/integrations/stripe/connect", connect},
           {"POST", "/api/integrations/stripe/actions/create_payment_intent",
            R"({"amount":100,"currency":"usd"})"},
           {"DELETE", "/api/integrations/stripe", ""},
           {"POST", "/api/integrations/stripe/disconnect", ""},
           {"POST", "/api/integrations/echo/routes/echo", "{}"},
           {"POST", "/api/integrations/stripe/jobs/catalog/run", ""},
           {"POST", "/api/integrations/echo/workflows/ask", "{}"},
           {"GET", "/api/integrations/stripe_connect/oauth/start", ""},
           {"POST", "/api/webhooks/" + std::to_string(event) + "/replay", ""},
           {"POST", "/api/endpoints", R"({"url":"https://example.com/hook","event_types":["*"]})"}}) {
    INFO(method << " " << target);
    CHECK_ERROR(env.send(method, target, reader, body), 403, "insufficient_scope");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("auth: a tenant key naming another tenant in X-Ihost-Tenant is 403 never the other tenant's data",
          "[hostile][auth]") {
  Env env;
  env.storeRecord(env.b, "cus_globex_only");
  const auto before = env.rowCounts();
  for (const std::string& header :
       {std::string("X-Ihost-Tenant"), std::string("x-ihost-tenant"), std::string("X-IHOST-TENANT")}) {
    Headers h = env.a.auth();
    h.emplace_back(header, env.b.id);
    CHECK_ERROR(env.get("/api/records/stripe/customer/cus_globex_only", h), 403, "forbidden");
    CHECK_ERROR(env.get("/api/whoami", h), 403, "forbidden");
    CHECK_ERROR(env.post("/api/integrations/stripe/connect", h, "{}"), 403, "forbidden");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("auth: the admin token is 401 on tenant routes without X-Ihost-Tenant 404 with an unknown tenant",
          "[hostile][auth]") {
  Env env;
  const auto before = env.rowCounts();
  CHECK_ERROR(env.get("/api/whoami", env.admin()), 401, "unauthenticated");
  CHECK_ERROR(env.get("/api/records/stripe/customer", env.admin()), 401, "unauthenticated");
  Headers unknown = env.admin();
  unknown.emplace_back("X-Ihost-Tenant", "ten_doesnotexist");
  CHECK_ERROR(env.get("/api/whoami", unknown), 404, "unknown_tenant");
  // A GET on behalf of nobody leaves no audit row; a refused POST neither.
  CHECK_ERROR(env.post("/api/integrations/stripe/connect", unknown, "{}"), 404, "unknown_tenant");
  Headers huge = env.admin();
  huge.emplace_back("X-Ihost-Tenant", std::string(40000, 't'));
  CHECK_ERROR(env.get("/api/whoami", huge), 404, "unknown_tenant");
  Headers garbage = env.admin();
  garbage.emplace_back("X-Ihost-Tenant", "acme\xff\xfe");
  CHECK_ERROR(env.get("/api/whoami", garbage), 400, "invalid_request");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("auth: tenant keys and garbage tokens are 401 on every admin route", "[hostile][auth][admin]") {
  Env env;
  const auto before = env.rowCounts();
  for (const auto& r : adminRoutes()) {
    for (const Headers& h :
         {Headers{}, env.a.auth(), Headers{{"Authorization", "Bearer iha_" + std::string(300, 'x')}}}) {
      INFO(r.method << " " << r.target);
      CHECK_ERROR(env.send(r.method, r.target, h,
                           r.method == "GET" || r.method == "DELETE" ? "" : R"({"name":"evil"})"),
                  401, "unauthenticated");
    }
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
