// InboxStore on a real database (a SQLite file; PostgreSQL in the postgres lanes): dedupe, claim order, retry
// bookkeeping, replay, retention.
#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include <future>
#include <random>

#include "store/inbox_store.h"
#include "store/payload_codec.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

namespace {

using ih::store::InboxEvent;
using ih::store::InboxStatus;
using ih::store::IntakeOutcome;

std::unique_ptr<ih::store::Store> openStore(const ih::test::TempDir& dir) {
  return ih::test::openTestStore(dir.file("inbox.db"), {{"t_a", "alpha"}, {"t_b", "beta"}});
}

InboxEvent makeEvent(const std::string& event_id, int64_t now, const std::string& tenant = "t_a",
                     const std::string& payload = "{}") {
  InboxEvent e;
  e.integration_id = "hooks";
  e.tenant_id = tenant;
  e.event_id = event_id;
  e.type = "invoice.paid";
  e.payload = payload;
  e.payload_sha256 = std::string(32, payload.empty() ? '\0' : payload[0]) + payload;  // any stable digest
  e.received_at = now;
  e.next_attempt_at = now;
  return e;
}

}  // namespace

TEST_CASE("inbox store: dedupe key, duplicates and conflicts", "[inbox]") {
  ih::test::TempDir dir;
  auto store = openStore(dir);
  ih::store::InboxStore events(*store);
  auto first = events.insert(makeEvent("evt_1", 1000));
  REQUIRE(first.isOk());
  CHECK(first->outcome == IntakeOutcome::kAccepted);
  auto dup = events.insert(makeEvent("evt_1", 1001));
  REQUIRE(dup.isOk());
  CHECK(dup->outcome == IntakeOutcome::kDuplicate);
  CHECK(dup->id == first->id);
  auto conflict = events.insert(makeEvent("evt_1", 1002, "t_a", "{\"x\":1}"));
  REQUIRE(conflict.isOk());
  CHECK(conflict->outcome == IntakeOutcome::kConflict);
  // Same event id for another tenant is another event.
  auto other = events.insert(makeEvent("evt_1", 1003, "t_b"));
  REQUIRE(other.isOk());
  CHECK(other->outcome == IntakeOutcome::kAccepted);

  auto row = events.get("t_a", first->id);
  REQUIRE(row.isOk());
  CHECK(row->duplicates == 1);
  CHECK(row->conflicts == 1);
  CHECK(events.get("t_b", first->id).status().code() == ih::StatusCode::kNotFound);
}

TEST_CASE("inbox store: claims oldest due first, retries, dead letter, replay", "[inbox]") {
  ih::test::TempDir dir;
  auto store = openStore(dir);
  ih::store::InboxStore events(*store);
  REQUIRE(events.insert(makeEvent("evt_late", 5000)).isOk());
  REQUIRE(events.insert(makeEvent("evt_early", 1000)).isOk());
  REQUIRE(events.insert(makeEvent("evt_future", 99999)).isOk());

  auto claimed = events.claimDue(6000, 10);
  REQUIRE(claimed.isOk());
  REQUIRE(claimed->size() == 2);
  CHECK((*claimed)[0].event.event_id == "evt_early");
  CHECK((*claimed)[1].event.event_id == "evt_late");
  CHECK((*claimed)[0].event.attempts == 1);
  CHECK(events.claimDue(6000, 10)->empty());  // claimed ones are not handed out twice
  CHECK(events.nextDueAt()->value() == 99999);
  CHECK(*events.backlog() == 3);

  ih::store::AttemptOutcome fail;
  fail.event = &(*claimed)[0].event;
  fail.started_at = 6000;
  fail.error = "boom with sk_test_4eC39HqLyjWDarjtT1zdp7dc";
  fail.next_attempt_at = 7000;
  REQUIRE(events.complete(fail).isOk());
  ih::store::AttemptOutcome dead;
  dead.event = &(*claimed)[1].event;
  dead.started_at = 6000;
  dead.error = "gone";
  dead.dead = true;
  REQUIRE(events.complete(dead).isOk());

  auto early = events.get("t_a", (*claimed)[0].event.id);
  CHECK(early->status == InboxStatus::kFailed);
  CHECK(early->last_error.find("4eC39HqLyjWDarjtT1zdp7dc") == std::string::npos);
  CHECK(events.claimDue(6500, 10)->empty());
  auto retry = events.claimDue(7000, 10);
  REQUIRE(retry->size() == 1);
  CHECK(retry->front().event.attempts == 2);
  ih::store::AttemptOutcome ok;
  ok.event = &retry->front().event;
  ok.ok = true;
  ok.started_at = 7000;
  REQUIRE(events.complete(ok).isOk());
  CHECK(events.get("t_a", retry->front().event.id)->status == InboxStatus::kProcessed);
  CHECK(events.attempts(retry->front().event.id)->size() == 2);

  const int64_t dead_id = (*claimed)[1].event.id;
  CHECK(events.get("t_a", dead_id)->status == InboxStatus::kDead);
  CHECK(events.replay("t_b", dead_id, 8000).code() == ih::StatusCode::kNotFound);
  REQUIRE(events.replay("t_a", dead_id, 8000).isOk());
  auto replayed = events.get("t_a", dead_id);
  CHECK(replayed->status == InboxStatus::kPending);
  CHECK(replayed->attempts == 0);

  ih::store::InboxFilter filter;
  filter.status = InboxStatus::kProcessed;
  CHECK(events.list("t_a", filter)->size() == 1);
  CHECK(events.adminList({})->size() == 3);
}

TEST_CASE("inbox store: interrupted claims recover, retention prunes processed only", "[inbox]") {
  ih::test::TempDir dir;
  auto store = openStore(dir);
  ih::store::InboxStore events(*store);
  for (int i = 0; i < 3; ++i)
    REQUIRE(events.insert(makeEvent("evt_" + std::to_string(i), 1000 + i)).isOk());
  auto claimed = events.claimDue(2000, 3);
  REQUIRE(claimed->size() == 3);
  ih::store::AttemptOutcome ok;
  ok.event = &(*claimed)[0].event;
  ok.ok = true;
  ok.started_at = 2000;
  REQUIRE(events.complete(ok).isOk());
  ih::store::AttemptOutcome dead;
  dead.event = &(*claimed)[1].event;
  dead.dead = true;
  dead.started_at = 2000;
  REQUIRE(events.complete(dead).isOk());
  // The third stays "processing" as after a crash.
  CHECK(*events.recoverInterrupted(3000) == 1);
  CHECK(events.get("t_a", (*claimed)[2].event.id)->status == InboxStatus::kPending);

  CHECK(*events.pruneProcessed(1000) == 0);  // processed at 2000: not older than the cutoff
  CHECK(*events.pruneProcessed(10000) == 1);
  CHECK(events.adminList({})->size() == 2);  // dead and pending kept
  CHECK(events.attempts((*claimed)[0].event.id)->empty());
}

TEST_CASE("inbox store: platform routes", "[inbox]") {
  ih::test::TempDir dir;
  auto store = openStore(dir);
  ih::store::InboxStore events(*store);
  CHECK(!events.routeTenant("hooks", "acct_1")->has_value());
  REQUIRE(events.setRoute("hooks", "acct_1", "t_a").isOk());
  CHECK(events.routeTenant("hooks", "acct_1")->value() == "t_a");
  REQUIRE(events.setRoute("hooks", "acct_1", "t_b").isOk());
  CHECK(events.routeTenant("hooks", "acct_1")->value() == "t_b");
  CHECK(!events.setRoute("hooks", "acct_2", "t_missing").isOk());  // foreign key
  REQUIRE(events.deleteRoute("hooks", "acct_1").isOk());
  CHECK(!events.routeTenant("hooks", "acct_1")->has_value());
}

namespace {

// ~3 KB of Stripe-shaped event JSON (compresses well, as real events do).
std::string stripeLikeJson() {
  std::string s = R"({"id":"evt_1QxYz","object":"event","api_version":"2024-06-20","type":"invoice.paid",)"
                  R"("data":{"object":{"id":"in_1QxYz","object":"invoice","lines":{"object":"list","data":[)";
  for (int i = 0; i < 12; ++i) {
    if (i) s += ",";
    s +=
        R"({"id":"il_)" + std::to_string(1000 + i) +
        R"(","object":"line_item","amount":2900,"currency":"usd","price":{"id":"price_1PRO","product":"prod_PRO"},)"
        R"("period":{"start":1700000000,"end":1702592000},"quantity":1})";
  }
  return s + "]}}}}";
}

std::string randomBytes(size_t n) {
  std::mt19937 rng(7);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng() & 0xff);
  return s;
}

}  // namespace

TEST_CASE("inbox store: payloads are stored compressed when that pays and always read back exactly",
          "[inbox]") {
  ih::test::TempDir dir;
  auto store = openStore(dir);
  ih::store::InboxStore events(*store);
  const std::string json = stripeLikeJson();
  const std::string noise = randomBytes(3000);  // incompressible, with NUL bytes
  const std::string small = R"({"id":"evt_small","type":"ping"})";
  REQUIRE(json.size() > 2000);

  auto a = events.insert(makeEvent("evt_json", 1000, "t_a", json));
  REQUIRE(a.isOk());
  std::promise<ih::Result<ih::store::IntakeResult>> done;
  events.insertAsync(makeEvent("evt_noise", 1001, "t_a", noise),
                     [&](ih::Result<ih::store::IntakeResult> r) { done.set_value(std::move(r)); });
  auto b = done.get_future().get();
  REQUIRE(b.isOk());
  auto c = events.insert(makeEvent("evt_small", 1002, "t_a", small));
  REQUIRE(c.isOk());

  {  // What is stored.
    const auto stored = [&](const std::string& event_id, const std::string& what) {
      return ih::test::testStoreScalar(
          dir.file("inbox.db"),
          "SELECT " + what + " FROM webhook_events WHERE event_id = '" + event_id + "'");
    };
    CHECK(stored("evt_json", "CASE WHEN payload_codec = 'zstd' THEN 1 ELSE 0 END") == 1);
    CHECK(stored("evt_json", "length(payload)") < static_cast<int64_t>(json.size()) / 3);
    // compression would not save an eighth: stored as received
    CHECK(stored("evt_noise", "length(payload_codec)") == 0);
    CHECK(stored("evt_noise", "length(payload)") == static_cast<int64_t>(noise.size()));
    CHECK(stored("evt_small", "length(payload_codec)") == 0);  // below kMinCompressBytes
  }
  // A zstd frame header and nothing else.
  const std::string broken_frame =
      ih::test::testStoreIsPostgres() ? "decode('28b52ffd00', 'hex')" : "x'28b52ffd00'";

  CHECK(events.get("t_a", a->id)->payload == json);
  CHECK(events.get("t_a", b->id)->payload == noise);
  CHECK(events.get("t_a", c->id)->payload == small);
  // A duplicate is recognised by the hash of the bytes received, whatever the stored form.
  CHECK(events.insert(makeEvent("evt_json", 1003, "t_a", json))->outcome == IntakeOutcome::kDuplicate);

  auto claimed = events.claimDue(5000, 10);
  REQUIRE(claimed.isOk());
  REQUIRE(claimed->size() == 3);
  CHECK((*claimed)[0].event.payload == json);
  CHECK((*claimed)[1].event.payload == noise);
  CHECK((*claimed)[2].event.payload == small);

  // A damaged compressed payload is reported, not returned as garbage.
  ih::test::testStoreExec(dir.file("inbox.db"), "UPDATE webhook_events SET payload = " + broken_frame +
                                                    " WHERE event_id = 'evt_json'");
  auto damaged = events.get("t_a", a->id);
  CHECK(damaged.status().code() == ih::StatusCode::kInternal);
  CHECK_THAT(damaged.status().message(), Catch::Contains("webhook event " + std::to_string(a->id)));

  // Dispatch: a damaged payload can never be handled, so that event is dead-lettered with the reason and
  // the rest of the batch is handed out.
  auto good = events.insert(makeEvent("evt_good", 7000, "t_a", json));
  auto bad = events.insert(makeEvent("evt_bad", 7000, "t_a", json + " "));
  REQUIRE(good.isOk());
  REQUIRE(bad.isOk());
  ih::test::testStoreExec(dir.file("inbox.db"), "UPDATE webhook_events SET payload = " + broken_frame +
                                                    " WHERE event_id = 'evt_bad'");
  auto batch = events.claimDue(8000, 10);
  REQUIRE(batch.isOk());
  REQUIRE(batch->size() == 1);
  CHECK((*batch)[0].event.event_id == "evt_good");
  CHECK((*batch)[0].event.payload == json);
  auto dead = events.get("t_a", bad->id);
  REQUIRE(dead.isOk() == false);  // its payload still cannot be read...
  auto listed = events.list("t_a", ih::store::InboxFilter{});
  REQUIRE(listed.isOk());
  bool found = false;
  for (const auto& e : *listed) {
    if (e.event_id != "evt_bad") continue;
    found = true;
    CHECK(e.status == InboxStatus::kDead);  // ...and it is in the dead letter with the reason
    CHECK_THAT(e.last_error, Catch::Contains("zstd"));
  }
  CHECK(found);

  CHECK(ih::store::decodePayload("abc", "lz4").status().message() ==
        "stored webhook payload has an unknown codec \"lz4\"");
}
