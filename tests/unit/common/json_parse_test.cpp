#include <catch2/catch.hpp>

#include "common/json_parse.h"
#include "common/json_scan.h"
#include "common/text.h"

TEST_CASE("parseJson refuses nesting beyond the limit without recursing", "[common]") {
  const std::string deep(1 << 20, '[');  // 1 MB of '[': what crashed dump() before
  auto parsed = ih::parseJson(deep);
  REQUIRE_FALSE(parsed.isOk());
  CHECK(parsed.status().code() == ih::StatusCode::kInvalidArgument);
  CHECK(parsed.status().message() == "JSON nested deeper than 64 levels");

  std::string at_limit = std::string(64, '[') + std::string(64, ']');
  CHECK(ih::parseJson(at_limit).isOk());
  std::string over = std::string(65, '[') + std::string(65, ']');
  CHECK_FALSE(ih::parseJson(over).isOk());
  // Brackets inside strings do not count; escaped quotes do not end a string.
  CHECK(ih::parseJson(R"({"a":"[[[[\"[[[[","b":[1]})", 2).isOk());
  CHECK(ih::jsonNestingDepth(R"({"a":[{"b":[]}]})") == 4);
  // A string ends at a quote after an even run of backslashes (none, or escaped backslashes), never at an
  // escaped quote; what an unterminated string holds does not count.
  CHECK(ih::jsonNestingDepth(R"({"a":"\\","b":[[1]]})") == 3);
  CHECK(ih::jsonNestingDepth(R"({"a":"\\\"[[[[","b":[1]})") == 2);
  CHECK(ih::jsonNestingDepth(R"([{"a":"x\\\\"},[[]]])") == 3);
  CHECK(ih::jsonNestingDepth(R"([{"a":"[[[[)") == 2);
  CHECK(ih::jsonNestingDepth(R"([[""]])") == 2);
  CHECK(ih::jsonNestingDepth(R"(["\)") == 1);
}

TEST_CASE("parseJson names the problem instead of throwing", "[common]") {
  auto bad = ih::parseJson("{\"a\": tru}");
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().message().rfind("invalid JSON at byte ", 0) == 0);
  CHECK(bad.status().message().find("json.exception") == std::string::npos);

  auto utf8 = ih::parseJson("{\"a\":\"\xFF\"}");
  REQUIRE_FALSE(utf8.isOk());
  CHECK(utf8.status().message().find("UTF-8") != std::string::npos);

  CHECK_FALSE(ih::parseJson("").isOk());
  CHECK_FALSE(ih::parseJson("{} {}").isOk());
  auto ok = ih::parseJson(R"({"n": 12, "s": "caf\u00e9"})");
  REQUIRE(ok.isOk());
  CHECK((*ok)["n"] == 12);
}

TEST_CASE("dumpJson never throws on ill-formed UTF-8", "[common]") {
  nlohmann::json value = {{"q", std::string("x\xFFy")}};
  CHECK_THROWS(value.dump());
  CHECK(ih::dumpJson(value) == "{\"q\":\"x\xEF\xBF\xBDy\"}");
}

TEST_CASE("parseJson: a NUL byte is not the end of the text (found by json_parse_fuzz)", "[common]") {
  // nlohmann's lexer stops at NUL: "{}\0junk" parsed as {} and the junk rode along with the raw text.
  const std::string text("{\"a\":1}\0,\"b\":2}", 15);
  auto parsed = ih::parseJson(text);
  REQUIRE_FALSE(parsed.isOk());
  CHECK(parsed.status().message() == "invalid JSON at byte 7: NUL byte");
  CHECK_FALSE(ih::parseJson(std::string("[1,\0 2]", 7)).isOk());
  CHECK(ih::parseJson(R"({"a":"\u0000"})").isOk());  // an escaped NUL is fine
}

TEST_CASE("parseJson: its message is valid UTF-8 whatever the text (found by json_parse_fuzz)", "[common]") {
  // The message quotes the last bytes read; they went into 400 answers as ill-formed UTF-8.
  for (const char* text :
       {"{\"after\": {\"a\": tr\xC3", "[\"\xE2\x82", "\xF0\x9F", "{\"k\":\"\xED\xA0\x80\"}"}) {
    auto parsed = ih::parseJson(text);
    REQUIRE_FALSE(parsed.isOk());
    CHECK(ih::isValidUtf8(parsed.status().message()));
  }
}

TEST_CASE("checkJsonObject: what parseJson accepts as an object, without building one", "[common]") {
  CHECK(ih::checkJsonObject(R"( {"b": 1, "a": [true, null, -1.5e3, "\u00e9\ud83d\ude00"]} )", "data").isOk());
  const std::string at_limit = "{\"a\":" + std::string(63, '[') + "1" + std::string(63, ']') + "}";
  CHECK(ih::checkJsonObject(at_limit, "data").isOk());  // 64 levels
  const std::string over = "{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}";
  const ih::Status deep = ih::checkJsonObject(over, "data");
  CHECK(deep.code() == ih::StatusCode::kInvalidArgument);
  CHECK(deep.message() == "data is not valid JSON (error at byte 68)");
  // 1 MB of '[' is refused at the limit, without recursing further.
  CHECK_FALSE(ih::checkJsonObject("{\"a\":" + std::string(1 << 20, '['), "data").isOk());
  CHECK(ih::checkJsonObject("[1]", "event data").message() == "event data must be a JSON object");
  CHECK(ih::checkJsonObject("{\"a\":1} x", "data").message() == "data is not valid JSON (error at byte 8)");
  CHECK_FALSE(ih::checkJsonObject("{\"a\":\"\xC3\x28\"}", "data").isOk());            // ill-formed UTF-8
  CHECK_FALSE(ih::checkJsonObject(std::string("{\"a\":\"\0\"}", 8), "data").isOk());  // raw NUL
  CHECK_FALSE(ih::checkJsonObject(R"({"a":"\ud800"})", "data").isOk());               // lone surrogate
  CHECK_FALSE(ih::checkJsonObject(R"({"a":1e400})", "data").isOk());                  // not a double
  CHECK_FALSE(ih::checkJsonObject(R"({"a":01})", "data").isOk());
  CHECK_FALSE(ih::checkJsonObject("", "data").isOk());
}

TEST_CASE("compactJson drops the whitespace between tokens and keeps strings byte for byte", "[common]") {
  CHECK(ih::compactJson(" {\n  \"b\" : [ 1 ,\t2 ],\r\n  \"a\": \"x y \\\" \\\\\" } ") ==
        R"({"b":[1,2],"a":"x y \" \\"})");
  CHECK(ih::compactJson("{}") == "{}");
}
