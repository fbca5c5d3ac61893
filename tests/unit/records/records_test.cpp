// Records store (guard, tombstones, seq, page + cursor), the RecordSink's JSON validation, idempotency cache.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "records/idempotency.h"
#include "records/records.h"
#include "store/record_store.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

using ih::StatusCode;
using ih::records::IdempotencyCache;
using ih::records::IdempotencyLookup;
using ih::records::Records;
using ih::store::RecordInput;
using ih::store::RecordStore;
using ih::store::Store;
using ih::store::UpsertStats;

namespace {

std::unique_ptr<Store> openStore(const std::string& path, std::vector<std::string> tenants = {"t1", "t2"}) {
  std::vector<std::pair<std::string, std::string>> named;
  for (const auto& t : tenants)
    named.emplace_back(t, "name-" + t);
  return ih::test::openTestStore(path, named);
}

std::vector<RecordInput> one(const std::string& id, const std::string& data, int64_t updated_at) {
  return {RecordInput{id, data, updated_at}};
}

}  // namespace

TEST_CASE("record upserts are guarded against older data and take a new seq per change", "[records]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("r.db"));
  RecordStore records(*store);
  UpsertStats stats;

  REQUIRE(records.upsert("t1", "stripe", "customer", one("cus_1", R"({"v":1})", 100), &stats).isOk());
  CHECK(stats.written == 1);
  auto r = records.get("t1", "stripe", "customer", "cus_1");
  REQUIRE(r.isOk());
  REQUIRE(r->has_value());
  CHECK((*r)->data_json == R"({"v":1})");
  CHECK((*r)->seq == 1);

  SECTION("older is skipped") {
    REQUIRE(records.upsert("t1", "stripe", "customer", one("cus_1", R"({"v":0})", 99), &stats).isOk());
    CHECK(stats.skipped == 1);
    CHECK((*records.get("t1", "stripe", "customer", "cus_1"))->data_json == R"({"v":1})");
  }
  SECTION("equal timestamp replaces; identical data takes no seq") {
    REQUIRE(records.upsert("t1", "stripe", "customer", one("cus_1", R"({"v":1})", 100), &stats).isOk());
    CHECK(stats.skipped == 1);
    REQUIRE(records.upsert("t1", "stripe", "customer", one("cus_1", R"({"v":2})", 100), &stats).isOk());
    CHECK(stats.written == 1);
    auto now = records.get("t1", "stripe", "customer", "cus_1");
    CHECK((*now)->data_json == R"({"v":2})");
    CHECK((*now)->seq == 2);
  }
  SECTION("tombstones: guarded, win ties, block older upserts, and unknown ids become tombstones") {
    bool written = true;
    REQUIRE(records.remove("t1", "stripe", "customer", "cus_1", 50, &written).isOk());
    CHECK_FALSE(written);
    REQUIRE(records.remove("t1", "stripe", "customer", "cus_1", 100, &written).isOk());
    CHECK(written);
    auto dead = records.get("t1", "stripe", "customer", "cus_1");
    CHECK((*dead)->deleted);
    CHECK((*dead)->seq == 2);
    CHECK((*dead)->data_json == R"({"v":1})");  // last data kept
    REQUIRE(records.upsert("t1", "stripe", "customer", one("cus_1", R"({"v":3})", 100), &stats).isOk());
    CHECK(stats.skipped == 1);  // a tie does not resurrect
    REQUIRE(records.upsert("t1", "stripe", "customer", one("cus_1", R"({"v":4})", 101), &stats).isOk());
    CHECK(stats.written == 1);
    CHECK_FALSE((*records.get("t1", "stripe", "customer", "cus_1"))->deleted);

    REQUIRE(records.remove("t1", "stripe", "customer", "cus_never", 10, &written).isOk());
    CHECK(written);
    REQUIRE(records.upsert("t1", "stripe", "customer", one("cus_never", "{}", 9), &stats).isOk());
    CHECK(stats.skipped == 1);
  }
}

TEST_CASE("record changes page in seq order, per tenant", "[records]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("r.db"));
  RecordStore records(*store);
  std::vector<RecordInput> page;
  for (int i = 0; i < 10; ++i)
    page.push_back({"id" + std::to_string(i), "{}", 10});
  REQUIRE(records.upsert("t1", "stripe", "customer", page).isOk());
  REQUIRE(records.upsert("t2", "stripe", "customer", page).isOk());
  REQUIRE(records.upsert("t1", "stripe", "customer", one("id3", R"({"x":1})", 11)).isOk());  // seq 11
  REQUIRE(records.upsert("t1", "stripe", "invoice", one("in_1", "{}", 1)).isOk());           // seq 12

  auto first = records.listChanges("t1", "stripe", "customer", 0, 4);
  REQUIRE(first.isOk());
  REQUIRE(first->size() == 4);
  CHECK(first->front().seq == 1);
  CHECK(first->back().seq == 5);  // id3 moved to seq 11
  auto rest = records.listChanges("t1", "stripe", "customer", first->back().seq, 100);
  REQUIRE(rest->size() == 6);
  CHECK(rest->back().id == "id3");
  CHECK(rest->back().seq == 11);
  for (size_t i = 1; i < rest->size(); ++i)
    CHECK((*rest)[i - 1].seq < (*rest)[i].seq);
  // t2 has its own sequence and never sees t1's rows.
  auto other = records.listChanges("t2", "stripe", "customer", 0, 100);
  REQUIRE(other->size() == 10);
  CHECK(other->back().seq == 10);
  CHECK_FALSE(records.get("t2", "stripe", "invoice", "in_1")->has_value());
}

// Large pages (PostgreSQL sends a page's upserts in pipelines of at most 256) and pages where some records are
// skipped (older or repeated: PostgreSQL then writes the page record by record) keep seqs contiguous.
TEST_CASE("big and mixed record pages take contiguous seqs", "[records]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("r.db"));
  RecordStore records(*store);
  std::vector<RecordInput> page;
  for (int i = 0; i < 600; ++i)
    page.push_back({"id" + std::to_string(i), R"({"n":)" + std::to_string(i) + "}", 10});
  UpsertStats stats;
  REQUIRE(records.upsert("t1", "stripe", "customer", page, &stats).isOk());
  CHECK(stats.written == 600);
  CHECK(stats.skipped == 0);
  // Half the page is unchanged, one id is repeated (its second copy is newer), the rest is new.
  std::vector<RecordInput> mixed;
  for (int i = 0; i < 300; ++i)
    mixed.push_back({"id" + std::to_string(i * 2), R"({"n":)" + std::to_string(i * 2) + "}", 10});
  mixed.push_back({"new-a", "{}", 10});
  mixed.push_back({"new-b", "{}", 10});
  mixed.push_back({"new-a", R"({"v":2})", 11});
  REQUIRE(records.upsert("t1", "stripe", "customer", mixed, &stats).isOk());
  CHECK(stats.written == 3);
  CHECK(stats.skipped == 300);
  std::vector<int64_t> seqs;
  int64_t after = 0;
  for (;;) {
    auto changes = records.listChanges("t1", "stripe", "customer", after, 250);
    REQUIRE(changes.isOk());
    if (changes->empty()) break;
    for (const auto& r : *changes)
      seqs.push_back(r.seq);
    after = changes->back().seq;
  }
  REQUIRE(seqs.size() == 602);
  for (size_t i = 0; i < 600; ++i)
    CHECK(seqs[i] == static_cast<int64_t>(i) + 1);
  CHECK(seqs[600] == 602);  // new-b (new-a took 601, then 603 with its newer copy)
  CHECK(seqs[601] == 603);
  auto a = records.get("t1", "stripe", "customer", "new-a");
  REQUIRE(a.isOk());
  REQUIRE(a->has_value());
  CHECK((*a)->data_json == R"({"v":2})");
}

// A state key PostgreSQL's text refuses (not UTF-8, a NUL) fails its own write there, never a neighbour's.
TEST_CASE("a records page with a state key the database refuses fails alone", "[records]") {
  using namespace std::string_literals;
  ih::test::TempDir dir;
  auto store = openStore(dir.file("r.db"));
  RecordStore records(*store);
  std::vector<RecordInput> page = {{"a1", "{}", 1}, {"a2", "{}", 1}};
  const ih::Status odd = records.upsertWithState("t1", "stripe", "customer", page, "cur\xff\0sor"s, "v");
  if (ih::test::testStoreIsPostgres()) {
    CHECK_FALSE(odd.isOk());
    CHECK_FALSE(records.get("t1", "stripe", "customer", "a1")->has_value());  // page and cursor: both or none
  } else {
    CHECK(odd.isOk());
  }
  REQUIRE(records.upsert("t2", "stripe", "customer", one("b1", "{}", 1)).isOk());
  CHECK(records.get("t2", "stripe", "customer", "b1")->has_value());
}

TEST_CASE("filtered record pages read a bounded window and their cursor moves past non-matches",
          "[records]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("r.db"));
  RecordStore records(*store);
  std::vector<RecordInput> page;
  for (int i = 1; i <= 20; ++i) {
    const std::string show = (i == 2 || i == 13 || i == 14) ? "show-1" : "show-2";
    page.push_back(
        {"in_" + std::to_string(i), R"({"reference":")" + show + R"(","n":)" + std::to_string(i) + "}", 1});
  }
  REQUIRE(records.upsert("t1", "stripe", "invoice", page).isOk());
  REQUIRE(records.upsert("t2", "stripe", "invoice", page).isOk());
  const std::vector<RecordStore::FieldEquals> show1 = {{"reference", "show-1"}};

  // Window 5: seq 1-5 hold one match, 6-10 none (the cursor still moves), 11-15 two, 16-20 none.
  std::vector<std::string> found;
  std::vector<int64_t> cursors;
  int64_t after = 0;
  for (int step = 0; step < 10; ++step) {
    auto got = records.listMatching("t1", "stripe", "invoice", after, 10, show1, 5);
    REQUIRE(got.isOk());
    for (const auto& r : got->records)
      found.push_back(r.id);
    cursors.push_back(got->next_after);
    after = got->next_after;
    if (!got->has_more) break;
  }
  CHECK(found == std::vector<std::string>{"in_2", "in_13", "in_14"});
  CHECK(cursors == std::vector<int64_t>{5, 10, 15, 20, 20});  // the last window is short: has_more false
  // A page limit below the matches of a window: the cursor stops at the last record returned.
  auto limited = records.listMatching("t1", "stripe", "invoice", 10, 1, show1, 5);
  REQUIRE(limited.isOk());
  REQUIRE(limited->records.size() == 1);
  CHECK(limited->records[0].id == "in_13");
  CHECK(limited->next_after == 13);
  CHECK(limited->has_more);
  // Two conditions; another tenant's rows never match; a field name out of the rule is refused.
  auto both =
      records.listMatching("t1", "stripe", "invoice", 0, 10, {{"reference", "show-2"}, {"n", "7"}}, 100);
  REQUIRE(both.isOk());
  CHECK(both->records.empty());  // n is a number, not the string "7"
  auto none = records.listMatching("t3", "stripe", "invoice", 0, 10, show1, 100);
  REQUIRE(none.isOk());
  CHECK(none->records.empty());
  CHECK_FALSE(none->has_more);
  CHECK(records.listMatching("t1", "stripe", "invoice", 0, 10, {{"a.b", "x"}}, 100).status().code() ==
        ih::StatusCode::kInvalidArgument);
}

TEST_CASE("deferred record writes land in queue order and report failures to their group", "[records]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("r.db"));
  RecordStore records(*store);
  auto group = std::make_shared<ih::sinks::WriteGroup>();
  REQUIRE(
      records.upsertAsync("t1", "stripe", "invoice", {{"in_1", R"({"v":1})", 5}, {"in_2", "{}", 5}}, group)
          .isOk());
  REQUIRE(records.removeAsync("t1", "stripe", "invoice", "in_2", 6, group).isOk());
  // A synchronous write queued after them returns once they ran (one writer, first in first out).
  REQUIRE(records.upsert("t1", "stripe", "customer", one("cus_1", "{}", 1)).isOk());
  CHECK(group->status().isOk());
  auto in1 = records.get("t1", "stripe", "invoice", "in_1");
  REQUIRE(in1.isOk());
  REQUIRE(in1->has_value());
  CHECK((*in1)->data_json == R"({"v":1})");
  auto in2 = records.get("t1", "stripe", "invoice", "in_2");
  REQUIRE(in2->has_value());
  CHECK((*in2)->deleted);
  // Refused before anything is queued: no tenant.
  CHECK(records.upsertAsync("", "stripe", "invoice", {{"in_3", "{}", 1}}, group).code() ==
        ih::StatusCode::kInvalidArgument);
  // A write the database refuses (the tenant does not exist: foreign key) reaches the group, not the caller.
  auto failing = std::make_shared<ih::sinks::WriteGroup>();
  REQUIRE(records.upsertAsync("t9", "stripe", "invoice", {{"in_4", "{}", 1}}, failing).isOk());
  ih::Status after_failure = records.upsert("t1", "stripe", "customer", one("cus_2", "{}", 1));
  INFO(after_failure.toString());
  REQUIRE(after_failure.isOk());
  CHECK_FALSE(failing->status().isOk());
  CHECK(group->status().isOk());
}

TEST_CASE("a page and its cursor commit together or not at all", "[records]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("r.db"));
  RecordStore records(*store);
  REQUIRE(
      records.upsertWithState("t1", "stripe", "customer", one("a", "{}", 1), "cursor:customer", "a").isOk());
  auto cursor = store->getState("t1", "stripe", "cursor:customer");
  REQUIRE(cursor.isOk());
  CHECK(cursor->value_or("") == "a");
  // Unknown tenant: the foreign key fails, so neither rows nor cursor are stored.
  auto st = records.upsertWithState("nope", "stripe", "customer", one("b", "{}", 1), "cursor:customer", "b");
  CHECK_FALSE(st.isOk());
  CHECK_FALSE(store->getState("nope", "stripe", "cursor:customer")->has_value());
  CHECK(records.listChanges("nope", "stripe", "customer", 0, 10)->empty());
}

TEST_CASE("the record sink validates the plugin's JSON", "[records]") {
  using ih::records::parseRecords;
  auto bad = [](std::string_view model, std::string_view json) {
    auto r = parseRecords(model, json);
    REQUIRE_FALSE(r.isOk());
    return r.status().message();
  };
  CHECK(bad("customer", "nope").find("records_json is not valid JSON") == 0);
  CHECK(bad("customer", "{}").find("must be an array") != std::string::npos);
  CHECK(bad("customer", R"([{"id":1,"data":{},"updated_at":1}])") == "records_json[0].id must be a string");
  CHECK(bad("customer", R"([{"id":"a","data":[],"updated_at":1}])") ==
        "records_json[0].data must be an object");
  CHECK(bad("customer", R"([{"id":"a","data":{},"updated_at":1},{"id":"b","data":{},"updated_at":1.5}])") ==
        "records_json[1].updated_at must be an integer (unix seconds)");
  CHECK(bad("customer", R"([{"id":"","data":{},"updated_at":1}])").find("1-255") != std::string::npos);
  CHECK(bad("bad model!", "[]").find("record model") != std::string::npos);
  CHECK(bad("customer", R"([{"id":"a","data":{},"updated_at":-1}])").find("non-negative") !=
        std::string::npos);
  CHECK(bad("customer", R"([{"id":"a","data":{}}])") ==
        "records_json[0].updated_at must be an integer (unix seconds)");
  auto ok = parseRecords("customer",
                         R"( [ {"id":"a\u00e9","extra":[1,{"x":null}],"data":{"n": 1} ,"updated_at":7} ] )");
  REQUIRE(ok.isOk());
  CHECK((*ok)[0].id == "a\xc3\xa9");
  CHECK((*ok)[0].data_json == R"({"n": 1})");  // the exact bytes sent
  CHECK((*ok)[0].updated_at == 7);
  CHECK(parseRecords("customer", "[]")->empty());
}

TEST_CASE("the record sink's JSON validation agrees with nlohmann on data", "[records]") {
  const std::vector<std::string> samples = {
      R"({})", R"({"a":1})", R"({"a":-0.5e+10})", R"({"a":01})", R"({"a":1.})", R"({"a":.5})", R"({"a":-})",
      R"({"a":"\u00e9\ud83d\ude00"})", R"({"a":"\ud83d"})", R"({"a":"\ude00"})", R"({"a":"\x"})",
      "{\"a\":\"\x01\"}", "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xed\xa0\x80\"}",
      "{\"a\":\"\xf0\x9f\x98\x80\"}", "{\"a\":\"\xc0\xaf\"}", R"({"a":[1,2,]})", R"({"a":[1 2]})",
      R"({"a":tru})", R"({"a":true,"b":false,"c":null})", R"({"a" 1})", R"({"a":1,})", R"({,})",
      R"({"a":{"b":[[]]}})", R"({"a":1}x)", R"({"a":"unterminated})", R"({"a":[{}, {"b":"c"}], "d": 1E3})",
      // found by records_fuzz: overflowing numbers
      R"({"":1e678})", R"({"a":-1.5E+309})", R"({"a":1e308})", R"({"a":1e-400})",
      "{\"a\":" + std::string(400, '9') + "}"};
  for (const auto& data : samples) {
    const std::string page = R"([{"id":"x","updated_at":1,"data":)" + data + "}]";
    const bool ours = ih::records::parseRecords("m", page).isOk();
    const bool theirs = !nlohmann::json::parse(page, nullptr, false).is_discarded();
    INFO(data);
    CHECK(ours == theirs);
  }
}

TEST_CASE("idempotency cache: replay, mismatch, in progress, release", "[records]") {
  ih::test::TempDir dir;
  auto store = openStore(dir.file("i.db"));
  IdempotencyCache cache(*store);

  auto first = cache.lookup("t1", "stripe", "key-1", "create_invoice", R"({"amount":5})");
  REQUIRE(first.isOk());
  REQUIRE(first->kind == IdempotencyLookup::Kind::kMiss);
  REQUIRE(first->ticket.valid());

  auto concurrent = cache.lookup("t1", "stripe", "key-1", "create_invoice", R"({"amount":5})");
  REQUIRE(concurrent.isOk());
  CHECK(concurrent->kind == IdempotencyLookup::Kind::kInProgress);

  REQUIRE(cache.save(std::move(first->ticket), 201, R"({"id":"in_1"})").isOk());
  auto again = cache.lookup("t1", "stripe", "key-1", "create_invoice", R"({"amount":5})");
  REQUIRE(again.isOk());
  CHECK(again->kind == IdempotencyLookup::Kind::kReplay);
  CHECK(again->status == 201);
  CHECK(again->body == R"({"id":"in_1"})");

  auto other_body = cache.lookup("t1", "stripe", "key-1", "create_invoice", R"({"amount":6})");
  CHECK(other_body->kind == IdempotencyLookup::Kind::kMismatch);
  auto other_action = cache.lookup("t1", "stripe", "key-1", "refund", R"({"amount":5})");
  CHECK(other_action->kind == IdempotencyLookup::Kind::kMismatch);
  // Scoped by tenant and integration.
  CHECK(cache.lookup("t2", "stripe", "key-1", "create_invoice", R"({"amount":5})")->kind ==
        IdempotencyLookup::Kind::kMiss);
  CHECK(cache.lookup("t1", "other", "key-1", "create_invoice", R"({"amount":5})")->kind ==
        IdempotencyLookup::Kind::kMiss);

  {  // a dropped ticket (e.g. a retryable 503) frees the key
    auto dropped = cache.lookup("t1", "stripe", "key-2", "a", "{}");
    REQUIRE(dropped->kind == IdempotencyLookup::Kind::kMiss);
  }
  CHECK(cache.lookup("t1", "stripe", "key-2", "a", "{}")->kind == IdempotencyLookup::Kind::kMiss);

  CHECK(cache.lookup("t1", "stripe", "", "a", "{}").status().code() == StatusCode::kInvalidArgument);
  CHECK(cache.lookup("t1", "stripe", std::string(256, 'k'), "a", "{}").status().code() ==
        StatusCode::kInvalidArgument);
  ih::records::IdempotencyTicket empty;
  CHECK(cache.save(std::move(empty), 200, "{}").code() == StatusCode::kInvalidArgument);
}
