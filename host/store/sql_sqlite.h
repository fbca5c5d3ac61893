// Private to host/store: sql::Connection on SQLite (the C API; one connection per object).
#pragma once

#include <memory>
#include <string>

#include "store/sql.h"

struct sqlite3;

namespace ih::store::sql {

class SqliteStatement;

class SqliteConnection final : public Connection {
 public:
  // Opens (creating when `create`) the file; throws sql::Error.
  SqliteConnection(const std::string& path, bool create, int busy_timeout_ms);
  ~SqliteConnection() override;

  Dialect dialect() const override { return Dialect::kSqlite; }
  void exec(std::string_view sql) override;
  int64_t getChanges() const override;
  bool inTransaction() const override;
  sqlite3* handle() const { return db_; }

 private:
  std::unique_ptr<StatementImpl> prepare(std::string_view sql, bool cached) override;

  static constexpr size_t kMaxCached = 128;
  sqlite3* db_ = nullptr;
};

// The error SQLite reports for `rc` on `db` (kUnique for UNIQUE/PRIMARY KEY, kBusy for BUSY/LOCKED).
Error sqliteError(sqlite3* db, int rc);

}  // namespace ih::store::sql
