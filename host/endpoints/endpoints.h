// Signed outbound webhooks to the tenant's application (Standard Webhooks, https://www.standardwebhooks.com).
//
// A tenant registers endpoints (URL + event type prefixes). Every event stored by events::Events — host and
// plugin events alike — is delivered to each matching, enabled endpoint of its tenant as the event envelope
// JSON, signed with the endpoint's `whsec_` secret:
//   webhook-id: evt_<event id>   (stable across retries and resends)
//   webhook-timestamp: <unix seconds of this attempt>
//   webhook-signature: v1,<base64 HMAC-SHA256(base64decode(secret without "whsec_"), "<id>.<ts>.<body>")>
//                      (two space-separated signatures for 24 h after a rotation)
//
// Durability: a fan-out thread turns events after a persisted cursor into rows of a delivery table (so emit()
// is never slowed and nothing is missed across restarts); worker threads claim due rows, send them with the
// outbound client (one HTTP attempt each) and follow Options::retry_schedule. start() puts rows a crash left
// claimed back to pending. An endpoint whose deliveries keep failing is disabled and the tenant receives the
// host event `endpoint.disabled`. Docs: docs/events.md "Outbound webhooks".
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "common/status.h"

namespace ih::events {
class Events;
}
namespace ih::http {
class Server;
}
namespace ih::outbound {
class Client;
class NetworkPolicy;
}  // namespace ih::outbound
namespace ih::store {
class Store;
class EndpointStore;
}  // namespace ih::store
namespace ih::vault {
class Vault;
}
namespace ih::tenancy {
class Tenancy;
}

namespace ih::vault {
class Vault;
}

namespace ih::endpoints {

struct Options {
  // Delay before retry k (after failed attempt k): a delivery gets retry_schedule.size() + 1 attempts.
  std::vector<std::chrono::milliseconds> retry_schedule = {std::chrono::seconds(5),  std::chrono::minutes(5),
                                                           std::chrono::minutes(30), std::chrono::hours(2),
                                                           std::chrono::hours(5),    std::chrono::hours(10)};
  double jitter = 0.1;  // each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
  std::chrono::milliseconds request_timeout{15000};
  // Disable an endpoint when every attempt of this many consecutive events failed (0 = never) ...
  int disable_after_failed_events = 10;
  // ... or when its deliveries have failed without a success for longer than this (0 = never).
  std::chrono::milliseconds disable_after_failing_for = std::chrono::hours(24 * 5);
  // How long the previous secret keeps signing after rotate_secret.
  std::chrono::milliseconds previous_secret_ttl = std::chrono::hours(24);
  int workers = 4;  // concurrent deliveries; 0 = no delivery (API only)
  // Longest sleep of the fan-out and delivery threads before they look at the store again.
  std::chrono::milliseconds poll_interval{250};
  size_t fanout_batch = 500;      // events turned into deliveries per transaction
  size_t response_snippet = 512;  // bytes of the receiver's answer kept in the attempt log (redacted)
  // Succeeded and failed deliveries and attempts older than this are deleted (0 = never); pending ones are
  // never pruned. Checked every prune_every by the fan-out thread.
  std::chrono::milliseconds retention = std::chrono::hours(24 * 30);
  std::chrono::milliseconds prune_every = std::chrono::hours(1);
};

// Thread-safe. Destroy before the Store, Events and Client it borrows, and after the HTTP server serving its
// routes.
class Endpoints {
 public:
  // Borrowed collaborators must outlive this object. Starts nothing. Signing secrets are stored sealed by
  // `vault` (AES-256-GCM bound to tenant and endpoint id), never in plaintext.
  Endpoints(store::Store& store, events::Events& events, outbound::Client& client, vault::Vault& vault,
            Options options = {});
  ~Endpoints();  // stop()
  Endpoints(const Endpoints&) = delete;
  Endpoints& operator=(const Endpoints&) = delete;

  // Puts deliveries left `sending` by a crash back to pending, starts the fan-out thread and the workers.
  // Call once.
  Status start();
  // Stops claiming; in-flight HTTP attempts finish (bounded by request_timeout) and are recorded. Idempotent.
  void stop();
  // Wakes the fan-out and delivery threads now (new event, resend, recover) instead of at the next poll.
  void wake();

  const Options& options() const;
  // Where endpoint URLs may point (the outbound client's policy); checked again at every delivery.
  const outbound::NetworkPolicy& networkPolicy() const;
  // The stored form of a signing secret ("sealed:v1:<key id>:<base64 nonce+ciphertext>") and back.
  Result<std::string> sealSecret(std::string_view tenant_id, std::string_view endpoint_id,
                                 std::string_view secret);
  Result<std::string> openSecret(std::string_view tenant_id, std::string_view endpoint_id,
                                 std::string_view stored);
  store::EndpointStore& endpointStore();
  events::Events& events();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Vault key rotation of every tenant's signing secrets, current and previous (`ihost vault rotate`, run with
// the server up or down): each secret not under the newest key is re-encrypted under it, swapped only if
// unchanged meanwhile. The counts are of secrets.
struct ResealCount {
  size_t resealed = 0;  // now under the newest key
  size_t changed = 0;   // rewritten by someone else during the pass (a rotate_secret)
  size_t failed = 0;    // could not be decrypted (its key is gone, or the text is not a sealed secret)
};
Result<ResealCount> resealSigningSecrets(store::Store& store, vault::Vault& vault);
// A stored signing secret ("sealed:v1:<key id>:<base64>") opened: the "whsec_..." text.
Result<std::string> openSigningSecret(vault::Vault& vault, std::string_view tenant_id,
                                      std::string_view endpoint_id, std::string_view stored);
// How many signing secrets key `key_id` encrypts (`ihost vault status`, and remove-key's refusal).
Result<size_t> countSigningSecretsByKey(store::Store& store, std::string_view key_id);

// Tenant API (scope "read" for GET, "write" otherwise; another tenant's endpoint is 404):
//   POST   /api/endpoints                       {url, event_types, description?} → 201, secret shown once
//   GET    /api/endpoints                       → {"object":"list","data":[endpoint...]} (secrets masked)
//   GET    /api/endpoints/{id}
//   PATCH  /api/endpoints/{id}                  {url?, event_types?, description?, disabled?}
//   DELETE /api/endpoints/{id}                  → 204
//   POST   /api/endpoints/{id}/rotate_secret    → new secret shown once; the old one signs beside it 24 h
//   POST   /api/endpoints/{id}/messages/{event_id}/resend   → 202
//   POST   /api/endpoints/{id}/recover          {"since":"<ISO 8601>"} → 202 {"requeued": n}
//   GET    /api/endpoints/{id}/attempts?cursor=&limit=      newest first
// Borrowed references must outlive the server.
void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Endpoints& endpoints);

}  // namespace ih::endpoints
