// Verification of Stripe's `Stripe-Signature` header (v1 scheme), as the official SDKs do it: `t` required,
// any `v1` may match (secret rolling), `v0` and unknown keys ignored, HMAC-SHA256 keyed with the whole
// endpoint secret (including `whsec_`) over "<t>.<raw body>", constant-time comparison, then the age check.
// Never more lenient than stripe-node or stripe-python (tests/fuzz/stripe_signature_fuzz.cpp checks it
// against both): no whitespace is trimmed, `t` appears once in canonical decimal (no sign, no leading zero,
// at most 15 digits), and an item "t" or "v1" without '=' fails the header.
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ih/plugin.hpp"

namespace ih::stripe {

inline constexpr int64_t kDefaultWebhookToleranceSeconds = 300;

// OK (with the header's timestamp) when one v1 signature of `header` matches `payload` under `secret` and
// `now_s - t <= tolerance_s`; tolerance_s <= 0 skips the age check. Otherwise IH_ERR_SIGNATURE with Stripe's
// messages: "Unable to extract timestamp and signatures from header", "No signatures found with expected
// scheme", "No signatures found matching the expected signature for payload", "Timestamp outside the
// tolerance zone".
ih::sdk::Result<int64_t> verifySignature(std::string_view header, std::string_view payload,
                                         std::string_view secret, int64_t tolerance_s, int64_t now_s);

// The host's webhook metadata for a verified Stripe event body, from one scan of it (no JSON DOM: this runs
// for every delivery on the host's network thread): {"event_id","type","occurred_at"} plus "object_id"
// (data.object.id) when it is a string and, with `with_account`, "account" when non-empty (Connect: the host
// maps it to the tenant). occurred_at is the event's `created`, else `signed_at`. IH_ERR_INVALID_ARGUMENT
// when the body is not a JSON object with a non-empty string id and type.
ih::sdk::Result<std::string> verifiedEventMeta(std::string_view body, int64_t signed_at, bool with_account);

// "t=<t>,v1=<hex>" for `payload` (tests and the double use the same recipe).
std::string signatureHeader(std::string_view secret, int64_t timestamp, std::string_view payload);

}  // namespace ih::stripe
