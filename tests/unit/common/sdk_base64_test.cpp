// The SDK's base64 (ih/hmac.hpp, what plugins use) agrees with the host's strict one (common/digest.h) on every
// input here, valid or not, and the Standard Webhooks helpers on a known signature.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/digest.h"
#include "ih/hmac.hpp"

TEST_CASE("SDK base64 matches the host's strict base64", "[common][sdk]") {
  std::string bytes;
  for (int i = 0; i < 64; ++i) {
    CHECK(ih::sdk::base64Encode(bytes) == ih::base64Encode(bytes));
    auto sdk = ih::sdk::base64Decode(ih::base64Encode(bytes));
    REQUIRE(sdk.has_value());
    CHECK(*sdk == bytes);
    bytes += static_cast<char>(i * 37 + 11);
  }
  for (const std::string& text : std::vector<std::string>{
           "",         "A",       "AA==",     "AB==",       "AAA=", "AAB=", "QQ==",   "QR==",
           "QUI=",     "QUJ=",    "QUJD",     "Q===",       "=AAA", "AA=A", "QUJD\n", "QU JD",
           "QUJDRA==", "QUJDRA=", "QUJD!A==", "whsec_QUJD", "////", "++++"}) {
    INFO(text);
    auto host = ih::base64Decode(text);
    auto sdk = ih::sdk::base64Decode(text);
    CHECK(host.isOk() == sdk.has_value());
    if (host.isOk() && sdk) CHECK(*host == *sdk);
  }
}

TEST_CASE("SDK Standard Webhooks helpers: key, signature, several entries", "[common][sdk]") {
  // The example of standardwebhooks.com's test vectors: secret, id, timestamp and body give this signature.
  auto key = ih::sdk::standardWebhookKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  REQUIRE(key.has_value());
  const std::string body = R"({"test": 2432232314})";
  const std::string expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
  CHECK(ih::sdk::standardWebhookSignature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) ==
        expected);
  CHECK(ih::sdk::standardWebhookSignatureMatches(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                                 "v1,bm90IGl0 " + expected));
  CHECK_FALSE(ih::sdk::standardWebhookSignatureMatches(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
                                                       expected));
  CHECK_FALSE(ih::sdk::standardWebhookSignatureMatches(*key, "msg_other", 1614265330, body, expected));
  CHECK_FALSE(ih::sdk::standardWebhookKey("whsec_not base64").has_value());
  CHECK_FALSE(ih::sdk::standardWebhookKey("whsec_").has_value());
}
