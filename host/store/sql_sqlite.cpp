#include "store/sql_sqlite.h"

#include <sqlite3.h>

#include <mutex>

namespace ih::store::sql {

Error sqliteError(sqlite3* db, int rc) {
  const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  const int primary = rc & 0xff;
  std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Error(ErrorKind::kUnique, message);
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Error(ErrorKind::kBusy, message);
  return Error(ErrorKind::kOther, "sqlite: " + message);
}

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql, bool persistent) : db_(db) {
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt_, nullptr);
    if (rc != SQLITE_OK) throw sqliteError(db, rc);
    if (stmt_ == nullptr) throw Error(ErrorKind::kOther, "sqlite: empty statement");
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void bindNull(int index) override { check(sqlite3_bind_null(stmt_, index)); }
  void bindInt64(int index, int64_t value) override { check(sqlite3_bind_int64(stmt_, index, value)); }
  void bindDouble(int index, double value) override { check(sqlite3_bind_double(stmt_, index, value)); }
  void bindText(int index, std::string_view text) override {
    check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void bindBlob(int index, std::string_view bytes) override {
    check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
  }
  void clearBindings() override { sqlite3_clear_bindings(stmt_); }

  bool step() override {
    if (done_) return false;
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    done_ = true;
    if (rc == SQLITE_DONE) return false;
    throw sqliteError(db_, rc);
  }
  int64_t exec() override {
    while (step()) {
    }
    return sqlite3_changes64(db_);
  }
  void reset() override {
    sqlite3_reset(stmt_);  // reports the last step's error again: the caller has seen it
    done_ = false;
  }
  int columnCount() const override { return sqlite3_column_count(stmt_); }
  std::string columnName(int column) const override {
    const char* name = sqlite3_column_name(stmt_, column);
    return name != nullptr ? name : "";
  }
  ValueType valueType(int column) const override {
    switch (sqlite3_column_type(stmt_, column)) {
      case SQLITE_INTEGER:
        return ValueType::kInteger;
      case SQLITE_FLOAT:
        return ValueType::kFloat;
      case SQLITE_TEXT:
        return ValueType::kText;
      case SQLITE_BLOB:
        return ValueType::kBytes;
      default:
        return ValueType::kNull;
    }
  }
  bool isNull(int column) const override { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  int64_t getInt64(int column) const override { return sqlite3_column_int64(stmt_, column); }
  double getDouble(int column) const override { return sqlite3_column_double(stmt_, column); }
  std::string_view getBytes(int column) const override {
    const void* data = sqlite3_column_blob(stmt_, column);  // SQLite's rule: the value first, then its size
    const int size = sqlite3_column_bytes(stmt_, column);
    if (data == nullptr || size <= 0) return {};
    return {static_cast<const char*>(data), static_cast<size_t>(size)};
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) throw sqliteError(db_, rc);
  }
  sqlite3* const db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool done_ = false;
};

namespace {

// Process-wide, before SQLite's first use: no memory statistics. With them on (SQLite's default) every
// sqlite3_malloc and free takes one global mutex that all connections share; it was ~4 % of the writer
// thread's samples on the webhook path. Nothing here reads SQLite's memory counters or sets a heap limit.
void configureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // SQLITE_MISUSE when something in the process already initialized SQLite: then its defaults stay.
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  });
}

}  // namespace

SqliteConnection::SqliteConnection(const std::string& path, bool create, int busy_timeout_ms)
    : Connection(kMaxCached) {
  configureSqliteOnce();
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  if (create) flags |= SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error = sqliteError(db_, rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw error;
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
}

SqliteConnection::~SqliteConnection() {
  clearCache();  // statements before their connection
  sqlite3_close_v2(db_);
}

void SqliteConnection::exec(std::string_view sql) {
  const std::string text(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);  // sqlite3_errmsg() below says the same
  if (rc != SQLITE_OK) throw sqliteError(db_, rc);
}

int64_t SqliteConnection::getChanges() const {
  return sqlite3_changes64(db_);
}

bool SqliteConnection::inTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

std::unique_ptr<StatementImpl> SqliteConnection::prepare(std::string_view sql, bool cached) {
  return std::make_unique<SqliteStatement>(db_, sql, cached);
}

}  // namespace ih::store::sql
