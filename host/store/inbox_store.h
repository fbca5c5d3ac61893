// The webhook inbox's persistence (migrations/sqlite/0002_inbox.sql, 0007, 0008): received events with their
// exact bytes, the dedupe key UNIQUE(integration_id, tenant_id, event_id), every dispatch attempt, the platform routing
// table (provider account -> tenant) and the out-of-order guard (newest applied occurred_at per object).
//
// Event lifecycle (`status`):
//   pending ──claim──► processing ──ok──► processed            (pruned after retention)
//      ▲                   │ fail, attempts left ──► failed ──due──► processing …
//      │                   └ fail, no attempts left ──► dead      (kept until replayed)
//      └──────────── replay (any state but processing) ◄──────────┘
//   unroutable: a platform event whose account maps to no tenant; kept for the operator, never dispatched
//   (replaying it re-resolves the account and, when now mapped, makes it pending for that tenant).
//
// Threading: every method is thread-safe. Writes go through the single writer (group commit); a blocking
// write returns after ITS transaction committed. Reads use the read pool. Timestamps are unix milliseconds
// except `occurred_at` (the provider's unix seconds, as the plugin reported it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"

namespace ih::store {

class Store;
class Db;

enum class InboxStatus { kPending, kProcessing, kProcessed, kFailed, kDead, kUnroutable };
// "pending" | "processing" | "processed" | "failed" | "dead" | "unroutable".
std::string_view inboxStatusName(InboxStatus status);
std::optional<InboxStatus> parseInboxStatus(std::string_view name);

struct InboxEvent {
  int64_t id = 0;  // assigned by the store
  std::string integration_id;
  std::string tenant_id;  // empty only for unroutable events
  std::string account;    // platform webhooks: the provider account the event came from; else empty
  std::string event_id;   // the provider's id (dedupe key with integration and tenant)
  std::string type;
  std::string object_id;  // empty when the plugin reported none
  int64_t occurred_at = 0;
  std::string payload;              // exact bytes received
  std::string payload_sha256;       // 32 raw bytes
  std::string headers_json = "{}";  // JSON object; Authorization/Cookie never stored
  InboxStatus status = InboxStatus::kPending;
  int attempts = 0;
  int64_t next_attempt_at = 0;
  int64_t received_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> processed_at;
  std::string last_error;  // stored redacted
  int duplicates = 0;      // repeats with the same payload
  int conflicts = 0;       // repeats of the event id with ANOTHER payload (never processed)
  int replays = 0;         // times replayed; with `id`, names one handling (the events it emits are deduped)
};

struct InboxAttempt {
  int64_t event_row = 0;
  int attempt = 0;  // 1-based, restarts at 1 after a replay
  int64_t started_at = 0;
  int64_t duration_ms = 0;
  bool ok = false;
  std::string error;  // redacted; empty when ok
};

enum class IntakeOutcome { kAccepted, kDuplicate, kConflict };
struct IntakeResult {
  IntakeOutcome outcome = IntakeOutcome::kAccepted;
  int64_t id = 0;  // the stored row (the original one for a duplicate or a conflict)
};

struct InboxFilter {
  std::optional<std::string> integration_id;
  std::optional<InboxStatus> status;
  std::optional<std::string> type;
  std::optional<int64_t> since;  // received_at >= since
  int64_t before_id = 0;         // cursor: only rows with id < before_id (0: start at the newest)
  size_t limit = 50;             // capped at 500
};

// An event handed to a worker: the row (attempts already counts this attempt) and the newest occurred_at
// already applied for its object, when known.
struct ClaimedEvent {
  InboxEvent event;
  std::optional<int64_t> applied_occurred_at;
};

// The outcome of one dispatch attempt.
struct AttemptOutcome {
  const InboxEvent* event = nullptr;  // borrowed for the call
  int64_t started_at = 0;
  int64_t duration_ms = 0;
  bool ok = false;
  std::string error;            // redacted by the store
  bool dead = false;            // !ok and no attempts left
  int64_t next_attempt_at = 0;  // !ok && !dead: when to retry
  // The records and events the handling queued without waiting (may be null). When storing one of them
  // failed, an ok attempt is recorded as failed instead: retried at `next_attempt_if_writes_failed`, or dead
  // when that is 0. Queue the outcome after those writes.
  sinks::Deferred writes;
  int64_t next_attempt_if_writes_failed = 0;
};

// Which events a bulk replay selects (CLI `ihost webhooks replay --status dead …`). Unset fields match all.
struct ReplayFilter {
  std::optional<int64_t> id;
  std::vector<InboxStatus> statuses;  // empty: failed and dead
  std::optional<int64_t> since;       // received_at >= since
  std::optional<std::string> integration_id;
  std::optional<std::string> tenant_id;
};

class InboxStore {
 public:
  // `store` is borrowed and must outlive this object.
  explicit InboxStore(Store& store);
  ~InboxStore();
  InboxStore(const InboxStore&) = delete;
  InboxStore& operator=(const InboxStore&) = delete;

  // --- intake ---
  // Stores a new event (status pending or unroutable) in one transaction and returns after it committed.
  // A repeat of (integration_id, tenant_id, event_id) stores nothing new: it counts a duplicate (same
  // payload_sha256) or a conflict (different payload) on the original row.
  Result<IntakeResult> insert(const InboxEvent& event);
  // The same without waiting: `done` runs on the store's writer thread once the outcome is final (after the
  // commit). It must be quick and must not write to the store synchronously.
  using InsertDone = std::function<void(Result<IntakeResult>)>;
  void insertAsync(InboxEvent event, InsertDone done);

  // --- platform routing (admin, cross-tenant) ---
  // Maps a provider account of a platform integration to a tenant (insert or replace).
  Status setRoute(std::string_view integration_id, std::string_view account, std::string_view tenant_id);
  Status deleteRoute(std::string_view integration_id, std::string_view account);  // ok when absent
  // The tenant an account maps to; nullopt when unmapped.
  Result<std::optional<std::string>> routeTenant(std::string_view integration_id, std::string_view account);

  // --- dispatch ---
  // Start-up recovery: events left `processing` by a crash become due again (SQLite: all of them, one process
  // owns the file; PostgreSQL: this replica's own claims and expired ones). Returns how many.
  Result<size_t> recoverInterrupted(int64_t now);
  // Atomically claims up to `limit` due events (pending/failed with next_attempt_at <= now; on PostgreSQL also
  // `processing` ones whose claim expired: their replica died), oldest due first: marks them processing for
  // this replica until now + the claim lease and increments attempts. Replicas claiming at once never get the
  // same event (PostgreSQL: FOR UPDATE SKIP LOCKED).
  Result<std::vector<ClaimedEvent>> claimDue(int64_t now, size_t limit);
  // Gives this replica's claimed but unattempted events back (processing -> pending, attempts - 1), e.g. at
  // shutdown.
  Status releaseClaims(const std::vector<int64_t>& ids);
  // Earliest next_attempt_at of a pending/failed event; nullopt when there is none.
  Result<std::optional<int64_t>> nextDueAt();
  // Records the attempt and moves the event on (processed / failed / dead). On success the object's newest
  // applied occurred_at is raised. `done` runs on the writer thread after the commit.
  void completeAsync(const AttemptOutcome& outcome, std::function<void(const Status&)> done);
  Status complete(const AttemptOutcome& outcome);
  // Several outcomes in one write task (a dispatch worker's batch): all are recorded, or none and `done` gets
  // the failure (the events stay 'processing' until recovered). Thread-safe.
  void completeAllAsync(const std::vector<AttemptOutcome>& outcomes, std::function<void(const Status&)> done);
  // pending + failed + processing.
  Result<int64_t> backlog();
  // received_at (unix ms) of the oldest event never attempted yet (status pending), nullopt when none.
  Result<std::optional<int64_t>> oldestPendingReceivedAt();

  // --- operate ---
  // Newest first. Payload and headers are not loaded (see get).
  Result<std::vector<InboxEvent>> list(std::string_view tenant_id, const InboxFilter& filter);
  Result<std::vector<InboxEvent>> adminList(const InboxFilter& filter);  // admin, cross-tenant
  // kNotFound unless the event belongs to `tenant_id`.
  Result<InboxEvent> get(std::string_view tenant_id, int64_t id);
  Result<InboxEvent> adminGet(int64_t id);                        // admin, cross-tenant
  Result<std::vector<InboxAttempt>> attempts(int64_t event_row);  // by attempt order
  // Makes one event pending again with attempts reset (due now). kNotFound unless it belongs to `tenant_id`;
  // kConflict while it is processing or when an unroutable event's account is still unmapped.
  Status replay(std::string_view tenant_id, int64_t id, int64_t now);
  Status adminReplay(int64_t id, int64_t now);  // admin, cross-tenant
  // Bulk replay (admin, cross-tenant). Returns how many events became pending.
  Result<size_t> replayMatching(const ReplayFilter& filter, int64_t now);
  // Deletes processed events (and their attempts) processed before `processed_before`. Pending, failed,
  // dead and unroutable events are never pruned. Returns how many events were deleted.
  Result<size_t> pruneProcessed(int64_t processed_before);

 private:
  Status replayOne(std::optional<std::string> tenant_id, int64_t id, int64_t now);
  Result<std::vector<InboxEvent>> listImpl(const std::optional<std::string>& tenant_id,
                                           const InboxFilter& filter);
  Result<InboxEvent> getImpl(const std::optional<std::string>& tenant_id, int64_t id);

  Db& db_;    // the inbox's tables (Store::inboxDatabase)
  Db& main_;  // webhook_routes, and the records and events that handlings write
  const std::string replica_;
  const int64_t lease_ms_;
};

}  // namespace ih::store
