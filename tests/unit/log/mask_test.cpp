#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "log/log.h"
#include "log/redact_json.h"

TEST_CASE("mask keeps the known prefix and the last four characters", "[log]") {
  CHECK(ih::mask("sk_test_51HxYzAbCdEfGhIjabcd") == "sk_test_****abcd");
  CHECK(ih::mask("whsec_0123456789abcdefWXYZ") == "whsec_****WXYZ");
  CHECK(ih::mask("sk_test_short") == "sk_test_****");
  CHECK(ih::mask("hunter2") == "****");
  CHECK(ih::mask("") == "****");
  // The last four bytes of a multi-byte character are not shown: the mask stays valid UTF-8.
  CHECK(ih::mask("ex_short_s2??z?WWWW<<<<<<<<\xf0\x9f\x98\x80ue") == "****");
  CHECK(ih::mask("sk_test_0123456789ab\xc3\xa9\xc3\xa9") == "sk_test_****");
}

TEST_CASE("redact masks every secret-shaped token in free text", "[log]") {
  std::string text =
      "key sk_live_AAAABBBBCCCCDDDD1234 and Bearer ihk_live_zzzzzzzzzzzzzzzz9876, secret "
      "pi_123_secret_456789abcdef plus whsec_abcdefghijklmnop0000";
  std::string out = ih::redact(text);
  CHECK(out.find("AAAABBBB") == std::string::npos);
  CHECK(out.find("zzzzzzzz") == std::string::npos);
  CHECK(out.find("secret_456789") == std::string::npos);
  CHECK(out.find("abcdefghijklmnop") == std::string::npos);
  CHECK(out.find("sk_live_****1234") != std::string::npos);
  CHECK(out.find("Bearer ihk_live_****9876") != std::string::npos);
  CHECK(ih::redact("nothing secret here: sku_12 task_done") == "nothing secret here: sku_12 task_done");
}

TEST_CASE("redact leaves an already masked key as it is, and still masks what follows a bare prefix",
          "[log]") {
  CHECK(ih::redact("key sk_test_****abcd") == "key sk_test_****abcd");
  CHECK(ih::redact(R"({"secret_key":"sk_live_****1234","pk":"pk_test_****wxyz"})") ==
        R"({"secret_key":"sk_live_****1234","pk":"pk_test_****wxyz"})");
  CHECK(ih::redact("whsec_****") == "whsec_****");
  // Not a bare prefix: a real key right after stars is still masked.
  CHECK(ih::redact("****sk_live_AAAABBBBCCCCDDDD1234").find("AAAABBBB") == std::string::npos);
}

TEST_CASE("redact leaves a bracketed placeholder after Bearer, but not a key inside it", "[log]") {
  CHECK(ih::redact("send \"Authorization: Bearer <api key>\"") == "send \"Authorization: Bearer <api key>\"");
  CHECK(ih::redact("Bearer <ihk_live_zzzzzzzzzzzzzzzz9876>") == "Bearer <ihk_live_****9876>");
  CHECK(ih::redact("Bearer opaque-tok") == "Bearer ****");
}

TEST_CASE("redactStrings masks string values and keeps key names", "[log]") {
  nlohmann::json doc = {{"webhook_secret_set", true},
                        {"client_secret", "pi_123_secret_456789abcdef"},
                        {"nested", {{"keys", {"sk_live_AAAABBBBCCCCDDDD1234", "plain"}}}}};
  ih::redactStrings(doc);
  CHECK(doc.contains("webhook_secret_set"));
  CHECK(doc["webhook_secret_set"] == true);
  CHECK(doc["client_secret"].get<std::string>().find("456789") == std::string::npos);
  CHECK(doc["nested"]["keys"][0] == "sk_live_****1234");
  CHECK(doc["nested"]["keys"][1] == "plain");
  // Deep nesting is safe (no recursion).
  nlohmann::json deep = "sk_live_AAAABBBBCCCCDDDD1234";
  for (int i = 0; i < 100000; ++i)
    deep = nlohmann::json::array({std::move(deep)});
  ih::redactStrings(deep);
  const nlohmann::json* v = &deep;
  while (v->is_array())
    v = &(*v)[0];
  CHECK(*v == "sk_live_****1234");
}

TEST_CASE("log lines are JSON with masked fields", "[log]") {
  std::vector<std::string> lines;
  ih::log::setSink([&](std::string_view line) { lines.emplace_back(line); });
  ih::log::info("connected", {{"key", "sk_test_ABCDEFGHIJKLMNOPwxyz"}, {"count", 3}, {"ok", true}});
  ih::log::debug("hidden at info level");
  ih::log::resetSink();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("\"level\":\"info\"") != std::string::npos);
  CHECK(lines[0].find("\"msg\":\"connected\"") != std::string::npos);
  CHECK(lines[0].find("\"key\":\"sk_test_****wxyz\"") != std::string::npos);
  CHECK(lines[0].find("\"count\":3") != std::string::npos);
  CHECK(lines[0].find("\"ok\":true") != std::string::npos);
}
