// The SQLite inbox in its own file (Store::inboxDatabase, migrations/sqlite_inbox/, main migration 15): an
// existing inbox moves there whole, and an outcome never commits before the handling's writes in the main file.
#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/sinks.h"
#include "log/log.h"
#include "store/db.h"
#include "store/inbox_store.h"
#include "store/sql_sqlite.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

namespace {

using ih::Status;
using ih::store::InboxStatus;

int64_t scalar(SQLite::Database& db, const std::string& sql) {
  SQLite::Statement q(db, sql);
  return q.executeStep() ? q.getColumn(0).getInt64() : -1;
}

// Holds a Db's writer inside a task until released, so that what is queued behind it waits.
struct WriterBlocker {
  std::promise<void> release;
  std::future<Status> done;
  explicit WriterBlocker(ih::store::Db& db) {
    std::shared_future<void> gate = release.get_future().share();
    auto started = std::make_shared<std::promise<void>>();
    auto running = started->get_future();
    done = db.write([gate, started](ih::store::sql::Connection&) {
      started->set_value();
      gate.wait();
      return Status::ok();
    });
    running.wait();
  }
};

ih::store::InboxEvent event(const std::string& id, int64_t now) {
  return ih::test::testInboxEvent("hooks", "t_a", id, now, R"({"id":")" + id + "\"}");
}

}  // namespace

TEST_CASE("inbox file: beside the main file, named after it", "[store][sqlite]") {
  CHECK(ih::store::inboxPathFor("/var/lib/ihost/ihost.db") == "/var/lib/ihost/ihost-inbox.db");
  CHECK(ih::store::inboxPathFor("data/store") == "data/store-inbox");
  CHECK(ih::store::inboxPathFor(":memory:").empty());
  CHECK(ih::store::inboxPathFor("file:x.db?mode=memory").empty());

  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  auto store = ih::test::openTestStore(path, {{"t_a", "alpha"}});
  CHECK(&store->inboxDatabase() != &store->database());
  ih::store::InboxStore inbox(*store);
  REQUIRE(inbox.insert(event("evt_1", 1000)).isOk());
  // The main file has no inbox table; the inbox file has them, with the row.
  SQLite::Database main(path, SQLite::OPEN_READONLY);
  CHECK(scalar(main, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'webhook_%'") == 1);  // routes
  SQLite::Database own(ih::store::inboxPathFor(path), SQLite::OPEN_READONLY);
  CHECK(scalar(own, "SELECT count(*) FROM webhook_events WHERE event_id = 'evt_1'") == 1);
  CHECK(own.execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK((std::filesystem::status(ih::store::inboxPathFor(path)).permissions() &
         std::filesystem::perms::others_read) == std::filesystem::perms::none);
}

TEST_CASE("inbox file: an inbox of the main file moves there with its ids and its id counters",
          "[store][sqlite]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  {
    // A database as the last binary left it: schema version 14, the inbox in the main file, the newest
    // events pruned (the id counter is ahead of the rows).
    ih::store::sql::SqliteConnection old(path, true, 5000);
    old.exec("PRAGMA journal_mode=WAL");
    auto version = ih::store::applyMigrations(old, path, ih::store::sqliteMigrations().first(14));
    REQUIRE(version.isOk());
    REQUIRE(*version == 14);
    old.exec("INSERT INTO tenants(id, name, created_at) VALUES ('t_a', 'alpha', 1)");
    old.exec(
        "INSERT INTO webhook_events(id, integration_id, tenant_id, event_id, type, object_id, occurred_at, "
        "payload, payload_sha256, status, attempts, next_attempt_at, received_at, updated_at, last_error, "
        "replays) VALUES "
        "(5, 'hooks', 't_a', 'evt_dead', 'invoice.paid', 'in_1', 10, x'7b7d', x'00', 'dead', 6, 0, 1000, "
        "1000, 'gave up', 1), "
        "(9, 'hooks', 't_a', 'evt_pending', 'invoice.paid', '', 11, x'7b7d', x'01', 'pending', 0, 2000, "
        "2000, "
        "2000, NULL, 0)");
    old.exec(
        "INSERT INTO webhook_attempts(id, event_row, attempt, started_at, duration_ms, ok, error) VALUES "
        "(3, 5, 1, 1000, 4, 0, 'gave up')");
    old.exec("INSERT INTO webhook_objects VALUES ('t_a', 'hooks', 'in_1', 10)");
    old.exec("UPDATE sqlite_sequence SET seq = 42 WHERE name = 'webhook_events'");
  }
  auto store = ih::test::openTestStore(path);
  CHECK(store->schemaVersion() == ih::store::Store::latestSchemaVersion());
  {
    SQLite::Database main(path, SQLite::OPEN_READONLY);
    CHECK(scalar(main,
                 "SELECT count(*) FROM sqlite_master WHERE name IN ('webhook_events', "
                 "'webhook_attempts', 'webhook_objects')") == 0);
  }
  ih::store::InboxStore inbox(*store);
  auto dead = inbox.get("t_a", 5);
  REQUIRE(dead.isOk());
  CHECK(dead->status == InboxStatus::kDead);
  CHECK(dead->attempts == 6);
  CHECK(dead->last_error == "gave up");
  CHECK(ih::test::testStoreScalar(path, "SELECT replays FROM webhook_events WHERE id = 5") == 1);
  auto attempts = inbox.attempts(5);
  REQUIRE(attempts.isOk());
  REQUIRE(attempts->size() == 1);
  CHECK((*attempts)[0].error == "gave up");
  // The object watermark came along: an older event of that object is stale.
  auto pending = inbox.claimDue(5000, 10);
  REQUIRE(pending.isOk());
  REQUIRE(pending->size() == 1);
  CHECK(pending->front().event.event_id == "evt_pending");
  // A new event takes an id after the counter, never a pruned one (the dedupe keys of the events emitted by
  // handlings carry the row id).
  auto fresh = inbox.insert(event("evt_new", 3000));
  REQUIRE(fresh.isOk());
  CHECK(fresh->id == 43);
  store.reset();
  // Opening again changes nothing.
  store = ih::test::openTestStore(path);
  ih::store::InboxStore again(*store);
  CHECK(again.get("t_a", 43).isOk());
  CHECK(again.get("t_a", 5).isOk());
}

TEST_CASE("inbox file: an outcome commits only after its handling's writes in the main file",
          "[store][sqlite]") {
  ih::test::TempDir dir;
  auto store = ih::test::openTestStore(dir.file("ihost.db"), {{"t_a", "alpha"}});
  ih::store::InboxStore inbox(*store);
  REQUIRE(inbox.insert(event("evt_ok", 1000)).isOk());
  REQUIRE(inbox.insert(event("evt_bad", 1000)).isOk());
  auto claimed = inbox.claimDue(2000, 10);
  REQUIRE(claimed.isOk());
  REQUIRE(claimed->size() == 2);

  WriterBlocker blocker(store->database());
  // The handlings' writes, queued on the main writer (held back by the blocker): one stores, one fails.
  auto ok_group = std::make_shared<ih::sinks::WriteGroup>();
  auto bad_group = std::make_shared<ih::sinks::WriteGroup>();
  store->database().writeAsync(
      [](ih::store::sql::Connection& db) {
        db.exec(
            "INSERT INTO plugin_state(tenant_id, integration_id, key, value, updated_at) "
            "VALUES ('t_a', 'hooks', 'handled', 'yes', 1)");
        return Status::ok();
      },
      [](const Status&) {}, ok_group);
  store->database().writeAsync([](ih::store::sql::Connection&) { return Status::internal("disk says no"); },
                               [](const Status&) {}, bad_group);
  std::vector<ih::store::AttemptOutcome> outcomes(2);
  for (size_t i = 0; i < 2; ++i) {
    outcomes[i].event = &(*claimed)[i].event;
    outcomes[i].started_at = 2000;
    outcomes[i].ok = true;
    outcomes[i].writes = (*claimed)[i].event.event_id == "evt_ok" ? ok_group : bad_group;
    outcomes[i].next_attempt_if_writes_failed = 9000;
  }
  std::promise<Status> recorded;
  inbox.completeAllAsync(outcomes, [&](const Status& s) { recorded.set_value(s); });
  auto recorded_future = recorded.get_future();
  // The inbox's writer is free, but the outcomes wait for the main file's commit.
  CHECK(recorded_future.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  const int64_t ok_row =
      (*claimed)[0].event.event_id == "evt_ok" ? (*claimed)[0].event.id : (*claimed)[1].event.id;
  const int64_t bad_row = ok_row == (*claimed)[0].event.id ? (*claimed)[1].event.id : (*claimed)[0].event.id;
  CHECK(inbox.get("t_a", ok_row)->status == InboxStatus::kProcessing);
  blocker.release.set_value();
  REQUIRE(recorded_future.get().isOk());
  CHECK(inbox.get("t_a", ok_row)->status == InboxStatus::kProcessed);
  auto bad = inbox.get("t_a", bad_row);
  REQUIRE(bad.isOk());
  CHECK(bad->status == InboxStatus::kFailed);
  CHECK(bad->next_attempt_at == 9000);
  CHECK_THAT(bad->last_error, Catch::Contains("storing the records or events of the handling failed") &&
                                  Catch::Contains("disk says no"));
  CHECK(ih::test::testStoreScalar(dir.file("ihost.db"), "SELECT count(*) FROM plugin_state") == 1);
}

TEST_CASE("inbox file: moving an inbox never lowers the inbox file's id counter", "[store][sqlite]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  {
    ih::store::sql::SqliteConnection old(path, true, 5000);
    REQUIRE(ih::store::applyMigrations(old, path, ih::store::sqliteMigrations().first(14)).isOk());
    old.exec(
        "INSERT INTO webhook_events(id, integration_id, tenant_id, event_id, payload, payload_sha256, "
        "status, next_attempt_at, received_at, updated_at) VALUES (7, 'hooks', 't_a', 'evt_7', x'7b7d', "
        "x'00', 'processed', 0, 1, 1)");
    // An inbox file that already handed out ids up to 100 (an interrupted earlier start, say).
    const std::string inbox_path = ih::store::inboxPathFor(path);
    ih::store::sql::SqliteConnection inbox(inbox_path, true, 5000);
    REQUIRE(ih::store::applyMigrations(inbox, inbox_path, ih::store::sqliteInboxMigrations()).isOk());
    inbox.exec(
        "INSERT INTO webhook_events(id, integration_id, tenant_id, event_id, payload, payload_sha256, "
        "status, next_attempt_at, received_at, updated_at) VALUES (100, 'hooks', 't_a', 'evt_100', "
        "x'7b7d', x'00', 'processed', 0, 1, 1)");
    inbox.exec("DELETE FROM webhook_events WHERE id = 100");
  }
  auto store = ih::test::openTestStore(path, {{"t_a", "alpha"}});
  ih::store::InboxStore inbox(*store);
  CHECK(inbox.get("t_a", 7).isOk());
  auto fresh = inbox.insert(event("evt_new", 3000));
  REQUIRE(fresh.isOk());
  CHECK(fresh->id == 101);
}

TEST_CASE("inbox file: a database named by a URI keeps its inbox inside", "[store][sqlite]") {
  ih::test::TempDir dir;
  const std::string file = dir.file("uri.db");
  ih::store::Options options;
  options.path = "file:" + file;
  auto store = ih::store::Store::open(options);
  INFO(store.status().toString());
  REQUIRE(store.isOk());
  CHECK(&(*store)->inboxDatabase() == &(*store)->database());
  CHECK((*store)->schemaVersion() == ih::store::Store::latestSchemaVersion());
  REQUIRE((*store)->createTenant({"t_a", "alpha", 1}).isOk());
  ih::store::InboxStore inbox(**store);
  auto stored = inbox.insert(event("evt_1", 1000));
  REQUIRE(stored.isOk());
  CHECK(inbox.get("t_a", stored->id).isOk());
  store->reset();
  SQLite::Database raw(file, SQLite::OPEN_READONLY);
  CHECK(scalar(raw, "SELECT count(*) FROM webhook_events") == 1);
  CHECK_FALSE(std::filesystem::exists(dir.file("uri-inbox.db")));
}

TEST_CASE("inbox file: a main file restored without its inbox file is reported at start", "[store][sqlite]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("ihost.db");
  const std::string inbox_path = ih::store::inboxPathFor(path);
  const auto header = [](const std::string& file) {
    SQLite::Database db(file, SQLite::OPEN_READONLY);
    return scalar(db, "PRAGMA user_version");
  };
  std::vector<std::string> lines;
  ih::log::setSink([&lines](std::string_view line) { lines.emplace_back(line); });
  const auto reported = [&lines] {
    int n = 0;
    for (const std::string& line : lines)
      n += line.find("does not belong with this database") != std::string::npos ? 1 : 0;
    return n;
  };
  ih::test::openTestStore(path).reset();
  CHECK(header(path) != 0);
  CHECK(header(path) == header(inbox_path));
  ih::test::openTestStore(path).reset();
  CHECK(reported() == 0);  // a fresh pair, then the same pair again: nothing to say
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(inbox_path + suffix);
  ih::test::openTestStore(path).reset();  // the inbox file is new: reported once, then paired again
  CHECK(reported() == 1);
  CHECK(header(path) == header(inbox_path));
  ih::test::openTestStore(path).reset();
  CHECK(reported() == 1);
  ih::log::resetSink();
}
