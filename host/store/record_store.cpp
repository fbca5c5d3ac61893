// Records and idempotent action results (migrations/sqlite/0003_records.sql). See record_store.h.
#include "store/record_store.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/clock.h"
#include "log/log.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace ih::store {
namespace {

// Binds text without copying: the string must stay alive and unchanged until the statement is reset (it does:
// every task binds and steps within one call while its caller waits for the result).
void bindRef(SQLite::Statement& q, int index, const std::string& text) {
  q.bindNoCopy(index, text);
}

constexpr const char* kUpsertSql =
    "INSERT INTO records(tenant_id, integration_id, model, external_id, data_json, updated_at, deleted, seq) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7) "
    "ON CONFLICT(tenant_id, integration_id, model, external_id) DO UPDATE SET "
    "data_json = excluded.data_json, updated_at = excluded.updated_at, deleted = 0, seq = excluded.seq "
    "WHERE excluded.updated_at > records.updated_at OR (excluded.updated_at = records.updated_at AND "
    "records.deleted = 0 AND excluded.data_json IS NOT records.data_json)";

constexpr const char* kTombstoneSql =
    "INSERT INTO records(tenant_id, integration_id, model, external_id, data_json, updated_at, deleted, seq) "
    "VALUES (?1, ?2, ?3, ?4, '{}', ?5, 1, ?6) "
    "ON CONFLICT(tenant_id, integration_id, model, external_id) DO UPDATE SET "
    "updated_at = excluded.updated_at, deleted = 1, seq = excluded.seq "
    "WHERE excluded.updated_at > records.updated_at OR (excluded.updated_at = records.updated_at AND "
    "records.deleted = 0)";

constexpr const char* kRecordColumns =
    "SELECT integration_id, model, external_id, data_json, updated_at, deleted, seq FROM records ";

// What one records write needs on the writer thread, owned (asynchronous writes) or borrowed from the waiting
// caller (synchronous ones).
struct RowsWrite {
  std::string tenant, integration, model;
  const std::vector<RecordInput>* records = nullptr;
  const std::string_view* state = nullptr;  // {key, value}, or null
};

Record recordFrom(SQLite::Statement& q) {
  Record r;
  r.integration_id = q.getColumn(0).getString();
  r.model = q.getColumn(1).getString();
  r.id = q.getColumn(2).getString();
  r.data_json = q.getColumn(3).getString();
  r.updated_at = q.getColumn(4).getInt64();
  r.deleted = q.getColumn(5).getInt() != 0;
  r.seq = q.getColumn(6).getInt64();
  return r;
}

}  // namespace

// Statements prepared once on the writer connection. Touched only by tasks running on the writer thread (and
// released by a task in ~RecordStore), so no lock.
struct RecordStore::WriterStatements {
  SQLite::Database* db = nullptr;
  std::unique_ptr<SQLite::Statement> upsert;
  std::unique_ptr<SQLite::Statement> tombstone;
  std::unique_ptr<SQLite::Statement> seq_get;
  std::unique_ptr<SQLite::Statement> seq_put;
  std::unique_ptr<SQLite::Statement> state_put;

  void prepare(SQLite::Database& connection) {
    if (db == &connection) return;
    reset();
    upsert = std::make_unique<SQLite::Statement>(connection, kUpsertSql);
    tombstone = std::make_unique<SQLite::Statement>(connection, kTombstoneSql);
    seq_get = std::make_unique<SQLite::Statement>(
        connection, "SELECT last_seq FROM record_sequences WHERE tenant_id = ?");
    seq_put = std::make_unique<SQLite::Statement>(
        connection,
        "INSERT INTO record_sequences(tenant_id, last_seq) VALUES (?, ?) "
        "ON CONFLICT(tenant_id) DO UPDATE SET last_seq = excluded.last_seq");
    state_put = std::make_unique<SQLite::Statement>(
        connection,
        "INSERT INTO plugin_state(tenant_id, integration_id, key, value, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(tenant_id, integration_id, key) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at");
    db = &connection;
  }
  void reset() {
    upsert.reset();
    tombstone.reset();
    seq_get.reset();
    seq_put.reset();
    state_put.reset();
    db = nullptr;
  }
  // The last seq the tenant used (0 when none).
  int64_t lastSeq(const std::string& tenant_id) {
    seq_get->tryReset();
    bindRef(*seq_get, 1, tenant_id);
    const int64_t last = seq_get->executeStep() ? seq_get->getColumn(0).getInt64() : 0;
    seq_get->tryReset();
    return last;
  }
  void putSeq(const std::string& tenant_id, int64_t last) {
    seq_put->tryReset();
    bindRef(*seq_put, 1, tenant_id);
    seq_put->bind(2, last);
    seq_put->exec();
    seq_put->tryReset();
  }
  // The rows of one call, then the state (RowsWrite::state), in the running task's savepoint.
  void applyRows(SQLite::Database& db, const RowsWrite& w, UpsertStats& counted);
  // One tombstone; whether it changed anything.
  bool applyTombstone(SQLite::Database& db, const std::string& tenant, const std::string& integration,
                      const std::string& model, const std::string& id, int64_t updated_at);
};

RecordStore::RecordStore(Store& store) : store_(store), statements_(std::make_unique<WriterStatements>()) {}

RecordStore::~RecordStore() {
  WriterStatements* statements = statements_.get();
  Status st = store_.database().writeSync([statements](SQLite::Database&) {
    statements->reset();
    return Status::ok();
  });
  if (!st.isOk()) {
    // The store is already closing (a lifetime bug): never touch the writer connection from this thread.
    log::error("record store destroyed after its store; leaking cached statements",
               {{"error", st.message()}});
    statements_->upsert.release();
    statements_->tombstone.release();
    statements_->seq_get.release();
    statements_->seq_put.release();
    statements_->state_put.release();
  }
}

Status RecordStore::upsert(std::string_view tenant_id, std::string_view integration_id,
                           std::string_view model, const std::vector<RecordInput>& records,
                           UpsertStats* stats) {
  return write(tenant_id, integration_id, model, records, nullptr, stats);
}

Status RecordStore::upsertWithState(std::string_view tenant_id, std::string_view integration_id,
                                    std::string_view model, const std::vector<RecordInput>& records,
                                    std::string_view state_key, std::string_view state_value,
                                    UpsertStats* stats) {
  const std::string_view state[2] = {state_key, state_value};
  return write(tenant_id, integration_id, model, records, state, stats);
}

void RecordStore::WriterStatements::applyRows(SQLite::Database& db, const RowsWrite& w,
                                              UpsertStats& counted) {
  WriterStatements& s = *this;
  s.prepare(db);
  counted = {};
  int64_t next = s.lastSeq(w.tenant) + 1;
  SQLite::Statement& q = *s.upsert;
  // A task that failed mid-loop (its savepoint rolled back) left this statement stepped: binding before a
  // reset would be an SQLITE_MISUSE for every later records write on this connection.
  q.tryReset();
  bindRef(q, 1, w.tenant);
  bindRef(q, 2, w.integration);
  bindRef(q, 3, w.model);
  for (const RecordInput& r : *w.records) {
    q.tryReset();  // keeps the bindings: only the per-record ones change
    bindRef(q, 4, r.id);
    bindRef(q, 5, r.data_json);
    q.bind(6, r.updated_at);
    q.bind(7, next);
    q.exec();
    if (db.getChanges() > 0) {
      ++next;
      ++counted.written;
    } else {
      ++counted.skipped;
    }
  }
  q.tryReset();
  q.clearBindings();
  if (counted.written > 0) s.putSeq(w.tenant, next - 1);
  if (w.state != nullptr) {
    SQLite::Statement& p = *s.state_put;
    p.tryReset();
    bindText(p, 1, w.tenant);
    bindText(p, 2, w.integration);
    bindText(p, 3, w.state[0]);
    p.bind(4, w.state[1].data(), static_cast<int>(w.state[1].size()));
    p.bind(5, nowMs());
    p.exec();
    p.tryReset();
    p.clearBindings();
  }
}

bool RecordStore::WriterStatements::applyTombstone(SQLite::Database& db, const std::string& tenant,
                                                   const std::string& integration, const std::string& model,
                                                   const std::string& id, int64_t updated_at) {
  WriterStatements& s = *this;
  s.prepare(db);
  const int64_t next = s.lastSeq(tenant) + 1;
  SQLite::Statement& q = *s.tombstone;
  q.tryReset();
  bindRef(q, 1, tenant);
  bindRef(q, 2, integration);
  bindRef(q, 3, model);
  bindRef(q, 4, id);
  q.bind(5, updated_at);
  q.bind(6, next);
  q.exec();
  const bool changed = db.getChanges() > 0;
  q.tryReset();
  q.clearBindings();
  if (changed) s.putSeq(tenant, next);
  return changed;
}

Status RecordStore::write(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                          const std::vector<RecordInput>& records, const std::string_view* state,
                          UpsertStats* stats) {
  if (tenant_id.empty() || integration_id.empty() || model.empty()) {
    return Status::invalidArgument("records need a tenant, an integration and a model");
  }
  if (state != nullptr && state[0].empty()) return Status::invalidArgument("state key is empty");
  if (records.empty() && state == nullptr) {
    if (stats) *stats = {};
    return Status::ok();
  }
  const RowsWrite w{std::string(tenant_id), std::string(integration_id), std::string(model), &records, state};
  UpsertStats counted;
  WriterStatements* s = statements_.get();
  Status st = store_.database().writeSync([&](SQLite::Database& db) {
    s->applyRows(db, w, counted);
    return Status::ok();
  });
  if (st.isOk() && stats) *stats = counted;
  return st;
}

Status RecordStore::upsertAsync(std::string_view tenant_id, std::string_view integration_id,
                                std::string_view model, std::vector<RecordInput> records,
                                sinks::Deferred group) {
  if (tenant_id.empty() || integration_id.empty() || model.empty()) {
    return Status::invalidArgument("records need a tenant, an integration and a model");
  }
  if (records.empty()) return Status::ok();
  struct Owned {
    RowsWrite w;
    std::vector<RecordInput> records;
  };
  auto owned = std::make_shared<Owned>();
  owned->w = {std::string(tenant_id), std::string(integration_id), std::string(model), nullptr, nullptr};
  owned->records = std::move(records);
  owned->w.records = &owned->records;
  WriterStatements* s = statements_.get();
  store_.database().writeAsync(
      [owned, s](SQLite::Database& db) {
        UpsertStats counted;
        s->applyRows(db, owned->w, counted);
        return Status::ok();
      },
      [](const Status&) {}, std::move(group));
  return Status::ok();
}

Status RecordStore::remove(std::string_view tenant_id, std::string_view integration_id,
                           std::string_view model, std::string_view id, int64_t updated_at, bool* written) {
  if (tenant_id.empty() || integration_id.empty() || model.empty() || id.empty()) {
    return Status::invalidArgument("a record delete needs a tenant, an integration, a model and an id");
  }
  const std::string tenant(tenant_id), integration(integration_id), model_name(model), record_id(id);
  bool changed = false;
  WriterStatements* s = statements_.get();
  Status st = store_.database().writeSync([&](SQLite::Database& db) {
    changed = s->applyTombstone(db, tenant, integration, model_name, record_id, updated_at);
    return Status::ok();
  });
  if (st.isOk() && written) *written = changed;
  return st;
}

Status RecordStore::removeAsync(std::string_view tenant_id, std::string_view integration_id,
                                std::string_view model, std::string_view id, int64_t updated_at,
                                sinks::Deferred group) {
  if (tenant_id.empty() || integration_id.empty() || model.empty() || id.empty()) {
    return Status::invalidArgument("a record delete needs a tenant, an integration, a model and an id");
  }
  auto keys = std::make_shared<std::array<std::string, 4>>(std::array<std::string, 4>{
      std::string(tenant_id), std::string(integration_id), std::string(model), std::string(id)});
  WriterStatements* s = statements_.get();
  store_.database().writeAsync(
      [keys, s, updated_at](SQLite::Database& db) {
        const auto& [tenant, integration, model_name, record_id] = *keys;
        s->applyTombstone(db, tenant, integration, model_name, record_id, updated_at);
        return Status::ok();
      },
      [](const Status&) {}, std::move(group));
  return Status::ok();
}

Result<std::vector<Record>> RecordStore::listChanges(std::string_view tenant_id,
                                                     std::string_view integration_id, std::string_view model,
                                                     int64_t after_seq, size_t limit) {
  return store_.database().read([&](SQLite::Database& db) -> Result<std::vector<Record>> {
    SQLite::Statement q(db, std::string(kRecordColumns) +
                                "WHERE tenant_id = ? AND integration_id = ? AND model = ? AND seq > ? "
                                "ORDER BY seq LIMIT ?");
    bindText(q, 1, tenant_id);
    bindText(q, 2, integration_id);
    bindText(q, 3, model);
    q.bind(4, after_seq);
    q.bind(5, static_cast<int64_t>(limit));
    std::vector<Record> out;
    while (q.executeStep())
      out.push_back(recordFrom(q));
    return out;
  });
}

Result<RecordStore::FilteredPage> RecordStore::listMatching(
    std::string_view tenant_id, std::string_view integration_id, std::string_view model, int64_t after_seq,
    size_t limit, const std::vector<FieldEquals>& where, size_t window) {
  for (const FieldEquals& w : where) {
    const bool valid =
        !w.field.empty() && w.field.size() <= 64 && std::all_of(w.field.begin(), w.field.end(), [](char ch) {
          return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_';
        });
    if (!valid) return Status::invalidArgument("a record field name is 1-64 characters of [A-Za-z0-9_]");
  }
  return store_.database().read([&](SQLite::Database& db) -> Result<FilteredPage> {
    // The window: the next `window` changes (through the (tenant, integration, model, seq) index)...
    auto bindScope = [&](SQLite::Statement& q) {
      bindText(q, 1, tenant_id);
      bindText(q, 2, integration_id);
      bindText(q, 3, model);
      q.bind(4, after_seq);
    };
    SQLite::Statement span(db,
                           "SELECT max(seq), count(*) FROM (SELECT seq FROM records WHERE tenant_id = ? AND "
                           "integration_id = ? AND model = ? AND seq > ? ORDER BY seq LIMIT ?)");
    bindScope(span);
    span.bind(5, static_cast<int64_t>(window));
    span.executeStep();
    FilteredPage page;
    page.next_after = after_seq;
    if (span.getColumn(0).isNull()) return page;  // nothing after the cursor
    const int64_t window_end = span.getColumn(0).getInt64();
    const bool window_full = span.getColumn(1).getInt64() == static_cast<int64_t>(window);
    // ...then the matches among them.
    std::string sql = std::string(kRecordColumns) +
                      "WHERE tenant_id = ? AND integration_id = ? AND model = ? AND seq > ? AND seq <= ? ";
    for (size_t k = 0; k < where.size(); ++k)
      sql += "AND json_extract(data_json, ?) IS ? ";
    sql += "ORDER BY seq LIMIT ?";
    SQLite::Statement q(db, sql);
    bindScope(q);
    int i = 5;
    q.bind(i++, window_end);
    for (const FieldEquals& w : where) {
      q.bind(i++, "$." + w.field);
      bindText(q, i++, w.value);
    }
    q.bind(i, static_cast<int64_t>(limit) + 1);
    while (q.executeStep())
      page.records.push_back(recordFrom(q));
    const bool more_matches = page.records.size() > limit;
    if (more_matches) page.records.pop_back();
    page.has_more = more_matches || window_full;
    page.next_after = more_matches ? page.records.back().seq : window_end;
    return page;
  });
}

Result<std::optional<Record>> RecordStore::get(std::string_view tenant_id, std::string_view integration_id,
                                               std::string_view model, std::string_view id) {
  return store_.database().read([&](SQLite::Database& db) -> Result<std::optional<Record>> {
    SQLite::Statement q(db,
                        std::string(kRecordColumns) +
                            "WHERE tenant_id = ? AND integration_id = ? AND model = ? AND external_id = ?");
    bindText(q, 1, tenant_id);
    bindText(q, 2, integration_id);
    bindText(q, 3, model);
    bindText(q, 4, id);
    if (!q.executeStep()) return std::optional<Record>();
    return std::optional<Record>(recordFrom(q));
  });
}

// --- action results ---

Result<std::optional<ActionResult>> ActionResultStore::find(std::string_view tenant_id,
                                                            std::string_view integration_id,
                                                            std::string_view idempotency_key) {
  return store_.database().read([&](SQLite::Database& db) -> Result<std::optional<ActionResult>> {
    SQLite::Statement q(db,
                        "SELECT request_hash, status, response_json, created_at FROM action_results "
                        "WHERE tenant_id = ? AND integration_id = ? AND idempotency_key = ?");
    bindText(q, 1, tenant_id);
    bindText(q, 2, integration_id);
    bindText(q, 3, idempotency_key);
    if (!q.executeStep()) return std::optional<ActionResult>();
    ActionResult r;
    r.tenant_id = std::string(tenant_id);
    r.integration_id = std::string(integration_id);
    r.idempotency_key = std::string(idempotency_key);
    r.request_hash = columnBytes(q.getColumn(0));
    r.status = q.getColumn(1).getInt();
    r.response_json = q.getColumn(2).getString();
    r.created_at = q.getColumn(3).getInt64();
    return std::optional<ActionResult>(std::move(r));
  });
}

Status ActionResultStore::save(std::string_view tenant_id, const ActionResult& result) {
  if (result.tenant_id != tenant_id) {
    return Status::invalidArgument("action result is for another tenant than the call");
  }
  Status st = store_.database().writeSync([&](SQLite::Database& db) {
    SQLite::Statement q(
        db,
        "INSERT INTO action_results(tenant_id, integration_id, idempotency_key, request_hash, "
        "status, response_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    bindText(q, 1, result.tenant_id);
    bindText(q, 2, result.integration_id);
    bindText(q, 3, result.idempotency_key);
    bindBlob(q, 4, result.request_hash);
    q.bind(5, result.status);
    bindText(q, 6, result.response_json);
    q.bind(7, result.created_at);
    q.exec();
    return Status::ok();
  });
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::alreadyExists("a result for this idempotency key is already stored");
  }
  return st;
}

Result<size_t> ActionResultStore::purgeBefore(int64_t created_before) {
  size_t removed = 0;
  Status st = store_.database().writeSync([&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM action_results WHERE created_at < ?");
    q.bind(1, created_before);
    q.exec();
    removed = static_cast<size_t>(db.getChanges());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return removed;
}

}  // namespace ih::store
