// The inbox's dispatch side: worker pool, retries with jitter, dead letter, maintenance (backlog, retention).
#include "inbox/inbox.h"
#include "common/clock.h"
#include "common/sinks.h"
#include "common/time_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <random>

#include "config/config.h"
#include "inbox/internal.h"
#include "log/guard.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace ih::inbox {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(Received::kCount)> kReceivedNames = {
    "accepted", "duplicate", "conflict", "invalid_signature", "unroutable", "not_found"};

IntegrationMetrics makeMetrics(const std::string& integration) {
  auto& r = metrics::registry();
  IntegrationMetrics m;
  for (size_t i = 0; i < kReceivedNames.size(); ++i) {
    m.received[i] = &r.counter("ihost_webhooks_received_total", "Webhook deliveries received, by outcome.",
                               {{"integration", integration}, {"result", std::string(kReceivedNames[i])}});
  }
  m.dispatch_seconds =
      &r.histogram("ihost_webhook_dispatch_duration_seconds",
                   "Time spent in the plugin's handle_webhook per attempt.", {{"integration", integration}});
  m.dead =
      &r.counter("ihost_webhooks_dead_total", "Webhook events that exhausted their retries (dead letter).",
                 {{"integration", integration}});
  return m;
}

int64_t jittered(std::chrono::milliseconds delay, double jitter) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(1.0 - jitter, 1.0 + jitter);
  return static_cast<int64_t>(static_cast<double>(delay.count()) * (jitter > 0 ? factor(rng) : 1.0));
}

}  // namespace

Options optionsFrom(const config::InboxConfig& config) {
  Options o;
  o.retry_schedule.clear();
  for (int s : config.retry_schedule_s)
    o.retry_schedule.emplace_back(std::chrono::seconds(s));
  o.workers = config.workers;
  o.claim_batch = static_cast<size_t>(config.claim_batch);
  o.retention_days = config.retention_days;
  return o;
}

Inbox::Impl::Impl(store::Store& s, runtime::Runtime& r, Options o)
    : store(s), runtime(r), options(std::move(o)), events(s) {
  for (runtime::Integration* integration : runtime.integrations()) {
    metrics_by_integration.emplace(integration->id(), makeMetrics(integration->id()));
  }
  // Also those configured but not running yet: a hot reload may start them (the map is read without a lock).
  for (const runtime::UnavailableIntegration& u : runtime.unavailable()) {
    if (!metrics_by_integration.count(u.id)) metrics_by_integration.emplace(u.id, makeMetrics(u.id));
  }
  unknown_metrics = makeMetrics("unknown");
  backlog = &metrics::registry().gauge(
      "ihost_webhooks_backlog", "Webhook events waiting for dispatch (pending, failed or processing).");
  oldest_pending_age = &metrics::registry().gauge("ihost_webhooks_oldest_pending_age_seconds",
                                                  "Age of the oldest webhook event not attempted yet (0 when "
                                                  "none): how far dispatch lags behind intake.");
}

const IntegrationMetrics& Inbox::Impl::metricsFor(std::string_view integration) const {
  auto it = metrics_by_integration.find(integration);
  return it == metrics_by_integration.end() ? unknown_metrics : it->second;
}

bool Inbox::Impl::tenantExists(const std::string& tenant_id) {
  {
    std::shared_lock lock(tenants_mu);
    if (known_tenants.count(tenant_id)) return true;
  }
  if (tenant_id.empty() || tenant_id.size() > 128) return false;
  auto tenant = store.getTenant(tenant_id);
  if (!tenant.isOk()) return false;
  std::unique_lock lock(tenants_mu);
  known_tenants.insert(tenant_id);
  return true;
}

void Inbox::Impl::wake() {
  {
    std::lock_guard lock(wake_mu);
    ++wake_generation;
  }
  wake_cv.notify_one();
}

void Inbox::Impl::workerLoop() {
  std::map<std::string, int64_t> applied_in_batch;
  while (!stop_flag.load()) {
    uint64_t seen;
    {
      std::lock_guard lock(wake_mu);
      seen = wake_generation;
    }
    auto claimed = events.claimDue(nowMs(), options.claim_batch);
    if (!claimed.isOk()) {
      log::error("webhook inbox: claiming due events failed", {{"error", claimed.status().toString()}});
      std::unique_lock lock(wake_mu);
      wake_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; });
      continue;
    }
    if (claimed->empty()) {
      auto deadline = std::chrono::system_clock::now() + options.idle_poll;
      auto due = events.nextDueAt();
      if (due.isOk() && due->has_value()) {
        auto due_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(**due));
        // Already due but not claimable: held back behind an in-flight event of the same object (or taken
        // by another worker). The completion of an attempt wakes the workers; no need to poll.
        if (due_at > std::chrono::system_clock::now()) deadline = std::min(deadline, due_at);
      }
      std::unique_lock lock(wake_mu);
      wake_cv.wait_until(lock, deadline, [&] { return stopping || wake_generation != seen; });
      continue;
    }
    applied_in_batch.clear();
    std::vector<int64_t> released;
    // Outcomes are recorded in one write per batch, or sooner when handlers are slow (an event should not
    // stay 'processing' long after it was handled).
    std::vector<store::AttemptOutcome> outcomes;
    auto first_pending = std::chrono::steady_clock::now();
    auto flush = [&] {
      if (outcomes.empty()) return;
      completions_pending.fetch_add(1);
      // The outcomes go after the handlings' deferred writes (queued while the plugin ran): one write task,
      // committed with them or after them.
      auto handled = std::make_shared<std::vector<HandledWrites>>();
      for (const store::AttemptOutcome& o : outcomes) {
        if (o.ok && o.writes) {
          handled->push_back({o.event->id, o.event->integration_id, o.event->tenant_id, o.event->event_id,
                              o.writes, o.next_attempt_if_writes_failed == 0});
        }
      }
      events.completeAllAsync(outcomes, [this, count = outcomes.size(), handled](const Status& s) {
        if (!s.isOk()) {
          log::error("webhook inbox: recording attempts failed",
                     {{"count", static_cast<uint64_t>(count)}, {"error", s.toString()}});
        } else {
          reportFailedWrites(*handled);
        }
        // After the commit: events held back behind these (same object) are claimable now, and a retry
        // may need a worker to shorten its sleep to the new due time.
        wake();
        completions_pending.fetch_sub(1);  // last touch of this object
      });
      outcomes.clear();
    };
    for (store::ClaimedEvent& c : *claimed) {
      if (stop_flag.load()) {
        released.push_back(c.event.id);
        continue;
      }
      if (outcomes.empty()) first_pending = std::chrono::steady_clock::now();
      outcomes.push_back(dispatch(c, applied_in_batch));
      if (std::chrono::steady_clock::now() - first_pending >= std::chrono::milliseconds(20)) flush();
    }
    flush();
    if (!released.empty()) {
      // Not attempted because of shutdown: hand them back without counting an attempt.
      Status s = events.releaseClaims(released);
      if (!s.isOk()) log::warn("webhook inbox: releasing claims failed", {{"error", s.toString()}});
    }
  }
}

store::AttemptOutcome Inbox::Impl::dispatch(store::ClaimedEvent& claimed,
                                            std::map<std::string, int64_t>& applied_in_batch) {
  store::InboxEvent& e = claimed.event;
  const IntegrationMetrics& m = metricsFor(e.integration_id);
  std::optional<int64_t> applied = claimed.applied_occurred_at;
  std::string object_key;
  if (!e.object_id.empty()) {
    object_key = e.tenant_id + '\n' + e.integration_id + '\n' + e.object_id;
    auto it = applied_in_batch.find(object_key);
    if (it != applied_in_batch.end()) applied = std::max(applied.value_or(it->second), it->second);
  }
  const bool stale = applied && e.occurred_at < *applied;
  nlohmann::json event_json = {{"id", e.id},
                               {"event_id", e.event_id},
                               {"type", e.type},
                               {"attempt", e.attempts},
                               {"received_at", e.received_at / 1000},
                               {"tenant", e.tenant_id},
                               {"occurred_at", e.occurred_at},
                               {"stale", stale}};
  if (!e.object_id.empty()) event_json["object_id"] = e.object_id;

  const int64_t started = nowMs();
  auto t0 = std::chrono::steady_clock::now();
  Status result;
  sinks::Deferred writes;
  runtime::Integration* integration = runtime.find(e.integration_id);
  if (integration == nullptr) {
    result = Status::unavailable("integration \"" + e.integration_id + "\" is not configured or unavailable");
  } else {
    // The events this handling emits are keyed by the row and its replay count: a handling interrupted by a
    // crash and run again re-emits nothing, a replay emits anew.
    // Its records and events are queued, not waited for: the outcome is recorded after them (flush).
    const std::string scope = "inbox:" + std::to_string(e.id) + ':' + std::to_string(e.replays);
    writes = std::make_shared<sinks::WriteGroup>();
    runtime::CallResult call =
        runtime.handleWebhook(*integration, e.tenant_id, event_json.dump(), e.payload, scope, writes);
    result = call.status;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.dispatch_seconds->observe(seconds);

  store::AttemptOutcome outcome;
  outcome.event = &e;
  outcome.started_at = started;
  outcome.duration_ms = static_cast<int64_t>(seconds * 1000);
  outcome.ok = result.isOk();
  // When this attempt fails: the next one, or 0 when none is left (dead).
  int64_t retry_at = 0;
  const size_t attempt = static_cast<size_t>(std::max(e.attempts, 1));
  if (attempt <= options.retry_schedule.size()) {
    retry_at = started + outcome.duration_ms + jittered(options.retry_schedule[attempt - 1], options.jitter);
  }
  if (outcome.ok) {
    outcome.writes = std::move(writes);
    outcome.next_attempt_if_writes_failed = retry_at;
    if (!object_key.empty()) {
      int64_t& slot = applied_in_batch[object_key];
      slot = std::max(slot, e.occurred_at);
    }
  } else {
    outcome.error = result.toString();
    if (retry_at != 0) {
      outcome.next_attempt_at = retry_at;
    } else {
      outcome.dead = true;
      m.dead->inc();
      log::warn("webhook event dead-lettered", {{"integration", e.integration_id},
                                                {"tenant", e.tenant_id},
                                                {"event_id", e.event_id},
                                                {"attempts", static_cast<int64_t>(e.attempts)},
                                                {"error", outcome.error}});
    }
  }
  return outcome;
}

void Inbox::Impl::reportFailedWrites(const std::vector<HandledWrites>& handled) {
  for (const HandledWrites& h : handled) {
    Status failed = h.writes->status();
    if (failed.isOk()) continue;
    if (h.dead) metricsFor(h.integration_id).dead->inc();
    log::warn(h.dead ? "webhook event dead-lettered: its records or events were not stored"
                     : "webhook event will be retried: its records or events were not stored",
              {{"integration", h.integration_id},
               {"tenant", h.tenant_id},
               {"event_id", h.event_id},
               {"event_row", h.row},
               {"error", failed.toString()}});
  }
}

void Inbox::Impl::maintenanceLoop() {
  auto next_prune = std::chrono::steady_clock::now();
  while (!stop_flag.load()) {
    auto backlog_now = events.backlog();
    if (backlog_now.isOk()) backlog->set(static_cast<double>(*backlog_now));
    auto oldest = events.oldestPendingReceivedAt();
    if (oldest.isOk()) {
      oldest_pending_age->set(oldest->has_value() ? std::max<double>(0, (nowMs() - **oldest) / 1000.0) : 0.0);
    }
    if (std::chrono::steady_clock::now() >= next_prune) {
      next_prune = std::chrono::steady_clock::now() + options.prune_every;
      const int64_t cutoff = nowMs() - int64_t{options.retention_days} * 86400 * 1000;
      auto pruned = events.pruneProcessed(cutoff);
      if (!pruned.isOk()) {
        log::error("webhook inbox: pruning failed", {{"error", pruned.status().toString()}});
      } else if (*pruned > 0) {
        log::info("webhook inbox: pruned processed events",
                  {{"count", static_cast<uint64_t>(*pruned)}, {"retention_days", options.retention_days}});
      }
    }
    std::unique_lock lock(wake_mu);
    wake_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; });
  }
}

Inbox::Inbox(store::Store& store, runtime::Runtime& runtime, Options options)
    : impl_(std::make_unique<Impl>(store, runtime, std::move(options))) {}

Inbox::~Inbox() {
  stop();
}

Status Inbox::start() {
  Impl& m = *impl_;
  if (m.started) return Status::failedPrecondition("the webhook inbox is already started");
  auto recovered = m.events.recoverInterrupted(nowMs());
  if (!recovered.isOk()) return recovered.status();
  if (*recovered > 0) {
    log::warn("webhook inbox: events interrupted by the last shutdown are due again",
              {{"count", static_cast<uint64_t>(*recovered)}});
  }
  m.started = true;
  const auto wait_or_stop = [&m](std::chrono::milliseconds pause) {
    std::unique_lock lock(m.wake_mu);
    return m.wake_cv.wait_for(lock, pause, [&m] { return m.stopping; });
  };
  for (int i = 0; i < m.options.workers; ++i) {
    m.workers.emplace_back([&m, wait_or_stop] {
      log::runGuarded(
          "webhook inbox worker", [&m] { m.workerLoop(); }, wait_or_stop);
    });
  }
  m.maintenance = std::thread([&m, wait_or_stop] {
    log::runGuarded(
        "webhook inbox maintenance", [&m] { m.maintenanceLoop(); }, wait_or_stop);
  });
  return Status::ok();
}

void Inbox::stop() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.wake_mu);
    if (m.stopping) return;
    m.stopping = true;
  }
  m.stop_flag.store(true);
  m.wake_cv.notify_all();
  for (auto& t : m.workers)
    t.join();
  m.workers.clear();
  while (m.completions_pending.load() > 0)  // the writer runs them soon after the workers' last batch
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (m.maintenance.joinable()) m.maintenance.join();
}

void Inbox::wake() {
  impl_->wake();
}

store::InboxStore& Inbox::events() {
  return impl_->events;
}

Result<size_t> replay(store::Store& store, const store::ReplayFilter& filter) {
  store::InboxStore events(store);
  const int64_t now = nowMs();
  if (filter.id && filter.statuses.empty()) {
    Status s = filter.tenant_id ? events.replay(*filter.tenant_id, *filter.id, now)
                                : events.adminReplay(*filter.id, now);
    if (!s.isOk()) return s;
    return size_t{1};
  }
  return events.replayMatching(filter, now);
}

}  // namespace ih::inbox
