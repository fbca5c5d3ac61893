// Scheduled jobs: leases and run history (migrations/sqlite/0005_scheduler.sql). See scheduler_store.h.
#include "store/scheduler_store.h"

#include "store/db.h"
#include "store/store.h"

namespace ih::store {

namespace {

constexpr const char* kRunColumns =
    "id, tenant, integration, job, \"trigger\", \"full\", started_at, finished_at, status, pages, \"rows\", "
    "error, since";

JobRun readRun(sql::Statement& q) {
  JobRun run;
  run.id = q.getColumn(0).getInt64();
  run.tenant_id = q.getColumn(1).getString();
  run.integration_id = q.getColumn(2).getString();
  run.job = q.getColumn(3).getString();
  run.trigger = q.getColumn(4).getString();
  run.full = q.getColumn(5).getInt() != 0;
  run.started_at = q.getColumn(6).getInt64();
  if (!q.getColumn(7).isNull()) run.finished_at = q.getColumn(7).getInt64();
  run.status = q.getColumn(8).getString();
  run.pages = q.getColumn(9).getInt64();
  run.rows = q.getColumn(10).getInt64();
  if (!q.getColumn(11).isNull()) run.error = q.getColumn(11).getString();
  if (!q.getColumn(12).isNull()) run.since = q.getColumn(12).getInt64();
  return run;
}

}  // namespace

Result<bool> SchedulerStore::acquireLease(std::string_view tenant_id, std::string_view integration_id,
                                          std::string_view job, std::string_view holder, int64_t now,
                                          int64_t expires_at, int64_t scheduled_not_since,
                                          bool* ran_recently) {
  bool acquired = false;
  if (ran_recently) *ran_recently = false;
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    if (scheduled_not_since > 0) {
      sql::Statement last(db,
                          "SELECT started_at FROM job_runs WHERE tenant = ? AND integration = ? AND job = ? "
                          "AND \"trigger\" = 'schedule' ORDER BY id DESC LIMIT 1");
      last.bindText(1, tenant_id);
      last.bindText(2, integration_id);
      last.bindText(3, job);
      if (last.executeStep() && last.getColumn(0).getInt64() > scheduled_not_since) {
        if (ran_recently) *ran_recently = true;
        return Status::ok();
      }
    }
    sql::Statement q(
        db,
        "INSERT INTO job_leases(integration, tenant, job, holder, expires_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(integration, tenant, job) DO UPDATE SET holder = excluded.holder, "
        "expires_at = excluded.expires_at WHERE job_leases.expires_at <= ?");
    q.bindText(1, integration_id);
    q.bindText(2, tenant_id);
    q.bindText(3, job);
    q.bindText(4, holder);
    q.bind(5, expires_at);
    q.bind(6, now);
    acquired = q.exec() == 1;
    if (acquired) {
      sql::Statement abandon(
          db,
          "UPDATE job_runs SET status = 'failed', finished_at = ?, error = 'abandoned: the "
          "process running it stopped and its lease expired' WHERE tenant = ? AND "
          "integration = ? AND job = ? AND status = 'running'");
      abandon.bind(1, now);
      abandon.bindText(2, tenant_id);
      abandon.bindText(3, integration_id);
      abandon.bindText(4, job);
      abandon.exec();
    }
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return acquired;
}

Result<bool> SchedulerStore::renewLease(std::string_view tenant_id, std::string_view integration_id,
                                        std::string_view job, std::string_view holder, int64_t expires_at) {
  bool held = false;
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "UPDATE job_leases SET expires_at = ? WHERE integration = ? AND tenant = ? AND job = ? "
                     "AND holder = ?");
    q.bind(1, expires_at);
    q.bindText(2, integration_id);
    q.bindText(3, tenant_id);
    q.bindText(4, job);
    q.bindText(5, holder);
    held = q.exec() == 1;
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return held;
}

Status SchedulerStore::releaseLease(std::string_view tenant_id, std::string_view integration_id,
                                    std::string_view job, std::string_view holder) {
  return store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(
        db, "DELETE FROM job_leases WHERE integration = ? AND tenant = ? AND job = ? AND holder = ?");
    q.bindText(1, integration_id);
    q.bindText(2, tenant_id);
    q.bindText(3, job);
    q.bindText(4, holder);
    q.exec();
    return Status::ok();
  });
}

Result<int64_t> SchedulerStore::insertRun(std::string_view tenant_id, const JobRun& run) {
  if (run.tenant_id != tenant_id)
    return Status::invalidArgument("job run is for another tenant than the call");
  int64_t id = 0;
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "INSERT INTO job_runs(tenant, integration, job, \"trigger\", \"full\", started_at, "
                     "finished_at, status, pages, \"rows\", error, since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                     "?, ?, ?) RETURNING id");
    q.bind(1, run.tenant_id);
    q.bind(2, run.integration_id);
    q.bind(3, run.job);
    q.bind(4, run.trigger);
    q.bind(5, run.full ? 1 : 0);
    q.bind(6, run.started_at);
    if (run.finished_at) q.bind(7, *run.finished_at);
    q.bind(8, run.status);
    q.bind(9, run.pages);
    q.bind(10, run.rows);
    if (!run.error.empty()) q.bind(11, run.error);
    if (run.since) q.bind(12, *run.since);
    if (!q.executeStep()) return Status::internal("job run insert returned no id");
    id = q.getColumn(0).getInt64();
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return id;
}

Status SchedulerStore::updateRunProgress(std::string_view tenant_id, int64_t run_id, int64_t pages,
                                         int64_t rows) {
  return store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(db, "UPDATE job_runs SET pages = ?, \"rows\" = ? WHERE id = ? AND tenant = ?");
    q.bind(1, pages);
    q.bind(2, rows);
    q.bind(3, run_id);
    q.bindText(4, tenant_id);
    q.exec();
    return Status::ok();
  });
}

Status SchedulerStore::finishRun(std::string_view tenant_id, int64_t run_id, std::string_view status,
                                 int64_t pages, int64_t rows, std::string_view error, int64_t finished_at) {
  return store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "UPDATE job_runs SET status = ?, pages = ?, \"rows\" = ?, error = ?, finished_at = ? "
                     "WHERE id = ? AND tenant = ?");
    q.bindText(1, status);
    q.bind(2, pages);
    q.bind(3, rows);
    if (!error.empty()) q.bindText(4, error);
    q.bind(5, finished_at);
    q.bind(6, run_id);
    q.bindText(7, tenant_id);
    if (q.exec() != 1) return Status::notFound("no job run " + std::to_string(run_id) + " for this tenant");
    return Status::ok();
  });
}

Result<std::optional<JobRun>> SchedulerStore::getRun(std::string_view tenant_id, int64_t run_id) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::optional<JobRun>> {
    sql::Statement q(db, std::string("SELECT ") + kRunColumns + " FROM job_runs WHERE id = ? AND tenant = ?");
    q.bind(1, run_id);
    q.bindText(2, tenant_id);
    if (!q.executeStep()) return std::optional<JobRun>();
    return std::optional<JobRun>(readRun(q));
  });
}

Result<std::vector<JobRun>> SchedulerStore::listRuns(std::string_view tenant_id,
                                                     std::string_view integration_id, std::string_view job,
                                                     size_t limit) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<JobRun>> {
    sql::Statement q(db,
                     std::string("SELECT ") + kRunColumns +
                         " FROM job_runs WHERE tenant = ? AND integration = ? AND job = ? ORDER BY id DESC "
                         "LIMIT ?");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    q.bindText(3, job);
    q.bind(4, static_cast<int64_t>(limit));
    std::vector<JobRun> out;
    while (q.executeStep())
      out.push_back(readRun(q));
    return out;
  });
}

}  // namespace ih::store
