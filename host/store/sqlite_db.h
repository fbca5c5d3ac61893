// Private to host/store: the SQLite core under Store. One writer thread owns the write connection and
// group-commits queued tasks; a small pool of read connections serves reads in parallel (WAL).
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

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

struct sqlite3;
struct sqlite3_stmt;

namespace ih::store {

// A unit of writing. Runs on the writer thread inside its own SAVEPOINT of the batch transaction: returning a
// non-ok Status or throwing rolls back this task alone, and its caller gets that Status (SQLite exceptions
// are mapped by statusFromSqlite). A task must not BEGIN/COMMIT itself and must not block on other writes.
using WriteTask = std::function<Status(SQLite::Database&)>;
// Called on the writer thread once the task's outcome is final (after the commit). Must be quick.
using WriteDone = std::function<void(const Status&)>;

// One numbered schema change. Versions start at 1 and increase by one; SQL may hold several statements.
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};
// The ordered list of every migration this binary knows: host/store/migrations/sqlite/*.sql, embedded at
// build time by cmake/IhEmbedSql.cmake.
std::span<const Migration> allMigrations();

struct DbOptions {
  std::string path;
  int read_connections = 4;
  int busy_timeout_ms = 5000;
  size_t max_batch = 1024;
  // WAL checkpoints: past `checkpoint_frames` (~4 KB each) after a commit the background checkpointer copies
  // frames into the database file; past `writer_checkpoint_frames` the writer completes the checkpoint
  // itself so that the WAL can restart (a background checkpoint racing a busy writer may never finish).
  // 8,000 frames (~32 MB) rather than SQLite's 1,000: pages rewritten by many commits in between (index
  // leaves, the table's last page) are copied once per checkpoint, ~4 % less CPU per webhook intake.
  int checkpoint_frames = 8000;
  int writer_checkpoint_frames = 32000;
  // synchronous=FULL (true): every group commit is fsynced before its writers are told it succeeded.
  bool durable = true;
};

class CachedStatement;

class SqliteDb {
 public:
  // Opens the file (creating it and its parent directory), sets WAL, synchronous (FULL when durable),
  // foreign_keys and busy_timeout, applies pending `migrations` (one transaction each), opens the read pool,
  // starts the writer.
  static Result<std::unique_ptr<SqliteDb>> open(const DbOptions& options,
                                                std::span<const Migration> migrations);
  // Drains every queued task (their futures complete), stops the writer, closes the connections.
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Queues `task`; the future completes after the batch holding it committed (or failed). Thread-safe.
  std::future<Status> write(WriteTask task);
  // Blocking convenience: write(task).get().
  Status writeSync(WriteTask task) { return write(std::move(task)).get(); }
  // Queues `task`; `done` runs on the writer thread with its outcome. Thread-safe. `group` (may be null)
  // learns of a failure as soon as it is known, before any task queued after this one runs.
  void writeAsync(WriteTask task, WriteDone done, sinks::Deferred group = nullptr);

  // Runs `fn(db)` on a pooled read connection (blocking until one is free) and returns its Result; SQLite
  // exceptions become a Status. `fn` must only read. Thread-safe.
  template <class Fn>
  auto read(Fn&& fn) -> decltype(fn(std::declval<SQLite::Database&>()));

  int schemaVersion() const { return schema_version_; }
  const std::string& path() const { return path_; }

  struct Stats {
    uint64_t batches = 0;  // transactions committed (or attempted) by the writer
    uint64_t tasks = 0;    // tasks run
  };
  Stats stats() const { return {batches_.load(), tasks_.load()}; }

 private:
  struct PendingWrite {
    WriteTask task;
    WriteDone done;
    sinks::Deferred group;
  };
  class ReadLease;
  struct StatementCache;  // CachedStatement's statements of one read connection
  friend class CachedStatement;
  // The cache of the read connection this thread holds a lease on (inside read()); null otherwise.
  static StatementCache*& threadReadCache();

  SqliteDb(std::string path, size_t max_batch, std::unique_ptr<SQLite::Database> writer,
           std::vector<std::unique_ptr<SQLite::Database>> readers,
           std::unique_ptr<SQLite::Database> checkpointer, int schema_version, int checkpoint_frames,
           int writer_checkpoint_frames);
  // Transaction control of the batch, as statements prepared once on the writer connection (parsing
  // "SAVEPOINT task" twice per task showed up in profiles).
  enum class TxStep { kBegin, kSavepoint, kRelease, kRollbackTo, kCommit, kRollback, kCount };
  Status txStep(TxStep step);
  void writerLoop();
  void runBatch(std::vector<PendingWrite>& batch, std::vector<Status>& results);
  SQLite::Database* acquireReader();
  void releaseReader(SQLite::Database* db);
  static Status mapException();

  const std::string path_;
  const size_t max_batch_;
  const int schema_version_;
  const std::unique_ptr<SQLite::Database> writer_db_;  // used only by writer_thread_ after open
  const std::vector<std::unique_ptr<SQLite::Database>> readers_;
  // One per reader, same order; destroyed before readers_ (statements before their connections). A cache is
  // touched only by the thread holding its reader's lease.
  std::vector<std::unique_ptr<StatementCache>> reader_caches_;

  sqlite3_stmt* tx_statements_[static_cast<int>(TxStep::kCount)] = {};  // writer thread only

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<PendingWrite> queue_;  // GUARDED_BY(queue_mutex_)
  bool stopping_ = false;           // GUARDED_BY(queue_mutex_)

  std::mutex readers_mutex_;
  std::condition_variable readers_cv_;
  std::vector<SQLite::Database*> idle_readers_;  // GUARDED_BY(readers_mutex_)

  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> tasks_{0};

  // WAL checkpoints run on their own connection and thread, so the writer (and every request waiting for
  // its commit) never stalls on one; the writer's commit hook wakes the checkpointer.
  static int onWalCommit(void* self, sqlite3* db, const char* name, int frames);
  void checkpointLoop();
  const std::unique_ptr<SQLite::Database> checkpoint_db_;
  const int checkpoint_frames_;
  const int writer_checkpoint_frames_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_due_ = false;       // GUARDED_BY(checkpoint_mutex_)
  bool checkpoint_stopping_ = false;  // GUARDED_BY(checkpoint_mutex_)
  std::thread checkpoint_thread_;
  std::thread writer_thread_;  // last: starts after everything above is constructed
};

// SQLite error → Status: UNIQUE/PRIMARY KEY violations are kAlreadyExists, BUSY/LOCKED kUnavailable, the rest
// kInternal. The message is SQLite's own (it never contains bound values).
Status statusFromSqlite(const SQLite::Exception& e);

// `s` in double quotes, for messages naming a row ("tenant \"acme\" already exists").
inline std::string inQuotes(std::string_view s) {
  return '"' + std::string(s) + '"';
}

// A BLOB/TEXT column as bytes (embedded NULs kept).
std::string columnBytes(const SQLite::Column& column);
// Binds bytes as a BLOB (copied by SQLite).
void bindBlob(SQLite::Statement& statement, int index, std::string_view bytes);
// Binds text (copied by SQLite); string_view need not be NUL-terminated.
void bindText(SQLite::Statement& statement, int index, std::string_view text);

// A statement prepared once per pooled read connection and then reused, for the fixed queries of hot read
// paths (webhook verification reads a secret per delivery: preparing it each time was ~10 % of the intake's
// CPU). Use it inside SqliteDb::read() on the connection passed there, for SQL that does not vary (each text
// is cached; past 64 texts a connection prepares without caching; the same text taken twice at once gets its
// own statement the second time). Reset and unbound when taken, reset when released, so it never holds a read
// snapshot open.
class CachedStatement {
 public:
  CachedStatement(SQLite::Database& db, std::string_view sql);
  ~CachedStatement();
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  SQLite::Statement& operator*() { return *q_; }
  SQLite::Statement* operator->() { return q_; }

 private:
  std::unique_ptr<SQLite::Statement> owned_;  // not on a leased read connection, cache full, or text in use
  SQLite::Statement* q_ = nullptr;
  bool* in_use_ = nullptr;  // the cache entry's flag while this holds it
};

class SqliteDb::ReadLease {
 public:
  explicit ReadLease(SqliteDb& owner);
  ~ReadLease();
  ReadLease(const ReadLease&) = delete;
  ReadLease& operator=(const ReadLease&) = delete;
  SQLite::Database& db() { return *db_; }

 private:
  SqliteDb& owner_;
  SQLite::Database* const db_;
  StatementCache* const previous_;  // the thread's cache before this lease (a read inside a read)
};

template <class Fn>
auto SqliteDb::read(Fn&& fn) -> decltype(fn(std::declval<SQLite::Database&>())) {
  ReadLease lease(*this);
  try {
    return fn(lease.db());
  } catch (...) {
    return mapException();
  }
}

}  // namespace ih::store
