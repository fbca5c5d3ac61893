// The database core under Store (on SQLite here; tests/unit/store/postgres_test.cpp runs it on PostgreSQL):
// batching, per-task savepoints, draining on close, the statement cache.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "store/db.h"
#include "support/temp_dir.h"

using ih::Status;
using ih::StatusCode;
using ih::store::Db;
using ih::store::DbOptions;
using ih::store::Migration;
namespace sql = ih::store::sql;

namespace {

constexpr std::array kTestMigrations = {
    Migration{1, "items", "CREATE TABLE items(id INTEGER PRIMARY KEY, label TEXT NOT NULL)"},
};

std::unique_ptr<Db> openDb(const std::string& path, size_t max_batch = 1024,
                           int writer_checkpoint_frames = 32000, int checkpoint_frames = 8000) {
  DbOptions options;
  options.path = path;
  options.max_batch = max_batch;
  options.writer_checkpoint_frames = writer_checkpoint_frames;
  options.checkpoint_frames = checkpoint_frames;
  auto db = ih::store::openSqlite(options, kTestMigrations);
  INFO(db.status().toString());
  REQUIRE(db.isOk());
  return std::move(db).value();
}

ih::store::WriteTask insertItem(int id) {
  return [id](sql::Connection& db) {
    sql::Statement q(db, "INSERT INTO items(id, label) VALUES (?, 'x')");
    q.bind(1, id);
    q.exec();
    return Status::ok();
  };
}

// The first column of the first row.
int64_t scalar(sql::Connection& db, const std::string& text) {
  sql::Statement q(db, text);
  REQUIRE(q.executeStep());
  return q.getColumn(0).getInt64();
}

int64_t countItems(Db& db, const std::string& where = "1") {
  auto n = db.read([&](sql::Connection& c) -> ih::Result<int64_t> {
    return scalar(c, "SELECT COUNT(*) FROM items WHERE " + where);
  });
  REQUIRE(n.isOk());
  return *n;
}

// Occupies the writer thread until released, so the writes queued meanwhile form the next batch.
struct WriterBlocker {
  std::promise<void> release;
  std::future<Status> done;
  explicit WriterBlocker(Db& db) {
    std::shared_future<void> gate = release.get_future().share();
    std::promise<void> started;
    auto running = started.get_future();
    done = db.write(
        [gate, started = std::make_shared<std::promise<void>>(std::move(started))](sql::Connection&) {
          started->set_value();
          gate.wait();
          return Status::ok();
        });
    running.wait();
  }
};

}  // namespace

TEST_CASE("a failing task inside a batch does not roll back its neighbours", "[store]") {
  ih::test::TempDir dir;
  auto db = openDb(dir.file("core.db"));
  REQUIRE(db->writeSync(insertItem(2)).isOk());

  WriterBlocker blocker(*db);
  const auto before = db->stats();
  auto good1 = db->write(insertItem(1));
  auto duplicate = db->write([](sql::Connection& c) {  // inserts, then violates the primary key
    c.exec("INSERT INTO items(id, label) VALUES (10, 'partial')");
    c.exec("INSERT INTO items(id, label) VALUES (2, 'dup')");
    return Status::ok();
  });
  auto good3 = db->write(insertItem(3));
  auto refused = db->write([](sql::Connection& c) {  // writes, then reports an expected failure as a value
    c.exec("INSERT INTO items(id, label) VALUES (11, 'partial')");
    return Status::conflict("changed meanwhile");
  });
  auto good4 = db->write(insertItem(4));
  blocker.release.set_value();

  CHECK(blocker.done.get().isOk());
  CHECK(good1.get().isOk());
  Status dup = duplicate.get();
  CHECK(dup.code() == StatusCode::kAlreadyExists);
  CHECK(good3.get().isOk());
  CHECK(refused.get().code() == StatusCode::kConflict);
  CHECK(good4.get().isOk());
  const auto after = db->stats();
  // `before` was taken while the blocker's batch ran: the five writes above then made exactly one more batch.
  CHECK(after.tasks - before.tasks == 5);
  CHECK(after.batches - before.batches == 1);
  CHECK(countItems(*db) == 4);  // 1, 2, 3, 4
  CHECK(countItems(*db, "id IN (10, 11)") == 0);
  CHECK(countItems(*db, "label = 'dup'") == 0);
}

TEST_CASE("a write group hears of its task's failure before the next task of the same batch runs",
          "[store]") {
  ih::test::TempDir dir;
  auto db = openDb(dir.file("core.db"));
  REQUIRE(db->writeSync(insertItem(1)).isOk());
  WriterBlocker blocker(*db);
  const auto before = db->stats();
  auto group = std::make_shared<ih::sinks::WriteGroup>();
  auto clean = std::make_shared<ih::sinks::WriteGroup>();
  std::promise<Status> failed_done;
  db->writeAsync(
      insertItem(1), [&](const Status& s) { failed_done.set_value(s); }, group);  // duplicate
  db->writeAsync(
      insertItem(2), [](const Status&) {}, clean);
  Status seen_by_next, clean_seen;
  auto reader = db->write([&](sql::Connection&) {  // queued after both, as an inbox outcome is
    seen_by_next = group->status();
    clean_seen = clean->status();
    return Status::ok();
  });
  blocker.release.set_value();
  REQUIRE(reader.get().isOk());
  CHECK(db->stats().batches - before.batches == 1);  // all three in one transaction
  CHECK(seen_by_next.code() == StatusCode::kAlreadyExists);
  CHECK(clean_seen.isOk());
  CHECK(failed_done.get_future().get().code() == StatusCode::kAlreadyExists);
  CHECK(countItems(*db) == 2);
}

TEST_CASE("max_batch bounds how many tasks share a transaction", "[store]") {
  ih::test::TempDir dir;
  auto db = openDb(dir.file("core.db"), /*max_batch=*/2);
  WriterBlocker blocker(*db);
  const auto before = db->stats();
  std::vector<std::future<Status>> writes;
  for (int i = 0; i < 5; ++i)
    writes.push_back(db->write(insertItem(i)));
  blocker.release.set_value();
  for (auto& w : writes)
    CHECK(w.get().isOk());
  CHECK(db->stats().batches - before.batches == 3);  // 2 + 2 + 1, after the blocker's batch
  CHECK(countItems(*db) == 5);
}

TEST_CASE("closing drains queued async writes", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("core.db");
  std::atomic<int> ok{0};
  {
    auto db = openDb(path);
    WriterBlocker blocker(*db);
    for (int i = 0; i < 500; ++i) {
      db->writeAsync(insertItem(i), [&](const Status& st) {
        if (st.isOk()) ok++;
      });
    }
    blocker.release.set_value();
  }  // destructor: everything queued is written before the connection closes
  CHECK(ok == 500);
  auto db = openDb(path);
  CHECK(countItems(*db) == 500);
}

TEST_CASE("the WAL is checkpointed by the background checkpointer and restarts", "[store]") {
  ih::test::TempDir dir;
  const std::string path = dir.file("wal.db");
  auto db = openDb(path, 1024, /*writer_checkpoint_frames=*/8000, /*checkpoint_frames=*/1000);
  const std::string label(4000, 'w');
  int next = 0;
  // ~16 MB of rows in 40 transactions: far beyond the 1,000-frame (~4 MB) checkpoint threshold.
  auto writeRound = [&] {
    for (int t = 0; t < 40; ++t) {
      REQUIRE(db->writeSync([&](sql::Connection& conn) {
                  for (int i = 0; i < 100; ++i) {
                    sql::Statement q(conn, "INSERT INTO items(id, label) VALUES (?, ?)");
                    q.bind(1, ++next);
                    q.bind(2, label);
                    q.exec();
                  }
                  return Status::ok();
                }).isOk());
    }
  };
  // Waits for the checkpointer (up to 30 s: a full parallel test run shares the disk; it failed once at 10 s).
  auto waitForDbFile = [&](uintmax_t bytes) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::filesystem::file_size(path) < bytes && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return std::filesystem::file_size(path);
  };
  writeRound();
  // The checkpointer copies the frames into the database file on its own thread...
  CHECK(waitForDbFile(12u * 1024 * 1024) >= 12u * 1024 * 1024);
  for (int round = 0; round < 3; ++round)
    writeRound();
  CHECK(waitForDbFile(60u * 1024 * 1024) >= 60u * 1024 * 1024);
  // ...and the WAL restarts from its beginning (at the latest after ~8,000 frames, ~33 MB) instead of keeping
  // all 64 MB of frames written.
  CHECK(std::filesystem::file_size(path + "-wal") < 40u * 1024 * 1024);
  auto count = db->read([](sql::Connection& conn) -> ih::Result<int64_t> {
    return scalar(conn, "SELECT COUNT(*) FROM items");
  });
  REQUIRE(count.isOk());
  CHECK(*count == next);
}

TEST_CASE("the database is private and durable: 0700 directory, 0600 files whatever the umask, FULL sync",
          "[store]") {
  ih::test::TempDir dir;
  const std::string path = (dir.path() / "data" / "nested" / "ihost.db").string();
  const mode_t previous = ::umask(0);  // the most permissive umask: modes must not depend on it
  {
    auto db = openDb(path);
    REQUIRE(db->writeSync(insertItem(1)).isOk());
    auto synchronous =
        db->read([](sql::Connection& c) -> ih::Result<int64_t> { return scalar(c, "PRAGMA synchronous"); });
    REQUIRE(synchronous.isOk());  // a reader's own setting; the writer's is checked below
    int64_t writer_sync = -1;
    REQUIRE(db->writeSync([&](sql::Connection& c) {
                writer_sync = scalar(c, "PRAGMA synchronous");
                return Status::ok();
              }).isOk());
    CHECK(writer_sync == 2);  // FULL: the WAL is fsynced at every commit, before writers are told
    for (const std::string suffix : {"", "-wal", "-shm"}) {
      struct stat st {};
      REQUIRE(::stat((path + suffix).c_str(), &st) == 0);
      INFO(path + suffix);
      CHECK((st.st_mode & 0777) == 0600);
    }
    for (const auto& d : {dir.path() / "data", dir.path() / "data" / "nested"}) {
      struct stat st {};
      REQUIRE(::stat(d.c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0700);
    }
  }
  // A database an older version left world-readable is tightened when opened.
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  openDb(path);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  ::umask(previous);
}

TEST_CASE("synchronous = normal is an explicit opt-in", "[store]") {
  ih::test::TempDir dir;
  DbOptions options;
  options.path = dir.file("ihost.db");
  options.durable = false;
  auto db = ih::store::openSqlite(options, kTestMigrations);
  REQUIRE(db.isOk());
  int64_t writer_sync = -1;
  REQUIRE((*db)
              ->writeSync([&](sql::Connection& c) {
                writer_sync = scalar(c, "PRAGMA synchronous");
                return Status::ok();
              })
              .isOk());
  CHECK(writer_sync == 1);
}

TEST_CASE("db: a statement is prepared once per connection and never holds a snapshot", "[store]") {
  ih::test::TempDir dir;
  DbOptions options;
  options.path = dir.file("cached.db");
  options.read_connections = 1;  // every read on the same connection
  auto opened = ih::store::openSqlite(options, kTestMigrations);
  REQUIRE(opened.isOk());
  Db& db = **opened;
  for (int i = 1; i <= 50; ++i)
    REQUIRE(db.writeSync(insertItem(i)).isOk());

  // The first row only: the statement is left mid-iteration, the guard resets it.
  auto firstLabelAddress = [&]() -> ih::Result<const sql::StatementImpl*> {
    return db.read([&](sql::Connection& c) -> ih::Result<const sql::StatementImpl*> {
      sql::Statement q(c, "SELECT id FROM items WHERE id >= ? ORDER BY id");
      q.bind(1, 1);
      REQUIRE(q.executeStep());
      CHECK(q.getColumn(0).getInt() == 1);
      return q.impl();
    });
  };
  auto first = firstLabelAddress();
  auto second = firstLabelAddress();
  REQUIRE(first.isOk());
  REQUIRE(second.isOk());
  CHECK(*first == *second);  // prepared once, reused

  // No read snapshot is held between reads: a write is seen at once and a TRUNCATE checkpoint completes.
  REQUIRE(db.writeSync(insertItem(51)).isOk());
  auto count = db.read([&](sql::Connection& c) -> ih::Result<int64_t> {
    sql::Statement q(c, "SELECT COUNT(*) FROM items");
    REQUIRE(q.executeStep());
    return q.getColumn(0).getInt64();
  });
  REQUIRE(count.isOk());
  CHECK(*count == 51);
  auto busy = db.read([&](sql::Connection& c) -> ih::Result<int> {
    return scalar(c, "PRAGMA wal_checkpoint(TRUNCATE)");  // first column: 1 when blocked
  });
  REQUIRE(busy.isOk());
  CHECK(*busy == 0);

  // The same text twice at once (a nested loop): the second gets its own statement, the first is not reset.
  auto pairs = db.read([&](sql::Connection& c) -> ih::Result<int64_t> {
    int64_t n = 0;
    sql::Statement outer(c, "SELECT id FROM items WHERE id <= ? ORDER BY id");
    outer.bind(1, 3);
    while (outer.executeStep()) {
      sql::Statement inner(c, "SELECT id FROM items WHERE id <= ? ORDER BY id");
      CHECK(inner.impl() != outer.impl());
      inner.bind(1, 2);
      while (inner.executeStep())
        ++n;
    }
    return n;
  });
  REQUIRE(pairs.isOk());
  CHECK(*pairs == 6);

  // On the writer connection too.
  REQUIRE(db.writeSync([](sql::Connection& c) {
              sql::Statement q(c, "UPDATE items SET label = 'y' WHERE id = ?");
              q.bind(1, 3);
              q.exec();
              return Status::ok();
            }).isOk());
  CHECK(countItems(db, "label = 'y'") == 1);
}
