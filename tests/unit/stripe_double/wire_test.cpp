// Request parameter parsing of the Stripe double (testing/stripe_double/wire.cpp).
#include <catch2/catch.hpp>
#include <climits>

#include "stripe_double/internal.h"

namespace sd = ih::stripe_double;
using sd::json;

TEST_CASE("integer parameters: decimal strings within int64, nothing else", "[stripe_double]") {
  CHECK(sd::asInt(json("0")) == 0);
  CHECK(sd::asInt(json("-42")) == -42);
  CHECK(sd::asInt(json(7)) == 7);
  CHECK(sd::asInt(json("9223372036854775807")) == INT64_MAX);
  CHECK(sd::asInt(json("-999999999999999999")) == -999999999999999999LL);
  CHECK_FALSE(sd::asInt(json("9999999999999999999")));  // beyond int64: invalid, not an exception
  CHECK_FALSE(sd::asInt(json("")));
  CHECK_FALSE(sd::asInt(json("-")));
  CHECK_FALSE(sd::asInt(json("+1")));
  CHECK_FALSE(sd::asInt(json(" 1")));
  CHECK_FALSE(sd::asInt(json("1e3")));
  CHECK_FALSE(sd::asInt(json(1.5)));

  std::optional<int64_t> out;
  auto error = sd::intParam(json{{"limit", "9999999999999999999"}}, "limit", out);
  REQUIRE(error);
  CHECK(error->status == 400);
  CHECK(error->body["error"]["code"] == "parameter_invalid_integer");
  CHECK(error->body["error"]["message"] == "Invalid integer: 9999999999999999999");
}

TEST_CASE("form arrays take numeric indexes below 100000", "[stripe_double]") {
  const json form = sd::detail::parseForm("items[0][price]=a&items[2][price]=b&ids[99999]=x");
  CHECK(form["items"].size() == 3);
  CHECK(form["items"][2]["price"] == "b");
  CHECK(form["ids"].size() == 100000);
}
