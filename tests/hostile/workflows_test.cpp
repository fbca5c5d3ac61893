// Hostile use of interactive workflows (/api/integrations/{id}/workflows/{action}, /api/workflows/{run}…):
// deep or malformed input (the same dump() crash as actions), other tenants' runs, and answers of the wrong
// shape. The hostile_echo "ask" action holds a run in "waiting" without any provider.
#include "hostile_env.h"

namespace ih::hostile {
namespace {

// Starts "ask" for `t` and waits until it waits for "color"; returns the run id.
std::string waitingRun(Env& env, const Tenant& t) {
  Answer started = env.post("/api/integrations/echo/workflows/ask", t.auth(), "{}");
  INFO(started.text());
  REQUIRE(started.status == 202);
  const std::string run = started.body_json["id"];
  REQUIRE(eventually(
      [&] { return env.get("/api/workflows/" + run, t.auth()).body_json.value("status", "") == "waiting"; }));
  return run;
}

}  // namespace

TEST_CASE("workflows: 1 MB of nested arrays as input is 400 invalid_json naming the depth - no run starts",
          "[hostile][workflows]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const size_t sent = env.stripeRequests();
  for (const std::string& target : {std::string("/api/integrations/echo/workflows/ask"),
                                    std::string("/api/integrations/stripe/workflows/setup")}) {
    for (const std::string& body : {deepObjectBody(500000), deepArrays(500000)}) {
      Answer r = env.post(target, env.a.auth(), body);
      CHECK_ERROR(r, 400, "invalid_json");
      CHECK(r.body_json["error"]["message"].get<std::string>().find("64") != std::string::npos);
    }
  }
  // No run was created: a fresh one is the only one, and the tenant can still start its full quota.
  for (int i = 0; i < 4; ++i)
    CHECK(env.post("/api/integrations/echo/workflows/ask", env.a.auth(), "{}").status == 202);
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == sent);
  CHECK(env.healthy());
}

TEST_CASE(
    "workflows: unknown integration or action 404 - bodies not UTF-8 or not objects 400 - not connected 409",
    "[hostile][workflows]") {
  Env env;
  const auto before = env.rowCounts();
  CHECK_ERROR(env.post("/api/integrations/nope/workflows/ask", env.a.auth(), "{}"), 404,
              "unknown_integration");
  CHECK_ERROR(env.post("/api/integrations/echo/workflows/nope", env.a.auth(), "{}"), 404, "unknown_action");
  CHECK_ERROR(env.post("/api/integrations/echo/workflows/ask", env.a.auth(), "{\"x\":\"\xff\"}"), 400,
              "invalid_json");
  CHECK_ERROR(env.post("/api/integrations/echo/workflows/ask", env.a.auth(), "[1]"), 400, "invalid_json");
  CHECK_ERROR(env.post("/api/integrations/echo/workflows/ask", env.a.auth(), "{\"x\":"), 400, "invalid_json");
  CHECK_ERROR(env.post("/api/integrations/stripe/workflows/setup", env.a.auth(), "{}"), 409, "not_connected");
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("workflows: another tenant's run is 404 on get answer and cancel - it keeps waiting",
          "[hostile][workflows]") {
  Env env;
  const std::string run = waitingRun(env, env.b);
  CHECK_ERROR(env.get("/api/workflows/" + run, env.a.auth()), 404, "workflow_not_found");
  CHECK_ERROR(env.post("/api/workflows/" + run + "/answer", env.a.auth(), R"({"key":"color","value":"red"})"),
              404, "workflow_not_found");
  CHECK_ERROR(env.del("/api/workflows/" + run, env.a.auth()), 404, "workflow_not_found");
  CHECK_ERROR(env.get("/api/workflows/" + std::string(5000, 'w'), env.a.auth()), 404, "workflow_not_found");
  Answer still = env.get("/api/workflows/" + run, env.b.auth());
  CHECK(still.body_json["status"] == "waiting");
  CHECK(still.body_json["prompts"].empty());
  CHECK(env.healthy());
}

TEST_CASE("workflows: deep mistyped huge or mismatched answers are refused and the run keeps waiting",
          "[hostile][workflows]") {
  Env env;
  const std::string run = waitingRun(env, env.a);
  const std::string answer = "/api/workflows/" + run + "/answer";
  CHECK_ERROR(env.post(answer, env.a.auth(), deepObjectBody(500000)), 400, "invalid_json");
  CHECK_ERROR(env.post(answer, env.a.auth(), "{\"key\":\"color\",\"value\":" + deepArrays(500000) + "}"), 400,
              "invalid_json");
  CHECK_ERROR(env.post(answer, env.a.auth(), "{\"key\":\"color\",\"value\":\"\xff\"}"), 400, "invalid_json");
  CHECK_ERROR(env.post(answer, env.a.auth(), "not json"), 400, "invalid_json");
  CHECK_ERROR(env.post(answer, env.a.auth(), R"({"key":"color","value":{"a":1}})"), 400, "invalid_request");
  CHECK_ERROR(env.post(answer, env.a.auth(), R"({"key":"color","value":1.5})"), 400, "invalid_request");
  CHECK_ERROR(env.post(answer, env.a.auth(), R"({"key":7,"value":"red"})"), 400, "invalid_request");
  CHECK_ERROR(
      env.post(answer, env.a.auth(), json{{"key", "color"}, {"value", std::string(1000000, 'r')}}.dump()),
      400, "invalid_request");
  CHECK_ERROR(
      env.post(answer, env.a.auth(), json{{"key", std::string(100000, 'k')}, {"value", "red"}}.dump()), 400,
      "invalid_request");
  CHECK_ERROR(env.post(answer, env.a.auth(), R"({"key":"size","value":"red"})"), 409, "prompt_mismatch");
  Answer still = env.get("/api/workflows/" + run, env.a.auth());
  CHECK(still.body_json["status"] == "waiting");
  CHECK(still.body_json["prompts"].empty());
  // The right answer still finishes it.
  CHECK(env.post(answer, env.a.auth(), R"({"key":"color","value":"red"})").status == 200);
  CHECK(eventually([&] {
    return env.get("/api/workflows/" + run, env.a.auth()).body_json.value("status", "") == "succeeded";
  }));
  CHECK(env.get("/api/workflows/" + run, env.a.auth()).body_json["result"]["answer"] == "red");
  CHECK(env.healthy());
}

TEST_CASE("workflows: a tenant that floods runs gets 429 too_many_workflows - another tenant is not affected",
          "[hostile][workflows]") {
  Env env;
  for (int i = 0; i < 4; ++i)
    waitingRun(env, env.a);
  Answer refused = env.post("/api/integrations/echo/workflows/ask", env.a.auth(), "{}");
  CHECK_ERROR(refused, 429, "too_many_workflows");
  CHECK(refused.header("Retry-After") == "10");
  CHECK(env.post("/api/integrations/echo/workflows/ask", env.b.auth(), "{}").status == 202);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
