// Integration-test helpers around the Stripe double: a double on a loopback port that accepts `key`, and the
// TOML of a stripe_byok integration ("stripe") pointing at it. Header-only: only binaries that link
// ih_stripe_double include it.
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "stripe_double/stripe_double.h"

namespace ih::test {

inline std::unique_ptr<stripe_double::StripeDouble> startStripeDouble(
    const std::string& key, std::vector<int> webhook_retry_delays_ms = {200, 500}) {
  stripe_double::Options o;
  o.api_keys = {key};
  o.webhook_retry_delays_ms = std::move(webhook_retry_delays_ms);
  auto d = stripe_double::StripeDouble::start(o);
  INFO(d.status().toString());
  REQUIRE(d.isOk());
  return std::move(d).value();
}

// [integrations.stripe] for TestHostOptions::extra_toml; `extra` is appended inside the table.
inline std::string stripeByokToml(const std::string& api_base_url, const std::string& extra = {}) {
  return "[integrations.stripe]\nplugin = \"stripe_byok\"\napi_base_url = \"" + api_base_url +
         "\"\nstripe_version = \"2024-06-20\"\n" + extra;
}

}  // namespace ih::test
