// Outbound webhook endpoints of tenants, their durable delivery queue and attempt log
// (migrations/sqlite/0004_endpoints.sql, store/endpoint_store.cpp). Used by host/endpoints.
//
// Contract (as for Store): thread-safe; tenant-scoped by the FIRST parameter unless marked "admin,
// cross-tenant" (the delivery worker's methods); failures are values (kNotFound for an unknown or another
// tenant's endpoint). No SQLite type in this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ih::store {

class Store;

struct EndpointRow {
  std::string id;  // "ep_…"
  std::string tenant_id;
  std::string url;
  std::string description;
  std::vector<std::string> event_types;  // prefixes, or "*"
  std::string secret;                    // "whsec_…" (current signing secret)
  std::string previous_secret;           // empty when none; still signs until previous_secret_expires_at
  int64_t previous_secret_expires_at = 0;
  bool disabled = false;
  std::string disabled_reason;  // empty when enabled
  int consecutive_failed_events = 0;
  int64_t failing_since = 0;  // first failed attempt since the last success; 0 when not failing
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// PATCH: only the fields set change. Enabling clears the failure counters and the reason.
struct EndpointUpdate {
  std::optional<std::string> url;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> event_types;
  std::optional<bool> disabled;
};

struct DeliveryRow {
  int64_t id = 0;
  std::string tenant_id;
  std::string endpoint_id;
  int64_t event_id = 0;
  std::string status;  // pending | sending | succeeded | failed
  int attempts = 0;
  int64_t next_attempt_at = 0;
  int64_t created_at = 0;
};

struct AttemptRow {
  int64_t id = 0;
  std::string tenant_id;
  std::string endpoint_id;
  int64_t delivery_id = 0;
  int64_t event_id = 0;
  int attempt = 0;      // 1-based, per delivery
  int64_t at = 0;       // start of the attempt, unix ms
  int http_status = 0;  // 0 = no response (transport failure)
  int64_t duration_ms = 0;
  bool succeeded = false;
  std::string response;  // redacted snippet of the response body, or the transport error
};

// A delivery claimed for sending (status `sending`), with what is needed to sign and send it.
struct ClaimedDelivery {
  DeliveryRow delivery;
  EndpointRow endpoint;
  int64_t event_occurred_at = 0;
  std::string event_integration_id;
  std::string event_type;
  std::string event_data_json;
};

// Outcome of one delivery attempt to an endpoint, written by recordAttempt (the inbox's AttemptOutcome is
// another type: one name for both broke the one-definition rule).
struct DeliveryOutcome {
  AttemptRow attempt;
  std::optional<int64_t> retry_at;  // failed: when to try again; nullopt = retries exhausted
};

// When an endpoint gets disabled after failures.
struct DisablePolicy {
  int max_consecutive_failed_events = 10;           // 0 = never by count
  int64_t max_failing_ms = 5LL * 24 * 3600 * 1000;  // 0 = never by duration
};

class EndpointStore {
 public:
  // `store` is borrowed and must outlive this object.
  explicit EndpointStore(Store& store);
  EndpointStore(const EndpointStore&) = delete;
  EndpointStore& operator=(const EndpointStore&) = delete;

  // --- vault rotation (every tenant): the sealed signing secrets, current and previous ---
  // A stored sealed secret: `column` is "secret" or "previous_secret"; `value` its text ("sealed:v1:...").
  struct SealedSecret {
    std::string tenant_id;
    std::string endpoint_id;
    std::string column;
    std::string value;
  };
  // Non-empty secrets whose text does not start with `sealed_prefix` (the newest key's "sealed:v1:<id>:").
  Result<std::vector<SealedSecret>> listSecretsNotStartingWith(std::string_view sealed_prefix, size_t limit);
  // Secrets whose text starts with `sealed_prefix`.
  Result<size_t> countSecretsStartingWith(std::string_view sealed_prefix);
  // Sets the secret to `new_value` if it still holds `old.value` (compare-and-swap); false when it changed.
  Result<bool> replaceSecretIfUnchanged(const SealedSecret& old, std::string_view new_value);

  // --- endpoints (tenant API) ---
  // Inserts `row` (id, url, secret... set by the caller). The endpoint only receives events stored after this
  // call. kAlreadyExists when the id is taken.
  Status create(std::string_view tenant_id, const EndpointRow& row);
  Result<std::vector<EndpointRow>> list(std::string_view tenant_id);  // oldest first
  Result<EndpointRow> get(std::string_view tenant_id, std::string_view endpoint_id);
  Result<EndpointRow> update(std::string_view tenant_id, std::string_view endpoint_id,
                             const EndpointUpdate& update);
  // Deletes the endpoint with its deliveries and attempts.
  Status remove(std::string_view tenant_id, std::string_view endpoint_id);
  // Makes `new_secret` current; the old one signs beside it until `previous_expires_at`.
  Result<EndpointRow> rotateSecret(std::string_view tenant_id, std::string_view endpoint_id,
                                   std::string_view new_secret, int64_t previous_expires_at);

  // --- manual redelivery ---
  // Queues a new delivery of the tenant's event `event_id` to the endpoint, due now. kNotFound for an unknown
  // event or endpoint; kFailedPrecondition when the endpoint is disabled.
  Result<DeliveryRow> resend(std::string_view tenant_id, std::string_view endpoint_id, int64_t event_id);
  // Makes every `failed` delivery of the endpoint created at or after `since` (unix ms) pending again with a
  // fresh retry budget. Returns how many. kFailedPrecondition when the endpoint is disabled.
  Result<size_t> recover(std::string_view tenant_id, std::string_view endpoint_id, int64_t since);
  // Attempts newest first, with id < before_id (0 = from the newest), at most `limit`.
  Result<std::vector<AttemptRow>> listAttempts(std::string_view tenant_id, std::string_view endpoint_id,
                                               int64_t before_id, size_t limit);
  Result<std::vector<DeliveryRow>> listDeliveries(std::string_view tenant_id, std::string_view endpoint_id);

  // --- delivery worker (admin, cross-tenant) ---
  // True when events were stored after the fan-out cursor.
  Result<bool> hasUnfannedEvents();
  // For at most `limit` events after the fan-out cursor (all tenants, id order): one pending delivery per
  // enabled endpoint of the event's tenant whose event_types match; then advances the cursor. One
  // transaction. Returns how many events were consumed.
  Result<size_t> fanOut(size_t limit, int64_t now);
  // Claims the earliest due pending delivery (status → sending, for this replica until now + the claim lease;
  // PostgreSQL: also a `sending` one whose claim expired, and never one another replica is claiming). nullopt
  // when none is due. Deliveries whose endpoint is disabled or whose event was purged are marked failed on
  // the way.
  Result<std::optional<ClaimedDelivery>> claimDue(int64_t now);
  // Logs the attempt and moves the delivery on (succeeded, pending at retry_at, or failed); keeps the
  // endpoint's failure counters and disables it per `policy`. Returns the disable reason when THIS call
  // disabled the endpoint (empty otherwise).
  Result<std::string> recordAttempt(const DeliveryOutcome& outcome, const DisablePolicy& policy);
  // Puts deliveries left `sending` by a crash or stop back to pending (PostgreSQL: this replica's and expired
  // claims only). Returns how many.
  Result<size_t> releaseClaims();
  // Retention (cross-tenant): deletes attempts made before `before` (unix ms) and succeeded/failed deliveries
  // last updated before it. Pending and claimed deliveries are kept. Returns the rows deleted.
  Result<size_t> purgeFinishedBefore(int64_t before);

 private:
  Store& store_;
};

// Whether an event type matches an endpoint's filter ("*" or a prefix of the type).
bool endpointMatches(const std::vector<std::string>& event_types, std::string_view type);

}  // namespace ih::store
