// Standard Webhooks signing: the published test vector, secret format, rotation headers, base64 edge cases,
// and the event type filter.
#include <catch2/catch.hpp>

#include "common/digest.h"
#include "endpoints/signature.h"
#include "store/endpoint_store.h"

namespace ih::endpoints {
namespace {

// From the Standard Webhooks / Svix libraries' tests (and re-checked with the npm `standardwebhooks`
// package).
constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kMsgId[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kTimestamp = 1614265330;
constexpr char kBody[] = R"({"test": 2432232314})";
constexpr char kExpected[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST_CASE("sign matches the Standard Webhooks test vector", "[endpoints]") {
  auto key = secretKey(kSecret);
  REQUIRE(key.isOk());
  CHECK(sign(*key, kMsgId, kTimestamp, kBody) == kExpected);
  CHECK(verify(kSecret, kMsgId, kTimestamp, kBody, kExpected));
  CHECK_FALSE(verify(kSecret, kMsgId, kTimestamp + 1, kBody, kExpected));
  CHECK_FALSE(verify(kSecret, kMsgId, kTimestamp, std::string(kBody) + " ", kExpected));
  CHECK_FALSE(verify(kSecret, "msg_other", kTimestamp, kBody, kExpected));
}

TEST_CASE("verify accepts any of several space-separated signatures", "[endpoints]") {
  auto other = generateSecret();
  REQUIRE(other.isOk());
  auto other_key = secretKey(*other);
  REQUIRE(other_key.isOk());
  const std::string header = sign(*other_key, kMsgId, kTimestamp, kBody) + " " + kExpected;
  CHECK(verify(kSecret, kMsgId, kTimestamp, kBody, header));
  CHECK(verify(*other, kMsgId, kTimestamp, kBody, header));
  auto third = generateSecret();
  REQUIRE(third.isOk());
  CHECK_FALSE(verify(*third, kMsgId, kTimestamp, kBody, header));
  CHECK_FALSE(verify(kSecret, kMsgId, kTimestamp, kBody, ""));
}

TEST_CASE("generated secrets are whsec_ + base64 of 24 random bytes", "[endpoints]") {
  auto a = generateSecret();
  auto b = generateSecret();
  REQUIRE(a.isOk());
  REQUIRE(b.isOk());
  CHECK(a->rfind("whsec_", 0) == 0);
  CHECK(a->size() == 6 + 32);
  CHECK(*a != *b);
  auto key = secretKey(*a);
  REQUIRE(key.isOk());
  CHECK(key->size() == 24);
}

TEST_CASE("malformed secrets and base64 are refused", "[endpoints]") {
  CHECK_FALSE(secretKey("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").isOk());
  CHECK_FALSE(secretKey("whsec_").isOk());
  CHECK_FALSE(secretKey("whsec_abc").isOk());
  CHECK_FALSE(base64Decode("a!==").isOk());
  for (std::string bytes :
       {std::string("a"), std::string("ab"), std::string("abc"), std::string("\0\xff\x10", 3)}) {
    auto round = base64Decode(base64Encode(bytes));
    REQUIRE(round.isOk());
    CHECK(*round == bytes);
  }
}

TEST_CASE("base64 '=' only as trailing padding, no whitespace (found by standard_webhooks_fuzz)",
          "[endpoints]") {
  // EVP_DecodeBlock alone decoded these to garbage instead of refusing them.
  for (const char* text : {"Qy=L", "Q===", "====", "QQ=A", " QQ=", "QQ\n=", "QQ =", "QUJD\tQUJD"})
    CHECK_FALSE(base64Decode(text).isOk());
  CHECK(*base64Decode("QQ==") == "A");
  CHECK(*base64Decode("QUI=") == "AB");
  CHECK(*base64Decode("QUJD") == "ABC");
  CHECK_FALSE(secretKey("whsec_Qy=L").isOk());
}

TEST_CASE("endpoint event type filters are prefixes or *", "[endpoints]") {
  using store::endpointMatches;
  CHECK(endpointMatches({"*"}, "invoice.paid"));
  CHECK(endpointMatches({"invoice."}, "invoice.paid"));
  CHECK(endpointMatches({"customer.", "invoice.paid"}, "invoice.paid"));
  CHECK_FALSE(endpointMatches({"invoice.paid"}, "invoice.created"));
  CHECK_FALSE(endpointMatches({}, "invoice.paid"));
}

}  // namespace
}  // namespace ih::endpoints
