// Private to host/store: the SQL interface the area stores are written against, with one implementation per
// backend (sql_sqlite.cpp, sql_postgres.cpp). It is deliberately small and shaped like SQLiteCpp, which the
// stores were first written on:
//
//   sql::Statement q(db, "SELECT value FROM plugin_state WHERE tenant_id = ? AND key = ?");
//   q.bind(1, tenant_id);
//   q.bind(2, key);
//   while (q.executeStep()) use(q.getColumn(0).getString());
//
// SQL is written once, in the subset both SQLite (3.40) and PostgreSQL (15) run: `?` or `?N` parameters
// (rewritten to `$N` for PostgreSQL), INSERT ... ON CONFLICT ... DO UPDATE/NOTHING, RETURNING, COALESCE, CASE,
// CAST(x AS BIGINT), substr, count/sum/max/min aggregates. Where the dialects differ the store asks
// `db.dialect()`. Integers are 64-bit, text is UTF-8 text, bytes are BLOB/BYTEA (bindBlob); a column read with
// getString() gives its bytes either way.
//
// Statements are prepared once per connection and cached (bounded): constructing a Statement for a text the
// connection has seen is a lookup. Failures throw sql::Error, which the database core (db.h) maps to a Status.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ih::store::sql {

enum class Dialect { kSqlite, kPostgres };

// What went wrong, as far as a caller decides anything on it.
enum class ErrorKind {
  kUnique,  // a UNIQUE or PRIMARY KEY violation; what() names the constraint ("tenants.name")
  kBusy,    // locked, deadlocked, serialization failure, timed out, connection lost: worth retrying
  kOther,   // anything else (a bug in SQL, a constraint other than uniqueness, the disk)
};

// Messages never contain bound values (they may be secrets): SQLite's own messages do not, and PostgreSQL's
// are reduced to the SQLSTATE and the names of the table, column and constraint involved.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// SQL written with `?` / `?N` parameters, with PostgreSQL's `$N` instead (string literals, quoted names and
// comments left alone). `used[n - 1]` tells whether parameter n appears; its size is the highest number.
std::string toDollarParameters(std::string_view sql, std::vector<bool>& used);

// Unique → kAlreadyExists, busy → kUnavailable, other → kInternal; the message is the error's.
Status statusFromError(const Error& e);

// What a value of the current row is (for copying rows between backends).
enum class ValueType { kNull, kInteger, kFloat, kText, kBytes };

// A backend's prepared statement. Parameter indexes start at 1, column indexes at 0.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void bindNull(int index) = 0;
  virtual void bindInt64(int index, int64_t value) = 0;
  virtual void bindDouble(int index, double value) = 0;
  virtual void bindText(int index, std::string_view text) = 0;
  virtual void bindBlob(int index, std::string_view bytes) = 0;
  virtual void clearBindings() = 0;
  // Runs the statement (on the first call after a reset) and moves to the next row; false when there is none.
  virtual bool step() = 0;
  // Runs the statement to completion; returns the rows it changed.
  virtual int64_t exec() = 0;
  // Runs it with the current bindings before the next statement of the connection (Connection::defer).
  virtual void execDeferred() { exec(); }
  // Ready to run again with the same bindings.
  virtual void reset() = 0;
  virtual int columnCount() const = 0;
  virtual std::string columnName(int column) const = 0;
  virtual ValueType valueType(int column) const = 0;
  virtual bool isNull(int column) const = 0;
  virtual int64_t getInt64(int column) const = 0;
  virtual double getDouble(int column) const = 0;
  // The value's bytes (text as UTF-8; integers as decimal); valid until the next step or reset.
  virtual std::string_view getBytes(int column) const = 0;

  // Set by the connection while the statement sits in its cache: the entry's "taken" flag.
  bool* cache_in_use = nullptr;
};

// One database connection. Not thread-safe: one thread uses it at a time (the core's writer thread, or the
// thread holding a read lease).
class Connection {
 public:
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  virtual Dialect dialect() const = 0;
  bool isPostgres() const { return dialect() == Dialect::kPostgres; }
  // Runs SQL without parameters (several statements allowed); rows it returns are discarded.
  virtual void exec(std::string_view sql) = 0;
  // Runs one statement without parameters whose answer nobody waits for (SAVEPOINT, RELEASE, a lock, a
  // notification) before the next statement this connection runs. PostgreSQL sends the deferred statements and
  // that next one together, in one round trip (libpq's pipeline mode), and a deferred statement's failure is
  // thrown by that next one. SQLite runs it now (prepared once, from the cache).
  virtual void defer(std::string_view sql);
  // The database core's write task starts here (after its SAVEPOINT was deferred): statements deferred from
  // now on are the task's own.
  virtual void markTaskStart() {}
  // True once after a statement threw because a statement deferred before the current task started failed (an
  // earlier task's write, or the task's SAVEPOINT): the database core then rolls the whole transaction back
  // instead of the task's savepoint. A failure of the task's own deferred statements is the task's.
  virtual bool takeDeferredFailure() { return false; }
  // Rows inserted, updated or deleted by the last statement that ran to completion on this connection.
  virtual int64_t getChanges() const = 0;
  // Inside BEGIN ... COMMIT (or a failed transaction not yet rolled back).
  virtual bool inTransaction() const = 0;
  // False once a server connection is lost; reconnect() then drops the prepared statements and connects again
  // (throws sql::Error). A file connection is always healthy.
  virtual bool healthy() const { return true; }
  virtual void reconnect() {}

 protected:
  // `max_cached` statements are kept prepared (a text beyond that, or taken twice at once, is prepared for
  // that one use).
  explicit Connection(size_t max_cached) : max_cached_(max_cached) {}
  // A new prepared statement for `sql`; `cached`: it will be reused (e.g. a named server-side statement).
  virtual std::unique_ptr<StatementImpl> prepare(std::string_view sql, bool cached) = 0;
  // Drops every cached statement (before closing or replacing the connection; none may be in use).
  void clearCache() { cache_.clear(); }

 private:
  friend class Statement;
  // The cached statement for `sql` (prepared on first use), or one of its own, reset and unbound.
  StatementImpl* acquire(std::string_view sql);
  // Gives it back: reset, unbound, and returned to the cache or deleted.
  void release(StatementImpl* statement) noexcept;

  struct Entry {
    std::unique_ptr<StatementImpl> statement;
    bool in_use = false;
  };
  const size_t max_cached_;
  std::map<std::string, Entry, std::less<>> cache_;
};

// A column of the current row.
class Column {
 public:
  Column(const StatementImpl& statement, int index) : statement_(statement), index_(index) {}
  bool isNull() const { return statement_.isNull(index_); }
  ValueType type() const { return statement_.valueType(index_); }
  std::string name() const { return statement_.columnName(index_); }
  int64_t getInt64() const { return statement_.getInt64(index_); }
  int getInt() const { return static_cast<int>(statement_.getInt64(index_)); }
  double getDouble() const { return statement_.getDouble(index_); }
  std::string getString() const { return std::string(statement_.getBytes(index_)); }
  std::string_view view() const { return statement_.getBytes(index_); }

 private:
  const StatementImpl& statement_;
  const int index_;
};

class Statement {
 public:
  Statement(Connection& db, std::string_view sql) : db_(db), impl_(db.acquire(sql)) {}
  ~Statement() { db_.release(impl_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int index, int64_t value) { impl_->bindInt64(index, value); }
  void bind(int index, int value) { impl_->bindInt64(index, value); }
  void bind(int index, uint32_t value) { impl_->bindInt64(index, value); }
  void bind(int index, uint64_t value) { impl_->bindInt64(index, static_cast<int64_t>(value)); }
  void bind(int index, double value) { impl_->bindDouble(index, value); }
  void bind(int index, bool value) = delete;  // say which: bind(i, int64_t{flag})
  // Text (UTF-8). For bytes that need not be UTF-8 use bindBlob.
  void bind(int index, std::string_view text) { impl_->bindText(index, text); }
  void bind(int index, const std::string& text) { impl_->bindText(index, text); }
  void bind(int index, const char* text) { impl_->bindText(index, text); }
  void bindText(int index, std::string_view text) { impl_->bindText(index, text); }
  void bindBlob(int index, std::string_view bytes) { impl_->bindBlob(index, bytes); }
  void bindNull(int index) { impl_->bindNull(index); }
  void clearBindings() { impl_->clearBindings(); }

  bool executeStep() { return impl_->step(); }
  // Runs to completion; the rows changed.
  int64_t exec() { return impl_->exec(); }
  // Runs it, with the bindings it has now, before the next statement of the connection: on PostgreSQL in the
  // same round trip (Connection::defer). For writes whose outcome nobody reads; a failure is thrown later.
  void execDeferred() { impl_->execDeferred(); }
  void reset() { impl_->reset(); }

  int getColumnCount() const { return impl_->columnCount(); }
  Column getColumn(int index) const { return Column(*impl_, index); }
  // The prepared statement underneath (the same one each time the connection's cache serves this text).
  const StatementImpl* impl() const { return impl_; }

 private:
  Connection& db_;
  StatementImpl* const impl_;
};

// `s` in double quotes, for messages naming a row ("tenant \"acme\" already exists").
inline std::string inQuotes(std::string_view s) {
  return '"' + std::string(s) + '"';
}

}  // namespace ih::store::sql
