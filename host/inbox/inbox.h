// The webhook inbox: durable intake, dedupe, asynchronous dispatch with retries and a dead letter, replay.
//
//   POST /webhooks/{integration}/{tenant}   tenant endpoint (manifest webhooks.tenant); {tenant} is a tenant
//   ID POST /webhooks/{integration}            platform endpoint (manifest webhooks.platform); the tenant
//   comes from
//                                           the plugin's verify result: "tenant", else "account" mapped
//                                           through the webhook_routes table (unknown account: 200, stored
//                                           unroutable)
// Intake order: body-size limit (server) → plugin verify_webhook on the exact bytes → ONE transaction (raw
// body, headers minus Authorization/Cookie, dedupe key, sha256) → 200 only after that commit. The writer
// group-commits concurrent intakes. A worker pool then claims due events and calls handle_webhook; failures
// retry per the schedule (±jitter) and end `dead`. State lives in SQLite: a restart resumes where it stopped.
//
// Operator/tenant API (registerRoutes): GET /api/webhooks[/{id}], POST /api/webhooks/{id}/replay (tenant
// scoped), the same under /api/admin/webhooks (cross-tenant), PUT/DELETE
// /api/admin/webhooks/routes/{integration}/ {account} (platform routing). GET /metrics is app/metrics_routes.h.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"
#include "store/inbox_store.h"

namespace ih::config {
struct InboxConfig;
}
namespace ih::http {
class Server;
}
namespace ih::runtime {
class Runtime;
}
namespace ih::store {
class Store;
}
namespace ih::tenancy {
class Tenancy;
}

namespace ih::inbox {

struct Options {
  // Delay before retry k (after failed attempt k); an event gets retry_schedule.size() + 1 attempts, then
  // dead.
  std::vector<std::chrono::milliseconds> retry_schedule = {
      std::chrono::seconds(10), std::chrono::seconds(60), std::chrono::seconds(300),
      std::chrono::seconds(1800), std::chrono::seconds(7200)};
  double jitter = 0.2;  // each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter]
  int workers = 4;      // dispatch threads; 0 = intake only (nothing is dispatched)
  // Events a worker claims per transaction. Each claim waits for a commit, so under heavy intake (big commits)
  // small claims left dispatch behind: 16 processed ~2,000/s while 512 connections delivered 10,000/s.
  size_t claim_batch = 128;
  int retention_days = 30;  // processed events older than this are pruned
  std::chrono::milliseconds prune_every = std::chrono::hours(1);
  // Longest idle sleep of a worker: picks up events made due by another process (the CLI's replay).
  std::chrono::milliseconds idle_poll = std::chrono::seconds(1);
};

// [inbox] of the config as Options.
Options optionsFrom(const config::InboxConfig& config);

class Inbox final : public sinks::InboxSink {
 public:
  // Borrowed collaborators must outlive the Inbox. Integrations must all be added to `runtime` already (the
  // metrics handles are made per integration here). Starts nothing.
  Inbox(store::Store& store, runtime::Runtime& runtime, Options options);
  ~Inbox();  // stop()
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Registers the intake and the /api routes on `server` (before server.start()). `tenancy` is borrowed.
  void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy);

  // Recovers events a crash left `processing`, starts the workers and the maintenance thread (backlog gauge,
  // retention). Call once.
  Status start();
  // Stops claiming, lets in-flight handler calls finish (the rest of a claimed batch goes back to pending),
  // joins. Call BEFORE Runtime::shutdown. Idempotent.
  void stop();

  // Wakes an idle worker (intake and replay do it).
  void wake();

  // sinks::InboxSink (sink.cpp): events fed by reconcile jobs, and platform account routing for plugins.
  Result<bool> ingest(std::string_view integration_id, std::string_view tenant_id, std::string_view meta_json,
                      std::string_view body) override;
  Status bindAccount(std::string_view integration_id, std::string_view account, std::string_view tenant_id,
                     bool bind) override;

  // The routing table and event store (e.g. for the Stripe Connect plugin's account mapping). Thread-safe.
  store::InboxStore& events();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Bulk or single replay for the CLI (`ihost webhooks replay --id ID | --status dead [--since T]
// [--integration X] [--tenant T]`): with `filter.id` set and no statuses, replays that one event whatever its
// state (except processing); otherwise every event matching the filter (statuses default to failed + dead).
// A running server picks the events up within Options::idle_poll. Returns how many became pending.
Result<size_t> replay(store::Store& store, const store::ReplayFilter& filter);

}  // namespace ih::inbox
