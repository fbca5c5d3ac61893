// Private to host/store: sql::Connection on SQLite (the C API; one connection per object).
#pragma once

#include <map>
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
  StatementImpl* acquire(std::string_view sql) override;
  void release(StatementImpl* statement) noexcept override;

  struct Entry {
    std::unique_ptr<SqliteStatement> statement;
    bool in_use = false;
  };
  static constexpr size_t kMaxCached = 128;
  sqlite3* db_ = nullptr;
  std::map<std::string, Entry, std::less<>> cache_;  // destroyed before db_ is closed (see the destructor)
};

// The error SQLite reports for `rc` on `db` (kUnique for UNIQUE/PRIMARY KEY, kBusy for BUSY/LOCKED).
Error sqliteError(sqlite3* db, int rc);

}  // namespace ih::store::sql
