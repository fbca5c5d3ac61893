// A Store for unit tests, with tenants already created (id -> name pairs). REQUIREs that it opens: a failure
// stops the test case with the store's message.
//
// On a real SQLite file at `path` by default. When IH_TEST_POSTGRES_URL_FILE names a file holding a server URL
// (the ctest lanes postgres_<binary> set it: tests/CMakeLists.txt, scripts/pg-cluster.sh), the same tests run on
// PostgreSQL instead: `path` then picks a schema of its own on that server (the same path reopens the same
// schema), so every store test is a conformance test of both backends. Tests that look inside the SQLite file
// are tagged [sqlite] and left out of the PostgreSQL lanes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/inbox_store.h"
#include "store/store.h"

namespace ih::test {

std::unique_ptr<ih::store::Store> openTestStore(
    const std::string& path, const std::vector<std::pair<std::string, std::string>>& tenants = {},
    ih::store::Options options = {});

// The options openTestStore uses for `path` (backend, path or URL), for tests that open the store themselves.
ih::store::Options testStoreOptions(const std::string& path, ih::store::Options options = {});

// True in a PostgreSQL lane.
bool testStoreIsPostgres();

// Runs SQL on the database behind `path` through a connection of its own, as another process would (the SQLite
// file with its inbox file attached as "inbox", or the path's PostgreSQL schema): the first column of the first
// row as an integer (0 when none), or, for testStoreExec, nothing. REQUIREs success.
int64_t testStoreScalar(const std::string& path, const std::string& sql);
void testStoreExec(const std::string& path, const std::string& sql);
// The first column of the first row as bytes (text or BLOB/BYTEA as stored); REQUIREs a row.
std::string testStoreBytes(const std::string& path, const std::string& sql);
// The schema's tables (schema_migrations included), sorted.
std::vector<std::string> testStoreTables(const std::string& path);
// Every table's row count, read through one connection; without rate_buckets (PostgreSQL: the shared rate
// budget makes a bucket row at a key's first outbound call, host bookkeeping rather than stored data).
std::map<std::string, int64_t> testStoreRowCounts(const std::string& path);
// A webhook event to insert into the inbox: `payload` with a stand-in digest, received (and due) at
// `received_at`, type "invoice.paid".
ih::store::InboxEvent testInboxEvent(const std::string& integration_id, const std::string& tenant_id,
                                     const std::string& event_id, int64_t received_at,
                                     std::string payload = "{}");

// `text` as an SQL literal of bytes (BLOB / BYTEA) in the lane's dialect.
std::string testStoreBytesLiteral(const std::string& text);

}  // namespace ih::test
