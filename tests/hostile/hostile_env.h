// The hostile suite's world: one real ihost (TestHost: the real server on loopback, real SQLite, the real
// plugin .so files through the real loader), the in-process Stripe double, a raw-socket misbehaving upstream,
// two tenants, and a raw HTTP client that sends exactly the bytes a test gives it.
//
// Integrations configured:
//   stripe          stripe_byok    -> the Stripe double
//   rogue           stripe_byok    -> the RawUpstream (timeout_ms 1000)
//   stripe_connect  stripe_connect -> the Stripe double (platform key from the environment)
//   example         example        -> the RawUpstream
//   hooks           webhook_test   (signed tenant and platform webhooks)
//   echo            hostile_echo   (routes that echo what the host sent them; an action that prompts)
//   off             webhook_test, enabled = false
// Every job runs once a day, so no scheduled run talks to a provider while a case runs.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "raw_upstream.h"
#include "stripe_double/stripe_double.h"
#include "support/eventually.h"
#include "support/temp_dir.h"
#include "support/test_host.h"

namespace ih::hostile {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

inline constexpr char kStripeKey[] = "sk_test_ihosthostilesuite00000001";
inline constexpr char kStripePk[] = "pk_test_ihosthostilesuite00000001";
inline constexpr char kStripeWhsec[] = "whsec_hostile_suite_tenant_secret_01";
inline constexpr char kPlatformKey[] = "sk_test_ihosthostileplatform00001";
inline constexpr char kConnectWhsec[] = "whsec_hostile_suite_connect_secret_1";
inline constexpr char kHooksSecret[] = "whsec_hostile_suite_hooks_secret_001";
inline constexpr char kExampleSecret[] = "whsec_hostile_suite_example_secret_1";

// An HTTP answer as read off the socket.
struct Answer {
  int status = 0;  // 0 when no answer could be read (connection reset, timeout)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  json body_json;  // discarded when the body is not JSON
  std::string header(std::string_view name) const;
  std::string text() const;  // "<status> <body (cut)>" for INFO
};

// Sends one request as exact bytes ("Connection: close" and Content-Length are added unless given) and reads
// the answer. `target` is the raw request target (path and query, not re-encoded).
Answer rawRequest(int port, const std::string& method, const std::string& target, const Headers& headers = {},
                  const std::string& body = {}, std::chrono::milliseconds timeout = std::chrono::seconds(60));
// Sends `bytes` as they are and reads whatever answer comes back.
Answer rawBytes(int port, const std::string& bytes,
                std::chrono::milliseconds timeout = std::chrono::seconds(60));

using test::eventually;  // support/eventually.h

std::string repeat(std::string_view unit, size_t times);
// '[' * depth then ']' * depth.
std::string deepArrays(size_t depth);
// {"a": <deepArrays(depth)>}: an object at the top, as most handlers want.
std::string deepObjectBody(size_t depth);

int64_t unixSeconds();

// The decoded value of query parameter `name` in `url` (first occurrence); empty when absent.
std::string queryParam(const std::string& url, const std::string& name);
// `target` with everything up to the path removed ("http://host:port/a?b" -> "/a?b").
std::string targetOf(const std::string& url);

struct Tenant {
  std::string id;
  std::string key;
  Headers auth() const { return {{"Authorization", "Bearer " + key}}; }
};

class Env {
 public:
  Env();
  ~Env();

  test::TestHost& host() { return *host_; }
  stripe_double::StripeDouble& stripe() { return *stripe_; }
  RawUpstream& upstream() { return *upstream_; }
  int port() const { return host_->port(); }
  const std::string& adminToken() const { return host_->adminToken(); }
  Headers admin() const { return {{"Authorization", "Bearer " + adminToken()}}; }

  Tenant a;  // "acme"
  Tenant b;  // "globex"

  // A request as tenant A (or with the given headers).
  Answer get(const std::string& target, const Headers& headers) {
    return rawRequest(port(), "GET", target, headers);
  }
  Answer post(const std::string& target, const Headers& headers, const std::string& body,
              const std::string& content_type = "application/json");
  Answer del(const std::string& target, const Headers& headers) {
    return rawRequest(port(), "DELETE", target, headers);
  }
  Answer send(const std::string& method, const std::string& target, const Headers& headers,
              const std::string& body = {}) {
    return rawRequest(port(), method, target, headers, body);
  }

  // GET /healthz answers 200 {"status":"ok"} on a fresh connection.
  bool healthy();

  // Row counts of every table in the database (SQLite's own left out), read through a separate read-only
  // SQLite connection.
  std::map<std::string, int64_t> rowCounts();
  int64_t count(const std::string& sql);

  // Requests the Stripe double received on /v1/... and /oauth/... (its admin routes left out).
  size_t stripeRequests();

  // Connects tenant `t` to the "stripe" integration with the double's key (REQUIREs 200).
  void connectStripe(const Tenant& t);
  // Connects tenant `t` to "rogue" while the upstream answers normally (REQUIREs 200).
  void connectRogue(const Tenant& t);
  // Connects tenant `t` to "example" while the upstream answers normally (REQUIREs 200).
  void connectExample(const Tenant& t);
  // Stores one webhook event for tenant `t` through /webhooks/hooks/<tenant> (REQUIREs 200) and waits until
  // the inbox has processed it; returns its inbox id as the API shows it.
  int64_t storeHookEvent(const Tenant& t, const std::string& event_id);
  // Upserts one record "customer"/<id> for tenant `t` and integration "stripe" through the real Records.
  void storeRecord(const Tenant& t, const std::string& id);

  // The redirect back to ihost that the double's consent page gives for `authorize_url` (from oauth/start)
  // with `decision` "approve" or "deny": the callback target ("/oauth/stripe_connect/callback?code=…").
  std::string consentRedirect(const std::string& authorize_url, const std::string& decision = "approve");
  // The whole Connect OAuth dance for `authorize_url`; returns the status of ihost's callback (JSON
  // accepted).
  int connectThroughOAuth(const std::string& authorize_url);

  // X-Test-Signature for the hooks integration.
  static std::string hooksSignature(const std::string& body, int64_t t = unixSeconds());

 private:
  test::TempDir plugins_;
  std::unique_ptr<stripe_double::StripeDouble> stripe_;
  std::unique_ptr<RawUpstream> upstream_;
  std::unique_ptr<test::TestHost> host_;
};

// The tables whose row counts differ between two rowCounts() snapshots, "table: before -> after" (for INFO).
std::string rowCountDiff(const std::map<std::string, int64_t>& before,
                         const std::map<std::string, int64_t>& after);

// CHECKs that `answer` is `status` with the error envelope {"error":{"code":<code>,"message":<non-empty>}}.
void checkError(const Answer& answer, int status, const std::string& code);

}  // namespace ih::hostile

// The common ending of every case: the answer, the envelope, and a host that still answers.
#define CHECK_ERROR(answer_expr, expected_status, expected_code)               \
  do {                                                                         \
    const auto& ih_answer_ = (answer_expr);                                    \
    INFO("answer: " << ih_answer_.text());                                     \
    CHECK(ih_answer_.status == (expected_status));                             \
    ::ih::hostile::checkError(ih_answer_, (expected_status), (expected_code)); \
  } while (false)
