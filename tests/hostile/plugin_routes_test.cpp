// Plugin routes (/api/integrations/{id}/routes/… and public /plugins/{id}/…) against the hostile_echo plugin,
// which answers with the exact request JSON the host built: caller credentials never reach a plugin whatever
// their case (issue 14 item 12), bytes that are not UTF-8 are refused instead of thrown, and a plugin cannot
// put a header break or a framing header on the wire.
#include "hostile_env.h"

#include "common/text.h"

namespace ih::hostile {
namespace {

// Names a plugin must never see, in the case a hostile caller picks.
const std::vector<std::string> kSecretNames = {"aUtHoRiZaTiOn",       "COOKIE",         "cookie",
                                               "Proxy-Authorization", "x-ihost-tenant", "X-IHOST-ADMIN-TOKEN",
                                               "x-Ihost-Whatever"};

void checkNoCallerSecrets(const Answer& echoed) {
  INFO(echoed.text());
  REQUIRE(echoed.status == 200);
  REQUIRE(echoed.body_json.is_object());
  const json& headers = echoed.body_json["headers"];
  REQUIRE(headers.is_object());
  for (const auto& [name, value] : headers.items()) {
    const std::string lower = toLowerAscii(name);
    INFO("header the plugin saw: " << name);
    CHECK(lower != "authorization");
    CHECK(lower != "proxy-authorization");
    CHECK(lower != "cookie");
    CHECK(lower.rfind("x-ihost-", 0) != 0);
    CHECK(value.dump().find("ten_") == std::string::npos);
    CHECK(value.dump().find("ihk_") == std::string::npos);
    CHECK(value.dump().find("sess=") == std::string::npos);
  }
  CHECK(headers.contains("X-Visible"));  // ordinary headers do arrive
}

}  // namespace

TEST_CASE("plugin routes: caller credentials and X-Ihost- headers never reach the plugin in any letter case",
          "[hostile][routes]") {
  Env env;
  // The key itself in a mixed-case header name: authentication reads it case-insensitively...
  Headers h = {{"aUtHoRiZaTiOn", "Bearer " + env.a.key}, {"X-Visible", "yes"}};
  for (const auto& name : kSecretNames) {
    // A tenant key may name its own tenant in X-Ihost-Tenant (another one is a 403): the plugin sees neither.
    if (toLowerAscii(name) == "x-ihost-tenant")
      h.emplace_back(name, env.a.id);
    else if (toLowerAscii(name) != "authorization")
      h.emplace_back(name, "sess=secret-" + name + " ihk_live_leak");
  }
  Answer get = env.get("/api/integrations/echo/routes/echo?q=1", h);
  checkNoCallerSecrets(get);
  CHECK(get.body_json["tenant"] == env.a.id);
  CHECK(get.body_json["query"]["q"] == "1");
  Answer post = env.post("/api/integrations/echo/routes/echo", h, "{}");
  checkNoCallerSecrets(post);
  // ...and the admin token acting for a tenant is no more visible than a tenant key.
  Headers admin = {
      {"AUTHORIZATION", "Bearer " + env.adminToken()}, {"X-Ihost-Tenant", "acme"}, {"X-Visible", "yes"}};
  Answer on_behalf = env.get("/api/integrations/echo/routes/echo", admin);
  checkNoCallerSecrets(on_behalf);
  CHECK(on_behalf.body.find(env.adminToken()) == std::string::npos);
  CHECK(env.healthy());
}

TEST_CASE("plugin routes: a passer-by's credentials never reach a public plugin route", "[hostile][routes]") {
  Env env;
  Headers h = {{"Authorization", "Bearer " + env.a.key}, {"X-Visible", "yes"}};
  for (const auto& name : kSecretNames)
    if (toLowerAscii(name) != "authorization") h.emplace_back(name, "sess=secret ihk_live_leak");
  Answer r = env.get("/plugins/echo/echo", h);
  checkNoCallerSecrets(r);
  CHECK(r.body_json["tenant"] == "");  // a public route serves no tenant, whatever key came along
  CHECK(env.healthy());
}

TEST_CASE(
    "plugin routes: unknown path 404 wrong method 405 unknown integration 404 route of another kind 404",
    "[hostile][routes]") {
  Env env;
  const auto before = env.rowCounts();
  CHECK_ERROR(env.get("/api/integrations/echo/routes/nope", env.a.auth()), 404, "not_found");
  CHECK_ERROR(env.get("/api/integrations/echo/routes/" + std::string(5000, 'p'), env.a.auth()), 404,
              "not_found");
  CHECK_ERROR(env.send("DELETE", "/api/integrations/echo/routes/echo", env.a.auth()), 405,
              "method_not_allowed");
  CHECK_ERROR(env.get("/api/integrations/nope/routes/echo", env.a.auth()), 404, "unknown_integration");
  CHECK_ERROR(env.get("/plugins/nope/echo", {}), 404, "unknown_integration");
  CHECK_ERROR(env.post("/plugins/echo/reply", {}, "{}"), 404, "not_found");  // /reply is tenant-only
  CHECK_ERROR(env.get("/api/integrations/echo/routes/echo/../reply", env.a.auth()), 404, "not_found");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("plugin routes: query or header text that is not UTF-8 is 400 never a 500", "[hostile][routes]") {
  Env env;
  for (const std::string& target : {std::string("/api/integrations/echo/routes/echo?q=%FF"),
                                    std::string("/api/integrations/echo/routes/echo?%C0%AF=1"),
                                    std::string("/plugins/echo/echo?q=%ED%A0%80")}) {
    INFO(target);
    CHECK_ERROR(env.get(target, env.a.auth()), 400, "invalid_request");
  }
  Headers h = env.a.auth();
  h.emplace_back("X-Note", "caf\xe9");
  CHECK_ERROR(env.get("/api/integrations/echo/routes/echo", h), 400, "invalid_request");
  CHECK_ERROR(env.get("/plugins/echo/echo", {{"User-Agent", "\xff\xfe"}}), 400, "invalid_request");
  CHECK(env.healthy());
}

TEST_CASE(
    "plugin routes: a plugin answer with header breaks framing headers or a 1xx status is 502 plugin_error",
    "[hostile][routes]") {
  Env env;
  for (const json& reply :
       {json{{"status", 200}, {"headers", {{"X-Evil", "a\r\nSet-Cookie: session=stolen"}}}, {"body", "{}"}},
        json{{"status", 200}, {"headers", {{"X-Evil\r\nSet-Cookie", "x"}}}, {"body", "{}"}},
        json{{"status", 200}, {"headers", {{"Bad Name", "x"}}}, {"body", "{}"}},
        json{{"status", 200}, {"headers", {{"Content-Length", "0"}}}, {"body", "{\"a\":1}"}},
        json{{"status", 200}, {"headers", {{"transfer-encoding", "chunked"}}}, {"body", "{}"}},
        json{{"status", 200}, {"headers", {{"Connection", "keep-alive, Upgrade"}}}, {"body", "{}"}},
        json{{"status", 200}, {"headers", {{"X-Long", std::string(70000, 'l')}}}, {"body", "{}"}},
        json{{"status", 101}, {"headers", {{"Upgrade", "websocket"}}}, {"body", ""}},
        json{{"status", 100}, {"body", ""}}}) {
    INFO(reply.dump().substr(0, 100));
    Answer r = env.post("/api/integrations/echo/routes/reply", env.a.auth(), reply.dump());
    CHECK_ERROR(r, 502, "plugin_error");
    CHECK(r.header("Set-Cookie").empty());
  }
  // A well-behaved answer still goes through, with its own status and headers.
  Answer fine =
      env.post("/api/integrations/echo/routes/reply", env.a.auth(),
               json{{"status", 418}, {"headers", {{"X-Fine", "yes"}}}, {"body", "{\"tea\":true}"}}.dump());
  CHECK(fine.status == 418);
  CHECK(fine.header("X-Fine") == "yes");
  CHECK(fine.body == "{\"tea\":true}");
  CHECK(env.healthy());
}

}  // namespace ih::hostile
