// The SQLite backend of Db: one file in WAL mode, its connections, and a WAL checkpointer beside the writer.
#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/private_files.h"
#include "log/guard.h"
#include "log/log.h"
#include "store/db.h"
#include "store/sql_sqlite.h"

namespace ih::store {
namespace {

void configureWriter(sql::Connection& db, bool durable, int cache_mb) {
  // journal_mode returns a row; exec() discards it. WAL is persistent in the file, so readers inherit it.
  db.exec("PRAGMA journal_mode=WAL");
  // FULL: a commit is on disk (the WAL fsynced) before it is acknowledged, so an accepted webhook survives
  // power loss. NORMAL (opt-in) may lose the last commits on power loss, never corrupts.
  db.exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA foreign_keys=ON");
  // The writer's page cache (DbOptions::writer_cache_mb; the main file 64 MB, SQLite's default is 2 MB):
  // upserts into the records' unique index touch one random page per row (provider ids are random), and a sync
  // of a million rows re-read most of those pages from the OS otherwise. Readers keep the default.
  db.exec("PRAGMA cache_size=-" + std::to_string(cache_mb * 1024));
  // After a checkpoint lets the WAL restart, keep at most 64 MB of its file (large sync transactions grow it
  // well beyond SQLite's usual few MB).
  db.exec("PRAGMA journal_size_limit=67108864");
}

// WAL checkpoints run on their own connection and thread, so the writer (and every request waiting for its
// commit) never stalls on one; the writer's commit hook wakes the checkpointer. It replaces SQLite's automatic
// checkpoint in the committing connection, which stalled the writer for tens of milliseconds under load.
class Checkpointer final : public Db::Companion {
 public:
  Checkpointer(std::string path, std::unique_ptr<sql::SqliteConnection> connection, sqlite3* writer,
               int checkpoint_frames, int writer_checkpoint_frames)
      : path_(std::move(path)),
        connection_(std::move(connection)),
        checkpoint_frames_(checkpoint_frames),
        writer_checkpoint_frames_(writer_checkpoint_frames) {
    sqlite3_wal_hook(writer, &Checkpointer::onWalCommit, this);
    thread_ = std::thread([this] {
      log::runGuarded(
          "store checkpoint", [this] { loop(); },
          [](std::chrono::milliseconds wait) {
            std::this_thread::sleep_for(wait);
            return false;
          });
    });
  }
  ~Checkpointer() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // Runs on the writer thread after each commit, with the WAL's frame count.
  static int onWalCommit(void* self, sqlite3* db, const char* name, int frames) {
    auto* checkpointer = static_cast<Checkpointer*>(self);
    if (frames >= checkpointer->writer_checkpoint_frames_) {
      // The WAL restarts only when a write transaction starts after a checkpoint copied every frame; the
      // background checkpointer racing a busy writer may never get there. Cheap here: it copied most frames.
      int log_frames = 0, copied = 0;
      const int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
      if (rc == SQLITE_OK && copied >= log_frames) return SQLITE_OK;
      // Busy (the background checkpointer was running) or incomplete: the background one finishes, else the
      // last frames of a burst would wait for the next commit.
    }
    if (frames >= checkpointer->checkpoint_frames_) {
      std::lock_guard lock(checkpointer->mutex_);
      if (!checkpointer->due_) {
        checkpointer->due_ = true;
        checkpointer->cv_.notify_one();
      }
    }
    return SQLITE_OK;
  }

  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return due_ || stopping_; });
      if (stopping_) return;
      due_ = false;
      lock.unlock();
      // PASSIVE: copies what it can without waiting for (or blocking) the writer and the readers; the WAL
      // restarts from its beginning once a checkpoint has copied everything.
      int log_frames = 0, copied = 0;
      const int rc = sqlite3_wal_checkpoint_v2(connection_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                               &log_frames, &copied);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        log::warn("store: WAL checkpoint failed", {{"path", path_}, {"error", sqlite3_errstr(rc)}});
      }
      lock.lock();
    }
  }

  const std::string path_;
  const std::unique_ptr<sql::SqliteConnection> connection_;
  const int checkpoint_frames_;
  const int writer_checkpoint_frames_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool due_ = false;       // GUARDED_BY(mutex_)
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Db>> openSqlite(const DbOptions& options, std::span<const Migration> migrations) {
  if (options.path.empty()) return Status::invalidArgument("storage path is empty");
  // The database holds raw payloads and stored provider answers: its directory is created 0700, the file and
  // its WAL and shared-memory files (SQLite gives them the database's mode) are 0600.
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
  Db::Parts parts;
  parts.name = options.path;
  parts.dialect = sql::Dialect::kSqlite;
  parts.max_batch = options.max_batch;
  parts.begin_sql = "BEGIN IMMEDIATE";
  try {
    auto writer = std::make_unique<sql::SqliteConnection>(options.path, true, options.busy_timeout_ms);
    try {
      configureWriter(*writer, options.durable, options.writer_cache_mb);
    } catch (const sql::Error& e) {
      Status st = sql::statusFromError(e);
      return Status(st.code(), "cannot configure database " + options.path + ": " + st.message());
    }
    if (!options.attach_inbox.empty()) {
      sql::Statement attach(*writer, "ATTACH DATABASE ?1 AS inbox");
      attach.bindText(1, options.attach_inbox);
      attach.exec();
    }
    Result<int> version = applyMigrations(*writer, options.path, migrations);
    if (!options.attach_inbox.empty()) writer->exec("DETACH DATABASE inbox");
    if (!version.isOk()) return version.status();
    parts.schema_version = *version;

    auto checkpoint_connection =
        std::make_unique<sql::SqliteConnection>(options.path, false, options.busy_timeout_ms);
    // A connection learns that the file is in WAL mode when it first reads it; until then a checkpoint through
    // it does nothing (and reports -1 frames).
    checkpoint_connection->exec("PRAGMA journal_mode");
    for (int i = 0; i < options.read_connections; ++i) {
      auto reader = std::make_unique<sql::SqliteConnection>(options.path, false, options.busy_timeout_ms);
      reader->exec("PRAGMA query_only=ON");
      parts.readers.push_back(std::move(reader));
    }
    parts.companion = std::make_unique<Checkpointer>(options.path, std::move(checkpoint_connection),
                                                     writer->handle(), std::max(1, options.checkpoint_frames),
                                                     std::max(1, options.writer_checkpoint_frames));
    parts.writer = std::move(writer);
  } catch (const sql::Error& e) {
    Status st = sql::statusFromError(e);
    return Status(st.code(), "cannot open database " + options.path + ": " + st.message());
  }
  return std::make_unique<Db>(std::move(parts));
}

}  // namespace ih::store
