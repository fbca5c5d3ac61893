// Stripe test double: a real HTTP server speaking Stripe's v1 wire format (form-encoded requests, JSON
// responses, Stripe error shapes, idempotency, lists, events, signed webhooks, Connect OAuth). Used
// in-process by tests, as the `stripe-double` executable, by the demo and by benchmarks. Clients reach it
// only through a configurable API base URL (url()).
//
// Like Stripe (and stripe-mock), every /v1 route and /oauth/token, /oauth/deauthorize refuse parameters the
// endpoint does not document (400 parameter_unknown, `param` = the name, bracketed for sub-keys of hashes the
// double reads) before anything executes, so nothing is stored and no idempotent result is saved. The
// per-route table of documented parameters lives in params.cpp; admin routes (/_double/) are exempt.
//
// State lives in memory behind one mutex; every public method is thread-safe. Admin endpoints under
// /_double/ need no auth (test-only), so the server binds loopback by default.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ih::stripe_double {

struct Options {
  int port = 0;  // 0 = pick a free port (see port())
  std::string host = "127.0.0.1";
  // Secret/restricted keys (sk_test_, sk_live_, rk_test_, rk_live_) of the primary (platform) account.
  std::vector<std::string> api_keys;
  std::string platform_client_id = "ca_ihostdoubleplatform0001";  // Connect client id of the primary account
  std::string oauth_redirect_uri;  // default redirect_uri for platform_client_id ("" = none registered)
  std::string api_version = "2024-06-20";  // account default API version (events, endpoints)
  int webhook_delay_ms = 0;                // wait before the first delivery attempt
  std::vector<int> webhook_retry_delays_ms = {1000, 5000, 25000};  // one entry per retry
  int webhook_timeout_ms = 5000;          // connect/read timeout of one delivery attempt
  int threads = 8;                        // HTTP worker threads
  size_t max_recorded_requests = 100000;  // oldest dropped beyond this
};

// One HTTP request the double received (admin requests included).
struct RecordedRequest {
  std::string method;
  std::string path;
  std::string query;  // raw, without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int status = 0;           // status answered (0 if the connection was dropped)
  int64_t received_at = 0;  // double clock, unix seconds
  // First header with this name (case-insensitive), or "" if absent.
  std::string header(const std::string& name) const;
};

// One webhook delivery attempt.
struct DeliveryRecord {
  std::string event_id;
  std::string event_type;
  std::string endpoint_id;
  std::string url;
  int attempt = 0;  // 1 = first try
  int status = 0;   // HTTP status answered, 0 = connection failure
  bool ok = false;  // 2xx
  std::string error;
  std::string signature_header;
  int64_t attempted_at = 0;
};

enum class FaultKind { kRateLimit, kLockTimeout, kServerError, kSlow, kDrop };

// Makes the next `count` matching requests fail (or be slow). Empty method matches any method.
struct Fault {
  std::string path;
  std::string method;
  int count = 1;
  FaultKind kind = FaultKind::kServerError;
  int delay_ms = 0;            // kSlow: delay before answering normally; others: delay before failing
  int skip = 0;                // let this many matching requests through first ("page N fails": skip N-1)
  std::string query_contains;  // only requests whose raw query contains this text ("" = any)
};

struct SeedOptions {
  std::string account;  // "" = primary account
  int64_t count = 0;
  int64_t start = 0;  // created of the first row (unix s); 0 = now - count * spacing_s
  int64_t spacing_s = 1;
  int64_t amount = 1000;  // gross amount of each synthetic charge, usd cents
};

class StripeDouble {
 public:
  // Binds and starts serving. Fails (kUnavailable) if the port cannot be bound.
  static Result<std::unique_ptr<StripeDouble>> start(Options options);
  ~StripeDouble();  // stops (joins all threads)
  StripeDouble(const StripeDouble&) = delete;
  StripeDouble& operator=(const StripeDouble&) = delete;

  std::string url() const;  // "http://127.0.0.1:<port>"
  int port() const;
  // Stops the server and the webhook worker; idempotent.
  void stop();

  // Id of the primary (platform) account that owns Options::api_keys.
  std::string primaryAccountId() const;
  // Registers a secret key. account_id "" creates a new standalone account; returns the account id.
  // Fails (kInvalidArgument) for a malformed key or an unknown account.
  Result<std::string> addSecretKey(const std::string& key, const std::string& account_id = "");
  // Creates a Standard account connected to `platform_account_id` ("" = primary); returns its id.
  Result<std::string> createConnectedAccount(const std::string& platform_account_id = "");
  // Appends `count` synthetic charges + balance transactions (memory-lean). Returns the number created.
  Result<int64_t> seedBalanceTransactions(const SeedOptions& options);
  // Shifts the double's clock (created timestamps, code expiry, event window) by `seconds` from real time.
  void setClockOffset(int64_t seconds);
  int64_t now() const;  // double clock, unix seconds

  std::vector<RecordedRequest> requests() const;
  void clearRequests();
  std::vector<DeliveryRecord> deliveries() const;
  void addFault(Fault fault);
  void clearFaults();
  // Registers a Connect OAuth client for an account ("" = primary) with its default redirect URI.
  Status registerOAuthClient(const std::string& client_id, const std::string& account_id,
                             const std::string& redirect_uri);

  // Stripe-Signature header value for a payload: "t=<t>,v1=<hex HMAC-SHA256(secret, t.payload)>".
  static std::string signatureHeader(const std::string& secret, int64_t timestamp,
                                     const std::string& payload);

  struct Impl;

 private:
  explicit StripeDouble(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ih::stripe_double
