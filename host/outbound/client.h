// Outbound HTTP for plugins and for the tenants' webhook endpoints: the one place that talks to the outside.
//  - Bounded: one attempt has a total deadline (connect, TLS, request, every response byte), the whole send()
//    another (retries and their waits included); response headers and bodies are capped; nothing a server
//    sends can make it wait or allocate without limit. Redirects are not followed; nothing is decompressed.
//  - Safe addresses: every address a name resolves to is checked against the NetworkPolicy and the client
//    connects only to an address it checked (no DNS rebinding window); private, loopback, link-local and
//    metadata addresses are refused unless the operator allowed them.
//  - Provider etiquette: retries with exponential backoff and jitter (network errors, 409, 429, 5xx),
//    `Stripe-Should-Retry` and `Retry-After` honoured (capped), an `Idempotency-Key` on every POST that stays
//    the same across retries, a per-(tenant, provider) rate budget, keep-alive connection reuse, metrics.
// Boost.Beast on Boost.Asio (with OpenSSL for https); none of it appears in this header.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "outbound/network_policy.h"
#include "outbound/rate_budget.h"

namespace ih::outbound {

struct Request {
  std::string method = "GET";
  std::string url;  // http(s)://host[:port]/path?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int timeout_ms = 30000;       // total deadline of ONE attempt (connect … last byte of the answer)
  int max_attempts = 3;         // 1 = no retry
  std::string idempotency_key;  // POST without one gets a generated key
  std::string provider;         // metrics label, e.g. the plugin name
  std::string endpoint;         // metrics label, e.g. "/v1/balance" (defaults to the URL path)
  // Rate budget (rate_budget.h): when set, every attempt first takes a token from this key's bucket (the
  // runtime uses "<tenant>/<provider>"), and a 429 halves the key's rate. 0 = the budget's default rate
  // (Stripe's limits: 100/s for a live key, 25/s otherwise).
  std::string budget_key;
  double rate_limit_per_s = 0;
  // The deadline of the plugin call making this request (steady clock; the epoch = none): no attempt, retry
  // wait or read goes past it, and a request cut by it fails with kDeadlineExceeded.
  std::chrono::steady_clock::time_point call_deadline{};
};

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int attempts = 0;
  std::string idempotency_key;  // the key sent, when any
  std::string header(std::string_view name) const;
};

// Retry timing. Defaults follow the Stripe SDKs: 0.5 s doubled per try, capped at 5 s, 50-100 % jitter.
struct RetryPolicy {
  std::chrono::milliseconds initial_delay{500};
  std::chrono::milliseconds max_delay{5000};
  std::chrono::milliseconds max_retry_after{30000};  // a longer Retry-After is ignored (backoff instead)
};

struct ClientOptions {
  RetryPolicy retry;
  RateBudget::Options budget;
  NetworkPolicy network;  // default: public addresses only
  // Largest response body kept; a larger one fails the attempt ("answer larger than …"), never retried.
  size_t max_response_bytes = 16 * 1024 * 1024;
  size_t max_header_bytes = 64 * 1024;  // status line and headers together
  // Bound on one send(): every attempt, retry wait and rate-budget wait together.
  std::chrono::milliseconds deadline{120000};
  // PEM file of extra trust anchors for https (beside the system's); empty = the system's only.
  std::string ca_file;
  size_t max_idle_per_origin = 16;
};

// One finished attempt, for metrics and logs.
struct AttemptInfo {
  std::string provider;
  std::string endpoint;
  std::string method;
  int status;  // 0 = transport failure
  double seconds;
  int attempt;
};
using AttemptObserver = std::function<void(const AttemptInfo&)>;

// Thread-safe. Connections to one origin are pooled and reused.
class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void setObserver(AttemptObserver observer);
  // The budget shared by every request that carries a budget_key. Thread-safe.
  RateBudget& budget();
  const ClientOptions& options() const;

  // Sends the request, retrying what is retryable. A non-2xx final answer is a successful Result (status
  // set); errors are: kInvalidArgument for a malformed URL or request, kPermissionDenied when the host's
  // addresses are not allowed by the policy, kUnavailable when the server could not be reached or did not
  // answer within the deadline, kProvider when it answered something that is not acceptable HTTP (malformed,
  // headers or body over the caps). Messages name the host and the reason, never a header value.
  Result<Response> send(Request request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether a response should be retried: Stripe-Should-Retry first, then 409, 429 (after backoff; the rate
// budget also shrinks), 5xx.
bool shouldRetry(const Response& response);

// The delay a `Retry-After` header value asks for, when it is a whole number of seconds (the form Stripe
// and most APIs send; an HTTP-date is ignored) no longer than `cap`. nullopt when absent, not a number or
// longer than the cap (the caller then uses its normal backoff, as the Stripe SDKs do).
std::optional<std::chrono::milliseconds> retryAfter(std::string_view value, std::chrono::milliseconds cap);

// Checks `url` before it is stored (e.g. a tenant's endpoint URL): scheme, host, port, no credentials, and
// every address the host resolves to now allowed by `policy`. The same check runs again at every connect.
Status checkUrl(std::string_view url, const NetworkPolicy& policy);

}  // namespace ih::outbound
