#include "store/db.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <vector>

#include "common/clock.h"
#include "log/guard.h"
#include "log/log.h"

namespace ih::store {
namespace {

std::string tooNewMessage(const std::string& name, int version, int latest) {
  return "database " + name + " has schema version " + std::to_string(version) +
         " but this ihost binary knows up to " + std::to_string(latest) +
         ". Upgrade ihost, or restore a backup made before the upgrade.";
}

Status execStatus(sql::Connection& db, std::string_view sql) {
  try {
    db.exec(sql);
    return Status::ok();
  } catch (const sql::Error& e) {
    return sql::statusFromError(e);
  }
}

}  // namespace

Result<std::unique_ptr<Db>> Db::open(const DbOptions& options) {
  if (options.read_connections < 1)
    return Status::invalidArgument("storage needs at least one read connection");
  if (options.backend == Backend::kPostgres) return openPostgres(options, postgresMigrations());
  if (!options.attach_inbox.empty()) return openSqlite(options, sqliteMigrations());
  // Without an inbox file (":memory:", "file:" URIs) the inbox stays in the main file: the migration that moves
  // it is recorded, and does nothing.
  static const std::vector<Migration> in_place = [] {
    std::vector<Migration> list(sqliteMigrations().begin(), sqliteMigrations().end());
    list.at(kInboxMoveMigration - 1).sql = "SELECT 1";
    return list;
  }();
  return openSqlite(options, in_place);
}

// Each step re-reads the version under the lock, so two processes opening the same database at once apply each
// migration once.
Result<int> applyMigrations(sql::Connection& db, const std::string& name,
                            std::span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {  // a bug in migrations/, caught at every start
      return Status::internal("migration list is not numbered 1, 2, 3, ...: entry " + std::to_string(i + 1) +
                              " has version " + std::to_string(migrations[i].version));
    }
  }
  const bool postgres = db.isPostgres();
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  for (;;) {
    if (Status begin = execStatus(db, postgres ? "BEGIN" : "BEGIN IMMEDIATE"); !begin.isOk()) {
      return Status(begin.code(), "cannot lock " + name + " to check its schema: " + begin.message());
    }
    const Migration* next = nullptr;
    try {
      // A fixed key ("ihost" in ASCII): every replica starting at once waits here for the one migrating.
      if (postgres) db.exec("SELECT pg_advisory_xact_lock(448345781364)");
      db.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations("
          " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
      int current = 0;
      {
        sql::Statement q(db, "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_migrations");
        if (q.executeStep()) current = q.getColumn(0).getInt();
      }
      if (current > latest) {
        db.exec("ROLLBACK");
        return Status::failedPrecondition(tooNewMessage(name, current, latest));
      }
      if (current == latest) {
        db.exec("COMMIT");
        return current;
      }
      next = &migrations[current];  // versions are dense, so the next one is at index `current`
      db.exec(next->sql);
      {
        sql::Statement record(db,
                              "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)");
        record.bind(1, next->version);
        record.bind(2, next->name);
        record.bind(3, nowMs());
        record.exec();
      }
      db.exec("COMMIT");
    } catch (const sql::Error& e) {
      if (db.inTransaction()) (void)execStatus(db, "ROLLBACK");
      Status st = sql::statusFromError(e);
      std::string what =
          next ? "migration " + std::to_string(next->version) + " (" + std::string(next->name) + ")"
               : std::string("reading the schema version");
      return Status(st.code() == StatusCode::kUnavailable ? st.code() : StatusCode::kInternal,
                    what + " failed on " + name + ": " + st.message());
    }
    log::info("applied schema migration",
              {{"database", name}, {"version", next->version}, {"name", next->name}});
  }
}

Db::Db(Parts parts)
    : name_(std::move(parts.name)),
      dialect_(parts.dialect),
      max_batch_(std::max<size_t>(parts.max_batch, 1)),
      schema_version_(parts.schema_version),
      begin_sql_(std::move(parts.begin_sql)),
      lock_sql_(std::move(parts.lock_sql)),
      writer_db_(std::move(parts.writer)),
      readers_(std::move(parts.readers)),
      companion_(std::move(parts.companion)) {
  for (const auto& reader : readers_)
    idle_readers_.push_back(reader.get());
  // The loop ends only when stopping, once the queue is drained: after an exception it runs again, so no
  // queued write is left without its completion.
  writer_thread_ = std::thread([this] {
    log::runGuarded(
        "store writer", [this] { writerLoop(); },
        [](std::chrono::milliseconds wait) {
          std::this_thread::sleep_for(wait);
          return false;
        },
        std::chrono::milliseconds(100));
  });
}

Db::~Db() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  companion_.reset();  // after the writer: the SQLite checkpointer is woken by the writer's commits
}

std::future<Status> Db::write(WriteTask task) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> future = promise->get_future();
  writeAsync(std::move(task), [promise](const Status& st) { promise->set_value(st); });
  return future;
}

void Db::writeAsync(WriteTask task, WriteDone done, sinks::Deferred group) {
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

// Transaction control as statements prepared once on the writer connection (parsing "SAVEPOINT task" twice per
// task showed up in profiles): the connection's statement cache keeps them.
Status Db::txStep(const char* sql) {
  try {
    sql::Statement q(*writer_db_, sql);
    q.exec();
    return Status::ok();
  } catch (const sql::Error& e) {
    return sql::statusFromError(e);
  }
}

// SAVEPOINT and RELEASE: on PostgreSQL they travel with the task's next statement (no round trip of their own),
// and a failure of theirs is that statement's.
Status Db::deferStep(const char* sql) {
  try {
    writer_db_->defer(sql);
    return Status::ok();
  } catch (const sql::Error& e) {
    return sql::statusFromError(e);
  }
}

Status Db::begin() {
  Status st = txStep(begin_sql_.c_str());
  if (st.isOk() && !lock_sql_.empty()) st = deferStep(lock_sql_.c_str());
  return st;
}

void Db::writerLoop() {
  std::vector<PendingWrite> batch;
  std::vector<Status> results;
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been written
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

Status Db::mapException() {
  try {
    throw;
  } catch (const sql::Error& e) {
    return sql::statusFromError(e);
  } catch (const std::exception& e) {
    return Status::internal(e.what());
  } catch (...) {
    return Status::internal("unknown exception in a store task");
  }
}

// One transaction for the whole batch (group commit: one WAL append + sync point for many callers); each task
// in a SAVEPOINT so its failure undoes only its own changes. Outcomes are final only after COMMIT.
void Db::runBatch(std::vector<PendingWrite>& batch, std::vector<Status>& results) {
  sql::Connection& db = *writer_db_;
  results.assign(batch.size(), Status::ok());
  batches_.fetch_add(1, std::memory_order_relaxed);
  tasks_.fetch_add(batch.size(), std::memory_order_relaxed);

  // A task's failure reaches its write group at once: a later task of the same batch may read the group.
  const auto fail = [&](size_t i, const Status& st) {
    results[i] = st;
    if (batch[i].group) batch[i].group->fail(st);
  };
  if (!db.healthy()) {  // a server connection lost since the last batch
    try {
      db.reconnect();
    } catch (const sql::Error& e) {
      const Status st = sql::statusFromError(e);
      for (size_t i = 0; i < batch.size(); ++i)
        fail(i, st);
      return;
    }
  }
  size_t first_in_txn = 0;  // tasks before this index are final (failed, or lost with an aborted transaction)
  if (Status begun = begin(); !begun.isOk()) {
    for (size_t i = 0; i < batch.size(); ++i)
      fail(i, begun);
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    // SAVEPOINT or RELEASE failing means a flush of deferred statements failed at a task boundary (a full
    // pipeline is sent before more is queued): whose statement it was is unknown.
    bool at_boundary = false;
    Status st = deferStep("SAVEPOINT task");
    writer_db_->markTaskStart();
    if (st.isOk()) {
      try {
        st = batch[i].task(db);
      } catch (...) {
        st = mapException();
      }
    } else {
      at_boundary = true;
    }
    if (st.isOk()) {
      st = deferStep("RELEASE task");
      if (st.isOk()) continue;
      at_boundary = true;
    }
    // A deferred statement's failure may be an earlier task's (sent with this task's statement): this task gets
    // no other task's error (a caller may act on "already exists"), and only the whole transaction can be
    // rolled back (the savepoint named "task" may even be the previous task's, its RELEASE not run).
    const bool earlier = db.takeDeferredFailure() || at_boundary;
    fail(i, earlier ? Status(StatusCode::kUnavailable,
                             "write batch aborted by another write's failure: " + st.message())
                    : st);
    if (!earlier && db.inTransaction()) {
      if (txStep("ROLLBACK TO task").isOk() && txStep("RELEASE task").isOk()) continue;
    }
    (void)db.takeDeferredFailure();
    if (db.inTransaction()) (void)txStep("ROLLBACK");
    // Some errors (I/O, disk full, out of memory, a lost connection) roll back the whole transaction: the
    // earlier tasks' writes are gone, so they fail too, and the rest of the batch starts a fresh transaction.
    for (size_t j = first_in_txn; j < i; ++j) {
      if (results[j].isOk()) {
        fail(j, Status(StatusCode::kUnavailable,
                       "write batch aborted by another write's failure: " + st.message()));
      }
    }
    first_in_txn = i + 1;
    if (!db.healthy()) {
      try {
        db.reconnect();
      } catch (const sql::Error&) {  // the begin below fails and says so
      }
    }
    if (Status begun = begin(); !begun.isOk()) {
      for (size_t j = i + 1; j < batch.size(); ++j)
        fail(j, begun);
      return;
    }
  }
  if (Status commit = txStep("COMMIT"); !commit.isOk()) {
    (void)db.takeDeferredFailure();
    if (db.inTransaction()) (void)txStep("ROLLBACK");
    for (size_t j = first_in_txn; j < batch.size(); ++j) {
      if (results[j].isOk()) fail(j, commit);
    }
  }
}

sql::Connection* Db::acquireReader() {
  sql::Connection* db = nullptr;
  {
    std::unique_lock lock(readers_mutex_);
    readers_cv_.wait(lock, [this] { return !idle_readers_.empty(); });
    db = idle_readers_.back();
    idle_readers_.pop_back();
  }
  if (!db->healthy()) {
    try {
      db->reconnect();
    } catch (...) {
      releaseReader(db);
      throw;
    }
  }
  return db;
}

void Db::releaseReader(sql::Connection* db) {
  {
    std::lock_guard lock(readers_mutex_);
    idle_readers_.push_back(db);
  }
  readers_cv_.notify_one();
}

}  // namespace ih::store
