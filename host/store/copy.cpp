#include "store/copy.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "store/db.h"

namespace ih::store {
namespace {

// Every table of the schema, parents before the tables that reference them (tenants first; webhook_attempts
// after webhook_events). copyStore refuses a source with a table missing here: a migration that adds a table
// adds it here too (tests/unit/store/copy_test.cpp checks the list against the schema).
constexpr std::array<std::string_view, 27> kTables = {
    "tenants",
    "api_keys",
    "secrets",
    "connections",
    "audit_log",
    "host_meta",
    "plugin_state",
    "webhook_events",
    "webhook_attempts",
    "webhook_routes",
    "webhook_objects",
    "records",
    "record_sequences",
    "events",
    "action_results",
    "endpoints",
    "endpoint_deliveries",
    "endpoint_attempts",
    "endpoint_fanout",
    "job_leases",
    "job_runs",
    "oauth_states",
    "entitlements",
    "entitlement_cursors",
    "mappings",
    "mapping_sets",
    "rate_buckets",
};
// Seeded by the migrations themselves (one cursor row): replaced by the source's, not "data" in the target.
constexpr std::string_view kSeeded = "endpoint_fanout";

struct Value {
  sql::ValueType type = sql::ValueType::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string bytes;
};
using Row = std::vector<Value>;

// On SQLite the inbox's tables are in a file of their own (Store::inboxDatabase).
Db& databaseFor(Store& store, std::string_view table) {
  const bool inbox = table == "webhook_events" || table == "webhook_attempts" || table == "webhook_objects";
  return inbox ? store.inboxDatabase() : store.database();
}

Result<std::set<std::string>> sourceTables(Db& db) {
  return db.read([](sql::Connection& c) -> Result<std::set<std::string>> {
    sql::Statement q(c,
                     "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                     "AND name <> 'schema_migrations'");
    std::set<std::string> out;
    while (q.executeStep())
      out.insert(q.getColumn(0).getString());
    return out;
  });
}

Result<int64_t> countRows(Db& db, std::string_view table) {
  return db.read([&](sql::Connection& c) -> Result<int64_t> {
    sql::Statement q(c, "SELECT count(*) FROM " + std::string(table));
    q.executeStep();
    return q.getColumn(0).getInt64();
  });
}

Status insertRows(Db& target, std::string_view table, const std::vector<std::string>& columns,
                  std::vector<Row> rows) {
  std::string sql = "INSERT INTO " + std::string(table) + "(";
  for (size_t i = 0; i < columns.size(); ++i)
    sql += (i ? ", " : "") + columns[i];
  sql += ") VALUES (";
  for (size_t i = 0; i < columns.size(); ++i)
    sql += i ? ", ?" : "?";
  sql += ")";
  return target.writeSync([&](sql::Connection& db) {
    sql::Statement q(db, sql);
    for (const Row& row : rows) {
      q.reset();
      q.clearBindings();
      for (size_t i = 0; i < row.size(); ++i) {
        const int index = static_cast<int>(i) + 1;
        switch (row[i].type) {
          case sql::ValueType::kNull:
            q.bindNull(index);
            break;
          case sql::ValueType::kInteger:
            q.bind(index, row[i].integer);
            break;
          case sql::ValueType::kFloat:
            q.bind(index, row[i].real);
            break;
          case sql::ValueType::kText:
            q.bindText(index, row[i].bytes);
            break;
          case sql::ValueType::kBytes:
            q.bindBlob(index, row[i].bytes);
            break;
        }
      }
      q.exec();
    }
    return Status::ok();
  });
}

// SQLite's AUTOINCREMENT counters (sqlite_sequence: table -> the highest id ever handed out, pruned rows'
// included) of one source file.
Result<std::map<std::string, int64_t>> sourceCounters(Db& db) {
  return db.read([](sql::Connection& c) -> Result<std::map<std::string, int64_t>> {
    std::map<std::string, int64_t> out;
    sql::Statement has(c, "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'");
    if (!has.executeStep()) return out;
    sql::Statement q(c, "SELECT name, seq FROM sqlite_sequence");
    while (q.executeStep())
      out[q.getColumn(0).getString()] = q.getColumn(1).getInt64();
    return out;
  });
}

// SQLite target: its counters become at least the source's (an inbox row id is part of the dedupe keys of the
// events its handlings emitted, so an id the source pruned must not be handed out again).
Status raiseCounters(Store& target, const std::map<std::string, int64_t>& counters) {
  for (const auto& [table, seq] : counters) {
    Status st = databaseFor(target, table).writeSync([&table = table, seq = seq](sql::Connection& db) {
      sql::Statement up(db, "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = ?2");
      up.bind(1, seq);
      up.bindText(2, table);
      if (up.exec() == 0) {
        sql::Statement in(db, "INSERT INTO sqlite_sequence(name, seq) VALUES (?2, ?1)");
        in.bind(1, seq);
        in.bindText(2, table);
        in.exec();
      }
      return Status::ok();
    });
    if (!st.isOk()) return st;
  }
  return Status::ok();
}

// Identity columns continue after the copied ids and after the source's counters (PostgreSQL does not move
// them for explicit values).
Status advanceIdentities(Db& target, const std::map<std::string, int64_t>& counters) {
  if (target.dialect() != sql::Dialect::kPostgres) return Status::ok();
  return target.writeSync([&counters](sql::Connection& db) {
    std::vector<std::pair<std::string, std::string>> identities;
    {
      sql::Statement q(db,
                       "SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_schema = current_schema() AND is_identity = 'YES'");
      while (q.executeStep())
        identities.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
    }
    for (const auto& [table, column] : identities) {
      const auto counter = counters.find(table);
      const std::string floor = std::to_string(counter == counters.end() ? 0 : counter->second);
      db.exec("SELECT setval(pg_get_serial_sequence('" + table + "', '" + column +
              "'), GREATEST(COALESCE((SELECT max(" + column + ") FROM " + table + "), 0), " + floor +
              ") + 1, false)");
    }
    return Status::ok();
  });
}

}  // namespace

Result<std::vector<CopiedTable>> copyStore(const Options& from, const Options& to,
                                           const std::function<void(const CopiedTable&)>& progress,
                                           size_t batch_rows) {
  if (from.backend != StorageBackend::kSqlite) {
    return Status::invalidArgument("the source must be a SQLite database ([storage] backend = \"sqlite\")");
  }
  if (to.backend == StorageBackend::kSqlite && to.path == from.path) {
    return Status::invalidArgument("the source and the target are the same database file");
  }
  auto source = Store::open(from);
  if (!source.isOk()) return Status(source.status().code(), "source: " + source.status().message());
  auto target = Store::open(to);
  if (!target.isOk()) return Status(target.status().code(), "target: " + target.status().message());
  Store& in_store = **source;
  Store& out_store = **target;
  Db& out = out_store.database();

  auto tables = sourceTables(in_store.database());
  if (!tables.isOk()) return tables.status();
  if (&in_store.inboxDatabase() != &in_store.database()) {
    auto inbox_tables = sourceTables(in_store.inboxDatabase());
    if (!inbox_tables.isOk()) return inbox_tables.status();
    tables->insert(inbox_tables->begin(), inbox_tables->end());
  }
  for (const std::string& table : *tables) {
    bool known = false;
    for (std::string_view t : kTables)
      known = known || t == table;
    if (!known) return Status::internal("source table " + table + " is not in the copy's table list");
  }
  for (std::string_view table : kTables) {
    if (table == kSeeded) continue;
    auto rows = countRows(databaseFor(out_store, table), table);
    if (!rows.isOk()) return Status(rows.status().code(), "target: " + rows.status().message());
    if (*rows > 0) {
      return Status::failedPrecondition("the target already holds data (table " + std::string(table) +
                                        " has " + std::to_string(*rows) +
                                        " rows): copy into a new, empty database");
    }
  }
  if (Status cleared = out.writeSync([](sql::Connection& db) {
        db.exec("DELETE FROM " + std::string(kSeeded));
        return Status::ok();
      });
      !cleared.isOk()) {
    return cleared;
  }

  std::vector<CopiedTable> copied;
  for (std::string_view table : kTables) {
    if (tables->count(std::string(table)) == 0) continue;
    CopiedTable done{std::string(table), 0};
    Status write_status = Status::ok();
    // One read of the whole table (SQLite streams it); the rows go to the target in batches meanwhile.
    Db& in = databaseFor(in_store, table);
    Db& to = databaseFor(out_store, table);
    Status read_status = in.read([&](sql::Connection& db) -> Status {
      sql::Statement q(db, "SELECT * FROM " + std::string(table));
      std::vector<std::string> columns;
      std::vector<Row> batch;
      while (q.executeStep()) {
        if (columns.empty()) {
          for (int i = 0; i < q.getColumnCount(); ++i)
            columns.push_back(q.getColumn(i).name());
        }
        Row row(columns.size());
        for (size_t i = 0; i < columns.size(); ++i) {
          const sql::Column c = q.getColumn(static_cast<int>(i));
          row[i].type = c.type();
          if (row[i].type == sql::ValueType::kInteger) row[i].integer = c.getInt64();
          if (row[i].type == sql::ValueType::kFloat) row[i].real = c.getDouble();
          if (row[i].type == sql::ValueType::kText || row[i].type == sql::ValueType::kBytes) {
            row[i].bytes = c.getString();
          }
        }
        batch.push_back(std::move(row));
        if (batch.size() >= batch_rows) {
          done.rows += static_cast<int64_t>(batch.size());
          write_status = insertRows(to, table, columns, std::move(batch));
          batch.clear();
          if (!write_status.isOk()) return write_status;
        }
      }
      if (!batch.empty()) {
        done.rows += static_cast<int64_t>(batch.size());
        write_status = insertRows(to, table, columns, std::move(batch));
      }
      return write_status;
    });
    if (!read_status.isOk()) {
      return Status(read_status.code(), "copying " + std::string(table) + ": " + read_status.message());
    }
    auto counted = countRows(to, table);
    if (!counted.isOk()) return counted.status();
    if (*counted != done.rows) {
      return Status::internal("table " + std::string(table) + ": copied " + std::to_string(done.rows) +
                              " rows but the target counts " + std::to_string(*counted));
    }
    if (progress) progress(done);
    copied.push_back(std::move(done));
  }
  std::map<std::string, int64_t> counters;
  for (Db* db : {&in_store.database(), &in_store.inboxDatabase()}) {
    auto found = sourceCounters(*db);
    if (!found.isOk()) return found.status();
    for (const auto& [table, seq] : *found)
      counters[table] = std::max(counters[table], seq);
    if (&in_store.inboxDatabase() == &in_store.database()) break;
  }
  if (Status st = out.dialect() == sql::Dialect::kPostgres ? advanceIdentities(out, counters)
                                                           : raiseCounters(out_store, counters);
      !st.isOk()) {
    return st;
  }
  return copied;
}

}  // namespace ih::store
