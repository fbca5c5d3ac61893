// Job leases and run history in SQLite (schema v5).
#include <catch2/catch.hpp>

#include "store/scheduler_store.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

using ih::store::JobRun;
using ih::store::SchedulerStore;

namespace {

struct Fixture {
  ih::test::TempDir dir;
  std::unique_ptr<ih::store::Store> store;
  Fixture() { store = ih::test::openTestStore(dir.file("ihost.db"), {{"t1", "acme"}, {"t2", "globex"}}); }
};

// A run of t1's example "sync" job.
JobRun syncRun(const std::string& trigger, int64_t started_at) {
  JobRun run;
  run.tenant_id = "t1";
  run.integration_id = "example";
  run.job = "sync";
  run.trigger = trigger;
  run.started_at = started_at;
  return run;
}

}  // namespace

TEST_CASE("scheduler store: a lease is exclusive until it expires or is released", "[scheduler]") {
  Fixture f;
  SchedulerStore s(*f.store);
  CHECK(f.store->schemaVersion() >= 5);
  REQUIRE(*s.acquireLease("t1", "example", "sync", "a", 1000, 2000));
  CHECK_FALSE(*s.acquireLease("t1", "example", "sync", "b", 1500, 2500));  // live
  CHECK_FALSE(*s.acquireLease("t1", "example", "sync", "a", 1500, 2500));  // not re-entrant either
  CHECK(*s.acquireLease("t2", "example", "sync", "b", 1500, 2500));        // other tenant
  CHECK(*s.acquireLease("t1", "example", "other", "b", 1500, 2500));       // other job
  CHECK(*s.renewLease("t1", "example", "sync", "a", 3000));
  CHECK_FALSE(*s.renewLease("t1", "example", "sync", "b", 3000));
  CHECK_FALSE(*s.acquireLease("t1", "example", "sync", "b", 2900, 4000));  // renewed: still live
  CHECK(*s.acquireLease("t1", "example", "sync", "b", 3000, 4000));        // expired: taken over
  CHECK_FALSE(*s.renewLease("t1", "example", "sync", "a", 5000));          // a lost it
  REQUIRE(s.releaseLease("t1", "example", "sync", "a").isOk());            // not a's: no effect
  CHECK_FALSE(*s.acquireLease("t1", "example", "sync", "c", 3500, 5000));
  REQUIRE(s.releaseLease("t1", "example", "sync", "b").isOk());
  CHECK(*s.acquireLease("t1", "example", "sync", "c", 3500, 5000));
}

// Replicas each keep timers for every job: a scheduled run is refused while another scheduled run of the same
// job and tenant started after `scheduled_not_since`, so together they run it once per period.
TEST_CASE("scheduler store: a scheduled run is refused while a recent scheduled run exists", "[scheduler]") {
  Fixture f;
  SchedulerStore s(*f.store);
  REQUIRE(s.insertRun("t1", syncRun("manual", 5000)).isOk());
  bool recent = true;
  // A manual run does not count: the scheduled one still runs.
  REQUIRE(*s.acquireLease("t1", "example", "sync", "a", 6000, 7000, 1000, &recent));
  CHECK_FALSE(recent);
  REQUIRE(s.insertRun("t1", syncRun("schedule", 6000)).isOk());
  REQUIRE(s.releaseLease("t1", "example", "sync", "a").isOk());
  // Another replica's timer fires 1 s later: refused, and the lease is left free.
  CHECK_FALSE(*s.acquireLease("t1", "example", "sync", "b", 7000, 8000, 6500 - 1000, &recent));
  CHECK(recent);
  CHECK(*s.acquireLease("t1", "example", "sync", "c", 7000, 8000));  // not a scheduled run: no such rule
  REQUIRE(s.releaseLease("t1", "example", "sync", "c").isOk());
  // A period later it runs; other tenants and jobs were never affected.
  CHECK(*s.acquireLease("t1", "example", "sync", "b", 20000, 21000, 6000, &recent));
  CHECK_FALSE(recent);
  CHECK(*s.acquireLease("t2", "example", "sync", "b", 7000, 8000, 6500, &recent));
  CHECK(*s.acquireLease("t1", "example", "other", "b", 7000, 8000, 6500, &recent));
}

TEST_CASE("scheduler store: runs are recorded, listed newest first, closed when abandoned", "[scheduler]") {
  Fixture f;
  SchedulerStore s(*f.store);
  JobRun run = syncRun("schedule", 100);
  auto first = s.insertRun("t1", run);
  REQUIRE(first.isOk());
  CHECK(s.insertRun("t2", run).status().code() == ih::StatusCode::kInvalidArgument);
  REQUIRE(s.updateRunProgress("t1", *first, 2, 40).isOk());
  REQUIRE(s.finishRun("t1", *first, "succeeded", 3, 50, "", 200).isOk());
  CHECK(s.finishRun("t2", *first, "failed", 0, 0, "x", 200).code() == ih::StatusCode::kNotFound);

  run.trigger = "cli";
  run.full = true;
  run.started_at = 300;
  auto second = s.insertRun("t1", run);
  REQUIRE(second.isOk());
  auto listed = s.listRuns("t1", "example", "sync", 10);
  REQUIRE(listed.isOk());
  REQUIRE(listed->size() == 2);
  CHECK(listed->at(0).id == *second);
  CHECK(listed->at(0).status == "running");
  CHECK(listed->at(0).full);
  CHECK(listed->at(1).rows == 50);
  CHECK(listed->at(1).pages == 3);
  CHECK(*listed->at(1).finished_at == 200);
  CHECK(s.listRuns("t2", "example", "sync", 10)->empty());
  CHECK_FALSE(s.getRun("t2", *second)->has_value());

  // The second run's holder crashed: whoever takes the free lease closes it.
  REQUIRE(*s.acquireLease("t1", "example", "sync", "new", 1000, 2000));
  auto closed = s.getRun("t1", *second);
  REQUIRE(closed->has_value());
  CHECK((*closed)->status == "failed");
  CHECK((*closed)->error.find("abandoned") != std::string::npos);
  CHECK((*s.getRun("t1", *first))->status == "succeeded");
}
