// store::copyStore (`ihost storage copy`): from a SQLite file into an empty store (another SQLite file here;
// PostgreSQL in the postgres lane), every table, sealed secrets as bytes, ids kept and continued after.
#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include "store/copy.h"
#include "store/event_store.h"
#include "store/inbox_store.h"
#include "store/record_store.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

using ih::StatusCode;
using ih::store::Store;

namespace {

// The source is always a SQLite file.
std::unique_ptr<Store> openSource(const std::string& path) {
  ih::store::Options options;
  options.path = path;
  auto store = Store::open(options);
  INFO(store.status().toString());
  REQUIRE(store.isOk());
  return std::move(store).value();
}

void fill(Store& store) {
  REQUIRE(store.createTenant({"t_a", "alpha", 10}).isOk());
  REQUIRE(store.createTenant({"t_b", "beta", 11}).isOk());
  ih::store::ApiKey key;
  key.id = "key_1";
  key.tenant_id = "t_a";
  key.display_prefix = "ihk_live_ab12";
  key.key_hash = std::string("\x00\xff\x10hash", 7);
  key.scopes = "*";
  key.created_at = 12;
  REQUIRE(store.insertApiKey(key).isOk());
  ih::store::SecretRow secret{
      "t_a", "stripe", "api_key", "k1", std::string("\x01\x00\x02nonce", 8), std::string("ct\0\xff\x7f", 5),
      13};
  ih::store::Connection connection;
  connection.tenant_id = "t_a";
  connection.integration_id = "stripe";
  connection.info_json = R"({"key":"sk_test_****abcd"})";
  connection.connected_at = 14;
  connection.updated_at = 14;
  ih::store::AuditEntry audit{0, "t_a", "stripe", "api_key:key_1", "integration.connect", "{}", 14};
  REQUIRE(store.saveConnection("t_a", {secret}, connection, audit).isOk());
  REQUIRE(store.putState("t_a", "stripe", "cursor", std::string("bytes\0\xfe", 7)).isOk());
  ih::store::EventStore events(store);
  for (int i = 0; i < 2500; ++i) {  // more than a batch
    ih::store::EventRow row;
    row.tenant_id = i % 2 ? "t_a" : "t_b";
    row.integration_id = "stripe";
    row.type = "invoice.paid";
    row.occurred_at = 1000 + i;
    row.data_json = R"({"n":)" + std::to_string(i) + R"(,"text":"é ✓"})";
    REQUIRE(events.append(row.tenant_id, row).isOk());
  }
  ih::store::RecordStore records(store);
  std::vector<ih::store::RecordInput> rows;
  for (int i = 0; i < 30; ++i)
    rows.push_back({"in_" + std::to_string(i), R"({"amount":)" + std::to_string(i) + "}", 100 + i});
  REQUIRE(records.upsert("t_a", "stripe", "invoice", rows).isOk());
  ih::store::InboxStore inbox(store);
  // compressed on the way in: bytes with NULs
  const ih::store::InboxEvent e = ih::test::testInboxEvent("stripe", "t_a", "evt_1", 20, std::string(3000, 'x'));
  REQUIRE(inbox.insert(e).isOk());
}

}  // namespace

TEST_CASE("storage copy: every table arrives, bytes intact, counts verified, ids continue", "[store]") {
  ih::test::TempDir dir;
  const std::string source_path = dir.file("source.db");
  fill(*openSource(source_path));
  {
    // Inbox rows were pruned after id 500: the copy must not hand those ids out again (they are part of the
    // dedupe keys of the events their handlings emitted).
    SQLite::Database source_inbox(ih::store::inboxPathFor(source_path), SQLite::OPEN_READWRITE);
    source_inbox.exec("UPDATE sqlite_sequence SET seq = 500 WHERE name = 'webhook_events'");
  }

  ih::store::Options from;
  from.path = source_path;
  const ih::store::Options to = ih::test::testStoreOptions(dir.file("target.db"));
  std::vector<std::string> reported;
  auto copied = ih::store::copyStore(
      from, to, [&](const ih::store::CopiedTable& t) { reported.push_back(t.name); }, 1000);
  INFO(copied.status().toString());
  REQUIRE(copied.isOk());
  CHECK(reported.size() == copied->size());
  CHECK(copied->front().name == "tenants");  // parents first
  int64_t events = 0;
  for (const auto& t : *copied)
    if (t.name == "events") events = t.rows;
  CHECK(events == 2500);

  auto target = ih::test::openTestStore(dir.file("target.db"));
  CHECK(target->getTenant("t_b")->name == "beta");
  auto key = target->findApiKeyByHash(std::string("\x00\xff\x10hash", 7));
  REQUIRE(key.isOk());
  CHECK(key->id == "key_1");
  auto secret = target->getSecret("t_a", "stripe", "api_key");
  REQUIRE(secret.isOk());
  CHECK(secret->ciphertext == std::string("ct\0\xff\x7f", 5));  // sealed bytes, unchanged
  CHECK(secret->nonce == std::string("\x01\x00\x02nonce", 8));
  CHECK(**target->getState("t_a", "stripe", "cursor") == std::string("bytes\0\xfe", 7));
  ih::store::InboxStore inbox(*target);
  auto listed = inbox.list("t_a", ih::store::InboxFilter{});
  REQUIRE(listed.isOk());
  REQUIRE(listed->size() == 1);
  CHECK(inbox.get("t_a", (*listed)[0].id)->payload == std::string(3000, 'x'));
  ih::store::RecordStore records(*target);
  auto record = records.get("t_a", "stripe", "invoice", "in_7");
  REQUIRE(record.isOk());
  REQUIRE(record->has_value());
  CHECK((*record)->data_json == R"({"amount":7})");

  // New rows continue after the copied ids.
  ih::store::EventStore event_store(*target);
  const int64_t last = *event_store.lastId("t_a");
  ih::store::EventRow row;
  row.tenant_id = "t_a";
  row.integration_id = "stripe";
  row.type = "after.copy";
  row.data_json = "{}";
  auto appended = event_store.append("t_a", row);
  REQUIRE(appended.isOk());
  CHECK(appended->id > last);
  CHECK(appended->id > 2500);

  auto inserted = inbox.insert(ih::test::testInboxEvent("stripe", "t_a", "evt_after_copy", 30));
  REQUIRE(inserted.isOk());
  CHECK(inserted->id == 501);

  // A second copy into the now non-empty target is refused, naming the table.
  target.reset();
  auto again = ih::store::copyStore(from, to);
  REQUIRE_FALSE(again.isOk());
  CHECK(again.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(again.status().message(), Catch::Contains("table tenants has 2 rows"));
}

TEST_CASE("storage copy: the source must be SQLite and differ from the target", "[store]") {
  ih::test::TempDir dir;
  ih::store::Options sqlite;
  sqlite.path = dir.file("a.db");
  auto same = ih::store::copyStore(sqlite, sqlite);
  CHECK(same.status().code() == StatusCode::kInvalidArgument);
  ih::store::Options postgres;
  postgres.backend = ih::store::StorageBackend::kPostgres;
  postgres.url = "postgresql://nobody@127.0.0.1:1/none";
  auto from_postgres = ih::store::copyStore(postgres, sqlite);
  CHECK(from_postgres.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(from_postgres.status().message(), Catch::Contains("must be a SQLite database"));
}
