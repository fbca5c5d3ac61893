// What only PostgreSQL has: replicas sharing one database. Two Stores on the same schema stand for two ihost
// processes (each with its own writer and read pool, as N `ihost serve` are). These cases are hidden ([.]) and
// run in the postgres_test_unit_store lane (tests/CMakeLists.txt), which selects them with [postgres].
// Also the SQL layer's parameter rewriting and deferred statements, which run everywhere.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "store/db.h"
#include "store/event_store.h"
#include "store/inbox_store.h"
#include "store/sql.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

using ih::store::InboxEvent;
using ih::store::InboxStore;
using ih::store::IntakeOutcome;
using ih::store::Store;

namespace {

std::unique_ptr<Store> replica(const std::string& path, const std::string& id, int64_t lease_ms = 60000) {
  ih::store::Options options;
  options.replica_id = id;
  options.claim_lease_ms = lease_ms;
  return ih::test::openTestStore(path, {}, options);
}

InboxEvent event(const std::string& event_id, int64_t now, const std::string& object_id = "") {
  InboxEvent e = ih::test::testInboxEvent("hooks", "t_a", event_id, now, R"({"id":")" + event_id + R"("})");
  e.object_id = object_id;
  return e;
}

}  // namespace

TEST_CASE("sql: ? and ?N become $N outside literals, quoted names and comments", "[store]") {
  std::vector<bool> used;
  CHECK(ih::store::sql::toDollarParameters("SELECT a FROM t WHERE b = ? AND c = ?", used) ==
        "SELECT a FROM t WHERE b = $1 AND c = $2");
  CHECK(used == std::vector<bool>{true, true});
  CHECK(ih::store::sql::toDollarParameters("UPDATE t SET x = ?2 WHERE id = ?1 AND y = ?2", used) ==
        "UPDATE t SET x = $2 WHERE id = $1 AND y = $2");
  // A plain ? after ?3 is the next number, as SQLite counts.
  CHECK(ih::store::sql::toDollarParameters("VALUES (?3, ?)", used) == "VALUES ($3, $4)");
  CHECK(used == std::vector<bool>{false, false, true, true});
  CHECK(ih::store::sql::toDollarParameters("SELECT '?', \"a?\", ? -- why?\n, ?", used) ==
        "SELECT '?', \"a?\", $1 -- why?\n, $2");
  CHECK(ih::store::sql::toDollarParameters("SELECT 'it''s ?' || ?", used) == "SELECT 'it''s ?' || $1");
  CHECK(ih::store::sql::toDollarParameters("LIMIT ?7", used) == "LIMIT $7");
  CHECK(used.size() == 7);
  CHECK_FALSE(used[0]);
  CHECK(used[6]);
}

TEST_CASE("replicas: two processes claiming at once never get the same webhook event", "[.][postgres]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("shared.db");
  auto a = replica(path, "replica-a");
  REQUIRE(a->createTenant({"t_a", "alpha", 1}).isOk());
  auto b = replica(path, "replica-b");
  InboxStore inbox_a(*a), inbox_b(*b);
  constexpr int kEvents = 400;
  for (int i = 0; i < kEvents; ++i)
    REQUIRE(inbox_a.insert(event("evt_" + std::to_string(i), 1000))->outcome == IntakeOutcome::kAccepted);

  std::vector<int64_t> claimed_a, claimed_b;
  std::atomic<bool> failed{false};
  auto drain = [&](InboxStore& inbox, std::vector<int64_t>& out) {
    for (;;) {
      auto batch = inbox.claimDue(2000, 7);
      if (!batch.isOk()) {
        failed = true;
        return;
      }
      if (batch->empty()) return;
      for (const auto& c : *batch)
        out.push_back(c.event.id);
    }
  };
  std::thread ta([&] { drain(inbox_a, claimed_a); });
  std::thread tb([&] { drain(inbox_b, claimed_b); });
  ta.join();
  tb.join();
  REQUIRE_FALSE(failed);
  std::set<int64_t> all(claimed_a.begin(), claimed_a.end());
  for (int64_t id : claimed_b)
    CHECK(all.insert(id).second);  // claimed by one replica only
  CHECK(all.size() == kEvents);
  CHECK(!claimed_a.empty());
  CHECK(!claimed_b.empty());
}

TEST_CASE("replicas: a dead replica's claims are taken over once they expire, a live one's are kept",
          "[.][postgres]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("shared.db");
  auto dead = replica(path, "replica-dead", /*lease_ms=*/1000);
  REQUIRE(dead->createTenant({"t_a", "alpha", 1}).isOk());
  auto live = replica(path, "replica-live", /*lease_ms=*/1000);
  InboxStore inbox_dead(*dead), inbox_live(*live);
  REQUIRE(inbox_dead.insert(event("evt_1", 1000))->outcome == IntakeOutcome::kAccepted);
  REQUIRE(inbox_dead.insert(event("evt_2", 1000))->outcome == IntakeOutcome::kAccepted);
  auto first = inbox_dead.claimDue(2000, 1);
  REQUIRE(first.isOk());
  REQUIRE(first->size() == 1);
  const int64_t held = (*first)[0].event.id;

  // Within the lease the other replica sees only the unclaimed event; its start-up recovery leaves the claim.
  CHECK(*inbox_live.recoverInterrupted(2100) == 0);
  auto second = inbox_live.claimDue(2500, 10);
  REQUIRE(second.isOk());
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].event.id != held);
  // Past the lease (claimed at 2000 + 1000 ms) the claim is taken over, attempts counting the lost one.
  auto taken = inbox_live.claimDue(3001, 10);
  REQUIRE(taken.isOk());
  REQUIRE(taken->size() == 1);
  CHECK((*taken)[0].event.id == held);
  CHECK((*taken)[0].event.attempts == 2);
  // The dead replica, back with the same id, cannot give back what is no longer its own.
  REQUIRE(inbox_dead.releaseClaims({held}).isOk());
  CHECK(ih::test::testStoreScalar(path,
                                  "SELECT count(*) FROM webhook_events WHERE status = 'processing' AND "
                                  "claimed_by = 'replica-live'") == 2);
  // A replica restarting under its own id takes its claims back at once.
  CHECK(*inbox_live.recoverInterrupted(3002) == 2);
}

TEST_CASE("replicas: event ids become visible in order, so an id cursor misses nothing", "[.][postgres]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("shared.db");
  auto a = replica(path, "replica-a");
  REQUIRE(a->createTenant({"t_a", "alpha", 1}).isOk());
  auto b = replica(path, "replica-b");
  ih::store::EventStore events_a(*a), events_b(*b);
  constexpr int kPerReplica = 300;
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  auto write = [&](ih::store::EventStore& events) {
    for (int i = 0; i < kPerReplica && !failed; ++i) {
      ih::store::EventRow row;
      row.tenant_id = "t_a";
      row.integration_id = "hooks";
      row.type = "test.event";
      row.occurred_at = i;
      row.data_json = "{}";
      if (!events.append("t_a", row).isOk()) failed = true;
    }
  };
  // A reader following the cursor the way GET /api/events?after= does, while both replicas append.
  std::vector<int64_t> seen;
  std::thread reader([&] {
    int64_t after = 0;
    for (;;) {
      const bool last =
          stop.load();  // read before the page: a page read after both writers finished sees all
      auto page = events_a.list("t_a", after, "", 50);
      if (!page.isOk()) {
        failed = true;
        return;
      }
      for (const auto& e : *page) {
        seen.push_back(e.id);
        after = e.id;
      }
      if (page->empty() && last) return;
    }
  });
  std::thread wa([&] { write(events_a); });
  std::thread wb([&] { write(events_b); });
  wa.join();
  wb.join();
  stop = true;
  reader.join();
  REQUIRE_FALSE(failed);
  CHECK(seen.size() == 2 * kPerReplica);  // none skipped by the cursor
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == seen.size());
}

TEST_CASE("replicas: one rate bucket per key on the server, shared by every replica", "[.][postgres]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("shared.db");
  auto a = replica(path, "replica-a");
  auto b = replica(path, "replica-b");
  // 10 req/s: one second of burst (10 tokens) between both replicas, then each take waits its turn.
  int immediate = 0;
  double last_wait = 0;
  for (int i = 0; i < 16; ++i) {
    Store& s = i % 2 ? *a : *b;
    auto wait = s.takeRateToken("t_a/stripe", 10, 10);
    REQUIRE(wait.isOk());
    if (*wait == 0) ++immediate;
    last_wait = *wait;
  }
  CHECK(immediate >= 10);
  CHECK(immediate <= 11);  // a token may refill while the 16 takes run
  CHECK(last_wait > 0.4);  // 5 or 6 tokens owed at 10/s
  CHECK(last_wait < 0.7);
  // Another key has its own bucket; a debt deeper than max_debt_s is not taken on.
  CHECK(*a->takeRateToken("t_b/stripe", 10, 10) == 0);
  for (int i = 0; i < 100; ++i)
    REQUIRE(b->takeRateToken("t_c/stripe", 1, 2).isOk());
  CHECK(*b->takeRateToken("t_c/stripe", 1, 2) <= 3.01);
}

TEST_CASE("store: shared rate buckets are for PostgreSQL", "[store][sqlite]") {
  ih::test::TempDir dir;
  ih::store::Options options;
  options.path = dir.file("one.db");
  auto store = Store::open(options);
  REQUIRE(store.isOk());
  CHECK((*store)->takeRateToken("t/stripe", 10, 10).status().code() == ih::StatusCode::kFailedPrecondition);
}

namespace {

// How a host_meta row is inserted by putMeta's task.
enum class Put {
  kNow,           // exec()
  kDeferred,      // execDeferred(), nothing after it in the task
  kDeferredRead,  // execDeferred(), then a statement of the task's own (as a records page does)
};

ih::store::WriteTask putMeta(std::string key, Put how) {
  return [key, how](ih::store::sql::Connection& c) {
    ih::store::sql::Statement q(c, "INSERT INTO host_meta(key, value, updated_at) VALUES (?, ?, 1)");
    q.bind(1, key);
    q.bindBlob(2, "v");
    if (how == Put::kNow) {
      q.exec();
      return ih::Status::ok();
    }
    q.execDeferred();
    if (how == Put::kDeferredRead) {
      ih::store::sql::Statement count(c, "SELECT COUNT(*) FROM host_meta");
      count.executeStep();
    }
    return ih::Status::ok();
  };
}

// Queues `tasks` while the writer is held, so they share one batch; returns their outcomes in order.
std::vector<ih::Status> oneBatch(ih::store::Db& db, const std::vector<ih::store::WriteTask>& tasks) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  auto running = started.get_future();
  auto blocker = db.write([gate, &started](ih::store::sql::Connection&) {
    started.set_value();
    gate.wait();
    return ih::Status::ok();
  });
  running.wait();
  std::vector<std::future<ih::Status>> results;
  for (const auto& task : tasks)
    results.push_back(db.write(task));
  release.set_value();
  REQUIRE(blocker.get().isOk());
  std::vector<ih::Status> done;
  for (auto& r : results)
    done.push_back(r.get());
  return done;
}

std::vector<ih::Status> oneBatch(ih::store::Db& db, const std::vector<std::pair<std::string, Put>>& puts) {
  std::vector<ih::store::WriteTask> tasks;
  for (const auto& [key, how] : puts)
    tasks.push_back(putMeta(key, how));
  return oneBatch(db, tasks);
}

}  // namespace

// A statement whose answer nobody reads (Statement::execDeferred; SAVEPOINT and RELEASE too) travels, on
// PostgreSQL, with the next statement, so its failure is thrown by a later task of the batch. On SQLite it runs
// at once. On both, a task is reported done exactly when its write is in the database.
TEST_CASE("a deferred write's failure never leaves a task reported done without its write", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("deferred.db");
  auto store = ih::test::openTestStore(path);
  ih::store::Db& db = store->database();
  REQUIRE(db.writeSync(putMeta("taken", Put::kNow)).isOk());
  const std::vector<std::pair<std::string, Put>> tasks = {{"before", Put::kNow},
                                                          {"taken", Put::kDeferred},
                                                          {"after", Put::kNow},
                                                          {"deferred-ok", Put::kDeferred},
                                                          {"last", Put::kNow}};
  const std::vector<ih::Status> done = oneBatch(db, tasks);
  CHECK_FALSE(done[1].isOk());  // the duplicate key
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (i == 1) continue;
    INFO(tasks[i].first << ": " << done[i].toString());
    const int64_t rows = ih::test::testStoreScalar(
        path, "SELECT COUNT(*) FROM host_meta WHERE key = '" + tasks[i].first + "'");
    CHECK(rows == (done[i].isOk() ? 1 : 0));
  }
  // The tasks after the failure's transaction start a new one and land.
  CHECK(done[3].isOk());
  CHECK(done[4].isOk());
  if (ih::test::testStoreIsPostgres()) {
    // The failure surfaced in "after"'s statement: the whole transaction was rolled back with it, and "after"
    // is not told the duplicate was its own.
    CHECK(done[0].code() == ih::StatusCode::kUnavailable);
    CHECK(done[2].code() == ih::StatusCode::kUnavailable);
  } else {
    CHECK(done[0].isOk());
    CHECK(done[2].isOk());
  }
}

// A task whose own deferred write fails and which then runs a statement of its own (as a records page does: its
// upserts ride ahead of the final sequence read) fails alone, on both backends.
TEST_CASE("a task's own deferred write failing fails that task only", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("deferred-own.db");
  auto store = ih::test::openTestStore(path);
  ih::store::Db& db = store->database();
  REQUIRE(db.writeSync(putMeta("taken", Put::kNow)).isOk());
  const std::vector<ih::Status> done = oneBatch(db, {{"before", Put::kNow},
                                                     {"taken", Put::kDeferredRead},
                                                     {"fresh", Put::kDeferredRead},
                                                     {"after", Put::kNow}});
  CHECK(done[0].isOk());
  CHECK(done[1].code() == ih::StatusCode::kAlreadyExists);
  CHECK(done[2].isOk());
  CHECK(done[3].isOk());
  CHECK(ih::test::testStoreScalar(
            path, "SELECT COUNT(*) FROM host_meta WHERE key IN ('before', 'fresh', 'after')") == 3);
}

// A full pipeline (256 statements) is sent before more is queued, so a task's deferred failure may surface while
// the core queues the next task's SAVEPOINT. The core cannot tell whose it was: the whole transaction goes, and
// the task that wrote it is not reported done (253 deferred writes put that flush exactly at the boundary on
// PostgreSQL: BEGIN's lock, SAVEPOINT, 253 writes, RELEASE).
TEST_CASE("a deferred failure flushed at a task boundary fails the whole transaction", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("deferred-boundary.db");
  auto store = ih::test::openTestStore(path);
  ih::store::Db& db = store->database();
  REQUIRE(db.writeSync(putMeta("taken", Put::kNow)).isOk());
  const ih::store::WriteTask many = [](ih::store::sql::Connection& c) {
    ih::store::sql::Statement q(c, "INSERT INTO host_meta(key, value, updated_at) VALUES (?, ?, 1)");
    for (int n = 0; n < 253; ++n) {
      q.bind(1, n == 100 ? std::string("taken") : "many-" + std::to_string(n));
      q.bindBlob(2, "v");
      q.execDeferred();
    }
    return ih::Status::ok();
  };
  const std::vector<ih::Status> done =
      oneBatch(db, {many, putMeta("next", Put::kNow), putMeta("later", Put::kNow)});
  CHECK_FALSE(done[0].isOk());
  CHECK(ih::test::testStoreScalar(path, "SELECT COUNT(*) FROM host_meta WHERE key LIKE 'many-%'") == 0);
  for (size_t i = 1; i < done.size(); ++i) {
    const std::string key = i == 1 ? "next" : "later";
    INFO(key << ": " << done[i].toString());
    CHECK(ih::test::testStoreScalar(path, "SELECT COUNT(*) FROM host_meta WHERE key = '" + key + "'") ==
          (done[i].isOk() ? 1 : 0));
  }
  CHECK(done[2].isOk());
}
