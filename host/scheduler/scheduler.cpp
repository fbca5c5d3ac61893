#include "scheduler/scheduler.h"

#include <unistd.h>

#include <boost/asio.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/json_parse.h"
#include "config/config.h"
#include "log/guard.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace ih::scheduler {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// ihost_sync_runs_total{integration,job,status}, ihost_sync_rows_total{integration,job} and
// ihost_sync_run_duration_seconds{integration,job} for one finished run.
void recordRunMetrics(const store::JobRun& run, double seconds) {
  auto& r = metrics::registry();
  const metrics::Labels labels = {{"integration", run.integration_id}, {"job", run.job}};
  r.counter("ihost_sync_runs_total", "Finished sync job runs, by integration, job and status.",
            {{"integration", run.integration_id}, {"job", run.job}, {"status", run.status}})
      .inc();
  r.counter("ihost_sync_rows_total", "Rows (records) written by sync job runs.", labels)
      .inc(static_cast<uint64_t>(std::max<int64_t>(run.rows, 0)));
  r.histogram("ihost_sync_run_duration_seconds", "Wall time of one sync job run.", labels,
              {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600})
      .observe(seconds);
}

std::string tenantKey(std::string_view tenant_id, std::string_view integration_id) {
  std::string key(tenant_id);
  key += '\n';
  key += integration_id;
  return key;
}

double uniform(double lo, double hi) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  if (hi <= lo) return lo;
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

std::string randomSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 12; ++i)
    out += kHex[rng() % 16];
  return out;
}

std::string defaultHolder() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) name[0] = '\0';
  return std::string(name[0] ? name : "host") + ":" + std::to_string(getpid());
}

// Reads an integer from the plugin's result when present.
std::optional<int64_t> resultInt(const json& result, const char* key) {
  if (result.is_object() && result.contains(key) && result[key].is_number_integer())
    return result[key].get<int64_t>();
  return std::nullopt;
}

}  // namespace

std::string_view triggerName(Trigger trigger) {
  switch (trigger) {
    case Trigger::kSchedule:
      return "schedule";
    case Trigger::kManual:
      return "manual";
    case Trigger::kCli:
      return "cli";
  }
  return "manual";
}

// ---- Scheduler
// ---------------------------------------------------------------------------------------------

namespace {

// A job that runs on a schedule, and its per-tenant timers.
struct TenantTimer {
  explicit TenantTimer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  int64_t due_at_ms = 0;  // wall clock, for "next run" in the API
};

struct ScheduledJob {
  JobInfo info;
  std::map<std::string, std::unique_ptr<TenantTimer>> tenants;  // touched on the io thread only
};

struct ActiveRun {
  explicit ActiveRun(asio::io_context& io) : ticker(io) {}
  store::JobRun run;
  std::string holder;
  ProgressFn progress;
  runtime::WriteCounts written;  // the job call's record writes, read live for progress
  Clock::time_point started;
  Clock::time_point renewed;
  asio::steady_timer ticker;  // io thread only
  std::atomic<bool> finished{false};
  std::promise<store::JobRun> promise;
};

// The manifest job's "state_keys": an array of non-empty strings; absent = [the job's name] (the usual
// cursor key). A malformed value is ignored with a warning: the field is informational and must not keep the
// host from starting.
std::vector<std::string> declaredStateKeys(const std::string& manifest_json, const std::string& job,
                                           const std::string& integration_id) {
  json m = ih::parseJsonOrDiscarded(manifest_json);
  if (!m.is_object() || !m.contains("jobs") || !m["jobs"].is_array()) return {job};
  for (const json& j : m["jobs"]) {
    if (!j.is_object() || j.value("name", std::string()) != job) continue;
    if (!j.contains("state_keys")) return {job};
    std::vector<std::string> keys;
    const json& declared = j["state_keys"];
    bool bad = !declared.is_array();
    if (!bad) {
      for (const json& k : declared) {
        if (k.is_string() && !k.get<std::string>().empty())
          keys.push_back(k.get<std::string>());
        else
          bad = true;
      }
    }
    if (bad)
      log::warn("manifest job \"state_keys\" must be an array of non-empty strings; ignoring the bad entries",
                {{"integration", integration_id}, {"job", job}});
    return keys;
  }
  return {job};
}

}  // namespace

struct Scheduler::Impl {
  Impl(Scheduler& owner, runtime::Runtime& runtime, store::Store& store, sinks::EventSink* events)
      : owner(owner),
        runtime(runtime),
        store(store),
        events(events),
        work(asio::make_work_guard(io)),
        pool(static_cast<size_t>(std::max(1, owner.options_.workers))) {
    // The timer thread also renews leases and reports progress of manual runs, so it runs from the start.
    io_thread = std::thread([this]() {
      log::runGuarded(
          "scheduler timers", [this] { io.run(); },
          [this](std::chrono::milliseconds) {
            return io.stopped();  // a handler threw: keep serving the other timers at once
          });
    });
  }

  Scheduler& owner;
  runtime::Runtime& runtime;
  store::Store& store;
  sinks::EventSink* const events;
  std::vector<JobInfo> jobs;  // set once in create()

  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;  // reset by stop()
  std::thread io_thread;
  asio::thread_pool pool;
  std::unique_ptr<asio::steady_timer> discovery;  // io thread only
  std::vector<std::unique_ptr<ScheduledJob>> scheduled;

  mutable std::mutex mu;
  std::map<int64_t, std::shared_ptr<ActiveRun>> active;  // GUARDED_BY(mu)
  std::map<std::string, int64_t> next_due;               // GUARDED_BY(mu) "<tenant>\n<integration>\n<job>"
  bool started = false;                                  // GUARDED_BY(mu)
  bool stopped = false;                                  // GUARDED_BY(mu)

  static std::string dueKey(std::string_view tenant, std::string_view integration, std::string_view job) {
    return tenantKey(tenant, integration) + "\n" + std::string(job);
  }

  // ---- schedule (io thread) ----

  bool stopping() const {
    std::lock_guard lock(mu);
    return stopped;
  }

  void discover() {
    if (stopping()) return;
    for (auto& sj : scheduled) {
      auto tenants = store.listActiveTenants(sj->info.integration_id);
      if (!tenants.isOk()) {
        log::warn("scheduler: cannot list connected tenants",
                  {{"integration", sj->info.integration_id}, {"error", tenants.status().message()}});
        continue;
      }
      std::set<std::string> now_connected(tenants->begin(), tenants->end());
      for (auto it = sj->tenants.begin(); it != sj->tenants.end();) {
        if (!now_connected.count(it->first)) {
          it->second->timer.cancel();
          std::lock_guard lock(mu);
          next_due.erase(dueKey(it->first, sj->info.integration_id, sj->info.job));
          it = sj->tenants.erase(it);
        } else {
          ++it;
        }
      }
      for (const auto& tenant : now_connected) {
        if (sj->tenants.count(tenant)) continue;
        auto timer = std::make_unique<TenantTimer>(io);
        const double period_ms = static_cast<double>(sj->info.every_seconds) * 1000.0;
        double delay_ms = uniform(0, period_ms);  // spread first runs over the period
        auto last = owner.history_.listRuns(tenant, sj->info.integration_id, sj->info.job, 1);
        if (last.isOk() && !last->empty()) {
          // Keep the cadence across restarts: due one period after the last start, plus jitter.
          double due =
              static_cast<double>(last->front().started_at) + period_ms - static_cast<double>(nowMs());
          delay_ms = std::clamp(due, 0.0, period_ms) + uniform(0, period_ms * owner.options_.jitter);
        }
        TenantTimer* raw = timer.get();
        sj->tenants.emplace(tenant, std::move(timer));
        arm(*sj, tenant, *raw, std::chrono::milliseconds(static_cast<int64_t>(delay_ms)));
      }
    }
    discovery->expires_after(owner.options_.discovery_interval);
    discovery->async_wait([this](const boost::system::error_code& ec) {
      if (!ec) discover();
    });
  }

  void arm(ScheduledJob& sj, const std::string& tenant, TenantTimer& t, std::chrono::milliseconds delay) {
    t.due_at_ms = nowMs() + delay.count();
    {
      std::lock_guard lock(mu);
      next_due[dueKey(tenant, sj.info.integration_id, sj.info.job)] = t.due_at_ms;
    }
    t.timer.expires_after(delay);
    t.timer.async_wait([this, &sj, tenant, &t](const boost::system::error_code& ec) {
      if (ec || stopping()) return;  // cancelled: tenant disconnected or stopping
      fire(sj, tenant);
      const double period_ms = static_cast<double>(sj.info.every_seconds) * 1000.0;
      const double j = owner.options_.jitter;
      arm(sj, tenant, t,
          std::chrono::milliseconds(static_cast<int64_t>(period_ms * uniform(1.0 - j, 1.0 + j))));
    });
  }

  void fire(const ScheduledJob& sj, const std::string& tenant) {
    auto started = owner.trigger(tenant, sj.info.integration_id, sj.info.job, Trigger::kSchedule, false);
    if (!started.isOk()) {
      // Already running (here or elsewhere) or disconnected meanwhile: skip this turn.
      log::info("scheduled run skipped", {{"integration", sj.info.integration_id},
                                          {"job", sj.info.job},
                                          {"tenant", tenant},
                                          {"reason", started.status().message()}});
    }
  }

  // ---- runs ----

  void tick(const std::shared_ptr<ActiveRun>& run) {
    run->ticker.expires_after(owner.options_.progress_interval);
    run->ticker.async_wait([this, run](const boost::system::error_code& ec) {
      if (ec || run->finished.load()) return;
      const auto now = Clock::now();
      if (now - run->renewed >= owner.options_.lease_ttl / 3) {
        auto held = owner.history_.renewLease(run->run.tenant_id, run->run.integration_id, run->run.job,
                                              run->holder, nowMs() + owner.options_.lease_ttl.count());
        run->renewed = now;
        if (held.isOk() && !*held) {
          log::warn("scheduler: job lease lost while running (another holder took it over)",
                    {{"integration", run->run.integration_id}, {"job", run->run.job}, {"run", run->run.id}});
        }
      }
      Progress p{run->run.id, 0, 0, std::chrono::duration<double>(now - run->started).count()};
      p.pages = run->written.pages.load();
      p.rows = run->written.rows.load();
      (void)owner.history_.updateRunProgress(run->run.tenant_id, run->run.id, p.pages, p.rows);
      if (run->progress) run->progress(p);
      tick(run);
    });
  }

  void execute(const std::shared_ptr<ActiveRun>& run) {
    runtime::Integration* in = runtime.find(run->run.integration_id);
    runtime::CallResult result;
    if (in == nullptr) {
      result.status = Status::notFound("integration " + run->run.integration_id + " is not available");
    } else {
      json params = {{"full", run->run.full}, {"run_id", run->run.id}, {"trigger", run->run.trigger}};
      if (run->run.since) params["since"] = *run->run.since;
      std::optional<std::chrono::milliseconds> timeout;
      for (const JobInfo& j : jobs)
        if (j.integration_id == run->run.integration_id && j.job == run->run.job) timeout = j.timeout;
      result = runtime.runJob(*in, run->run.tenant_id, run->run.job, params.dump(), &run->written, timeout);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - run->started).count();
    json answer = ih::parseJsonOrDiscarded(result.result_json.empty() ? "{}" : result.result_json);
    int64_t pages = result.record_pages;
    int64_t rows = result.record_rows;
    if (auto v = resultInt(answer, "pages")) pages = *v;
    if (auto v = resultInt(answer, "rows")) {
      rows = *v;
    } else if (auto s = resultInt(answer, "synced"); s && rows == 0) {
      rows = *s;  // a job that writes through another path (inbox_ingest) may still say how many it synced
    }
    store::JobRun& r = run->run;
    r.pages = pages;
    r.rows = rows;
    r.finished_at = nowMs();
    r.status = result.status.isOk() ? "succeeded" : "failed";
    r.error = result.status.isOk() ? std::string() : redact(result.status.toString());
    Status saved =
        owner.history_.finishRun(r.tenant_id, r.id, r.status, r.pages, r.rows, r.error, *r.finished_at);
    if (!saved.isOk())
      log::error("scheduler: cannot record run end", {{"run", r.id}, {"error", saved.message()}});
    {
      std::lock_guard lock(mu);
      active.erase(r.id);
    }
    run->finished.store(true);
    asio::post(io, [run]() { run->ticker.cancel(); });
    (void)owner.history_.releaseLease(r.tenant_id, r.integration_id, r.job, run->holder);

    const int64_t duration_ms = static_cast<int64_t>(seconds * 1000);
    recordRunMetrics(r, seconds);
    log::info(r.status == "succeeded" ? "job run succeeded" : "job run failed",
              {{"integration", r.integration_id},
               {"job", r.job},
               {"tenant", r.tenant_id},
               {"run", r.id},
               {"pages", r.pages},
               {"rows", r.rows},
               {"duration_ms", duration_ms},
               {"error", r.error}});
    if (events) {
      json data = {{"integration", r.integration_id},
                   {"job", r.job},
                   {"run_id", r.id},
                   {"trigger", r.trigger},
                   {"rows", r.rows},
                   {"pages", r.pages},
                   {"duration_ms", duration_ms},
                   {"full", r.full}};
      if (!r.error.empty()) data["error"] = r.error;
      if (answer.is_object() && answer.contains("has_more")) data["has_more"] = answer["has_more"];
      // One run ends once: its id keys the event.
      Status emitted = events->emit(r.tenant_id, r.integration_id,
                                    r.status == "succeeded" ? "sync.completed" : "sync.failed", data.dump(),
                                    r.id > 0 ? "run:" + std::to_string(r.id) : std::string(), nullptr);
      if (!emitted.isOk()) log::warn("scheduler: cannot emit run event", {{"error", emitted.message()}});
    }
    run->promise.set_value(r);
  }
};

Scheduler::Scheduler(Options options, runtime::Runtime& runtime, store::Store& store,
                     sinks::EventSink* events)
    : options_(std::move(options)),
      history_(store),
      impl_(std::make_unique<Impl>(*this, runtime, store, events)) {}

Result<std::unique_ptr<Scheduler>> Scheduler::create(const config::Config& config, runtime::Runtime& runtime,
                                                     store::Store& store, sinks::EventSink* events,
                                                     Options options) {
  if (options.holder.empty()) options.holder = defaultHolder();
  if (options.lease_ttl < std::chrono::milliseconds(300)) options.lease_ttl = std::chrono::milliseconds(300);
  if (options.progress_interval > options.lease_ttl / 3) options.progress_interval = options.lease_ttl / 3;
  options.jitter = std::clamp(options.jitter, 0.0, 0.5);
  std::unique_ptr<Scheduler> s(new Scheduler(std::move(options), runtime, store, events));
  Impl* impl = s->impl_.get();

  std::vector<std::string> problems;
  for (const config::IntegrationConfig& cfg : config.integrations) {
    runtime::Integration* in = runtime.find(cfg.id);
    if (in == nullptr) continue;  // unavailable: its jobs cannot be checked nor run
    const auto& manifest = in->manifest();
    for (const auto& [name, override_cfg] : cfg.jobs) {
      if (manifest.findJob(name) != nullptr) continue;
      std::string known;
      for (const auto& j : manifest.jobs)
        known += (known.empty() ? "" : ", ") + j.name;
      problems.push_back(override_cfg.where.toString() + ": integrations." + cfg.id + ".jobs." + name +
                         ": plugin \"" + manifest.name + "\" declares no job \"" + name + "\". Known jobs: " +
                         (known.empty() ? "none" : known) + ". Fix the table name or remove it.");
    }
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems)
      message += (message.empty() ? "" : "\n") + p;
    return Status::invalidArgument(message);
  }

  for (runtime::Integration* in : runtime.integrations()) {
    const config::IntegrationConfig* cfg = config.findIntegration(in->id());
    const bool has_jobs = (in->plugin().capabilities() & IH_CAP_JOBS) != 0;
    for (const auto& spec : in->manifest().jobs) {
      JobInfo info;
      info.integration_id = in->id();
      info.job = spec.name;
      info.description = spec.description;
      info.every_seconds = spec.every_seconds;
      info.enabled = in->enabled() && has_jobs;
      info.state_keys = declaredStateKeys(in->manifest().raw_json, spec.name, in->id());
      info.accepts_since = spec.accepts_since;
      if (cfg != nullptr) {
        if (auto it = cfg->jobs.find(spec.name); it != cfg->jobs.end()) {
          if (it->second.every_seconds) info.every_seconds = *it->second.every_seconds;
          if (it->second.enabled && !*it->second.enabled) info.enabled = false;
          if (it->second.timeout_seconds) info.timeout = std::chrono::seconds(*it->second.timeout_seconds);
        }
      }
      impl->jobs.push_back(std::move(info));
    }
  }
  return s;
}

Scheduler::~Scheduler() {
  stop();
}

Status Scheduler::start() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (m.stopped) return Status::failedPrecondition("the scheduler was stopped");
    if (m.started) return Status::ok();
    m.started = true;
  }
  for (const auto& info : m.jobs) {
    if (!info.enabled || info.every_seconds <= 0) continue;
    auto sj = std::make_unique<ScheduledJob>();
    sj->info = info;
    m.scheduled.push_back(std::move(sj));
  }
  m.discovery = std::make_unique<asio::steady_timer>(m.io);
  asio::post(m.io, [&m]() { m.discover(); });
  log::info("scheduler started",
            {{"scheduled_jobs", static_cast<int64_t>(m.scheduled.size())}, {"workers", options_.workers}});
  return Status::ok();
}

void Scheduler::stop() {
  if (!impl_) return;
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (m.stopped) return;
    m.stopped = true;
  }
  // Let queued and running plugin calls finish (they release their leases), then cancel every timer and let
  // the timer thread run out of work.
  m.pool.join();
  asio::post(m.io, [&m]() {
    if (m.discovery) m.discovery->cancel();
    for (auto& sj : m.scheduled)
      for (auto& [tenant, t] : sj->tenants)
        t->timer.cancel();
  });
  m.work.reset();
  if (m.io_thread.joinable()) m.io_thread.join();
}

std::vector<JobInfo> Scheduler::jobs(std::string_view integration_id) const {
  std::vector<JobInfo> out;
  for (const auto& j : impl_->jobs)
    if (j.integration_id == integration_id) out.push_back(j);
  return out;
}

Result<std::optional<std::string>> Scheduler::stateValue(std::string_view tenant_id,
                                                         std::string_view integration_id,
                                                         std::string_view key) const {
  return impl_->store.getState(tenant_id, integration_id, key);
}

std::optional<JobInfo> Scheduler::job(std::string_view integration_id, std::string_view job) const {
  for (const auto& j : impl_->jobs)
    if (j.integration_id == integration_id && j.job == job) return j;
  return std::nullopt;
}

bool Scheduler::knowsIntegration(std::string_view integration_id) const {
  const runtime::Integration* in = impl_->runtime.find(integration_id);
  return in != nullptr && in->enabled();
}

std::optional<int64_t> Scheduler::nextRunAt(std::string_view tenant_id, std::string_view integration_id,
                                            std::string_view job) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->next_due.find(Impl::dueKey(tenant_id, integration_id, job));
  if (it == impl_->next_due.end()) return std::nullopt;
  return it->second;
}

Result<StartedRun> Scheduler::trigger(std::string_view tenant_id, std::string_view integration_id,
                                      std::string_view job_name, Trigger trigger, RunRequest request,
                                      ProgressFn progress) {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (m.stopped) return Status::unavailable("the scheduler is stopping");
  }
  if (!knowsIntegration(integration_id))
    return Status::notFound("no integration \"" + std::string(integration_id) + "\"");
  std::optional<JobInfo> info = job(integration_id, job_name);
  if (!info) {
    std::string known;
    for (const auto& j : jobs(integration_id))
      known += (known.empty() ? "" : ", ") + j.job;
    return Status::notFound("integration \"" + std::string(integration_id) + "\" has no job \"" +
                            std::string(job_name) + "\" (known: " + (known.empty() ? "none" : known) + ")");
  }
  if (request.since && !info->accepts_since) {
    return Status::invalidArgument("job \"" + info->job + "\" of integration \"" + info->integration_id +
                                   "\" does not take \"since\"");
  }
  if (request.since && request.full)
    return Status::invalidArgument("\"since\" and \"full\" cannot be combined");
  if (!info->enabled) {
    return Status::failedPrecondition("job \"" + info->job + "\" of integration \"" + info->integration_id +
                                      "\" is disabled in the configuration");
  }
  // Same rule as actions: a plugin that takes no connection (no connect, no OAuth) runs for any tenant.
  runtime::Integration* in = m.runtime.find(integration_id);
  if (in == nullptr) return Status::notFound("no integration \"" + std::string(integration_id) + "\"");
  auto lacks = m.runtime.lacksConnection(*in, tenant_id);
  if (!lacks.isOk()) return lacks.status();
  if (*lacks) {
    return Status::failedPrecondition("tenant is not connected to \"" + std::string(integration_id) + "\"");
  }

  auto run = std::make_shared<ActiveRun>(m.io);
  run->holder = options_.holder + "/" + randomSuffix();
  const int64_t now = nowMs();
  // A scheduled run is skipped when another scheduled run of the job started less than ~0.8 period ago: every
  // replica keeps its own timers, and this makes them run each job once per period between them.
  const int64_t period_ms = static_cast<int64_t>(info->every_seconds) * 1000;
  const int64_t not_since =
      trigger == Trigger::kSchedule
          ? now - static_cast<int64_t>(static_cast<double>(period_ms) * (1.0 - options_.jitter) * 0.9)
          : 0;
  bool ran_recently = false;
  auto acquired = history_.acquireLease(tenant_id, integration_id, job_name, run->holder, now,
                                        now + options_.lease_ttl.count(), not_since, &ran_recently);
  if (!acquired.isOk()) return acquired.status();
  if (ran_recently) {
    return Status::conflict("job \"" + std::string(job_name) + "\" of \"" + std::string(integration_id) +
                            "\" already ran on schedule less than a period ago (here or on another replica)");
  }
  if (!*acquired) {
    return Status::conflict("job \"" + std::string(job_name) + "\" of \"" + std::string(integration_id) +
                            "\" is already running for this tenant");
  }
  store::JobRun& r = run->run;
  r.tenant_id = std::string(tenant_id);
  r.integration_id = std::string(integration_id);
  r.job = std::string(job_name);
  r.trigger = std::string(triggerName(trigger));
  r.full = request.full;
  r.since = request.since;
  r.started_at = now;
  auto id = history_.insertRun(tenant_id, r);
  if (!id.isOk()) {
    (void)history_.releaseLease(tenant_id, integration_id, job_name, run->holder);
    return id.status();
  }
  r.id = *id;
  run->progress = std::move(progress);
  run->started = Clock::now();
  run->renewed = run->started;
  StartedRun started{r.id, run->promise.get_future().share()};
  {
    // Under the lock, so stop() cannot join the pool between the check and the post.
    std::lock_guard lock(m.mu);
    if (!m.stopped) {
      m.active[r.id] = run;
      asio::post(m.io, [&m, run]() { m.tick(run); });
      asio::post(m.pool, [&m, run]() { m.execute(run); });
      return started;
    }
  }
  (void)history_.finishRun(tenant_id, r.id, "failed", 0, 0, "the scheduler is stopping", nowMs());
  (void)history_.releaseLease(tenant_id, integration_id, job_name, run->holder);
  return Status::unavailable("the scheduler is stopping");
}

Result<store::JobRun> Scheduler::runNow(std::string_view tenant_id, std::string_view integration_id,
                                        std::string_view job, Trigger trigger, RunRequest request,
                                        ProgressFn progress) {
  auto started = this->trigger(tenant_id, integration_id, job, trigger, request, std::move(progress));
  if (!started.isOk()) return started.status();
  return started->done.get();
}

}  // namespace ih::scheduler
