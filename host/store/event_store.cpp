// Normalized events (migrations/sqlite/0003_records.sql). See event_store.h.
#include "store/event_store.h"

#include <future>
#include <utility>

#include "log/log.h"
#include "store/db.h"
#include "store/store.h"

namespace ih::store {

EventStore::EventStore(Store& store) : store_(store) {}
EventStore::~EventStore() = default;

void EventStore::appendAsync(std::string_view tenant_id, EventRow row, AppendDone done,
                             sinks::Deferred group) {
  if (row.tenant_id != tenant_id) {
    const Status refused = Status::invalidArgument("event row is for another tenant than the call");
    if (group) group->fail(refused);
    done(refused);
    return;
  }
  auto shared = std::make_shared<EventRow>(std::move(row));
  store_.database().writeAsync(
      [shared](sql::Connection& db) {
        if (db.isPostgres()) {
          // Every replica's EventFeed hears of it at the commit (one notification per transaction; it travels
          // with the INSERT). Event ids are a cursor (GET /api/events?after=, SSE resume, the endpoints'
          // fan-out), so an id must never become visible after a higher one: the write lock every transaction
          // holds (db_postgres.cpp) makes ids and commits come in the same order. (A SQLite file has one writer.)
          db.defer("SELECT pg_notify('ihost_events', '')");
        }
        sql::Statement q(
            db,
            "INSERT INTO events(tenant_id, integration_id, type, occurred_at, data_json, dedupe_key) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(tenant_id, dedupe_key) WHERE dedupe_key IS NOT "
            "NULL DO NOTHING RETURNING id");
        q.bind(1, shared->tenant_id);
        q.bind(2, shared->integration_id);
        q.bind(3, shared->type);
        q.bind(4, shared->occurred_at);
        q.bind(5, shared->data_json);
        if (!shared->dedupe_key.empty()) q.bind(6, shared->dedupe_key);  // else NULL: never deduplicated
        shared->id = q.executeStep() ? q.getColumn(0).getInt64() : 0;    // no row: a duplicate
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
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<EventRow>> {
    std::string sql =
        "SELECT id, integration_id, type, occurred_at, data_json FROM events WHERE tenant_id = ? AND id > ?";
    if (!type_prefix.empty()) sql += " AND substr(type, 1, ?) = ?";
    sql += " ORDER BY id LIMIT ?";
    sql::Statement q(db, sql);
    int i = 1;
    q.bindText(i++, tenant_id);
    q.bind(i++, after_id);
    if (!type_prefix.empty()) {
      q.bind(i++, static_cast<int64_t>(type_prefix.size()));
      q.bindText(i++, type_prefix);
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
  return store_.database().read([&](sql::Connection& db) -> Result<int64_t> {
    sql::Statement q(db, "SELECT COALESCE(MAX(id), 0) FROM events WHERE tenant_id = ?");
    q.bindText(1, tenant_id);
    q.executeStep();
    return q.getColumn(0).getInt64();
  });
}

Result<size_t> EventStore::purgeBefore(int64_t occurred_before) {
  size_t removed = 0;
  Status st = store_.database().writeSync([&](sql::Connection& db) {
    sql::Statement q(db, "DELETE FROM events WHERE occurred_at < ?");
    q.bind(1, occurred_before);
    q.exec();
    removed = static_cast<size_t>(db.getChanges());
    return Status::ok();
  });
  if (!st.isOk()) return st;
  return removed;
}

Result<std::vector<EventRow>> EventStore::listAll(int64_t after_id, size_t limit) {
  return store_.database().read([&](sql::Connection& db) -> Result<std::vector<EventRow>> {
    sql::Statement q(
        db,
        "SELECT id, tenant_id, integration_id, type, occurred_at, data_json, dedupe_key FROM events "
        "WHERE id > ? ORDER BY id LIMIT ?");
    q.bind(1, after_id);
    q.bind(2, static_cast<int64_t>(limit));
    std::vector<EventRow> out;
    while (q.executeStep()) {
      EventRow row;
      row.id = q.getColumn(0).getInt64();
      row.tenant_id = q.getColumn(1).getString();
      row.integration_id = q.getColumn(2).getString();
      row.type = q.getColumn(3).getString();
      row.occurred_at = q.getColumn(4).getInt64();
      row.data_json = q.getColumn(5).getString();
      row.dedupe_key = q.getColumn(6).getString();
      out.push_back(std::move(row));
    }
    return out;
  });
}

Result<int64_t> EventStore::lastIdOfAll() {
  return store_.database().read([](sql::Connection& db) -> Result<int64_t> {
    sql::Statement q(db, "SELECT COALESCE(MAX(id), 0) FROM events");
    q.executeStep();
    return q.getColumn(0).getInt64();
  });
}

}  // namespace ih::store
