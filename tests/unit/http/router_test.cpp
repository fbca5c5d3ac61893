// Request-target decoding and route matching without sockets (host/http/router.h): strict percent escapes,
// UTF-8 checked after decoding, messages that name the part, and the route table's precedence rules.
#include <catch2/catch.hpp>

#include <string>

#include "common/text.h"
#include "http/router.h"

using ih::http::decodePath;
using ih::http::decodeQuery;
using ih::http::decodeTarget;
using ih::http::percentDecode;
using ih::http::Router;

TEST_CASE("percent-decoding is strict about escapes", "[http][router]") {
  CHECK(percentDecode("a%20b%2Fc", false) == std::optional<std::string>("a b/c"));
  CHECK(percentDecode("a+b", false) == std::optional<std::string>("a+b"));
  CHECK(percentDecode("a+b", true) == std::optional<std::string>("a b"));
  CHECK(percentDecode("%e2%82%AC", false) == std::optional<std::string>("\xE2\x82\xAC"));
  CHECK(percentDecode("%00", false) == std::optional<std::string>(std::string(1, '\0')));
  CHECK_FALSE(percentDecode("%", false));
  CHECK_FALSE(percentDecode("a%2", false));
  CHECK_FALSE(percentDecode("%zz", false));
  CHECK_FALSE(percentDecode("%2g", false));
  CHECK_FALSE(percentDecode("100%", true));
}

TEST_CASE("paths decode per segment; bad escapes and bad UTF-8 name the path", "[http][router]") {
  auto p = decodePath("/items//a%2Fb%20c/");
  REQUIRE(p.isOk());
  CHECK(p->text == "/items//a/b c/");
  CHECK(p->segments == std::vector<std::string>{"items", "a/b c"});

  auto bad_escape = decodePath("/items/%G1");
  REQUIRE_FALSE(bad_escape.isOk());
  CHECK(bad_escape.status().code() == ih::StatusCode::kInvalidArgument);
  CHECK(bad_escape.status().message().find("path") != std::string::npos);
  CHECK(bad_escape.status().message().find("percent escape") != std::string::npos);

  for (const char* raw : {"/x/%FF", "/x/%C0%AF", "/x/%ED%A0%80", "/\xFF", "/x/%E2%82"}) {
    auto bad = decodePath(raw);
    INFO(raw);
    REQUIRE_FALSE(bad.isOk());
    CHECK(bad.status().message() == "the request path is not valid UTF-8 once percent-decoded");
  }
  // Raw UTF-8 (not percent-encoded) is as good as encoded UTF-8.
  auto raw_utf8 = decodePath("/caf\xC3\xA9");
  REQUIRE(raw_utf8.isOk());
  CHECK(raw_utf8->segments == std::vector<std::string>{"caf\xC3\xA9"});
}

TEST_CASE("queries keep order, skip empty pairs and name the bad parameter", "[http][router]") {
  auto q = decodeQuery("q=x+y%26z&&flag&empty=&q=2&a=b=c");
  REQUIRE(q.isOk());
  const ih::http::QueryParams expected = {{"q", "x y&z"}, {"flag", ""}, {"empty", ""}, {"q", "2"}, {"a", "b=c"}};
  CHECK(*q == expected);
  CHECK(decodeQuery("")->empty());
  CHECK(decodeQuery("&&&")->empty());

  auto bad_value = decodeQuery("ok=1&x=%FF");
  REQUIRE_FALSE(bad_value.isOk());
  CHECK(bad_value.status().message() == "the value of query parameter \"x\" is not valid UTF-8 once percent-decoded");

  auto bad_value_escape = decodeQuery("limit=5%");
  REQUIRE_FALSE(bad_value_escape.isOk());
  CHECK(bad_value_escape.status().message().find("query parameter \"limit\" has a malformed percent escape") !=
        std::string::npos);

  auto bad_name = decodeQuery("n%FFame=1");
  REQUIRE_FALSE(bad_name.isOk());
  CHECK(bad_name.status().message() ==
        "query parameter name \"n%FFame\" is not valid UTF-8 once percent-decoded");

  // A raw ill-formed byte in the name: the message itself stays valid UTF-8, and a long name is cut.
  auto raw_bad = decodeQuery(std::string(200, 'k') + "\xFF=1");
  REQUIRE_FALSE(raw_bad.isOk());
  CHECK(ih::isValidUtf8(raw_bad.status().message()));
  CHECK(raw_bad.status().message().size() < 160);
  auto raw_bad_short = decodeQuery("\xC3=1");
  REQUIRE_FALSE(raw_bad_short.isOk());
  CHECK(ih::isValidUtf8(raw_bad_short.status().message()));
}

TEST_CASE("a whole target splits at the first '?'", "[http][router]") {
  auto t = decodeTarget("/a%20b?x=1?2&y");
  REQUIRE(t.isOk());
  CHECK(t->path.text == "/a b");
  CHECK(t->query == ih::http::QueryParams{{"x", "1?2"}, {"y", ""}});
  CHECK(decodeTarget("/ok?x=%FF").status().message().find("query parameter \"x\"") != std::string::npos);
  CHECK(decodeTarget("/%FF?x=1").status().message().find("path") != std::string::npos);
}

TEST_CASE("the router prefers literal segments and fills params", "[http][router]") {
  Router r;
  REQUIRE(r.add("GET", "/api/items/{id}", 1).isOk());
  REQUIRE(r.add("GET", "/api/items/special", 2).isOk());
  REQUIRE(r.add("GET", "/files/{rest...}", 3).isOk());
  REQUIRE(r.add("POST", "/api/items/{id}", 4).isOk());
  REQUIRE(r.add("GET", "/", 5).isOk());
  CHECK(r.size() == 5);

  auto m = r.match("GET", std::string_view("/api/items/a%2Fb"));
  REQUIRE(m);
  CHECK(m->id == 1);
  CHECK(m->params.at("id") == "a/b");
  CHECK(r.match("GET", std::string_view("/api/items/special"))->id == 2);
  CHECK(r.match("POST", std::string_view("/api/items/special"))->id == 4);
  auto rest = r.match("GET", std::string_view("/files/one//two.txt"));
  REQUIRE(rest);
  CHECK(rest->params.at("rest") == "one/two.txt");
  CHECK_FALSE(r.match("GET", std::string_view("/files")));  // a rest segment needs at least one segment
  CHECK(r.match("GET", std::string_view("/"))->id == 5);
  CHECK(r.match("GET", std::string_view(""))->id == 5);
  CHECK_FALSE(r.match("GET", std::string_view("/api/items")));
  CHECK_FALSE(r.match("GET", std::string_view("/api/items/1/2")));
  CHECK_FALSE(r.match("GET", std::string_view("/api/items/%FF")));  // does not decode
  CHECK_FALSE(r.match("DELETE", std::string_view("/api/items/1")));

  auto known = decodePath("/api/items/1");
  REQUIRE(known.isOk());
  CHECK(r.matchesAnyMethod(*known));
  CHECK_FALSE(r.matchesAnyMethod(*decodePath("/nothing")));
}

TEST_CASE("the router refuses malformed patterns and keeps its table", "[http][router]") {
  Router r;
  CHECK(r.add("GET", "/a/{}", 1).code() == ih::StatusCode::kInvalidArgument);
  CHECK(r.add("GET", "/a/{...}", 1).code() == ih::StatusCode::kInvalidArgument);
  CHECK(r.add("GET", "/a/{x...}/b", 1).code() == ih::StatusCode::kInvalidArgument);
  CHECK(r.add("GET", "/a/{x}/{x}", 1).code() == ih::StatusCode::kInvalidArgument);
  CHECK(r.size() == 0);
  REQUIRE(r.add("GET", "/a/{x}/{y...}", 7).isOk());
  auto m = r.match("GET", std::string_view("/a/1/2/3"));
  REQUIRE(m);
  CHECK(m->params == ih::http::RouteParams{{"x", "1"}, {"y", "2/3"}});
}
