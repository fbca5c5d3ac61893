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

TEST_CASE("manifest: mappings declare kinds and the record members they apply to", "[plugins]") {
  auto m = parseManifest(
      R"({"name":"ex","version":"1.0.0","mappings":{
        "kinds":{"product":{"description":"A product"},"price":{}},
        "apply":[{"model":"product","field":"id","kind":"product"},
                 {"model":"transaction","field":"price","kind":"price"}]}})");
  REQUIRE(m.isOk());
  REQUIRE(m->mappings.kinds.size() == 2);
  REQUIRE(m->mappings.findKind("product") != nullptr);
  CHECK(m->mappings.findKind("product")->description == "A product");
  CHECK(m->mappings.findKind("sku") == nullptr);
  REQUIRE(m->mappings.apply.size() == 2);
  CHECK(m->mappings.apply[1].model == "transaction");
  CHECK(m->mappings.apply[1].field == "price");
  CHECK(m->mappings.apply[1].kind == "price");
  CHECK(parseManifest(R"({"name":"ex","version":"1.0.0"})")->mappings.kinds.empty());

  struct Bad {
    std::string mappings;
    std::string message;
  };
  for (const Bad& bad : std::vector<Bad>{
           {R"([])", "must be an object"},
           {R"({"kinds":{}})", ".kinds must be an object of 1-16 kinds"},
           {R"({"kinds":{"Product":{}}})", "must match"},
           {R"({"kinds":{"p":1}})", ".kinds.p must be an object"},
           {R"({"kinds":{"p":{}},"apply":{}})", ".apply must be an array"},
           {R"({"kinds":{"p":{}},"apply":[{"model":"m","field":"f","kind":"q"}]})", "one of the declared kinds"},
           {R"({"kinds":{"p":{}},"apply":[{"model":"m","field":"a.b","kind":"p"}]})", ".field must name"},
           {R"({"kinds":{"p":{}},"apply":[{"model":"a b","field":"f","kind":"p"}]})", ".model must be"},
           {R"({"kinds":{"p":{}},"apply":[{"model":"m","field":"f","kind":"p"},{"model":"m","field":"g","kind":"p"}]})",
            "twice"}}) {
    INFO(bad.mappings);
    auto r = parseManifest(R"({"name":"ex","version":"1.0.0","mappings":)" + bad.mappings + "}");
    REQUIRE_FALSE(r.isOk());
    CHECK(r.status().message().find(bad.message) != std::string::npos);
  }
}
