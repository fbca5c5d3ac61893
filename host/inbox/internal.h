// Private to host/inbox: the Inbox's state shared by intake.cpp (POST /webhooks/…), inbox.cpp (workers,
// maintenance) and operate.cpp (the /api routes).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "http/server.h"
#include "inbox/inbox.h"
#include "metrics/metrics.h"
#include "store/inbox_store.h"

namespace ih::inbox {

// Values of the `result` label of ihost_webhooks_received_total.
enum class Received { kAccepted, kDuplicate, kConflict, kInvalidSignature, kUnroutable, kNotFound, kCount };

// Metric handles of one integration (label "unknown" for paths naming no configured integration).
struct IntegrationMetrics {
  std::array<metrics::Counter*, static_cast<size_t>(Received::kCount)> received{};
  metrics::Histogram* dispatch_seconds = nullptr;
  metrics::Counter* dead = nullptr;
};

struct Inbox::Impl {
  Impl(store::Store& s, runtime::Runtime& r, Options o);

  store::Store& store;
  runtime::Runtime& runtime;
  const Options options;
  store::InboxStore events;

  // Built once in the constructor, read-only afterwards.
  std::map<std::string, IntegrationMetrics, std::less<>> metrics_by_integration;
  IntegrationMetrics unknown_metrics;
  metrics::Gauge* backlog = nullptr;
  metrics::Gauge* oldest_pending_age = nullptr;
  const IntegrationMetrics& metricsFor(std::string_view integration) const;

  // Tenant ids known to exist (tenants are never deleted), to spare a read per intake.
  std::shared_mutex tenants_mu;
  std::unordered_set<std::string> known_tenants;  // GUARDED_BY(tenants_mu)
  bool tenantExists(const std::string& tenant_id);

  // Intake (intake.cpp).
  // Runs on a network thread: verify (the plugin's verify_webhook, CPU only) and the routing lookups, then
  // the store's writer answers after the group commit.
  void intake(const http::Request& req, const http::Respond& respond, bool platform);
  // The checks before storing; nullopt when `res` holds the error answer.
  std::optional<store::InboxEvent> verifyIntake(const http::Request& req, http::Response& res, bool platform);

  // Dispatch (inbox.cpp).
  std::mutex wake_mu;
  std::condition_variable wake_cv;
  uint64_t wake_generation = 0;  // GUARDED_BY(wake_mu)
  bool stopping = false;         // GUARDED_BY(wake_mu)
  std::atomic<bool> stop_flag{false};
  // Attempt outcomes queued on the store's writer whose completion (it wakes the workers) has not run yet;
  // stop() waits for 0 so no completion outlives this object.
  std::atomic<int> completions_pending{0};
  std::vector<std::thread> workers;
  std::thread maintenance;
  bool started = false;
  void wake();
  void workerLoop();
  void maintenanceLoop();
  // Runs the plugin's handle_webhook for one claimed event; the outcome (borrowing `claimed`) is recorded by
  // the caller, batched with its neighbours (one store write per batch instead of one per event).
  store::AttemptOutcome dispatch(store::ClaimedEvent& claimed,
                                 std::map<std::string, int64_t>& applied_in_batch);
  // A handling that succeeded with deferred writes, kept until its outcome is recorded.
  struct HandledWrites {
    int64_t row = 0;
    std::string integration_id, tenant_id, event_id;
    sinks::Deferred writes;
    bool dead = false;  // no attempt left if the writes failed
  };
  // After the outcomes were recorded: counts and logs the handlings whose writes failed (recorded failed).
  void reportFailedWrites(const std::vector<HandledWrites>& handled);
};

}  // namespace ih::inbox
