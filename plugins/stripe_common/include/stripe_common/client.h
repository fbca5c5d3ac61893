// A Stripe API (v1) client over the host's outbound HTTP (ih::sdk::Call::http). It never opens sockets
// itself: the host applies timeouts, retries (409/429/5xx, Stripe-Should-Retry), the rate budget and
// metrics. Each POST carries an Idempotency-Key: a stable one from the caller where a repeat must not
// duplicate, otherwise one the host generates (and reuses across its retries).
//
// Ownership: borrows the Call (valid for one handler invocation), so a Client lives inside one handler.
// Not thread-safe (neither is the Call). Failures come back as ih::sdk::Status values (see toStatus).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ih/plugin.hpp"
#include "ih/sdk/form.hpp"

namespace ih::stripe {

using Json = nlohmann::json;
// Request bodies and queries: the SDK's form encoding, with the bracket-nested keys Stripe reads.
using ih::sdk::Form;

struct ClientOptions {
  std::string api_base_url = "https://api.stripe.com";  // no trailing slash needed
  std::string stripe_version = "2024-06-20";            // Stripe-Version header; empty: account default
  int64_t timeout_ms = 0;                               // 0: host default
  // Requests per second of the tenant's rate budget for these calls; 0: the host default (Stripe's
  // documented 25/s test, 100/s live). For accounts whose Stripe limits were raised (and for the double).
  double rate_limit_per_s = 0;
};

// A Stripe error answer mapped to the status API callers see:
//   401 -> unauthenticated "Stripe rejected the API key (<Stripe's message>)"
//   403 -> permission denied, 402 -> provider (card errors, with code/decline_code), 404 -> not found,
//   409/idempotency_error -> conflict, 429 -> rate limited, 5xx -> unavailable "Stripe is unreachable: ...",
//   other 4xx -> provider "Stripe refused the request: ...". Keys in Stripe's messages are masked.
ih::sdk::Status toStatus(int32_t http_status, std::string_view body);

// A stable Idempotency-Key ("ihost-<sha256 hex of the parts>") for a write that must not repeat.
std::string stableIdempotencyKey(std::initializer_list<std::string_view> parts);

class Client {
 public:
  // `account`: optional Stripe-Account header (Connect). The key is only ever sent in Authorization.
  Client(const ih::sdk::Call& call, ClientOptions options, std::string secret_key, std::string account = {});

  // GET <base><path>?<query>. `endpoint` labels metrics (e.g. "/v1/invoices/{id}"); defaults to `path`.
  ih::sdk::Result<Json> get(std::string_view path, const Form& query = {},
                            std::string_view endpoint = {}) const;
  // POST form body. `idempotency_key` empty: the host generates one per logical request.
  ih::sdk::Result<Json> post(std::string_view path, const Form& body, std::string_view idempotency_key = {},
                             std::string_view endpoint = {}) const;
  ih::sdk::Result<Json> del(std::string_view path, std::string_view endpoint = {}) const;

  // Every item of a list endpoint, newest first, following `has_more` with `starting_after=<last id>`.
  // Stops after `max_items` (then the result holds that many). `limit` is set to 100 unless given.
  ih::sdk::Result<std::vector<Json>> listAll(std::string_view path, Form query = {}, size_t max_items = 10000,
                                             std::string_view endpoint = {}) const;

  // The Stripe-Account this client acts on ("" for the key's own account).
  const std::string& account() const { return account_; }

 private:
  ih::sdk::Result<Json> send(std::string method, std::string_view path, const Form& form,
                             std::string_view idempotency_key, std::string_view endpoint) const;

  const ih::sdk::Call& call_;
  const ClientOptions options_;
  const std::string secret_key_;
  const std::string account_;
};

}  // namespace ih::stripe
