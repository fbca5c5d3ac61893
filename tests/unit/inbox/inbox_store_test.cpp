// InboxStore on a real SQLite file: dedupe, claim order, retry bookkeeping, replay, retention.
#include <catch2/catch.hpp>

#include "store/inbox_store.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace {

using ih::store::InboxEvent;
using ih::store::InboxStatus;
using ih::store::IntakeOutcome;

std::unique_ptr<ih::store::Store> openStore(const ih::test::TempDir& dir) {
  ih::store::Options o;
  o.path = dir.file("inbox.db");
  auto s = ih::store::Store::open(o);
  REQUIRE(s.isOk());
  REQUIRE((*s)->createTenant({"t_a", "alpha", 1}).isOk());
  REQUIRE((*s)->createTenant({"t_b", "beta", 1}).isOk());
  return std::move(*s);
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

TEST_CASE("inbox store: interrupted claims recover; retention prunes processed only", "[inbox]") {
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
