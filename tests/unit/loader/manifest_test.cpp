// Manifest decoding (loader/registry.h, parseManifest): a manifest is plugin output the host does not trust.
// Inputs found by tests/fuzz/manifest_fuzz.cpp and while writing it.
#include <string>

#include <catch2/catch.hpp>

#include "common/text.h"
#include "loader/registry.h"

using ih::loader::parseManifest;

TEST_CASE("manifest: a well-formed manifest is read", "[plugins]") {
  auto m = parseManifest(R"({"name":"ex","version":"1.2.3-rc.1+b","routes":[{"method":"GET","path":"/a/b.c"}],
                             "webhooks":{"tenant":true},"jobs":[{"name":"sync","every":"1h30m"}]})");
  REQUIRE(m.isOk());
  CHECK(m->routes.at(0).path == "/a/b.c");
  CHECK(m->tenant_webhooks);
  CHECK_FALSE(m->platform_webhooks);
  CHECK(m->jobs.at(0).every_seconds == 5400);
}

TEST_CASE("manifest: a 100 KB route path is refused, not a stack overflow in std::regex", "[plugins]") {
  const std::string path = "/" + std::string(100000, 'a') + "!";
  auto m =
      parseManifest(R"({"name":"ex","version":"1.0.0","routes":[{"method":"GET","path":")" + path + "\"}]}");
  REQUIRE_FALSE(m.isOk());
  CHECK(m.status().message().size() < 400);
  CHECK(parseManifest(R"({"name":"ex","version":"1.0.0","routes":[{"method":"GET","path":"/)" +
                      std::string(100000, 'a') + "\"}]}")
            .isOk());
  for (const char* bad : {"", "/", "//a", "/a/", "/a//b", "a", "/a b", "/{id}"}) {
    INFO(bad);
    CHECK_FALSE(
        parseManifest(std::string(R"({"name":"ex","version":"1.0.0","routes":[{"method":"GET","path":")") +
                      bad + "\"}]}")
            .isOk());
  }
}

TEST_CASE("manifest: wrongly typed or out-of-range members are errors, not exceptions", "[plugins]") {
  auto webhooks = parseManifest(R"({"name":"ex","version":"1.0.0","webhooks":{"tenant":"yes"}})");
  REQUIRE_FALSE(webhooks.isOk());
  CHECK(webhooks.status().message() == "manifest \"webhooks\".\"tenant\" must be true or false");
  for (const char* every : {"99999999999999999999s", "1y", "s", "10", "0s", "3700d", "1h1h1h-"}) {
    INFO(every);
    auto m = parseManifest(std::string(R"({"name":"ex","version":"1.0.0","jobs":[{"name":"j","every":")") +
                           every + "\"}]}");
    CHECK_FALSE(m.isOk());
  }
  CHECK_FALSE(parseManifest(R"({"name":"ex","version":"1.0"})").isOk());
  CHECK_FALSE(parseManifest(R"({"name":"Ex","version":"1.0.0"})").isOk());
  CHECK_FALSE(parseManifest(R"({"name":"ex","version":"1.0.0-"})").isOk());
}

TEST_CASE("manifest: schemas nested deeper than 64 levels are refused before they are dumped", "[plugins]") {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto m = parseManifest(R"({"name":"ex","version":"1.0.0","config_schema":{"default":)" + deep + "}}");
  REQUIRE_FALSE(m.isOk());
  CHECK(m.status().message() == "manifest: JSON nested deeper than 64 levels");
  auto name = parseManifest("{\"name\":\"\xc3\xa9" + std::string(100, 'x') + "\",\"version\":\"1.0.0\"}");
  REQUIRE_FALSE(name.isOk());
  CHECK(ih::isValidUtf8(name.status().message()));
}

TEST_CASE("manifest: entitlements map record models, and malformed mappings are refused", "[plugins]") {
  auto m = parseManifest(
      R"({"name":"ex","version":"1.0.0","entitlements":[
        {"model":"subscription","customer":"buyer","key":"plan","status":"status","active":["active","trialing"],
         "expires":"current_period_end"},
        {"model":"payment","customer":"buyer","key":"plan","status":"status","active":["succeeded"]}]})");
  REQUIRE(m.isOk());
  REQUIRE(m->entitlements.size() == 2);
  CHECK(m->entitlements[0].model == "subscription");
  CHECK(m->entitlements[0].active == std::vector<std::string>{"active", "trialing"});
  CHECK(m->entitlements[0].expires == "current_period_end");
  CHECK(m->entitlements[1].expires.empty());

  struct Bad {
    std::string entitlements;
    std::string message;
  };
  for (const Bad& bad : std::vector<Bad>{
           {R"({})", "must be an array of at most 16 objects"},
           {R"([1])", "[0] must be an object"},
           {R"([{"model":"a b","customer":"c","key":"k","status":"s","active":["a"]}])", ".model must be"},
           {R"([{"model":"m","customer":"c.d","key":"k","status":"s","active":["a"]}])", ".customer must name"},
           {R"([{"model":"m","customer":"c","key":"k","status":"s"}])", ".active must be an array"},
           {R"([{"model":"m","customer":"c","key":"k","status":"s","active":[""]}])", ".active must hold"},
           {R"([{"model":"m","customer":"c","key":"k","status":"s","active":[1]}])", ".active must hold"},
           {R"([{"model":"m","customer":"c","key":"k","status":"s","active":["a"],"expires":"x y"}])",
            ".expires must name"},
           {R"([{"model":"m","customer":"c","key":"k","status":"s","active":["a"]},
                {"model":"m","customer":"d","key":"k","status":"s","active":["a"]}])",
            "is mapped twice"}}) {
    INFO(bad.entitlements);
    auto r = parseManifest(R"({"name":"ex","version":"1.0.0","entitlements":)" + bad.entitlements + "}");
    REQUIRE_FALSE(r.isOk());
    CHECK(r.status().message().find(bad.message) != std::string::npos);
  }
}
