// Entitlements derived from records on a real database (SQLite; PostgreSQL in its lane): the manifest mapping, tombstones, bad data,
// events (and their dedupe keys), tenant isolation, a changed mapping rebuilding the view, the background pass.
#include <catch2/catch.hpp>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/sinks.h"
#include "entitlements/entitlements.h"
#include "log/log.h"
#include "store/entitlement_store.h"
#include "store/record_store.h"
#include "store/store.h"
#include "support/eventually.h"
#include "support/temp_dir.h"
#include "support/test_store.h"

using ih::entitlements::Entitlements;
using ih::entitlements::Rule;
using ih::store::EntitlementStore;
using ih::store::RecordInput;
using ih::store::RecordStore;
using nlohmann::json;

namespace {

struct Emitted {
  std::string tenant, integration, type;
  json data;
  std::string dedupe_key;
};

// Collects events; refuses keys it has seen (as the event store's dedupe does: success, nothing stored).
class Sink final : public ih::sinks::EventSink {
 public:
  ih::Status emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
                  std::string_view data_json, std::string_view dedupe_key,
                  const ih::sinks::Deferred&) override {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& e : events)
      if (!dedupe_key.empty() && e.dedupe_key == dedupe_key && e.tenant == tenant_id) return ih::Status::ok();
    events.push_back({std::string(tenant_id), std::string(integration_id), std::string(type),
                      json::parse(data_json), std::string(dedupe_key)});
    return ih::Status::ok();
  }
  std::vector<Emitted> take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::exchange(events, {});
  }
  std::mutex mu;
  std::vector<Emitted> events;
};

Rule subscriptions() {
  return {"stripe", "subscription", "buyer", "plan", "status", {"active", "trialing"}, "current_period_end"};
}
Rule payments() {
  return {"stripe", "payment", "buyer", "plan", "status", {"succeeded"}, ""};
}

std::string sub(const std::string& buyer, const std::string& plan, const std::string& status,
                int64_t end = 0) {
  json d = {{"buyer", buyer}, {"plan", plan}, {"status", status}};
  if (end) d["current_period_end"] = end;
  return d.dump();
}

struct World {
  ih::test::TempDir dir;
  std::unique_ptr<ih::store::Store> store =
      ih::test::openTestStore(dir.file("e.db"), {{"t1", "one"}, {"t2", "two"}});
  RecordStore records{*store};
  EntitlementStore view{*store};
  Sink sink;

  std::unique_ptr<Entitlements> make(std::vector<Rule> rules) {
    return std::make_unique<Entitlements>(records, view, &sink, std::move(rules));
  }
  void put(const std::string& tenant, const std::string& model, const std::string& id,
           const std::string& data, int64_t at) {
    REQUIRE(records.upsert(tenant, "stripe", model, {RecordInput{id, data, at}}).isOk());
  }
  std::vector<std::string> keys(Entitlements& e, const std::string& tenant, const std::string& customer) {
    auto rows = e.forCustomer(tenant, customer);
    REQUIRE(rows.isOk());
    std::vector<std::string> out;
    for (const auto& r : *rows)
      out.push_back(r.key + "/" + r.status);
    return out;
  }
};

}  // namespace

TEST_CASE("entitlements follow subscription and payment records", "[entitlements]") {
  World w;
  auto e = w.make({subscriptions(), payments()});

  w.put("t1", "subscription", "sub_1", sub("user_1", "starter", "trialing", 1900000000), 100);
  w.put("t1", "payment", "pi_1",
        json({{"buyer", "user_1"}, {"plan", "pack"}, {"status", "succeeded"}}).dump(), 101);
  w.put("t1", "payment", "pi_2",
        json({{"buyer", "user_1"}, {"plan", "other"}, {"status", "requires_payment_method"}}).dump(), 102);
  CHECK(w.keys(*e, "t1", "user_1") == std::vector<std::string>{"pack/succeeded", "starter/trialing"});
  auto rows = e->forCustomer("t1", "user_1");
  REQUIRE(rows.isOk());
  REQUIRE(rows->size() == 2);
  CHECK(rows->at(1).expires_at == 1900000000);
  CHECK(rows->at(0).expires_at == std::nullopt);
  CHECK(rows->at(1).record_id == "sub_1");

  // One event per customer per step, naming what was added.
  auto events = w.sink.take();
  REQUIRE(events.size() == 2);  // the subscription model's step, then the payment model's
  CHECK(events[0].type == "entitlements.changed");
  CHECK(events[0].tenant == "t1");
  CHECK(events[0].data["customer"] == "user_1");
  CHECK(events[0].data["added"] == json::array({"starter"}));
  CHECK(events[1].data["added"] == json::array({"pack"}));
  CHECK(events[1].data["keys"] == json::array({"pack", "starter"}));
  CHECK(events[1].data["entitlements"].size() == 2);

  // Nothing new: nothing emitted, nothing changes.
  CHECK(e->catchUp("t1").isOk());
  CHECK(w.sink.take().empty());

  // trialing -> active is a change (no key added or removed); canceled removes it.
  w.put("t1", "subscription", "sub_1", sub("user_1", "starter", "active", 1900000000), 200);
  CHECK(w.keys(*e, "t1", "user_1") == std::vector<std::string>{"pack/succeeded", "starter/active"});
  events = w.sink.take();
  REQUIRE(events.size() == 1);
  CHECK(events[0].data["added"].empty());
  CHECK(events[0].data["removed"].empty());
  w.put("t1", "subscription", "sub_1", sub("user_1", "starter", "canceled"), 300);
  CHECK(w.keys(*e, "t1", "user_1") == std::vector<std::string>{"pack/succeeded"});
  events = w.sink.take();
  REQUIRE(events.size() == 1);
  CHECK(events[0].data["removed"] == json::array({"starter"}));
  CHECK(events[0].data["keys"] == json::array({"pack"}));

  // A tombstone removes; a record that moves to another buyer moves its entitlement (both are told).
  REQUIRE(w.records.remove("t1", "stripe", "payment", "pi_1", 400).isOk());
  CHECK(w.keys(*e, "t1", "user_1").empty());
  w.put("t1", "subscription", "sub_2", sub("user_2", "pro", "active"), 500);
  CHECK(w.keys(*e, "t1", "user_2") == std::vector<std::string>{"pro/active"});
  w.sink.take();
  w.put("t1", "subscription", "sub_2", sub("user_3", "pro", "active"), 600);
  CHECK(w.keys(*e, "t1", "user_2").empty());
  CHECK(w.keys(*e, "t1", "user_3") == std::vector<std::string>{"pro/active"});
  events = w.sink.take();
  REQUIRE(events.size() == 2);

  // Tenants never see each other's view.
  CHECK(w.keys(*e, "t2", "user_3").empty());
}

TEST_CASE("entitlements ignore records that cannot grant anything", "[entitlements]") {
  World w;
  auto e = w.make({subscriptions()});
  w.put("t1", "subscription", "a", json({{"buyer", 42}, {"plan", "x"}, {"status", "active"}}).dump(), 1);
  w.put("t1", "subscription", "b", json({{"buyer", ""}, {"plan", "x"}, {"status", "active"}}).dump(), 1);
  w.put("t1", "subscription", "c",
        json({{"buyer", std::string(201, 'u')}, {"plan", "x"}, {"status", "active"}}).dump(), 1);
  w.put("t1", "subscription", "d", json({{"buyer", "u"}, {"plan", nullptr}, {"status", "active"}}).dump(), 1);
  w.put("t1", "subscription", "e", json({{"buyer", "u"}, {"plan", "x"}}).dump(), 1);
  w.put("t1", "subscription", "f", json({{"buyer", "u"}, {"plan", "x"}, {"status", "ACTIVE"}}).dump(), 1);
  w.put("t1", "subscription", "g",
        json({{"buyer", "u"}, {"plan", "x"}, {"status", "active"}, {"current_period_end", "soon"}}).dump(),
        1);
  CHECK(e->catchUp("t1").isOk());
  auto rows = e->forCustomer("t1", "u");
  REQUIRE(rows.isOk());
  REQUIRE(rows->size() == 1);  // only g: a non-integer expiry is shown as none
  CHECK(rows->at(0).record_id == "g");
  CHECK(rows->at(0).expires_at == std::nullopt);
  // Other models and integrations are not mapped.
  REQUIRE(
      w.records.upsert("t1", "other", "subscription", {RecordInput{"h", sub("u", "y", "active"), 1}}).isOk());
  w.put("t1", "invoice", "i", sub("u", "z", "active"), 1);
  CHECK(e->forCustomer("t1", "u")->size() == 1);
}

TEST_CASE("a changed mapping rebuilds the view, a restart neither loses nor repeats", "[entitlements]") {
  World w;
  {
    auto e = w.make({subscriptions()});
    for (int i = 0; i < 1200; ++i)  // more than one step (batch 500)
      w.put("t1", "subscription", "sub_" + std::to_string(i),
            sub("user_" + std::to_string(i % 3), "plan_" + std::to_string(i % 7),
                i % 2 ? "active" : "past_due"),
            1);
    CHECK(e->catchUp("t1").isOk());
    CHECK(e->forCustomer("t1", "user_0")->size() == 200);
    w.sink.take();
  }
  {
    // The same mapping after a restart: nothing to do, nothing emitted.
    auto e = w.make({subscriptions()});
    CHECK(e->catchUp("t1").isOk());
    CHECK(w.sink.take().empty());
    CHECK(e->forCustomer("t1", "user_0")->size() == 200);
  }
  {
    // past_due now counts: every record is visited again and the view grows.
    Rule grace = subscriptions();
    grace.active.push_back("past_due");
    auto e = w.make({grace});
    CHECK(e->catchUp("t1").isOk());
    CHECK(e->forCustomer("t1", "user_0")->size() == 400);
    CHECK(!w.sink.take().empty());
  }
  {
    // A narrower mapping shrinks the view.
    Rule none = subscriptions();
    none.active = {"trialing"};
    auto e = w.make({none});
    CHECK(e->catchUp("t1").isOk());
    CHECK(e->forCustomer("t1", "user_0")->empty());
  }
}

TEST_CASE("the background pass catches up every tenant with new record changes", "[entitlements]") {
  World w;
  ih::entitlements::Options options;
  options.interval_ms = 20;
  Entitlements e(w.records, w.view, &w.sink, {subscriptions()}, options);
  e.start();
  w.put("t1", "subscription", "s1", sub("a", "p", "active"), 1);
  w.put("t2", "subscription", "s2", sub("b", "q", "active"), 1);
  CHECK(ih::test::eventually([&] { return w.view.forCustomer("t2", "b", 10)->size() == 1; }));
  CHECK(ih::test::eventually([&] { return w.view.forCustomer("t1", "a", 10)->size() == 1; }));
  e.stop();
  auto events = w.sink.take();
  REQUIRE(events.size() == 2);
  CHECK(events[0].dedupe_key != events[1].dedupe_key);
}

TEST_CASE("a pass that keeps failing warns once a minute, not once per pass", "[entitlements]") {
  World w;
  std::mutex mu;
  std::vector<std::string> lines;
  ih::log::setSink([&](std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  });
  // The view's source is gone: every pass fails (as with a broken database).
  ih::test::testStoreExec(w.dir.file("e.db"), "DROP TABLE record_sequences");
  ih::entitlements::Options options;
  options.interval_ms = 5;
  Entitlements e(w.records, w.view, &w.sink, {subscriptions()}, options);
  e.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // ~60 failed passes
  e.stop();
  ih::log::resetSink();
  size_t warnings = 0;
  for (const std::string& line : lines)
    if (line.find("entitlements: catching up failed") != std::string::npos) ++warnings;
  CHECK(warnings == 1);
}
