#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <system_error>

#include "common/clock.h"
#include "common/private_files.h"
#include "log/guard.h"
#include "log/log.h"

namespace ih::store {

struct SqliteDb::StatementCache {
  static constexpr size_t kMaxStatements = 64;
  struct Entry {
    std::unique_ptr<SQLite::Statement> statement;
    bool in_use = false;  // a second CachedStatement of the same text meanwhile prepares its own
  };
  SQLite::Database* db = nullptr;
  std::map<std::string, Entry, std::less<>> statements;
};

namespace {

const int kOpenFlags = SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX;

bool inTransaction(const SQLite::Database& db) {
  return sqlite3_get_autocommit(db.getHandle()) == 0;
}

// Executes `sql`, turning a failure into a Status.
Status execStatus(SQLite::Database& db, const char* sql) {
  try {
    db.exec(sql);
    return Status::ok();
  } catch (const SQLite::Exception& e) {
    return statusFromSqlite(e);
  }
}

Status configureConnection(SQLite::Database& db, int busy_timeout_ms, bool writer, bool durable = true) {
  try {
    db.setBusyTimeout(busy_timeout_ms);
    if (writer) {
      // journal_mode returns a row; exec() accepts it. WAL is persistent in the file, so readers inherit it.
      db.exec("PRAGMA journal_mode=WAL");
      // FULL: a commit is on disk (the WAL fsynced) before it is acknowledged, so an accepted webhook
      // survives power loss. NORMAL (opt-in) may lose the last commits on power loss, never corrupts.
      db.exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      db.exec("PRAGMA foreign_keys=ON");
      // 64 MB of page cache for the one writer (SQLite's default is 2 MB): upserts into the records' unique
      // index touch one random page per row (provider ids are random), and a sync of a million rows re-read
      // most of those pages from the OS otherwise. Readers keep the default.
      db.exec("PRAGMA cache_size=-65536");
      // After a checkpoint lets the WAL restart, keep at most 64 MB of its file (large sync transactions grow
      // it well beyond SQLite's usual few MB).
      db.exec("PRAGMA journal_size_limit=67108864");
    } else {
      db.exec("PRAGMA query_only=ON");
    }
    return Status::ok();
  } catch (const SQLite::Exception& e) {
    return statusFromSqlite(e);
  }
}

std::string tooNewMessage(const std::string& path, int version, int latest) {
  return "database " + path + " has schema version " + std::to_string(version) +
         " but this ihost binary knows up to " + std::to_string(latest) +
         ". Upgrade ihost, or restore a backup made before the upgrade.";
}

// Applies every migration newer than the database, one transaction each. Each step re-reads the version under
// the write lock (BEGIN IMMEDIATE), so two processes opening the same file at once apply each migration once.
Result<int> applyMigrations(SQLite::Database& db, const std::string& path,
                            std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {  // a bug in migrations/, caught at every start
      return Status::internal("migration list is not numbered 1, 2, 3, ...: entry " + std::to_string(i + 1) +
                              " has version " + std::to_string(migrations[i].version));
    }
  }
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  for (;;) {
    if (Status begin = execStatus(db, "BEGIN IMMEDIATE"); !begin.isOk()) {
      return Status(begin.code(), "cannot lock " + path + " to check its schema: " + begin.message());
    }
    const Migration* next = nullptr;
    try {
      db.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations("
          " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
      const int current = db.execAndGet("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").getInt();
      if (current > latest) {
        db.exec("ROLLBACK");
        return Status::failedPrecondition(tooNewMessage(path, current, latest));
      }
      if (current == latest) {
        db.exec("COMMIT");
        return current;
      }
      next = &migrations[current];  // versions are dense, so the next one is at index `current`
      db.exec(std::string(next->sql));
      SQLite::Statement record(db,
                               "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)");
      record.bind(1, next->version);
      bindText(record, 2, next->name);
      record.bind(3, nowMs());
      record.exec();
      db.exec("COMMIT");
    } catch (const SQLite::Exception& e) {
      if (inTransaction(db)) (void)execStatus(db, "ROLLBACK");
      Status st = statusFromSqlite(e);
      std::string what =
          next ? "migration " + std::to_string(next->version) + " (" + std::string(next->name) + ")"
               : std::string("reading the schema version");
      return Status(st.code() == StatusCode::kUnavailable ? st.code() : StatusCode::kInternal,
                    what + " failed on " + path + ": " + st.message());
    }
    log::info("applied schema migration", {{"path", path}, {"version", next->version}, {"name", next->name}});
  }
}

}  // namespace

Status statusFromSqlite(const SQLite::Exception& e) {
  const int extended = e.getExtendedErrorCode();
  const int primary = e.getErrorCode() & 0xff;
  if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Status::alreadyExists(e.what());
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Status::unavailable(std::string("database is busy: ") + e.what());
  }
  return Status::internal(std::string("sqlite: ") + e.what());
}

std::string columnBytes(const SQLite::Column& column) {
  const void* data = column.getBlob();  // SQLite's rule: fetch the value first, then its size
  const int size = column.getBytes();
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

void bindBlob(SQLite::Statement& statement, int index, std::string_view bytes) {
  statement.bind(index, bytes.data(), static_cast<int>(bytes.size()));
}

void bindText(SQLite::Statement& statement, int index, std::string_view text) {
  statement.bind(index, std::string(text));
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const DbOptions& options,
                                                 std::span<const Migration> migrations) {
  if (options.path.empty()) return Status::invalidArgument("storage path is empty");
  if (options.read_connections < 1)
    return Status::invalidArgument("storage needs at least one read connection");
  // The database holds raw payloads and stored provider answers: its directory is created 0700, the file
  // and its WAL and shared-memory files (SQLite gives them the database's mode) are 0600.
  const bool on_disk = options.path != ":memory:" && options.path.rfind("file:", 0) != 0;
  if (on_disk) {
    const std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
    if (Status made = createPrivateDirectories(parent.string()); !made.isOk()) {
      return Status(made.code(), made.message() + " (for the database)");
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (Status made = makePrivateFile(options.path + suffix, suffix[0] == '\0'); !made.isOk()) return made;
    }
  }
  try {
    auto writer = std::make_unique<SQLite::Database>(options.path, kOpenFlags, options.busy_timeout_ms);
    if (Status st = configureConnection(*writer, options.busy_timeout_ms, true, options.durable);
        !st.isOk()) {
      return Status(st.code(), "cannot configure database " + options.path + ": " + st.message());
    }
    Result<int> version = applyMigrations(*writer, options.path, migrations);
    if (!version.isOk()) return version.status();

    auto checkpointer = std::make_unique<SQLite::Database>(
        options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX, options.busy_timeout_ms);
    checkpointer->setBusyTimeout(options.busy_timeout_ms);
    // A connection learns that the file is in WAL mode when it first reads it; until then a checkpoint
    // through it does nothing (and reports -1 frames).
    (void)checkpointer->execAndGet("PRAGMA journal_mode");
    std::vector<std::unique_ptr<SQLite::Database>> readers;
    for (int i = 0; i < options.read_connections; ++i) {
      auto reader = std::make_unique<SQLite::Database>(
          options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX, options.busy_timeout_ms);
      if (Status st = configureConnection(*reader, options.busy_timeout_ms, false); !st.isOk()) return st;
      readers.push_back(std::move(reader));
    }
    return std::unique_ptr<SqliteDb>(
        new SqliteDb(options.path, std::max<size_t>(options.max_batch, 1), std::move(writer),
                     std::move(readers), std::move(checkpointer), *version,
                     std::max(1, options.checkpoint_frames), std::max(1, options.writer_checkpoint_frames)));
  } catch (const SQLite::Exception& e) {
    Status st = statusFromSqlite(e);
    return Status(st.code(), "cannot open database " + options.path + ": " + st.message());
  }
}

SqliteDb::SqliteDb(std::string path, size_t max_batch, std::unique_ptr<SQLite::Database> writer,
                   std::vector<std::unique_ptr<SQLite::Database>> readers,
                   std::unique_ptr<SQLite::Database> checkpointer, int schema_version, int checkpoint_frames,
                   int writer_checkpoint_frames)
    : path_(std::move(path)),
      max_batch_(max_batch),
      schema_version_(schema_version),
      writer_db_(std::move(writer)),
      readers_(std::move(readers)),
      checkpoint_db_(std::move(checkpointer)),
      checkpoint_frames_(checkpoint_frames),
      writer_checkpoint_frames_(writer_checkpoint_frames) {
  for (const auto& reader : readers_) {
    idle_readers_.push_back(reader.get());
    reader_caches_.push_back(std::make_unique<StatementCache>());
    reader_caches_.back()->db = reader.get();
  }
  // Replaces SQLite's automatic checkpoint in the committing connection (which stalled the writer for tens of
  // milliseconds under load) with the checkpoint thread.
  sqlite3_wal_hook(writer_db_->getHandle(), &SqliteDb::onWalCommit, this);
  // Both loops end only when stopping (the writer once the queue is drained): after an exception they run
  // again, so no queued write is left without its completion.
  const auto pause = [](std::chrono::milliseconds wait) {
    std::this_thread::sleep_for(wait);
    return false;
  };
  checkpoint_thread_ = std::thread([this, pause] {
    log::runGuarded(
        "store checkpoint", [this] { checkpointLoop(); }, pause);
  });
  writer_thread_ = std::thread([this, pause] {
    log::runGuarded(
        "store writer", [this] { writerLoop(); }, pause, std::chrono::milliseconds(100));
  });
}

// Runs on the writer thread after each commit (SQLite's WAL hook), with the WAL's frame count.
int SqliteDb::onWalCommit(void* self, sqlite3* db, const char* name, int frames) {
  auto* store = static_cast<SqliteDb*>(self);
  if (frames >= store->writer_checkpoint_frames_) {
    // The WAL restarts only when a write transaction starts after a checkpoint copied every frame; the
    // background checkpointer racing a busy writer may never get there. Cheap here: it copied most frames.
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (frames >= store->checkpoint_frames_) {
    std::lock_guard lock(store->checkpoint_mutex_);
    if (!store->checkpoint_due_) {
      store->checkpoint_due_ = true;
      store->checkpoint_cv_.notify_one();
    }
  }
  return SQLITE_OK;
}

void SqliteDb::checkpointLoop() {
  std::unique_lock lock(checkpoint_mutex_);
  for (;;) {
    checkpoint_cv_.wait(lock, [this] { return checkpoint_due_ || checkpoint_stopping_; });
    if (checkpoint_stopping_) return;
    checkpoint_due_ = false;
    lock.unlock();
    // PASSIVE: copies what it can without waiting for (or blocking) the writer and the readers; the WAL
    // restarts from its beginning once a checkpoint has copied everything.
    int log_frames = 0, copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &log_frames, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      log::warn("store: WAL checkpoint failed", {{"path", path_}, {"error", sqlite3_errstr(rc)}});
    }
    lock.lock();
  }
}

SqliteDb::~SqliteDb() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_stopping_ = true;
  }
  checkpoint_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

std::future<Status> SqliteDb::write(WriteTask task) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> future = promise->get_future();
  writeAsync(std::move(task), [promise](const Status& st) { promise->set_value(st); });
  return future;
}

void SqliteDb::writeAsync(WriteTask task, WriteDone done, sinks::Deferred group) {
  {
    std::lock_guard lock(queue_mutex_);
    if (!stopping_) {
      queue_.push_back({std::move(task), std::move(done), std::move(group)});
      queue_cv_.notify_one();
      return;
    }
  }
  const Status closing = Status::unavailable("the store is closing");
  if (group) group->fail(closing);
  done(closing);
}

Status SqliteDb::txStep(TxStep step) {
  static constexpr const char* kSql[] = {"BEGIN IMMEDIATE",  "SAVEPOINT task", "RELEASE task",
                                         "ROLLBACK TO task", "COMMIT",         "ROLLBACK"};
  sqlite3* db = writer_db_->getHandle();
  sqlite3_stmt*& stmt = tx_statements_[static_cast<int>(step)];
  if (stmt == nullptr) {
    const int rc =
        sqlite3_prepare_v3(db, kSql[static_cast<int>(step)], -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      stmt = nullptr;
      return statusFromSqlite(SQLite::Exception(db, rc));
    }
  }
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
    sqlite3_reset(stmt);
    return Status::ok();
  }
  Status st = statusFromSqlite(SQLite::Exception(db, rc));  // before reset: keeps SQLite's message
  sqlite3_reset(stmt);
  return st;
}

void SqliteDb::writerLoop() {
  std::vector<PendingWrite> batch;
  std::vector<Status> results;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {  // stopping, and everything queued has been written
        for (sqlite3_stmt*& stmt : tx_statements_) {
          sqlite3_finalize(stmt);
          stmt = nullptr;
        }
        return;
      }
      const size_t n = std::min(queue_.size(), max_batch_);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    runBatch(batch, results);
    for (size_t i = 0; i < batch.size(); ++i) {
      log::runLogged("store write completion", [&] { batch[i].done(results[i]); });
    }
    batch.clear();
  }
}

Status SqliteDb::mapException() {
  try {
    throw;
  } catch (const SQLite::Exception& e) {
    return statusFromSqlite(e);
  } catch (const std::exception& e) {
    return Status::internal(e.what());
  } catch (...) {
    return Status::internal("unknown exception in a store task");
  }
}

// One transaction for the whole batch (group commit: one WAL append + sync point for many callers); each task
// in a SAVEPOINT so its failure undoes only its own changes. Outcomes are final only after COMMIT.
void SqliteDb::runBatch(std::vector<PendingWrite>& batch, std::vector<Status>& results) {
  SQLite::Database& db = *writer_db_;
  results.assign(batch.size(), Status::ok());
  batches_.fetch_add(1, std::memory_order_relaxed);
  tasks_.fetch_add(batch.size(), std::memory_order_relaxed);

  // A task's failure reaches its write group at once: a later task of the same batch may read the group.
  const auto fail = [&](size_t i, const Status& st) {
    results[i] = st;
    if (batch[i].group) batch[i].group->fail(st);
  };
  size_t first_in_txn = 0;  // tasks before this index are final (failed, or lost with an aborted transaction)
  if (Status begin = txStep(TxStep::kBegin); !begin.isOk()) {
    for (size_t i = 0; i < batch.size(); ++i)
      fail(i, begin);
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    Status st = txStep(TxStep::kSavepoint);
    if (st.isOk()) {
      try {
        st = batch[i].task(db);
      } catch (...) {
        st = mapException();
      }
    }
    if (st.isOk()) {
      st = txStep(TxStep::kRelease);
      if (st.isOk()) continue;
    }
    fail(i, st);
    if (inTransaction(db)) {
      if (txStep(TxStep::kRollbackTo).isOk() && txStep(TxStep::kRelease).isOk()) continue;
      (void)txStep(TxStep::kRollback);
    }
    // Some errors (I/O, disk full, out of memory) make SQLite roll back the whole transaction: the earlier
    // tasks' writes are gone, so they fail too, and the rest of the batch starts a fresh transaction.
    for (size_t j = first_in_txn; j < i; ++j) {
      if (results[j].isOk()) {
        fail(j, Status(StatusCode::kUnavailable,
                       "write batch aborted by another write's failure: " + st.message()));
      }
    }
    first_in_txn = i + 1;
    if (Status begin = txStep(TxStep::kBegin); !begin.isOk()) {
      for (size_t j = i + 1; j < batch.size(); ++j)
        fail(j, begin);
      return;
    }
  }
  if (Status commit = txStep(TxStep::kCommit); !commit.isOk()) {
    if (inTransaction(db)) (void)txStep(TxStep::kRollback);
    for (size_t j = first_in_txn; j < batch.size(); ++j) {
      if (results[j].isOk()) fail(j, commit);
    }
  }
}

SqliteDb::StatementCache*& SqliteDb::threadReadCache() {
  thread_local StatementCache* cache = nullptr;
  return cache;
}

SqliteDb::ReadLease::ReadLease(SqliteDb& owner)
    : owner_(owner), db_(owner.acquireReader()), previous_(threadReadCache()) {
  for (const auto& cache : owner_.reader_caches_) {
    if (cache->db == db_) threadReadCache() = cache.get();
  }
}

SqliteDb::ReadLease::~ReadLease() {
  threadReadCache() = previous_;
  owner_.releaseReader(db_);
}

CachedStatement::CachedStatement(SQLite::Database& db, std::string_view sql) {
  SqliteDb::StatementCache* cache = SqliteDb::threadReadCache();
  if (cache != nullptr && cache->db == &db) {
    auto found = cache->statements.find(sql);
    if (found == cache->statements.end() &&
        cache->statements.size() < SqliteDb::StatementCache::kMaxStatements) {
      SqliteDb::StatementCache::Entry entry;
      entry.statement = std::make_unique<SQLite::Statement>(db, std::string(sql));
      found = cache->statements.emplace(std::string(sql), std::move(entry)).first;
    }
    if (found != cache->statements.end() && !found->second.in_use) {
      found->second.in_use = true;
      in_use_ = &found->second.in_use;
      q_ = found->second.statement.get();
    }
  }
  if (q_ == nullptr) {
    owned_ = std::make_unique<SQLite::Statement>(db, std::string(sql));
    q_ = owned_.get();
  }
  q_->reset();
  q_->clearBindings();
}

CachedStatement::~CachedStatement() {
  try {
    q_->reset();
  } catch (...) {  // reset reports the last step's error again; the caller has seen it
  }
  if (in_use_ != nullptr) *in_use_ = false;
}

SQLite::Database* SqliteDb::acquireReader() {
  std::unique_lock lock(readers_mutex_);
  readers_cv_.wait(lock, [this] { return !idle_readers_.empty(); });
  SQLite::Database* db = idle_readers_.back();
  idle_readers_.pop_back();
  return db;
}

void SqliteDb::releaseReader(SQLite::Database* db) {
  {
    std::lock_guard lock(readers_mutex_);
    idle_readers_.push_back(db);
  }
  readers_cv_.notify_one();
}

}  // namespace ih::store
