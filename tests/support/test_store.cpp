#include "support/test_store.h"

#include <libpq-fe.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <charconv>
#include <cstring>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace ih::test {
namespace {

// The SQLite file's inbox tables are in a file of their own (store::inboxPathFor): attached as "inbox", so the
// tests' SQL names webhook_events and the other inbox tables as if they were in the main file.
void attachInbox(SQLite::Database& db, const std::string& path) {
  const std::string inbox = ih::store::inboxPathFor(path);
  if (inbox.empty() || !std::filesystem::exists(inbox)) return;
  SQLite::Statement attach(db, "ATTACH DATABASE ? AS inbox");
  attach.bind(1, inbox);
  attach.exec();
}

std::string postgresUrl() {
  const char* file = std::getenv("IH_TEST_POSTGRES_URL_FILE");
  if (file == nullptr || *file == '\0') return {};
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  INFO("IH_TEST_POSTGRES_URL_FILE=" << file << " (scripts/pg-cluster.sh start writes it)");
  REQUIRE(!url.empty());
  return url;
}

// A schema for `path`, created when missing; the URL that makes it the connection's search path.
std::string schemaUrl(const std::string& url, const std::string& path) {
  std::ostringstream name;
  name << "t_" << std::hex << std::hash<std::string>{}(path);
  const std::string schema = name.str();
  PGconn* conn = PQconnectdb(url.c_str());
  INFO(PQerrorMessage(conn));
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);  // "schema ... already exists, skipping"
  PGresult* res = PQexec(conn, ("CREATE SCHEMA IF NOT EXISTS " + schema).c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  INFO(PQerrorMessage(conn));
  PQclear(res);
  PQfinish(conn);
  REQUIRE(ok);
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

}  // namespace

bool testStoreIsPostgres() {
  const char* file = std::getenv("IH_TEST_POSTGRES_URL_FILE");
  return file != nullptr && *file != '\0';
}

ih::store::Options testStoreOptions(const std::string& path, ih::store::Options options) {
  const std::string url = postgresUrl();
  if (url.empty()) {
    options.path = path;
    return options;
  }
  options.backend = ih::store::StorageBackend::kPostgres;
  options.url = schemaUrl(url, path);
  return options;
}

namespace {

// Runs `sql` on PostgreSQL; the first value of the first row as text ("" when none).
std::string postgresValue(const std::string& path, const std::string& sql) {
  const std::string url = schemaUrl(postgresUrl(), path);
  PGconn* conn = PQconnectdb(url.c_str());
  INFO(PQerrorMessage(conn));
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PGresult* res = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(res);
  INFO(sql << ": " << PQerrorMessage(conn));
  const bool ok = status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
  std::string value;
  if (ok && status == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0)
    value = PQgetvalue(res, 0, 0);
  PQclear(res);
  PQfinish(conn);
  REQUIRE(ok);
  return value;
}

}  // namespace

int64_t testStoreScalar(const std::string& path, const std::string& sql) {
  if (testStoreIsPostgres()) {
    const std::string text = postgresValue(path, sql);
    int64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  attachInbox(db, path);
  SQLite::Statement q(db, sql);
  return q.executeStep() ? q.getColumn(0).getInt64() : 0;
}

void testStoreExec(const std::string& path, const std::string& sql) {
  if (testStoreIsPostgres()) {
    postgresValue(path, sql);
    return;
  }
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  attachInbox(db, path);
  db.setBusyTimeout(5000);
  db.exec(sql);
}

std::string testStoreBytes(const std::string& path, const std::string& sql) {
  if (testStoreIsPostgres()) {
    const std::string url = schemaUrl(postgresUrl(), path);
    PGconn* conn = PQconnectdb(url.c_str());
    REQUIRE(PQstatus(conn) == CONNECTION_OK);
    PGresult* res = PQexecParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1);  // binary
    INFO(sql << ": " << PQerrorMessage(conn));
    const bool row = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
    std::string value = row ? std::string(PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0)) : std::string();
    PQclear(res);
    PQfinish(conn);
    REQUIRE(row);
    return value;
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  attachInbox(db, path);
  SQLite::Statement q(db, sql);
  INFO(sql);
  REQUIRE(q.executeStep());
  const SQLite::Column c = q.getColumn(0);
  const void* data = c.getBlob();
  return std::string(static_cast<const char*>(data), static_cast<size_t>(c.getBytes()));
}

std::vector<std::string> testStoreTables(const std::string& path) {
  std::vector<std::string> tables;
  if (testStoreIsPostgres()) {
    const std::string url = schemaUrl(postgresUrl(), path);
    PGconn* conn = PQconnectdb(url.c_str());
    REQUIRE(PQstatus(conn) == CONNECTION_OK);
    PGresult* res =
        PQexec(conn,
               "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
               "AND table_type = 'BASE TABLE' ORDER BY table_name");
    const bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    for (int i = 0; ok && i < PQntuples(res); ++i)
      tables.emplace_back(PQgetvalue(res, i, 0));
    PQclear(res);
    PQfinish(conn);
    REQUIRE(ok);
    return tables;
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  attachInbox(db, path);
  const bool inbox =
      SQLite::Statement(db, "SELECT 1 FROM pragma_database_list WHERE name = 'inbox'").executeStep();
  SQLite::Statement list(db,
                         std::string("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                     "'sqlite_%'") +
                             (inbox ? " UNION SELECT name FROM inbox.sqlite_master WHERE type = 'table' AND "
                                      "name NOT LIKE 'sqlite_%'"
                                    : "") +
                             " ORDER BY 1");
  while (list.executeStep())
    tables.push_back(list.getColumn(0).getString());
  return tables;
}

std::map<std::string, int64_t> testStoreRowCounts(const std::string& path) {
  std::map<std::string, int64_t> counts;
  std::vector<std::string> tables = testStoreTables(path);
  std::erase(tables, std::string("rate_buckets"));
  if (testStoreIsPostgres()) {
    const std::string url = schemaUrl(postgresUrl(), path);
    PGconn* conn = PQconnectdb(url.c_str());
    REQUIRE(PQstatus(conn) == CONNECTION_OK);
    for (const std::string& table : tables) {
      PGresult* res = PQexec(conn, ("SELECT count(*) FROM \"" + table + "\"").c_str());
      const bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
      int64_t n = 0;
      if (ok) {
        const char* text = PQgetvalue(res, 0, 0);
        std::from_chars(text, text + std::strlen(text), n);
      }
      PQclear(res);
      if (!ok) PQfinish(conn);
      REQUIRE(ok);
      counts[table] = n;
    }
    PQfinish(conn);
    return counts;
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  attachInbox(db, path);
  for (const std::string& table : tables) {
    SQLite::Statement q(db, "SELECT count(*) FROM \"" + table + "\"");
    REQUIRE(q.executeStep());
    counts[table] = q.getColumn(0).getInt64();
  }
  return counts;
}

std::string testStoreBytesLiteral(const std::string& text) {
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : text) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  return testStoreIsPostgres() ? "decode('" + hex + "', 'hex')" : "x'" + hex + "'";
}

std::unique_ptr<ih::store::Store> openTestStore(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& tenants,
    ih::store::Options options) {
  auto store = ih::store::Store::open(testStoreOptions(path, std::move(options)));
  INFO(store.status().toString());
  REQUIRE(store.isOk());
  for (const auto& [id, name] : tenants)
    REQUIRE((*store)->createTenant({id, name, 1}).isOk());
  return std::move(store).value();
}

ih::store::InboxEvent testInboxEvent(const std::string& integration_id, const std::string& tenant_id,
                                     const std::string& event_id, int64_t received_at, std::string payload) {
  ih::store::InboxEvent e;
  e.integration_id = integration_id;
  e.tenant_id = tenant_id;
  e.event_id = event_id;
  e.type = "invoice.paid";
  e.payload = std::move(payload);
  e.payload_sha256 = std::string(32, 'h') + event_id;  // any stable digest
  e.received_at = received_at;
  e.next_attempt_at = received_at;
  return e;
}

}  // namespace ih::test
