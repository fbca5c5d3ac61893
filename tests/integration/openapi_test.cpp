// The OpenAPI document against the real server: GET /api/openapi.json serves docs/openapi.yaml (as JSON), and
// the document names exactly the routes the server registers, both ways. The document's validity (swagger-parser)
// and its response schemas against real answers (ajv) are checked with node in tests/js.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "http/server.h"
#include "support/test_host.h"

namespace {

using nlohmann::json;

// "/admin/{path}" with x-ihost-rest on {path} -> "/admin/{path...}", the server's spelling.
std::string serverPattern(const std::string& path, const json& item, const json& operation) {
  std::set<std::string> rest;
  for (const json* params : {&item, &operation}) {
    if (!params->is_object() || !params->contains("parameters")) continue;
    for (const json& p : (*params)["parameters"])
      if (p.is_object() && p.value("x-ihost-rest", false) && p.contains("name")) rest.insert(p["name"]);
  }
  const size_t open = path.rfind('{');
  if (open == std::string::npos || path.back() != '}') return path;
  const std::string name = path.substr(open + 1, path.size() - open - 2);
  return rest.count(name) ? path.substr(0, path.size() - 1) + "...}" : path;
}

std::string join(const std::set<std::string>& items) {
  std::ostringstream out;
  for (const auto& i : items)
    out << "\n  " << i;
  return out.str();
}

}  // namespace

TEST_CASE("GET /api/openapi.json serves the document, unauthenticated, with an ETag", "[openapi]") {
  ih::test::TestHost host;
  auto client = host.client();
  auto res = client->Get("/api/openapi.json");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  const json doc = json::parse(res->body);
  CHECK(doc["openapi"].get<std::string>().rfind("3.1", 0) == 0);
  CHECK(doc["info"]["version"] == IH_PROJECT_VERSION);
  CHECK(doc["components"]["schemas"].contains("Error"));

  const std::string etag = res->get_header_value("ETag");
  REQUIRE(etag.size() > 2);
  auto again = client->Get("/api/openapi.json", {{"If-None-Match", etag}});
  REQUIRE(again);
  CHECK(again->status == 304);
  CHECK(again->body.empty());
  auto other = client->Get("/api/openapi.json", {{"If-None-Match", "\"something-else\""}});
  REQUIRE(other);
  CHECK(other->status == 200);
  CHECK(other->body == res->body);
}

TEST_CASE("the OpenAPI document and the server's route table name the same routes", "[openapi]") {
  ih::test::TestHost host;
  auto res = host.client()->Get("/api/openapi.json");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const json doc = json::parse(res->body);

  std::set<std::string> documented;
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, operation] : item.items()) {
      if (method == "parameters" || method == "summary" || method == "description" || method == "servers")
        continue;
      std::string upper = method;
      for (char& c : upper)
        c = static_cast<char>(c - 'a' + 'A');
      documented.insert(upper + " " + serverPattern(path, item, operation));
    }
  }
  std::set<std::string> registered;
  for (const auto& [method, pattern] : host.app().server().routes())
    registered.insert(method + " " + pattern);
  REQUIRE(registered.size() > 50);  // the whole API is registered, not a subset

  std::set<std::string> undocumented, unknown;
  for (const auto& r : registered)
    if (!documented.count(r)) undocumented.insert(r);
  for (const auto& d : documented)
    if (!registered.count(d)) unknown.insert(d);
  INFO("registered by the server but missing from docs/openapi.yaml:" << join(undocumented));
  INFO("in docs/openapi.yaml but not registered by the server:" << join(unknown));
  CHECK(undocumented.empty());
  CHECK(unknown.empty());
}

TEST_CASE("the admin console links to the API reference", "[openapi][admin]") {
  ih::test::TestHost host;
  auto client = host.client();
  auto index = client->Get("/admin");
  REQUIRE(index);
  REQUIRE(index->status == 200);
  const std::string link = "href=\"/api/openapi.json\"";
  CHECK(index->body.find(link) != std::string::npos);
  auto doc = client->Get("/api/openapi.json");
  REQUIRE(doc);
  CHECK(doc->status == 200);
}
