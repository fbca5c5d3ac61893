// Records and idempotent action results (migrations/sqlite/0003_records.sql). See record_store.h.
#include "store/record_store.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/clock.h"
#include "log/log.h"
#include "store/db.h"
#include "store/store.h"

namespace ih::store {
namespace {

constexpr const char* kUpsertSql =
    "INSERT INTO records(tenant_id, integration_id, model, external_id, data_json, updated_at, deleted, seq) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7) "
    "ON CONFLICT(tenant_id, integration_id, model, external_id) DO UPDATE SET "
    "data_json = excluded.data_json, updated_at = excluded.updated_at, deleted = 0, seq = excluded.seq "
    "WHERE excluded.updated_at > records.updated_at OR (excluded.updated_at = records.updated_at AND "
    "records.deleted = 0 AND excluded.data_json IS DISTINCT FROM records.data_json)";

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

Record recordFrom(sql::Statement& q) {
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

// The last seq the tenant used (0 when none).
int64_t lastSeq(sql::Connection& db, const std::string& tenant_id) {
  sql::Statement q(db, "SELECT last_seq FROM record_sequences WHERE tenant_id = ?");
  q.bindText(1, tenant_id);
  return q.executeStep() ? q.getColumn(0).getInt64() : 0;
}

// Nothing reads its answer: on PostgreSQL it travels with the next statement.
void putSeq(sql::Connection& db, const std::string& tenant_id, int64_t last) {
  sql::Statement q(db,
                   "INSERT INTO record_sequences(tenant_id, last_seq) VALUES (?, ?) "
                   "ON CONFLICT(tenant_id) DO UPDATE SET last_seq = excluded.last_seq");
  q.bindText(1, tenant_id);
  q.bind(2, last);
  q.execDeferred();
}

void applyState(sql::Connection& db, const RowsWrite& w);

// PostgreSQL: a page in one round trip instead of one per record. Each record is upserted with the seq it takes
// if every record of the page changes (the usual case: new or newer objects), all of them deferred behind a
// savepoint, then one count of the seqs taken. If some record was older or identical (skipped), the seqs after
// it would leave a gap: the page is rolled back to its savepoint and written one record at a time, as SQLite
// does. Returns false in that case, having written nothing.
bool applyPipelined(sql::Connection& db, const RowsWrite& w, int64_t first, UpsertStats& counted) {
  db.defer("SAVEPOINT page");
  sql::Statement q(db, kUpsertSql);
  q.bindText(1, w.tenant);
  q.bindText(2, w.integration);
  q.bindText(3, w.model);
  int64_t next = first + 1;
  for (const RecordInput& r : *w.records) {
    q.bindText(4, r.id);
    q.bindText(5, r.data_json);
    q.bind(6, r.updated_at);
    q.bind(7, next++);
    q.execDeferred();
  }
  sql::Statement taken(
      db,
      "SELECT COUNT(*) FROM records WHERE tenant_id = ? AND integration_id = ? AND model = ? "
      "AND seq > ? AND seq < ?");
  taken.bindText(1, w.tenant);
  taken.bindText(2, w.integration);
  taken.bindText(3, w.model);
  taken.bind(4, first);
  taken.bind(5, next);
  const int64_t written = taken.executeStep() ? taken.getColumn(0).getInt64() : 0;
  if (written != next - first - 1) {
    db.exec("ROLLBACK TO SAVEPOINT page");
    db.exec("RELEASE SAVEPOINT page");
    return false;
  }
  db.defer("RELEASE SAVEPOINT page");
  counted.written = static_cast<size_t>(written);
  if (written > 0) putSeq(db, w.tenant, next - 1);
  return true;
}

// The rows of one call, then the state (RowsWrite::state), in the running task's savepoint.
void applyRows(sql::Connection& db, const RowsWrite& w, UpsertStats& counted) {
  counted = {};
  const int64_t first = lastSeq(db, w.tenant);
  if (db.isPostgres() && w.records->size() > 1 && applyPipelined(db, w, first, counted)) {
    applyState(db, w);
    return;
  }
  int64_t next = first + 1;
  sql::Statement q(db, kUpsertSql);
  q.bindText(1, w.tenant);
  q.bindText(2, w.integration);
  q.bindText(3, w.model);
  for (const RecordInput& r : *w.records) {
    q.reset();  // keeps the bindings: only the per-record ones change
    q.bindText(4, r.id);
    q.bindText(5, r.data_json);
    q.bind(6, r.updated_at);
    q.bind(7, next);
    if (q.exec() > 0) {
      ++next;
      ++counted.written;
    } else {
      ++counted.skipped;
    }
  }
  if (counted.written > 0) putSeq(db, w.tenant, next - 1);
  applyState(db, w);
}

void applyState(sql::Connection& db, const RowsWrite& w) {
  if (w.state != nullptr) {
    sql::Statement p(db,
                     "INSERT INTO plugin_state(tenant_id, integration_id, key, value, updated_at) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT(tenant_id, integration_id, key) DO UPDATE SET "
                     "value = excluded.value, updated_at = excluded.updated_at");
    p.bindText(1, w.tenant);
    p.bindText(2, w.integration);
    p.bindText(3, w.state[0]);
    p.bindBlob(4, w.state[1]);
    p.bind(5, nowMs());
    // Not deferred: a key PostgreSQL refuses (bytes that are not UTF-8) must fail this task, not the next one.
    p.exec();
  }
}

// One tombstone; whether it changed anything.
bool applyTombstone(sql::Connection& db, const std::string& tenant, const std::string& integration,
                    const std::string& model, const std::string& id, int64_t updated_at) {
  const int64_t next = lastSeq(db, tenant) + 1;
  sql::Statement q(db, kTombstoneSql);
  q.bindText(1, tenant);
  q.bindText(2, integration);
  q.bindText(3, model);
  q.bindText(4, id);
  q.bind(5, updated_at);
  q.bind(6, next);
  const bool changed = q.exec() > 0;
  if (changed) putSeq(db, tenant, next);
  return changed;
}

}  // namespace

RecordStore::RecordStore(Store& store) : store_(store) {}
RecordStore::~RecordStore() = default;

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
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    applyRows(db, w, counted);
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
  store_.database().writeAsync(
      [owned](sql::Connection& db) {
        UpsertStats counted;
        applyRows(db, owned->w, counted);
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
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    changed = applyTombstone(db, tenant, integration, model_name, record_id, updated_at);
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
  store_.database().writeAsync(
      [keys, updated_at](sql::Connection& db) {
        const auto& [tenant, integration, model_name, record_id] = *keys;
        applyTombstone(db, tenant, integration, model_name, record_id, updated_at);
        return Status::ok();
      },
      [](const Status&) {}, std::move(group));
  return Status::ok();
}

Result<std::vector<Record>> RecordStore::listChanges(std::string_view tenant_id,
                                                     std::string_view integration_id, std::string_view model,
                                                     int64_t after_seq, size_t limit) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<Record>> {
    sql::Statement q(db, std::string(kRecordColumns) +
                             "WHERE tenant_id = ? AND integration_id = ? AND model = ? AND seq > ? "
                             "ORDER BY seq LIMIT ?");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    q.bindText(3, model);
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
  return store_.database().read([&](sql::Connection& db) -> Result<FilteredPage> {
    // The window: the next `window` changes (through the (tenant, integration, model, seq) index)...
    auto bindScope = [&](sql::Statement& q) {
      q.bindText(1, tenant_id);
      q.bindText(2, integration_id);
      q.bindText(3, model);
      q.bind(4, after_seq);
    };
    sql::Statement span(db,
                        "SELECT max(seq), count(*) FROM (SELECT seq FROM records WHERE tenant_id = ? AND "
                        "integration_id = ? AND model = ? AND seq > ? ORDER BY seq LIMIT ?) AS span");
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
    // A string field equal to the value (a number or a boolean never equals a string).
    const char* match = db.isPostgres()
                            ? "AND (CAST(data_json AS JSONB) -> CAST(? AS TEXT)) = to_jsonb(CAST(? AS TEXT)) "
                            : "AND json_extract(data_json, ?) IS ? ";
    for (size_t k = 0; k < where.size(); ++k)
      sql += match;
    sql += "ORDER BY seq LIMIT ?";
    sql::Statement q(db, sql);
    bindScope(q);
    int i = 5;
    q.bind(i++, window_end);
    for (const FieldEquals& w : where) {
      q.bind(i++, db.isPostgres() ? w.field : "$." + w.field);
      q.bindText(i++, w.value);
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
  return store_.database().read([&](sql::Connection& db) -> Result<std::optional<Record>> {
    sql::Statement q(db, std::string(kRecordColumns) +
                             "WHERE tenant_id = ? AND integration_id = ? AND model = ? AND external_id = ?");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    q.bindText(3, model);
    q.bindText(4, id);
    if (!q.executeStep()) return std::optional<Record>();
    return std::optional<Record>(recordFrom(q));
  });
}

// --- action results ---

Result<std::optional<ActionResult>> ActionResultStore::find(std::string_view tenant_id,
                                                            std::string_view integration_id,
                                                            std::string_view idempotency_key) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::optional<ActionResult>> {
    sql::Statement q(db,
                     "SELECT request_hash, status, response_json, created_at FROM action_results "
                     "WHERE tenant_id = ? AND integration_id = ? AND idempotency_key = ?");
    q.bindText(1, tenant_id);
    q.bindText(2, integration_id);
    q.bindText(3, idempotency_key);
    if (!q.executeStep()) return std::optional<ActionResult>();
    ActionResult r;
    r.tenant_id = std::string(tenant_id);
    r.integration_id = std::string(integration_id);
    r.idempotency_key = std::string(idempotency_key);
    r.request_hash = q.getColumn(0).getString();
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
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(db,
                     "INSERT INTO action_results(tenant_id, integration_id, idempotency_key, request_hash, "
                     "status, response_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    q.bindText(1, result.tenant_id);
    q.bindText(2, result.integration_id);
    q.bindText(3, result.idempotency_key);
    q.bindBlob(4, result.request_hash);
    q.bind(5, result.status);
    q.bindText(6, result.response_json);
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
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(db, "DELETE FROM action_results WHERE created_at < ?");
    q.bind(1, created_before);
    q.exec();
    removed = static_cast<size_t>(db.getChanges());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return removed;
}

}  // namespace ih::store
