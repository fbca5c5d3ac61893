// Private to host/store: sql::Connection on PostgreSQL (libpq, one connection per object).
//
// Statements are prepared once per connection (named "s1", "s2", ...); parameters go as text for numbers and as
// binary for text and bytes (no escaping, embedded bytes kept); results come back in binary and are decoded by
// column type (int2/4/8, bool, float8, numeric, text, varchar, bytea, json). Every wait on the server is
// bounded: connect_timeout, TCP keepalives and tcp_user_timeout on the socket, statement_timeout in the
// session (defaults below unless the URL sets them). Deferred statements (defer) ride in one pipeline with the
// next statement, so a write task's SAVEPOINT and RELEASE cost no round trip of their own.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

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
  void defer(std::string_view sql) override;
  bool takeDeferredFailure() override;
  void markTaskStart() override { task_mark_ = deferred_.size(); }
  int64_t getChanges() const override { return changes_; }
  bool inTransaction() const override;
  bool healthy() const override;
  void reconnect() override;
  pg_conn* handle() const { return conn_; }

  // A statement waiting to be sent with the next one: a prepared statement (`name`) or text, with its own copy
  // of the parameters (the Statement may be reused before it is sent).
  struct Deferred {
    std::string name;
    std::string sql;
    std::vector<unsigned int> types;
    std::vector<std::string> values;
    std::vector<int> null;
    std::vector<int> formats;
  };
  // An error from the last result (`result` may be null: the connection's message is used).
  Error errorOf(const pg_result* result) const;

 private:
  friend class PgStatement;
  std::unique_ptr<StatementImpl> prepare(std::string_view sql, bool cached) override;
  void connect();
  // Sends the deferred statements and then what `send` queues (one command; null: none) in one pipeline and
  // returns the last command's result (the caller owns it; null without `send`). Throws the first failure.
  pg_result* runPipelined(const std::function<int(pg_conn*)>& send);
  // Whether deferred statements wait to be sent.
  bool hasDeferred() const { return !deferred_.empty(); }
  // Queues it; past kMaxDeferred queued statements they are sent (and their answers read) first. In blocking
  // mode a pipeline whose answers outgrow the socket buffers could leave both ends waiting on each other.
  void deferStatement(Deferred deferred);

  static constexpr size_t kMaxCached = 256;
  static constexpr size_t kMaxDeferred = 256;
  const PgOptions options_;
  pg_conn* conn_ = nullptr;
  uint64_t next_name_ = 0;
  int64_t changes_ = 0;
  std::vector<Deferred> deferred_;
  bool broken_ = false;           // a pipeline left in a state we cannot resume: reconnect
  bool deferred_failed_ = false;  // takeDeferredFailure
  size_t task_mark_ = 0;          // deferred_[task_mark_...] are the current task's (markTaskStart)
};

}  // namespace ih::store::sql
