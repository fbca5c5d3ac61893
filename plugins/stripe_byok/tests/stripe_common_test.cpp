// stripe_common: webhook signatures (the verified vector of stripe-notes §1), keys, form encoding, errors.
#include <string>

#include <catch2/catch.hpp>

#include "ih/hmac.hpp"
#include "ih/sdk/form.hpp"
#include "stripe_common/client.h"
#include "stripe_common/keys.h"
#include "stripe_common/webhook_signature.h"

namespace {

using ih::stripe::verifySignature;

constexpr char kSecret[] = "whsec_test_secret_for_adapter_vectors_0123456789";
constexpr int64_t kT = 1700000000;
constexpr char kBody[] =
    R"({"id":"evt_test_vector_0001","object":"event","api_version":"2024-06-20","created":1700000000,)"
    R"("livemode":false,"type":"invoice.paid","data":{"object":{"id":"in_test_0001","object":"invoice",)"
    R"("status":"paid","amount_paid":1500,"currency":"usd"}},"request":{"id":null,"idempotency_key":null},)"
    R"("pending_webhooks":1})";
constexpr char kGood[] = "450b7faa21b0574797d2875b2eb15ab23d51a27a44e2c25d07d77143743c089f";

std::string header(const std::string& items) {
  return items;
}

}  // namespace

TEST_CASE("signature: the verified Stripe vector is accepted", "[stripe]") {
  const std::string h = header("t=1700000000,v1=" + std::string(kGood));
  auto ok = verifySignature(h, kBody, kSecret, 300, kT + 10);
  REQUIRE(ok.isOk());
  CHECK(*ok == kT);
  CHECK(ih::stripe::signatureHeader(kSecret, kT, kBody) == h);
  // age == tolerance is accepted, future timestamps are not rejected (as the Node SDK)
  CHECK(verifySignature(h, kBody, kSecret, 300, kT + 300).isOk());
  CHECK(verifySignature(h, kBody, kSecret, 300, kT - 1000).isOk());
}

TEST_CASE("signature: rejections carry Stripe's messages", "[stripe]") {
  const std::string good = "t=1700000000,v1=" + std::string(kGood);
  std::string tampered = kBody;
  tampered.replace(tampered.find("1500"), 4, "1501");
  auto r = verifySignature(good, tampered, kSecret, 300, kT + 10);
  CHECK(r.status().code() == IH_ERR_SIGNATURE);
  CHECK(r.status().message() == "No signatures found matching the expected signature for payload");

  r = verifySignature(good, kBody, "whsec_wrong", 300, kT + 10);
  CHECK(r.status().message() == "No signatures found matching the expected signature for payload");

  r = verifySignature(good, kBody, kSecret, 300, kT + 301);
  CHECK(r.status().code() == IH_ERR_SIGNATURE);
  CHECK(r.status().message() == "Timestamp outside the tolerance zone");
  CHECK(verifySignature(good, kBody, kSecret, 0, kT + 100000).isOk());  // tolerance 0: no age check

  r = verifySignature("t=1700000000,v0=" + std::string(kGood), kBody, kSecret, 300, kT);
  CHECK(r.status().message() == "No signatures found with expected scheme");

  r = verifySignature("v1=" + std::string(kGood), kBody, kSecret, 300, kT);
  CHECK(r.status().message() == "Unable to extract timestamp and signatures from header");
  r = verifySignature("", kBody, kSecret, 300, kT);
  CHECK(r.status().message() == "Unable to extract timestamp and signatures from header");
  r = verifySignature("t=abc,v1=" + std::string(kGood), kBody, kSecret, 300, kT);
  CHECK(r.status().message() == "Unable to extract timestamp and signatures from header");
}

TEST_CASE("signature: any v1 may match; v0 and unknown keys are ignored", "[stripe]") {
  const std::string bad(64, 'a');
  CHECK(verifySignature("t=1700000000,v0=deadbeef,v1=" + bad + ",v1=" + kGood + ",x=1", kBody, kSecret, 300,
                        kT + 10)
            .isOk());
  CHECK(verifySignature("t=1700000000,,v1=" + std::string(kGood) + ",", kBody, kSecret, 300, kT).isOk());
  CHECK_FALSE(verifySignature("t=1700000000,v1=" + bad, kBody, kSecret, 300, kT).isOk());
  CHECK_FALSE(
      verifySignature("t=1700000000,v1=" + std::string(kGood).substr(0, 63), kBody, kSecret, 300, kT).isOk());
  // The payload is the exact bytes: a re-serialised copy fails.
  CHECK_FALSE(
      verifySignature("t=1700000000,v1=" + std::string(kGood), std::string(kBody) + "\n", kSecret, 300, kT)
          .isOk());
}

TEST_CASE("keys: formats, modes and masking", "[stripe]") {
  using ih::stripe::KeyMode;
  CHECK(*ih::stripe::secretKeyMode("sk_test_abc123") == KeyMode::kTest);
  CHECK(*ih::stripe::secretKeyMode("rk_live_abc123") == KeyMode::kLive);
  auto bad = ih::stripe::secretKeyMode("pk_test_abc123");
  CHECK(bad.status().code() == IH_ERR_INVALID_ARGUMENT);
  CHECK(bad.status().message() == "secret_key must start with sk_test_, sk_live_, rk_test_ or rk_live_");
  CHECK(ih::stripe::publishableKeyMode("sk_test_abc").status().message() ==
        "publishable_key must start with pk_test_ or pk_live_");
  auto mismatch = ih::stripe::checkKeyPair("sk_test_abc123", "pk_live_abc123");
  CHECK(mismatch.status().message() == "secret key is a test key but publishable key is live");
  CHECK(ih::stripe::checkKeyPair("rk_live_abc123", "pk_test_abc123").status().message() ==
        "secret key is a live key but publishable key is test");
  CHECK(ih::stripe::checkKeyPair("sk_live_abc123", "pk_live_abc123").isOk());
  CHECK(ih::stripe::maskKey("sk_test_51Habcdefghabcd") == "sk_test_****abcd");
  CHECK(ih::stripe::maskKey("x") == "****");
  CHECK(ih::stripe::maskSecrets("Invalid API Key provided: sk_test_12345678wxyz.") ==
        "Invalid API Key provided: sk_test_****wxyz.");
  CHECK(ih::stripe::maskSecrets("key sk_test_****wxyz") == "key sk_test_****wxyz");
}

TEST_CASE("form: brackets, repeats and percent-encoding", "[stripe]") {
  ih::sdk::Form form;
  form.add("amount", int64_t{900})
      .add("auto_advance", false)
      .addMember("metadata", "ihost_ref", "show 1&2")
      .add("items[0][price]", "price_1")
      .addElement("expand", "customer")
      .addElement("expand", "data.latest_charge");
  CHECK(form.encode() ==
        "amount=900&auto_advance=false&metadata%5Bihost_ref%5D=show%201%262&items%5B0%5D%5Bprice%5D=price_1&"
        "expand%5B%5D=customer&expand%5B%5D=data.latest_charge");
}

TEST_CASE("errors: Stripe error JSON becomes a clear status", "[stripe]") {
  auto s = ih::stripe::toStatus(
      401,
      R"({"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_123456abcd"}})");
  CHECK(s.code() == IH_ERR_UNAUTHENTICATED);
  CHECK(s.message() == "Stripe rejected the API key (Invalid API Key provided: sk_test_****abcd)");
  CHECK(ih::stripe::toStatus(403, "{}").code() == IH_ERR_PERMISSION_DENIED);
  auto card = ih::stripe::toStatus(
      402,
      R"({"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined."}})");
  CHECK(card.code() == IH_ERR_PROVIDER);
  CHECK(card.message().find("card_declined") != std::string::npos);
  CHECK(ih::stripe::toStatus(404, R"({"error":{"code":"resource_missing","message":"No such invoice"}})")
            .code() == IH_ERR_NOT_FOUND);
  CHECK(ih::stripe::toStatus(429, R"({"error":{"code":"lock_timeout"}})").code() == IH_ERR_RATE_LIMITED);
  CHECK(
      ih::stripe::toStatus(
          400,
          R"({"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}})")
          .code() == IH_ERR_CONFLICT);
  auto down = ih::stripe::toStatus(503, "oops");
  CHECK(down.code() == IH_ERR_UNAVAILABLE);
  CHECK(down.message().rfind("Stripe is unreachable: ", 0) == 0);
  CHECK(ih::stripe::stableIdempotencyKey({"a", "b"}) == ih::stripe::stableIdempotencyKey({"a", "b"}));
  CHECK(ih::stripe::stableIdempotencyKey({"a", "b"}) != ih::stripe::stableIdempotencyKey({"ab", ""}));
}

TEST_CASE("signature: never more lenient than stripe-node or stripe-python (found by fuzzing)", "[stripe]") {
  const std::string good = "v1=" + std::string(kGood);
  const auto message = [&](const std::string& header) {
    return verifySignature(header, kBody, kSecret, 300, kT).status().message();
  };
  // Neither library trims: " v1" and "t " are other keys, " 1700000000" is signed as such by neither.
  CHECK(message(" t=1700000000," + good) == "Unable to extract timestamp and signatures from header");
  CHECK(message("t=1700000000, " + good) == "No signatures found with expected scheme");
  CHECK(message("t=1700000000," + good + " ") ==
        "No signatures found matching the expected signature for payload");
  CHECK(message("t= 1700000000," + good) == "Unable to extract timestamp and signatures from header");
  // Both sign the number they read: "0…" / "+…" would be signed as another text than ours.
  const std::string padded = "01700000000";
  const std::string padded_sig = ih::sdk::hmacSha256Hex(kSecret, padded + "." + kBody);
  CHECK(message("t=" + padded + ",v1=" + padded_sig) ==
        "Unable to extract timestamp and signatures from header");
  CHECK(message("t=+1700000000," + good) == "Unable to extract timestamp and signatures from header");
  CHECK(message("t=1700000000000000," + good) == "Unable to extract timestamp and signatures from header");
  // stripe-node keeps the last t, stripe-python the first: a second t is refused.
  CHECK(message("t=1700000000,t=5," + good) == "Unable to extract timestamp and signatures from header");
  // stripe-python raises on an item "t" or "v1" without '='.
  CHECK(message("t=1700000000,v1," + good) == "Unable to extract timestamp and signatures from header");
  CHECK(message("t,t=1700000000," + good) == "Unable to extract timestamp and signatures from header");
  CHECK(verifySignature("t=1700000000,x,v0," + good, kBody, kSecret, 300, kT).isOk());
}
