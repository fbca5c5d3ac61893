// Hostile input to the operator API (/api/admin/…) from a holder of the admin token: bodies that are too
// deep, of the wrong types or not UTF-8, names and scopes that cannot exist, and keys of one tenant revoked
// through another. Nothing is created by a refused call.
#include "hostile_env.h"

namespace ih::hostile {

TEST_CASE(
    "admin: creating a tenant with a deep mistyped huge non-UTF-8 or taken name is refused - nothing stored",
    "[hostile][admin]") {
  Env env;
  const auto before = env.rowCounts();
  for (const std::string& body :
       {deepObjectBody(500000), deepArrays(100), std::string("{\"name\":\"\xff\xfe\"}"), std::string(""),
        std::string("[\"acme2\"]")}) {
    INFO(body.substr(0, 40));
    CHECK_ERROR(env.post("/api/admin/tenants", env.admin(), body), 400, "invalid_json");
  }
  for (const json& body : {json{{"name", 42}}, json{{"name", nullptr}}, json::object(), json{{"name", ""}},
                           json{{"name", std::string(1000000, 'a')}}, json{{"name", "Acme Corp"}},
                           json{{"name", "acme\r\nx"}}, json{{"name", "-acme"}}}) {
    INFO(body.dump().substr(0, 60));
    CHECK_ERROR(env.post("/api/admin/tenants", env.admin(), body.dump()), 400, "invalid_request");
  }
  CHECK_ERROR(env.post("/api/admin/tenants", env.admin(), R"({"name":"acme"})"), 409, "already_exists");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE(
    "admin: creating a key with unknown scopes a deep body or for an unknown tenant is refused - nothing "
    "stored",
    "[hostile][admin]") {
  Env env;
  const auto before = env.rowCounts();
  CHECK_ERROR(env.post("/api/admin/tenants/acme/keys", env.admin(), R"({"scopes":["admin"]})"), 400,
              "invalid_request");
  CHECK_ERROR(env.post("/api/admin/tenants/acme/keys", env.admin(), R"({"scopes":"*"})"), 400,
              "invalid_request");
  CHECK_ERROR(env.post("/api/admin/tenants/acme/keys", env.admin(), R"({"scopes":[1]})"), 400,
              "invalid_request");
  CHECK_ERROR(env.post("/api/admin/tenants/acme/keys", env.admin(),
                       json{{"scopes", json::array({std::string(1000000, 'r')})}}.dump()),
              400, "invalid_request");
  CHECK_ERROR(
      env.post("/api/admin/tenants/acme/keys", env.admin(), "{\"scopes\":" + deepArrays(500000) + "}"), 400,
      "invalid_json");
  CHECK_ERROR(env.post("/api/admin/tenants/ten_nobody/keys", env.admin(), "{}"), 404, "not_found");
  CHECK_ERROR(env.get("/api/admin/tenants/ten_nobody/keys", env.admin()), 404, "not_found");
  CHECK_ERROR(env.get("/api/admin/tenants/" + std::string(5000, 'x') + "/keys", env.admin()), 404,
              "not_found");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("admin: revoking tenant B's key through tenant A's path is 404 and B's key keeps working",
          "[hostile][admin]") {
  Env env;
  const std::string b_key_id = env.get("/api/whoami", env.b.auth()).body_json["key_id"];
  const auto before = env.rowCounts();
  CHECK_ERROR(env.del("/api/admin/tenants/acme/keys/" + b_key_id, env.admin()), 404, "not_found");
  CHECK_ERROR(env.del("/api/admin/tenants/acme/keys/key_nothing", env.admin()), 404, "not_found");
  CHECK_ERROR(env.del("/api/admin/tenants/nobody/keys/" + b_key_id, env.admin()), 404, "not_found");
  CHECK(env.get("/api/whoami", env.b.auth()).status == 200);
  CHECK(env.count("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL") == 0);
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE(
    "admin: acting for a tenant with a hostile body is refused like the tenant's own call - the refusal is "
    "audited",
    "[hostile][admin]") {
  Env env;
  Headers on_behalf = env.admin();
  on_behalf.emplace_back("X-Ihost-Tenant", "acme");
  const auto before = env.rowCounts();
  CHECK_ERROR(env.post("/api/integrations/stripe/connect", on_behalf, deepObjectBody(500000)), 400,
              "invalid_json");
  CHECK_ERROR(
      env.post("/api/integrations/stripe/actions/create_payment_intent", on_behalf, deepObjectBody(500000)),
      400, "invalid_json");
  CHECK(env.stripeRequests() == 0);
  // The two refused state-changing calls are on acme's audit log (admin.on_behalf), and nothing else changed.
  auto after = env.rowCounts();
  CHECK(after.at("audit_log") == before.at("audit_log") + 2);
  after["audit_log"] = before.at("audit_log");
  INFO("changed: " << rowCountDiff(before, after));
  CHECK(after == before);
  Answer audit = env.get("/api/audit", env.a.auth());
  REQUIRE(audit.status == 200);
  REQUIRE(audit.body_json["data"].size() == 2);
  CHECK(audit.body_json["data"][0]["action"] == "admin.on_behalf");
  CHECK(audit.body_json["data"][0]["detail"]["status"] == 400);
  CHECK(env.get("/api/audit", env.b.auth()).body_json["data"].empty());
  CHECK(env.healthy());
}

}  // namespace ih::hostile
