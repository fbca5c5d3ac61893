// Hostile reads: records, events polling, audit and whoami with numbers that are negative, huge, fractional
// or not numbers at all, unknown integrations and models, and other tenants' ids.
#include "hostile_env.h"

namespace ih::hostile {
namespace {

// Query values no integer parameter may accept, whatever its range.
const std::vector<std::string> kNotIntegers = {"99999999999999999999",
                                               "-99999999999999999999",
                                               "abc",
                                               "",
                                               "1.5",
                                               "+5",
                                               "0x10",
                                               "%205",
                                               "5%20",
                                               "1e3",
                                               "%FF",
                                               "5abc"};

void checkParameter(Env& env, const std::string& path, const std::string& name,
                    const std::vector<std::string>& out_of_range, const Headers& auth) {
  std::vector<std::string> values = kNotIntegers;
  values.insert(values.end(), out_of_range.begin(), out_of_range.end());
  for (const auto& value : values) {
    const std::string target = path + (path.find('?') == std::string::npos ? "?" : "&") + name + "=" + value;
    INFO(target);
    Answer r = env.get(target, auth);
    // (%FF is not UTF-8: the server itself may refuse it, with the same code, naming the parameter.)
    CHECK_ERROR(r, 400, "invalid_request");
    CHECK(r.body_json["error"]["message"].get<std::string>().find(name) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("records: limit and after that are not integers or out of range are 400 naming the parameter",
          "[hostile][records]") {
  Env env;
  env.storeRecord(env.a, "cus_1");
  const auto before = env.rowCounts();
  checkParameter(env, "/api/records/stripe/customer", "limit", {"0", "-1", "1001"}, env.a.auth());
  checkParameter(env, "/api/records/stripe/customer", "after", {"-1"}, env.a.auth());
  CHECK(env.get("/api/records/stripe/customer?limit=1000&after=0", env.a.auth()).status == 200);
  const auto after = env.rowCounts();
  INFO(rowCountDiff(before, after));
  CHECK(after == before);
  CHECK(env.healthy());
}

TEST_CASE("records: an unknown or disabled integration is 404 unknown_integration on list and get",
          "[hostile][records]") {
  Env env;
  env.storeRecord(env.a, "cus_1");
  for (const std::string& id :
       {std::string("nope"), std::string("off"), std::string(300, 'x'), std::string("STRIPE")}) {
    INFO(id);
    CHECK_ERROR(env.get("/api/records/" + id + "/customer", env.a.auth()), 404, "unknown_integration");
    CHECK_ERROR(env.get("/api/records/" + id + "/customer/cus_1", env.a.auth()), 404, "unknown_integration");
  }
  CHECK(env.healthy());
}

TEST_CASE("records: a model name that can never exist is 400 - another tenant's record is 404 never 403",
          "[hostile][records]") {
  Env env;
  env.storeRecord(env.b, "cus_globex");
  CHECK_ERROR(env.get("/api/records/stripe/" + std::string(65, 'm'), env.a.auth()), 400, "invalid_request");
  CHECK_ERROR(env.get("/api/records/stripe/cust%20omer", env.a.auth()), 400, "invalid_request");
  CHECK_ERROR(env.get("/api/records/stripe/" + std::string(65, 'm') + "/cus_1", env.a.auth()), 400,
              "invalid_request");
  CHECK_ERROR(env.get("/api/records/stripe/customer/cus_globex", env.a.auth()), 404, "record_not_found");
  Answer list = env.get("/api/records/stripe/customer", env.a.auth());
  REQUIRE(list.status == 200);
  CHECK(list.body_json["data"].empty());
  // B still sees it.
  CHECK(env.get("/api/records/stripe/customer/cus_globex", env.b.auth()).status == 200);
  CHECK(env.healthy());
}

TEST_CASE("events: after limit and type out of range are 400 on polling", "[hostile][events]") {
  Env env;
  checkParameter(env, "/api/events", "limit", {"0", "-1", "501"}, env.a.auth());
  checkParameter(env, "/api/events", "after", {"-1"}, env.a.auth());
  CHECK_ERROR(env.get("/api/events?type=" + std::string(101, 't'), env.a.auth()), 400, "invalid_request");
  CHECK(env.healthy());
}

TEST_CASE("audit: after and limit that are negative huge or not integers are 400 naming the parameter",
          "[hostile][audit]") {
  Env env;
  env.connectStripe(env.a);  // one audit row to page over
  const auto before = env.rowCounts();
  checkParameter(env, "/api/audit", "limit", {"0", "-1", "501", "18446744073709551617"}, env.a.auth());
  checkParameter(env, "/api/audit", "after", {"-1"}, env.a.auth());
  Answer ok = env.get("/api/audit?limit=500&after=0", env.a.auth());
  CHECK(ok.status == 200);
  CHECK(ok.body_json["data"].size() == 1);
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("audit and whoami: another tenant's rows never show - a key with trailing bytes is 401",
          "[hostile][audit]") {
  Env env;
  env.connectStripe(env.b);
  Answer mine = env.get("/api/audit", env.a.auth());
  REQUIRE(mine.status == 200);
  CHECK(mine.body_json["data"].empty());
  for (const std::string& suffix : {std::string("x"), std::string(" x")}) {
    CHECK_ERROR(env.get("/api/whoami", {{"Authorization", "Bearer " + env.a.key + suffix}}), 401,
                "unauthenticated");
  }
  // A byte that is not UTF-8 is refused as a malformed request, before any key is looked up.
  CHECK_ERROR(env.get("/api/whoami", {{"Authorization", "Bearer " + env.a.key + "\xff"}}), 400,
              "invalid_request");
  Answer who = env.get("/api/whoami", env.a.auth());
  CHECK(who.status == 200);
  CHECK(who.body_json["tenant"]["id"] == env.a.id);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
