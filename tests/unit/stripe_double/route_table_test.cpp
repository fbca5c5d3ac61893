// The Stripe double's v1 route table (testing/stripe_double/routes.cpp): pattern matching, and agreement with
// the documented-parameter table of params.cpp, so a new endpoint gets both a handler and a parameter list.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <utility>

#include "stripe_double/internal.h"

namespace sd = ih::stripe_double;

TEST_CASE("route patterns: literal segments, * for one segment, a final ** for any rest", "[stripe_double]") {
  using Seg = std::vector<std::string>;
  CHECK(sd::pathMatches("customers", Seg{"customers"}));
  CHECK_FALSE(sd::pathMatches("customers", Seg{"customer"}));
  CHECK_FALSE(sd::pathMatches("customers", Seg{"customers", "cus_1"}));
  CHECK(sd::pathMatches("customers/*", Seg{"customers", "cus_1"}));
  CHECK_FALSE(sd::pathMatches("customers/*", Seg{"customers"}));
  CHECK_FALSE(sd::pathMatches("customers/*", Seg{"customers", "cus_1", "x"}));
  CHECK(sd::pathMatches("invoices/*/lines", Seg{"invoices", "in_1", "lines"}));
  CHECK_FALSE(sd::pathMatches("invoices/*/lines", Seg{"invoices", "in_1", "pay"}));
  CHECK(sd::pathMatches("events/**", Seg{"events"}));
  CHECK(sd::pathMatches("events/**", Seg{"events", "a", "b", "c"}));
  CHECK_FALSE(sd::pathMatches("events/**", Seg{"event"}));
  CHECK(sd::pathMatches("invoices/*/**", Seg{"invoices", "in_1"}));
  CHECK(sd::pathMatches("invoices/*/**", Seg{"invoices", "in_1", "x", "y"}));
  CHECK_FALSE(sd::pathMatches("invoices/*/**", Seg{"invoices"}));
}

TEST_CASE("every endpoint has a handler and a documented parameter list, and only those", "[stripe_double]") {
  std::set<std::pair<std::string, std::string>> handled, documented;
  for (const sd::Route& r : sd::v1Routes()) {
    REQUIRE(r.handler != nullptr);
    if (r.method == "*") continue;  // a resource's catch-all answers 404s, it takes no parameters
    INFO(std::string(r.method) + " " + std::string(r.pattern));
    CHECK(handled.emplace(r.method, r.pattern).second);  // no row listed twice
  }
  for (const auto& [method, path] : sd::documentedV1Routes())
    documented.emplace(method, path);
  for (const auto& route : handled) {
    INFO("handled but not documented: " + route.first + " " + route.second);
    CHECK(documented.count(route));
  }
  for (const auto& route : documented) {
    INFO("documented but not handled: " + route.first + " " + route.second);
    CHECK(handled.count(route));
  }
}
