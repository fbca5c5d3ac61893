#include "store/sql_postgres.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <utility>
#include <vector>

#include "common/text.h"

namespace ih::store::sql {
namespace {

// Type OIDs of pg_type (stable across versions).
constexpr Oid kBool = 16, kBytea = 17, kText = 25, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26,
              kFloat4 = 700, kFloat8 = 701, kNumeric = 1700, kJsonb = 3802;

uint64_t bigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// Binary numeric: int16 ndigits, int16 weight, uint16 sign, int16 dscale, then base-10000 digits. The integral
// part only (the host stores no fractions); saturates instead of overflowing.
int64_t numericToInt64(const char* p, int size) {
  if (size < 8) return 0;
  const int ndigits = static_cast<int16_t>(bigEndian(p, 2));
  const int weight = static_cast<int16_t>(bigEndian(p + 2, 2));
  const bool negative = bigEndian(p + 4, 2) == 0x4000;
  if (ndigits < 0 || size < 8 + 2 * ndigits) return 0;
  __int128 value = 0;
  for (int i = 0; i <= weight; ++i) {
    const int digit = i < ndigits ? static_cast<int>(bigEndian(p + 8 + 2 * i, 2)) : 0;
    value = value * 10000 + digit;
    if (value > INT64_MAX) return negative ? INT64_MIN : INT64_MAX;
  }
  return static_cast<int64_t>(negative ? -value : value);
}

bool isBusyState(std::string_view state) {
  return state.substr(0, 2) == "08" ||  // connection exceptions
         state == "40001" || state == "40P01" || state == "55P03" || state == "57014" || state == "53300" ||
         state == "57P01" || state == "57P02" || state == "57P03";
}

void ignoreNotice(void*, const char*) {}  // notices may quote values: never printed

}  // namespace

class PgStatement final : public StatementImpl {
 public:
  PgStatement(PgConnection& connection, std::string_view sql, bool prepare) : connection_(connection) {
    std::vector<bool> used;
    sql_ = toDollarParameters(sql, used);
    parameters_ = static_cast<int>(used.size());
    // A number the SQL skips (a filter left out) gets a type, or the server could not prepare the statement.
    for (bool u : used)
      types_.push_back(u ? 0 : kText);
    values_.assign(parameters_, std::string());
    null_.assign(parameters_, 1);
    binary_.assign(parameters_, 0);
    if (prepare) {
      name_ = "s" + std::to_string(++connection_.next_name_);
      PGresult* res = PQprepare(connection_.conn_, name_.c_str(), sql_.c_str(), parameters_, types_.data());
      const bool ok = res != nullptr && PQresultStatus(res) == PGRES_COMMAND_OK;
      if (!ok) {
        Error error = connection_.errorOf(res);
        PQclear(res);
        throw error;
      }
      PQclear(res);
    }
  }
  ~PgStatement() override { PQclear(result_); }

  void bindNull(int index) override {
    slot(index).clear();
    null_[index - 1] = 1;
  }
  void bindInt64(int index, int64_t value) override { set(index, std::to_string(value), false); }
  void bindDouble(int index, double value) override {
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    set(index, std::string(buffer, ec == std::errc() ? end : buffer), false);
  }
  void bindText(int index, std::string_view text) override { set(index, std::string(text), true); }
  void bindBlob(int index, std::string_view bytes) override { set(index, std::string(bytes), true); }
  void clearBindings() override {
    for (int i = 0; i < parameters_; ++i) {
      values_[i].clear();
      null_[i] = 1;
    }
  }

  bool step() override {
    if (result_ == nullptr) run();
    if (row_ + 1 >= rows_) {
      row_ = rows_;
      return false;
    }
    ++row_;
    return true;
  }
  int64_t exec() override {
    if (result_ == nullptr) run();
    row_ = rows_;
    return connection_.changes_;
  }
  void execDeferred() override {
    PgConnection::Deferred d;
    d.name = name_;
    if (name_.empty()) d.sql = sql_;
    d.types.assign(types_.begin(), types_.end());
    d.values = values_;
    d.null = null_;
    d.formats = binary_;
    connection_.deferStatement(std::move(d));
  }
  void reset() override {
    PQclear(result_);
    result_ = nullptr;
    rows_ = 0;
    row_ = -1;
  }
  int columnCount() const override { return result_ != nullptr ? PQnfields(result_) : 0; }
  std::string columnName(int column) const override {
    const char* name = result_ != nullptr ? PQfname(result_, column) : nullptr;
    return name != nullptr ? name : "";
  }
  ValueType valueType(int column) const override {
    checkRow(column);
    if (PQgetisnull(result_, row_, column)) return ValueType::kNull;
    switch (PQftype(result_, column)) {
      case kInt8:
      case kInt4:
      case kInt2:
      case kOid:
      case kBool:
      case kNumeric:
        return ValueType::kInteger;
      case kFloat8:
      case kFloat4:
        return ValueType::kFloat;
      case kBytea:
        return ValueType::kBytes;
      default:
        return ValueType::kText;
    }
  }
  bool isNull(int column) const override {
    checkRow(column);
    return PQgetisnull(result_, row_, column) != 0;
  }
  int64_t getInt64(int column) const override {
    checkRow(column);
    if (PQgetisnull(result_, row_, column)) return 0;
    const char* p = PQgetvalue(result_, row_, column);
    const int n = PQgetlength(result_, row_, column);
    switch (PQftype(result_, column)) {
      case kInt8:
        return n == 8 ? static_cast<int64_t>(bigEndian(p, 8)) : 0;
      case kInt4:
        return n == 4 ? static_cast<int32_t>(bigEndian(p, 4)) : 0;
      case kOid:
        return n == 4 ? static_cast<int64_t>(bigEndian(p, 4)) : 0;
      case kInt2:
        return n == 2 ? static_cast<int16_t>(bigEndian(p, 2)) : 0;
      case kBool:
        return n == 1 && p[0] != 0 ? 1 : 0;
      case kNumeric:
        return numericToInt64(p, n);
      case kFloat8:
      case kFloat4:
        return static_cast<int64_t>(getDouble(column));
      default: {  // text: its decimal value, 0 when it is not one (as SQLite does)
        int64_t value = 0;
        std::from_chars(p, p + n, value);
        return value;
      }
    }
  }
  double getDouble(int column) const override {
    checkRow(column);
    if (PQgetisnull(result_, row_, column)) return 0;
    const char* p = PQgetvalue(result_, row_, column);
    const int n = PQgetlength(result_, row_, column);
    const Oid type = PQftype(result_, column);
    if (type == kFloat8 && n == 8) {
      const uint64_t bits = bigEndian(p, 8);
      double value;
      std::memcpy(&value, &bits, sizeof value);
      return value;
    }
    if (type == kFloat4 && n == 4) {
      const uint32_t bits = static_cast<uint32_t>(bigEndian(p, 4));
      float value;
      std::memcpy(&value, &bits, sizeof value);
      return value;
    }
    return static_cast<double>(getInt64(column));
  }
  std::string_view getBytes(int column) const override {
    checkRow(column);
    if (PQgetisnull(result_, row_, column)) return {};
    const char* p = PQgetvalue(result_, row_, column);
    const int n = PQgetlength(result_, row_, column);
    switch (valueType(column)) {
      case ValueType::kInteger: {
        std::string& text = scratch(column);
        text = std::to_string(getInt64(column));
        return text;
      }
      case ValueType::kFloat: {
        char buffer[64];
        const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, getDouble(column));
        std::string& text = scratch(column);
        text.assign(buffer, ec == std::errc() ? end : buffer);
        return text;
      }
      default:
        break;
    }
    if (PQftype(result_, column) == kJsonb) {  // a version byte, then the text
      return n >= 1 ? std::string_view(p + 1, static_cast<size_t>(n - 1)) : std::string_view();
    }
    return {p, static_cast<size_t>(n)};  // text, varchar, name, json, bytea: the bytes as they are
  }

 private:
  std::string& slot(int index) {
    if (index < 1 || index > parameters_) {
      throw Error(ErrorKind::kOther, "postgres: parameter " + std::to_string(index) +
                                         " of a statement with " + std::to_string(parameters_));
    }
    return values_[index - 1];
  }
  void set(int index, std::string value, bool binary) {
    slot(index) = std::move(value);
    null_[index - 1] = 0;
    binary_[index - 1] = binary ? 1 : 0;
  }
  void checkRow(int column) const {
    if (result_ == nullptr || row_ < 0 || row_ >= rows_ || column < 0 || column >= PQnfields(result_)) {
      throw Error(ErrorKind::kOther, "postgres: no column " + std::to_string(column) + " in the current row");
    }
  }
  std::string& scratch(int column) const {
    if (scratch_.size() <= static_cast<size_t>(column)) scratch_.resize(column + 1);
    return scratch_[column];
  }
  void run() {
    std::vector<const char*> values(parameters_);
    std::vector<int> lengths(parameters_);
    for (int i = 0; i < parameters_; ++i) {
      values[i] = null_[i] ? nullptr : values_[i].c_str();
      lengths[i] = static_cast<int>(values_[i].size());
    }
    PGresult* res = nullptr;
    if (connection_.hasDeferred()) {
      res = connection_.runPipelined([&](PGconn* conn) {
        return name_.empty() ? PQsendQueryParams(conn, sql_.c_str(), parameters_, types_.data(),
                                                 values.data(), lengths.data(), binary_.data(), 1)
                             : PQsendQueryPrepared(conn, name_.c_str(), parameters_, values.data(),
                                                   lengths.data(), binary_.data(), 1);
      });
    } else {
      res = name_.empty() ? PQexecParams(connection_.conn_, sql_.c_str(), parameters_, types_.data(),
                                         values.data(), lengths.data(), binary_.data(), 1)
                          : PQexecPrepared(connection_.conn_, name_.c_str(), parameters_, values.data(),
                                           lengths.data(), binary_.data(), 1);
    }
    const ExecStatusType status = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      Error error = connection_.errorOf(res);
      PQclear(res);
      throw error;
    }
    result_ = res;
    rows_ = PQntuples(res);
    row_ = -1;
    const char* tuples = PQcmdTuples(res);
    int64_t changed = 0;
    std::from_chars(tuples, tuples + std::strlen(tuples), changed);
    connection_.changes_ = changed;
  }

  PgConnection& connection_;
  std::string sql_;
  std::string name_;  // empty: not prepared (run with PQexecParams)
  int parameters_ = 0;
  std::vector<Oid> types_;  // 0 (the server infers it) for each parameter the SQL uses
  std::vector<std::string> values_;
  std::vector<int> null_;
  std::vector<int> binary_;
  PGresult* result_ = nullptr;
  int rows_ = 0;
  int row_ = -1;
  mutable std::vector<std::string> scratch_;
};

PgConnection::PgConnection(const PgOptions& options) : Connection(kMaxCached), options_(options) {
  connect();
}

PgConnection::~PgConnection() {
  clearCache();
  if (conn_ != nullptr) PQfinish(conn_);
}

void PgConnection::connect() {
  const std::string timeout = std::to_string(options_.connect_timeout_s);
  // Defaults first: parameters in the URL (expanded from "dbname") override the ones before it.
  const char* keys[] = {"connect_timeout",  "keepalives",
                        "keepalives_idle",  "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout",
                        "application_name", "client_encoding",
                        "dbname",           nullptr};
  const char* values[] = {
      timeout.c_str(),      "1",    "10", "5", "3", "30000", options_.application_name.c_str(), "UTF8",
      options_.url.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (conn_ == nullptr) throw Error(ErrorKind::kBusy, "postgres: out of memory connecting");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error(ErrorKind::kBusy,
                "cannot connect to postgres " + maskUrlPasswords(options_.url) + ": " + message);
  }
  PQsetNoticeProcessor(conn_, &ignoreNotice, nullptr);
  // The server's default (0: none) becomes ours; a statement_timeout the URL's options set is kept.
  PGresult* res = PQexec(conn_, "SELECT current_setting('statement_timeout')");
  const bool unset = res != nullptr && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                     std::strcmp(PQgetvalue(res, 0, 0), "0") == 0;
  PQclear(res);
  if (unset && options_.statement_timeout_ms > 0) {
    exec("SET statement_timeout = " + std::to_string(options_.statement_timeout_ms));
  }
  if (!options_.session_sql.empty()) exec(options_.session_sql);
}

bool PgConnection::inTransaction() const {
  const PGTransactionStatusType status = conn_ != nullptr ? PQtransactionStatus(conn_) : PQTRANS_UNKNOWN;
  return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE;
}

bool PgConnection::healthy() const {
  return conn_ != nullptr && !broken_ && PQstatus(conn_) == CONNECTION_OK;
}

void PgConnection::reconnect() {
  clearCache();
  deferred_.clear();
  broken_ = false;
  deferred_failed_ = false;
  task_mark_ = 0;
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  connect();
}

Error PgConnection::errorOf(const PGresult* result) const {
  if (result == nullptr || PQresultErrorField(result, PG_DIAG_SQLSTATE) == nullptr) {
    std::string message = conn_ != nullptr ? PQerrorMessage(conn_) : "no connection";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    return Error(ErrorKind::kBusy, "postgres: " + message);
  }
  const auto field = [&](int code) -> std::string {
    const char* value = PQresultErrorField(result, code);
    return value != nullptr ? value : "";
  };
  const std::string state = field(PG_DIAG_SQLSTATE);
  if (state == "23505") {
    return Error(ErrorKind::kUnique, "UNIQUE constraint failed: " + field(PG_DIAG_CONSTRAINT_NAME));
  }
  std::string message = "postgres: SQLSTATE " + state;
  // Data exceptions (class 22) quote the offending value: their text is left out, as is every DETAIL.
  if (state.substr(0, 2) != "22") message += ": " + field(PG_DIAG_MESSAGE_PRIMARY);
  for (const auto& [code, label] :
       {std::pair{PG_DIAG_TABLE_NAME, "table"}, std::pair{PG_DIAG_COLUMN_NAME, "column"},
        std::pair{PG_DIAG_CONSTRAINT_NAME, "constraint"}}) {
    const std::string value = field(code);
    if (!value.empty()) message += std::string(" (") + label + " " + value + ")";
  }
  return Error(isBusyState(state) ? ErrorKind::kBusy : ErrorKind::kOther, message);
}

// Through the statement cache, so a text deferred again and again (SAVEPOINT, RELEASE, NOTIFY) is parsed once.
void PgConnection::defer(std::string_view sql) {
  Statement q(*this, sql);
  q.execDeferred();
}

void PgConnection::deferStatement(Deferred deferred) {
  if (deferred_.size() >= kMaxDeferred) PQclear(runPipelined(nullptr));
  deferred_.push_back(std::move(deferred));
}

bool PgConnection::takeDeferredFailure() {
  return std::exchange(deferred_failed_, false);
}

namespace {

int sendDeferred(PGconn* conn, const PgConnection::Deferred& d) {
  const int n = static_cast<int>(d.values.size());
  std::vector<const char*> values(n);
  std::vector<int> lengths(n);
  for (int i = 0; i < n; ++i) {
    values[i] = d.null[i] ? nullptr : d.values[i].c_str();
    lengths[i] = static_cast<int>(d.values[i].size());
  }
  if (!d.name.empty()) {
    return PQsendQueryPrepared(conn, d.name.c_str(), n, values.data(), lengths.data(), d.formats.data(), 1);
  }
  return PQsendQueryParams(conn, d.sql.c_str(), n, d.types.empty() ? nullptr : d.types.data(), values.data(),
                           lengths.data(), d.formats.empty() ? nullptr : d.formats.data(), 1);
}

}  // namespace

// One round trip for the deferred statements and the next command: each is queued (extended protocol, so the
// unnamed statement for deferred ones), then one Sync; the answers come back in order, each followed by a null
// result, and the Sync's answer ends them. After a failure the server skips the rest up to the Sync
// (PGRES_PIPELINE_ABORTED), so the first error is the one thrown.
PGresult* PgConnection::runPipelined(const std::function<int(PGconn*)>& send) {
  std::vector<Deferred> commands;
  commands.swap(deferred_);
  const size_t task_mark = std::exchange(task_mark_, 0);  // what is deferred from now on is the task's
  if (conn_ == nullptr || PQenterPipelineMode(conn_) != 1) throw errorOf(nullptr);
  bool queued = true;
  for (const Deferred& command : commands)
    queued = queued && sendDeferred(conn_, command) == 1;
  if (queued && send) queued = send(conn_) == 1;
  if (queued) queued = PQpipelineSync(conn_) == 1;
  if (!queued) {  // the connection failed while sending: it cannot be used again as it is
    Error error = errorOf(nullptr);
    broken_ = true;
    deferred_failed_ = !commands.empty();
    throw error;
  }
  const size_t expected = commands.size() + (send ? 1 : 0);
  size_t index = 0;  // the command whose answers are being read
  PGresult* first_error = nullptr;
  PGresult* last = nullptr;
  int nulls_in_a_row = 0;
  for (;;) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      broken_ = true;
      break;
    }
    PGresult* res = PQgetResult(conn_);
    if (res == nullptr) {
      ++index;
      // A lost connection answers null forever: stop there rather than wait for a Sync that cannot come.
      if (++nulls_in_a_row > 1 || index > expected || PQstatus(conn_) != CONNECTION_OK) {
        broken_ = true;
        break;
      }
      continue;
    }
    nulls_in_a_row = 0;
    const ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_PIPELINE_SYNC) {
      PQclear(res);
      break;
    }
    if (status == PGRES_FATAL_ERROR && first_error == nullptr) {
      first_error = res;
      if (index < task_mark) deferred_failed_ = true;  // not one of the current task's own statements
      continue;
    }
    if (send && index == expected - 1 && (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)) {
      PQclear(last);
      last = res;
      continue;
    }
    PQclear(res);
  }
  if (!broken_ && PQexitPipelineMode(conn_) != 1) broken_ = true;
  if (first_error != nullptr || broken_) {
    if (first_error == nullptr && !commands.empty()) deferred_failed_ = true;
    Error error = errorOf(first_error);
    PQclear(first_error);
    PQclear(last);
    throw error;
  }
  if (send && last == nullptr) throw Error(ErrorKind::kBusy, "postgres: no answer to a pipelined statement");
  return last;
}

void PgConnection::exec(std::string_view sql) {
  if (hasDeferred()) PQclear(runPipelined(nullptr));
  PGresult* res = PQexec(conn_, std::string(sql).c_str());
  const ExecStatusType status = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = errorOf(res);
    PQclear(res);
    throw error;
  }
  const char* tuples = PQcmdTuples(res);
  changes_ = 0;
  std::from_chars(tuples, tuples + std::strlen(tuples), changes_);
  PQclear(res);
}

std::unique_ptr<StatementImpl> PgConnection::prepare(std::string_view sql, bool cached) {
  return std::make_unique<PgStatement>(*this, sql, cached);
}

}  // namespace ih::store::sql
