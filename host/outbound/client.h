// Outbound HTTP for plugins: the one place that talks to providers. Timeouts, a per-(tenant, provider) rate
// budget, retries with exponential backoff and jitter (network errors, 409, 429, 5xx; `Stripe-Should-Retry`
// and `Retry-After` honoured), an
// `Idempotency-Key` on every POST that stays the same across retries, keep-alive connection reuse, and a
// per-call observer for metrics.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "outbound/rate_budget.h"

namespace ih::outbound {

struct Request {
  std::string method = "GET";
  std::string url;  // http(s)://host[:port]/path?query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int timeout_ms = 30000;
  int max_attempts = 3;         // 1 = no retry
  std::string idempotency_key;  // POST without one gets a generated key
  std::string provider;         // metrics label, e.g. the plugin name
  std::string endpoint;         // metrics label, e.g. "/v1/balance" (defaults to the URL path)
  // Rate budget (rate_budget.h): when set, every attempt first takes a token from this key's bucket (the
  // runtime uses "<tenant>/<provider>"), and a 429 halves the key's rate. 0 = the budget's default rate
  // (Stripe's limits: 100/s for a live key, 25/s otherwise).
  std::string budget_key;
  double rate_limit_per_s = 0;
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
  std::chrono::milliseconds max_retry_after{30000};  // cap on a server-requested Retry-After
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
  explicit Client(RetryPolicy policy = {}, RateBudget::Options budget = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void setObserver(AttemptObserver observer);
  // The budget shared by every request that carries a budget_key. Thread-safe.
  RateBudget& budget();

  // Sends the request, retrying what is retryable. A non-2xx final answer is a successful Result (status
  // set); only transport failures after the last attempt (or a malformed URL) are errors: kInvalidArgument
  // for a bad URL, kUnavailable for connect/timeout failures, with the host and reason in the message.
  Result<Response> send(Request request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether a response should be retried: Stripe-Should-Retry first, then 409, 429 (after backoff; the rate
// budget also shrinks), 5xx.
bool shouldRetry(const Response& response);

}  // namespace ih::outbound
