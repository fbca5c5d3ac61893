// Normalized events (migrations/sqlite/0003_records.sql). See event_store.h.
#include "store/event_store.h"

#include <future>
#include <utility>

#include "log/log.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace ih::store {

// The insert statement, prepared once on the writer connection; touched only by tasks on the writer thread.
struct EventStore::WriterStatements {
  SQLite::Database* db = nullptr;
  std::unique_ptr<SQLite::Statement> insert;
};

EventStore::EventStore(Store& store) : store_(store), statements_(std::make_shared<WriterStatements>()) {}

EventStore::~EventStore() {
  std::shared_ptr<WriterStatements> statements = statements_;
  Status st = store_.database().writeSync([statements](SQLite::Database&) {
    statements->insert.reset();
    statements->db = nullptr;
    return Status::ok();
  });
  if (!st.isOk()) {
    log::error("event store destroyed after its store; leaking a cached statement",
               {{"error", st.message()}});
    statements_->insert.release();
  }
}

void EventStore::appendAsync(std::string_view tenant_id, EventRow row, AppendDone done,
                             sinks::Deferred group) {
  if (row.tenant_id != tenant_id) {
    const Status refused = Status::invalidArgument("event row is for another tenant than the call");
    if (group) group->fail(refused);
    done(refused);
    return;
  }
  auto shared = std::make_shared<EventRow>(std::move(row));
  std::shared_ptr<WriterStatements> s = statements_;
  store_.database().writeAsync(
      [shared, s](SQLite::Database& db) {
        if (s->db != &db) {
          s->insert =
              std::make_unique<SQLite::Statement>(db,
                                                  "INSERT INTO events(tenant_id, integration_id, type, "
                                                  "occurred_at, data_json, dedupe_key) VALUES (?, ?, ?, ?, "
                                                  "?, ?) ON CONFLICT(tenant_id, dedupe_key) WHERE "
                                                  "dedupe_key IS NOT NULL DO NOTHING");
          s->db = &db;
        }
        SQLite::Statement& q = *s->insert;
        (void)q.tryReset();
        q.bind(1, shared->tenant_id);
        q.bind(2, shared->integration_id);
        q.bind(3, shared->type);
        q.bind(4, shared->occurred_at);
        q.bind(5, shared->data_json);
        if (shared->dedupe_key.empty()) {
          q.bind(6);  // NULL: never deduplicated
        } else {
          q.bind(6, shared->dedupe_key);
        }
        shared->id = q.exec() == 0 ? 0 : db.getLastInsertRowid();
        (void)q.tryReset();
        return Status::ok();
      },
      [shared, done = std::move(done)](const Status& st) {
        if (st.isOk()) {
          done(std::move(*shared));
        } else {
          done(st);
        }
      },
      std::move(group));
}

Result<EventRow> EventStore::append(std::string_view tenant_id, EventRow row) {
  auto promise = std::make_shared<std::promise<Result<EventRow>>>();
  auto future = promise->get_future();
  appendAsync(tenant_id, std::move(row), [promise](Result<EventRow> r) { promise->set_value(std::move(r)); });
  return future.get();
}

Result<std::vector<EventRow>> EventStore::list(std::string_view tenant_id, int64_t after_id,
                                               std::string_view type_prefix, size_t limit) {
  return store_.database().read([&](SQLite::Database& db) -> Result<std::vector<EventRow>> {
    std::string sql =
        "SELECT id, integration_id, type, occurred_at, data_json FROM events WHERE tenant_id = ? AND id > ?";
    if (!type_prefix.empty()) sql += " AND substr(type, 1, ?) = ?";
    sql += " ORDER BY id LIMIT ?";
    SQLite::Statement q(db, sql);
    int i = 1;
    bindText(q, i++, tenant_id);
    q.bind(i++, after_id);
    if (!type_prefix.empty()) {
      q.bind(i++, static_cast<int64_t>(type_prefix.size()));
      bindText(q, i++, type_prefix);
    }
    q.bind(i++, static_cast<int64_t>(limit));
    std::vector<EventRow> out;
    while (q.executeStep()) {
      EventRow e;
      e.id = q.getColumn(0).getInt64();
      e.tenant_id = std::string(tenant_id);
      e.integration_id = q.getColumn(1).getString();
      e.type = q.getColumn(2).getString();
      e.occurred_at = q.getColumn(3).getInt64();
      e.data_json = q.getColumn(4).getString();
      out.push_back(std::move(e));
    }
    return out;
  });
}

Result<int64_t> EventStore::lastId(std::string_view tenant_id) {
  return store_.database().read([&](SQLite::Database& db) -> Result<int64_t> {
    SQLite::Statement q(db, "SELECT COALESCE(MAX(id), 0) FROM events WHERE tenant_id = ?");
    bindText(q, 1, tenant_id);
    q.executeStep();
    return q.getColumn(0).getInt64();
  });
}

Result<size_t> EventStore::purgeBefore(int64_t occurred_before) {
  size_t removed = 0;
  Status st = store_.database().writeSync([&](SQLite::Database& db) {
    SQLite::Statement q(db, "DELETE FROM events WHERE occurred_at < ?");
    q.bind(1, occurred_before);
    q.exec();
    removed = static_cast<size_t>(db.getChanges());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return removed;
}

}  // namespace ih::store
