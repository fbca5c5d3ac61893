// Checks of tenant input for the Stripe plugins, run before anything is sent to Stripe: a value Stripe would
// refuse (or one that could change the request's path or headers) is an invalid-argument Status naming the
// field, so the caller gets a 400 and Stripe never sees the request. Limits follow Stripe's documentation.
// Pure functions, thread-safe. Messages never echo long or secret values.
#pragma once

#include <cstdint>
#include <string_view>

#include "ih/plugin.hpp"
#include "stripe_common/json_util.h"

namespace ih::stripe {

// Longest string Stripe accepts in most parameters.
inline constexpr size_t kMaxStripeText = 5000;
// Stripe ids, idempotency keys, lookup keys and API keys.
inline constexpr size_t kMaxStripeId = 255;
// Largest amount in minor units Stripe accepts (8 digits).
inline constexpr int64_t kMaxStripeAmount = 99999999;

// True for `prefix` followed by 1-255 characters of [A-Za-z0-9_] ("pi_3Nx…", "price_1Ab…").
bool isStripeId(std::string_view text, std::string_view prefix);

// Each checks input[field] when present (and requires it when `required`): OK, or invalid-argument naming
// `field`.
ih::sdk::Status checkId(const Json& input, const char* field, std::string_view prefix, bool required = false);
ih::sdk::Status checkText(const Json& input, const char* field, size_t max_bytes = kMaxStripeText,
                          bool required = false);
// An integer in [min, max].
ih::sdk::Status checkInteger(const Json& input, const char* field, int64_t min, int64_t max,
                             bool required = false);
// A three-letter ISO currency code ("usd").
ih::sdk::Status checkCurrency(const Json& input, const char* field = "currency", bool required = false);
// Stripe metadata: an object of at most 50 keys of 1-40 characters, values strings (or numbers, booleans)
// of at most 500 characters.
ih::sdk::Status checkMetadata(const Json& input, const char* field = "metadata");

// `text` is at most `max` bytes of UTF-8 without control characters (a value that goes into a form body).
bool isPlainText(std::string_view text, size_t max);

}  // namespace ih::stripe
