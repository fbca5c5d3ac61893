// Scheduled jobs (migrations/sqlite/0005_scheduler.sql): leases that keep a job from overlapping itself for
// one tenant (across threads AND processes: `ihost serve` and `ihost sync run` share the database), and the
// run history.
//
// Contract (as for Store): thread-safe; tenant-scoped by the FIRST parameter; failures are values; timestamps
// are unix milliseconds. No SQLite type in this header.
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

// One row of job_runs.
struct JobRun {
  int64_t id = 0;  // assigned by the store
  std::string tenant_id;
  std::string integration_id;
  std::string job;
  std::string trigger;  // "schedule" | "manual" | "cli"
  bool full = false;
  std::optional<int64_t> since;  // unix seconds, for a job that takes one
  int64_t started_at = 0;
  std::optional<int64_t> finished_at;
  std::string status = "running";  // "running" | "succeeded" | "failed"
  int64_t pages = 0;
  int64_t rows = 0;
  std::string error;  // empty unless failed
};

class SchedulerStore {
 public:
  // `store` is borrowed and must outlive this object.
  explicit SchedulerStore(Store& store) : store_(store) {}

  // Atomic conditional upsert: takes the (integration, tenant, job) lease for `holder` until `expires_at`
  // when nobody holds it or the holder's lease expired before `now`. Returns false when another holder has a
  // live lease. On success, runs still marked "running" for this job and tenant are closed as failed
  // ("abandoned"): their holder crashed, since the lease was free.
  // `scheduled_not_since` > 0 (a scheduled run): also refused, with *ran_recently set, when a scheduled run of
  // this job for this tenant started after it, here or in another replica on the same database, so the replicas
  // together run each job once per period. Checked in the same write as the lease.
  Result<bool> acquireLease(std::string_view tenant_id, std::string_view integration_id, std::string_view job,
                            std::string_view holder, int64_t now, int64_t expires_at,
                            int64_t scheduled_not_since = 0, bool* ran_recently = nullptr);
  // Extends a lease `holder` still owns. Returns false when it was lost (expired and taken over).
  Result<bool> renewLease(std::string_view tenant_id, std::string_view integration_id, std::string_view job,
                          std::string_view holder, int64_t expires_at);
  // Deletes the lease if `holder` still owns it (ok otherwise).
  Status releaseLease(std::string_view tenant_id, std::string_view integration_id, std::string_view job,
                      std::string_view holder);

  // Inserts a run (id ignored) and returns its id. kInvalidArgument when run.tenant_id differs.
  Result<int64_t> insertRun(std::string_view tenant_id, const JobRun& run);
  // Progress while running (pages/rows so far).
  Status updateRunProgress(std::string_view tenant_id, int64_t run_id, int64_t pages, int64_t rows);
  // Final state: "succeeded" or "failed" with the (already redacted) error.
  Status finishRun(std::string_view tenant_id, int64_t run_id, std::string_view status, int64_t pages,
                   int64_t rows, std::string_view error, int64_t finished_at);
  Result<std::optional<JobRun>> getRun(std::string_view tenant_id, int64_t run_id);
  // Newest first, at most `limit`.
  Result<std::vector<JobRun>> listRuns(std::string_view tenant_id, std::string_view integration_id,
                                       std::string_view job, size_t limit);

 private:
  Store& store_;
};

}  // namespace ih::store
