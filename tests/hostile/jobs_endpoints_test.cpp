// Hostile use of the jobs API (/api/integrations/{id}/jobs…) and of outbound endpoints (/api/endpoints…):
// numbers out of range, unknown jobs, other tenants' runs and endpoints, and endpoint bodies that are deep,
// mistyped or huge.
#include "hostile_env.h"

namespace ih::hostile {

TEST_CASE("jobs: unknown jobs are 404 hostile bodies 400 never-connected 409 - no run is recorded",
          "[hostile][jobs]") {
  Env env;
  const auto before = env.rowCounts();
  CHECK_ERROR(env.post("/api/integrations/example/jobs/nope/run", env.a.auth(), ""), 404, "job_not_found");
  CHECK_ERROR(env.get("/api/integrations/example/jobs/nope/runs", env.a.auth()), 404, "job_not_found");
  CHECK_ERROR(env.post("/api/integrations/example/jobs/sync/run", env.a.auth(), deepObjectBody(500000)), 400,
              "invalid_json");
  CHECK_ERROR(env.post("/api/integrations/example/jobs/sync/run", env.a.auth(), "{\"full\":\"\xff\"}"), 400,
              "invalid_json");
  CHECK_ERROR(env.post("/api/integrations/example/jobs/sync/run", env.a.auth(), R"({"full":"yes"})"), 400,
              "invalid_request");
  CHECK_ERROR(env.post("/api/integrations/example/jobs/sync/run", env.a.auth(), "[true]"), 400,
              "invalid_json");
  CHECK_ERROR(env.post("/api/integrations/example/jobs/sync/run", env.a.auth(), ""), 409, "not_connected");
  CHECK(env.rowCounts() == before);
  CHECK(env.upstream().requestCount() == 0);
  CHECK(env.healthy());
}

TEST_CASE("jobs: limit and run ids out of range are 400/404 - another tenant's run is 404",
          "[hostile][jobs]") {
  Env env;
  env.connectExample(env.b);
  Answer run = env.post("/api/integrations/example/jobs/sync/run", env.b.auth(), "");
  INFO(run.text());
  REQUIRE((run.status == 200 || run.status == 202));
  const std::string id = std::to_string(run.body_json["run"]["id"].get<int64_t>());
  const std::string runs = "/api/integrations/example/jobs/sync/runs";
  for (const std::string& limit :
       {std::string("0"), std::string("-1"), std::string("101"), std::string("abc"),
        std::string("99999999999999999999"), std::string("1.5"), std::string("")}) {
    INFO("limit=" << limit);
    Answer r = env.get(runs + "?limit=" + limit, env.a.auth());
    CHECK_ERROR(r, 400, "invalid_request");
    CHECK(r.body_json["error"]["message"].get<std::string>().find("limit") != std::string::npos);
  }
  for (const std::string& bad :
       {std::string("99999999999999999999"), std::string("-1"), std::string("abc"), std::string("0")}) {
    CHECK_ERROR(env.get(runs + "/" + bad, env.b.auth()), 404, "run_not_found");
  }
  CHECK_ERROR(env.get(runs + "/" + id, env.a.auth()), 404, "run_not_found");
  CHECK(env.get(runs, env.a.auth()).body_json["data"].empty());
  CHECK(env.get(runs + "/" + id, env.b.auth()).status == 200);
  // The run of B is not reachable under another job or integration name either.
  CHECK_ERROR(env.get("/api/integrations/stripe/jobs/catalog/runs/" + id, env.b.auth()), 404,
              "run_not_found");
  CHECK(env.healthy());
}

TEST_CASE("endpoints: deep mistyped huge or unknown-field bodies are 400 - nothing stored",
          "[hostile][endpoints]") {
  Env env;
  const auto before = env.rowCounts();
  for (const std::string& body : {deepObjectBody(500000), std::string("{\"url\":\"https://a.example/\xff\"}"),
                                  std::string("[]"), std::string("")}) {
    INFO(body.substr(0, 40));
    Answer r = env.post("/api/endpoints", env.a.auth(), body);
    CHECK(r.status == 400);
    REQUIRE(r.body_json.is_object());
    const std::string code = r.body_json["error"].value("code", "");
    CHECK((code == "invalid_json" || code == "invalid_argument" || code == "invalid_request"));
  }
  for (const json& body :
       {json{{"url", 42}, {"event_types", {"*"}}},
        json{{"url", "https://a.example/" + std::string(1000000, 'u')}, {"event_types", {"*"}}},
        json{{"url", "ftp://a.example/"}, {"event_types", {"*"}}},
        json{{"url", "https://user:pw@a.example/"}, {"event_types", {"*"}}},
        json{{"url", "https://a.example/"}, {"event_types", json::array()}},
        json{{"url", "https://a.example/"}, {"event_types", {std::string(1000, 'e')}}},
        json{{"url", "https://a.example/"}, {"event_types", {"*"}}, {"secret", "whsec_mine"}},
        json{{"url", "https://a.example/"},
             {"event_types", {"*"}},
             {"description", std::string(100000, 'd')}}}) {
    INFO(body.dump().substr(0, 80));
    Answer r = env.post("/api/endpoints", env.a.auth(), body.dump());
    CHECK(r.status == 400);
    REQUIRE(r.body_json.is_object());
    const std::string code = r.body_json["error"].value("code", "");
    CHECK((code == "invalid_argument" || code == "invalid_request"));
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("endpoints: another tenant's endpoint is 404 on every endpoint route - nothing changes",
          "[hostile][endpoints]") {
  Env env;
  Answer created =
      env.post("/api/endpoints", env.b.auth(), R"({"url":"https://b.example/hook","event_types":["*"]})");
  INFO(created.text());
  REQUIRE(created.status == 201);
  const std::string id = created.body_json["id"];
  const auto before = env.rowCounts();
  CHECK_ERROR(env.get("/api/endpoints/" + id, env.a.auth()), 404, "not_found");
  CHECK_ERROR(env.send("PATCH", "/api/endpoints/" + id, env.a.auth(), R"({"disabled":true})"), 404,
              "not_found");
  CHECK_ERROR(env.del("/api/endpoints/" + id, env.a.auth()), 404, "not_found");
  CHECK_ERROR(env.post("/api/endpoints/" + id + "/rotate_secret", env.a.auth(), ""), 404, "not_found");
  CHECK_ERROR(env.post("/api/endpoints/" + id + "/messages/evt_1/resend", env.a.auth(), ""), 404,
              "not_found");
  CHECK_ERROR(
      env.post("/api/endpoints/" + id + "/recover", env.a.auth(), R"({"since":"2024-01-01T00:00:00Z"})"), 404,
      "not_found");
  CHECK_ERROR(env.get("/api/endpoints/" + id + "/attempts", env.a.auth()), 404, "not_found");
  CHECK(env.get("/api/endpoints", env.a.auth()).body_json["data"].empty());
  Answer mine = env.get("/api/endpoints/" + id, env.b.auth());
  CHECK(mine.status == 200);
  CHECK(mine.body_json["disabled"] == false);
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("endpoints: attempts paging and resend ids out of range are 400", "[hostile][endpoints]") {
  Env env;
  Answer created =
      env.post("/api/endpoints", env.a.auth(), R"({"url":"https://a.example/hook","event_types":["*"]})");
  REQUIRE(created.status == 201);
  const std::string id = created.body_json["id"];
  const auto before = env.rowCounts();
  for (const std::string& query :
       {std::string("limit=0"), std::string("limit=101"), std::string("limit=abc"),
        std::string("limit=99999999999999999999"), std::string("cursor=abc"), std::string("cursor=-1")}) {
    INFO(query);
    Answer r = env.get("/api/endpoints/" + id + "/attempts?" + query, env.a.auth());
    CHECK(r.status == 400);
    REQUIRE(r.body_json.is_object());
    // Query integers answer like every other route's (docs/security.md, "Input limits").
    CHECK(r.body_json["error"].value("code", "") == "invalid_request");
    CHECK(r.body_json["error"].value("message", "").find(query.substr(0, query.find('='))) == 0);
  }
  for (const std::string& event :
       {std::string("evt_abc"), std::string("evt_-1"), std::string("99999999999999999999")}) {
    CHECK_ERROR(env.post("/api/endpoints/" + id + "/messages/" + event + "/resend", env.a.auth(), ""), 400,
                "invalid_argument");
  }
  CHECK_ERROR(env.post("/api/endpoints/" + id + "/recover", env.a.auth(), R"({"since":"yesterday"})"), 400,
              "invalid_argument");
  CHECK_ERROR(
      env.post("/api/endpoints/" + id + "/recover", env.a.auth(), R"({"since":"99999-99-99T99:99:99Z"})"),
      400, "invalid_argument");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("endpoints: loopback private link-local and metadata URLs are refused (SSRF issue 14 item 4)",
          "[hostile][endpoints]") {
  Env env;
  const auto before = env.rowCounts();
  // 127.0.0.1 itself is allowed in this suite's config (the Stripe double listens there); the rest of
  // 127/8 and every other internal range are not. (localhost with the default policy: tests/unit/outbound.)
  for (const char* url : {"http://127.0.0.2:9/", "http://127.1.2.3/", "http://10.0.0.1/",
                          "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
                          "http://100.64.0.1/", "http://0.0.0.0/"}) {
    INFO(url);
    Answer r = env.post("/api/endpoints", env.a.auth(), json{{"url", url}, {"event_types", {"*"}}}.dump());
    CHECK_ERROR(r, 400, "invalid_argument");
    CHECK(r.body.find("allow_networks") != std::string::npos);
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
