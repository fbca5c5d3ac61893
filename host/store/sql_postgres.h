// Private to host/store: sql::Connection on PostgreSQL (libpq, one connection per object).
//
// Statements are prepared once per connection (named "s1", "s2", ...); parameters go as text for numbers and as
// binary for text and bytes (no escaping, embedded bytes kept); results come back in binary and are decoded by
// column type (int2/4/8, bool, float8, numeric, text, varchar, bytea, json). Every wait on the server is
// bounded: connect_timeout, TCP keepalives and tcp_user_timeout on the socket, statement_timeout in the
// session (defaults below unless the URL sets them).
#pragma once

#include <memory>
#include <string>

#include "store/sql.h"

struct pg_conn;
struct pg_result;

namespace ih::store::sql {

class PgStatement;

struct PgOptions {
  std::string url;                   // postgresql://user@host:port/db?... (a libpq connection string or URI)
  int connect_timeout_s = 10;        // unless the URL sets connect_timeout
  int statement_timeout_ms = 30000;  // per statement, server side
  std::string application_name = "ihost";
  std::string session_sql;  // run after every (re)connect, e.g. "SET synchronous_commit = on"
};

class PgConnection final : public Connection {
 public:
  // Connects; throws sql::Error (kBusy when the server cannot be reached) naming the host, never the password.
  explicit PgConnection(const PgOptions& options);
  ~PgConnection() override;

  Dialect dialect() const override { return Dialect::kPostgres; }
  void exec(std::string_view sql) override;
  int64_t getChanges() const override { return changes_; }
  bool inTransaction() const override;
  bool healthy() const override;
  void reconnect() override;
  pg_conn* handle() const { return conn_; }

  // An error from the last result (`result` may be null: the connection's message is used).
  Error errorOf(const pg_result* result) const;

 private:
  friend class PgStatement;
  std::unique_ptr<StatementImpl> prepare(std::string_view sql, bool cached) override;
  void connect();

  static constexpr size_t kMaxCached = 256;
  const PgOptions options_;
  pg_conn* conn_ = nullptr;
  uint64_t next_name_ = 0;
  int64_t changes_ = 0;
};

}  // namespace ih::store::sql
