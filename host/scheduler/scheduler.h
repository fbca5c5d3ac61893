// Scheduled syncs: runs plugin jobs (manifest "jobs", overridden by [integrations.<id>.jobs.<name>]) for
// every connected tenant, on demand (API, CLI) and on schedule.
//
//  - Schedule: Boost.Asio steady timers on one io_context thread, one timer per (integration, job, tenant);
//    the first firing is spread over the period (or follows the tenant's last run), every later one is the
//    period ±10 % so tenants do not fire together. Connected tenants (Store::listActiveTenants) are re-listed
//    every Options::discovery_interval. Disabled integrations and jobs never run.
//  - No overlap: a run first takes the (integration, tenant, job) lease row in SQLite (atomic conditional
//    upsert), renews it while running and releases it at the end. A crashed holder's lease expires after
//    Options::lease_ttl and the job is picked up again (its stale "running" row is closed as failed). The
//    lease works across processes: `ihost sync run` and `ihost serve` on one database never overlap a job.
//  - Once per period across replicas: each replica keeps its own timers, so a scheduled run is refused (in the
//    same write as the lease) when another scheduled run of the job started less than ~0.8 period ago.
//  - Runs are recorded in job_runs (store/scheduler_store.h) and announced as host events sync.completed /
//    sync.failed. Plugin calls run on a small worker pool, never on the timer thread.
//
// Boost.Asio stays in scheduler.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"
#include "store/scheduler_store.h"

namespace ih::config {
struct Config;
}
namespace ih::runtime {
class Runtime;
}
namespace ih::store {
class Store;
}
namespace ih::http {
class Server;
}
namespace ih::tenancy {
class Tenancy;
}

namespace ih::scheduler {

enum class Trigger { kSchedule, kManual, kCli };
std::string_view triggerName(Trigger trigger);  // "schedule" | "manual" | "cli"

struct Options {
  int workers = 2;                                      // plugin job calls in parallel
  std::chrono::milliseconds lease_ttl{60000};           // renewed every ttl/3 while running
  std::chrono::milliseconds discovery_interval{30000};  // re-list connected tenants
  std::chrono::milliseconds progress_interval{1000};    // run row + progress callback updates
  double jitter = 0.10;                                 // ± fraction of the period
  std::chrono::milliseconds api_wait{5000};  // POST …/run answers 200 within this, else 202 (routes)
  std::string holder;                        // lease holder prefix; default "<hostname>:<pid>"
};

// One job of one integration with its effective schedule.
struct JobInfo {
  std::string integration_id;
  std::string job;
  std::string description;
  int64_t every_seconds = 0;  // 0: on demand only
  bool enabled = true;        // integration enabled and the job not disabled in the config
  // Plugin state keys holding the job's cursor (manifest job "state_keys"; absent = {job}), shown read-only
  // by the jobs API. Plugin state is not secret (secrets go through secret_put), so they may be shown as
  // stored.
  std::vector<std::string> state_keys;
  bool accepts_since = false;  // manifest job "params": ["since"]
  // The job's own deadline ([integrations.<id>.jobs.<name>] timeout), else [plugins] job_timeout_ms applies.
  std::optional<std::chrono::milliseconds> timeout;
};

// A run's "since" as the API and the CLI take it: unix seconds ("1714564800"), an ISO 8601 time
// ("2024-05-01T12:00:00Z") or a date ("2024-05-01", midnight UTC) -> unix seconds. kInvalidArgument with a
// message naming "since" and the accepted forms.
Result<int64_t> parseSince(const std::string& text);

// What a run is asked to do. Converts from a bool (`full`) for the common case.
struct RunRequest {
  RunRequest(bool full_run = false) : full(full_run) {}  // NOLINT(google-explicit-constructor)
  bool full = false;                                     // ignore the stored cursor (backfill)
  std::optional<int64_t> since;  // unix seconds: only what changed since then (jobs that accept it)
};

struct Progress {
  int64_t run_id = 0;
  int64_t pages = 0;
  int64_t rows = 0;
  double seconds = 0;
};
// Called on the scheduler's timer thread while a run is going; must be quick.
using ProgressFn = std::function<void(const Progress&)>;

struct StartedRun {
  int64_t run_id = 0;
  std::shared_future<store::JobRun> done;  // the finished run (status succeeded or failed)
};

class Scheduler {
 public:
  // Resolves every job of the runtime's integrations. kInvalidArgument naming file:line and the plugin's
  // known jobs for a [integrations.<id>.jobs.<name>] table the plugin does not declare. Borrowed references
  // must outlive the Scheduler; `events` may be null (no events). A run's progress counts the records its
  // own job call writes (runtime::WriteCounts), nothing else the integration writes meanwhile.
  static Result<std::unique_ptr<Scheduler>> create(const config::Config& config, runtime::Runtime& runtime,
                                                   store::Store& store, sinks::EventSink* events,
                                                   Options options = {});
  ~Scheduler();  // stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the schedule (timer thread). Manual runs work without it. Idempotent.
  Status start();
  // Stops the timers, waits for running jobs to finish. Call before Runtime::shutdown. Idempotent.
  void stop();

  std::vector<JobInfo> jobs(std::string_view integration_id) const;  // empty for an unknown integration
  std::optional<JobInfo> job(std::string_view integration_id, std::string_view job) const;
  // True for a configured, enabled integration (a disabled one answers 404 like an unknown one).
  bool knowsIntegration(std::string_view integration_id) const;
  // When the tenant's next scheduled run is due (unix ms), if it is scheduled.
  std::optional<int64_t> nextRunAt(std::string_view tenant_id, std::string_view integration_id,
                                   std::string_view job) const;
  // The stored plugin state value of (tenant, integration, key), if any (for JobInfo::state_keys).
  Result<std::optional<std::string>> stateValue(std::string_view tenant_id, std::string_view integration_id,
                                                std::string_view key) const;

  // Takes the lease, records the run and queues the plugin call. kNotFound: unknown integration or job;
  // kFailedPrecondition: the tenant is not connected or the job/integration is disabled; kConflict: the job
  // is already running for this tenant (here or in another process).
  Result<StartedRun> trigger(std::string_view tenant_id, std::string_view integration_id,
                             std::string_view job, Trigger trigger, RunRequest request,
                             ProgressFn progress = {});
  // trigger() and wait for the end.
  Result<store::JobRun> runNow(std::string_view tenant_id, std::string_view integration_id,
                               std::string_view job, Trigger trigger, RunRequest request,
                               ProgressFn progress = {});

  store::SchedulerStore& history() { return history_; }
  const Options& options() const { return options_; }

  struct Impl;  // Boost.Asio machinery, private to scheduler.cpp

 private:
  Scheduler(Options options, runtime::Runtime& runtime, store::Store& store, sinks::EventSink* events);
  const Options options_;
  store::SchedulerStore history_;
  const std::unique_ptr<Impl> impl_;  // last: its timer thread starts once everything above exists
};

// GET  /api/integrations/{id}/jobs                         (read)  jobs with schedule, last and next run and
//      "state": {key: stored value (JSON if it parses, else text; null if unset)} for the job's state_keys
// POST /api/integrations/{id}/jobs/{job}/run  {"full":bool} (write) 200 {"run"} when it ends within
//      Options::api_wait, else 202 {"run"} (status "running"; poll GET …/runs/{run_id}); 404 unknown job,
//      409 already running / not connected / disabled
// GET  /api/integrations/{id}/jobs/{job}/runs?limit=1..100 (read)  history, newest first
// GET  /api/integrations/{id}/jobs/{job}/runs/{run_id}     (read)
// All tenant-scoped. Borrowed references must outlive the server.
void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Scheduler& scheduler);

}  // namespace ih::scheduler
