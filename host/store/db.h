// Private to host/store: the database core under Store, on SQLite or PostgreSQL. One writer thread owns the
// write connection and group-commits queued tasks (one transaction per batch, a SAVEPOINT per task); a small
// pool of read connections serves reads in parallel. The area stores are written once against sql.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"
#include "store/sql.h"

namespace ih::store {

using sql::inQuotes;

// A unit of writing. Runs on the writer thread inside its own SAVEPOINT of the batch transaction: returning a
// non-ok Status or throwing rolls back this task alone, and its caller gets that Status (sql::Error is mapped
// by sql::statusFromError). A task must not BEGIN/COMMIT itself and must not block on other writes.
using WriteTask = std::function<Status(sql::Connection&)>;
// Called on the writer thread once the task's outcome is final (after the commit). Must be quick.
using WriteDone = std::function<void(const Status&)>;

// One numbered schema change. Versions start at 1 and increase by one; SQL may hold several statements.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};
// Every migration this binary knows, per dialect: host/store/migrations/<dialect>/*.sql, embedded at build
// time by cmake/IhEmbedSql.cmake. Both lists have the same versions and names.
std::span<const Migration> sqliteMigrations();
std::span<const Migration> postgresMigrations();
// The SQLite inbox file's own schema (host/store/migrations/sqlite_inbox/; see Store::inboxDatabase).
std::span<const Migration> sqliteInboxMigrations();
// The main SQLite schema's migration that moves the inbox into its file (DbOptions::attach_inbox). A database
// without an inbox file records it without running it.
constexpr int kInboxMoveMigration = 15;

enum class Backend { kSqlite, kPostgres };

struct DbOptions {
  Backend backend = Backend::kSqlite;
  std::string path;  // SQLite: the database file
  // SQLite: a file attached as schema "inbox" while the migrations run (main migration 15 moves the webhook
  // inbox's tables there); empty: none.
  std::string attach_inbox;
  std::string url;  // PostgreSQL: a libpq URI or connection string (may hold a password: never logged)
  int read_connections = 4;
  int busy_timeout_ms = 5000;  // SQLite: wait for another process's write lock
  size_t max_batch = 1024;
  // SQLite WAL checkpoints: past `checkpoint_frames` (~4 KB each) after a commit the background checkpointer
  // copies frames into the database file; past `writer_checkpoint_frames` the writer completes the checkpoint
  // itself so that the WAL can restart (a background checkpoint racing a busy writer may never finish).
  // 8,000 frames (~32 MB) rather than SQLite's 1,000: pages rewritten by many commits in between (index
  // leaves, the table's last page) are copied once per checkpoint, ~4 % less CPU per webhook intake.
  int checkpoint_frames = 8000;
  int writer_checkpoint_frames = 32000;
  // SQLite: the writer connection's page cache, in MB (see db_sqlite.cpp; the inbox's file takes 8).
  int writer_cache_mb = 64;
  // A commit is durable (SQLite synchronous=FULL; PostgreSQL synchronous_commit=on) before it is acknowledged.
  bool durable = true;
  int statement_timeout_ms = 30000;  // PostgreSQL, per statement
};

class Db {
 public:
  // SQLite: opens the file (creating it and its parent directory), sets WAL, synchronous, foreign_keys and
  // busy_timeout. PostgreSQL: connects. Then applies pending migrations (one transaction each, under a lock
  // so that processes starting at once apply each one once), opens the read pool, starts the writer.
  // Fails with kFailedPrecondition when the schema is newer than this binary, kUnavailable when the database
  // is locked or unreachable, kInternal otherwise.
  static Result<std::unique_ptr<Db>> open(const DbOptions& options);
  // Drains every queued task (their futures complete), stops the writer, closes the connections.
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Queues `task`; the future completes after the batch holding it committed (or failed). Thread-safe.
  std::future<Status> write(WriteTask task);
  // Blocking convenience: write(task).get().
  Status writeSync(WriteTask task) { return write(std::move(task)).get(); }
  // Queues `task`; `done` runs on the writer thread with its outcome. Thread-safe. `group` (may be null)
  // learns of a failure as soon as it is known, before any task queued after this one runs.
  void writeAsync(WriteTask task, WriteDone done, sinks::Deferred group = nullptr);

  // Runs `fn(db)` on a pooled read connection (blocking until one is free) and returns its Result; sql::Error
  // becomes a Status. `fn` must only read. Thread-safe.
  template <class Fn>
  auto read(Fn&& fn) -> decltype(fn(std::declval<sql::Connection&>()));

  sql::Dialect dialect() const { return dialect_; }
  int schemaVersion() const { return schema_version_; }
  // The file's path, or the server's URL without its password.
  const std::string& name() const { return name_; }

  struct Stats {
    uint64_t batches = 0;  // transactions committed (or attempted) by the writer
    uint64_t tasks = 0;    // tasks run
  };
  Stats stats() const { return {batches_.load(), tasks_.load()}; }

  // Something a backend runs beside the writer (SQLite's WAL checkpointer); stopped after the writer.
  class Companion {
   public:
    virtual ~Companion() = default;
  };
  struct Parts {
    std::string name;
    sql::Dialect dialect = sql::Dialect::kSqlite;
    std::unique_ptr<sql::Connection> writer;
    std::vector<std::unique_ptr<sql::Connection>> readers;
    std::unique_ptr<Companion> companion;
    int schema_version = 0;
    size_t max_batch = 1024;
    std::string begin_sql = "BEGIN";
    // Deferred after each BEGIN (PostgreSQL: the cluster-wide write lock, see db_postgres.cpp); empty: none.
    std::string lock_sql;
  };
  explicit Db(Parts parts);

 private:
  struct PendingWrite {
    WriteTask task;
    WriteDone done;
    sinks::Deferred group;
  };
  class ReadLease;

  void writerLoop();
  void runBatch(std::vector<PendingWrite>& batch, std::vector<Status>& results);
  Status txStep(const char* sql);
  Status deferStep(const char* sql);
  Status begin();
  sql::Connection* acquireReader();
  void releaseReader(sql::Connection* db);
  static Status mapException();

  const std::string name_;
  const sql::Dialect dialect_;
  const size_t max_batch_;
  const int schema_version_;
  const std::string begin_sql_;
  const std::string lock_sql_;
  const std::unique_ptr<sql::Connection> writer_db_;  // used only by writer_thread_ after open
  const std::vector<std::unique_ptr<sql::Connection>> readers_;
  std::unique_ptr<Companion> companion_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<PendingWrite> queue_;  // GUARDED_BY(queue_mutex_)
  bool stopping_ = false;           // GUARDED_BY(queue_mutex_)

  std::mutex readers_mutex_;
  std::condition_variable readers_cv_;
  std::vector<sql::Connection*> idle_readers_;  // GUARDED_BY(readers_mutex_)

  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> tasks_{0};
  std::thread writer_thread_;  // last: starts after everything above is constructed
};

// Applies every migration newer than the database, one transaction each, holding `lock_sql`'s lock while it
// reads the version (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory transaction lock). Returns the version.
Result<int> applyMigrations(sql::Connection& db, const std::string& name,
                            std::span<const Migration> migrations);

// Backends (db_sqlite.cpp, db_postgres.cpp).
Result<std::unique_ptr<Db>> openSqlite(const DbOptions& options, std::span<const Migration> migrations);
Result<std::unique_ptr<Db>> openPostgres(const DbOptions& options, std::span<const Migration> migrations);

class Db::ReadLease {
 public:
  explicit ReadLease(Db& owner) : owner_(owner), db_(owner.acquireReader()) {}
  ~ReadLease() { owner_.releaseReader(db_); }
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;
  sql::Connection& db() { return *db_; }

 private:
  Db& owner_;
  sql::Connection* const db_;
};

template <class Fn>
auto Db::read(Fn&& fn) -> decltype(fn(std::declval<sql::Connection&>())) {
  try {
    ReadLease lease(*this);
    return fn(lease.db());
  } catch (...) {
    return mapException();
  }
}

}  // namespace ih::store
