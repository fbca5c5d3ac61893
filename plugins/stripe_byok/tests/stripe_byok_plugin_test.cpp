// stripe_byok through the SDK's fake host: connect, test, webhooks and the action guards, with Stripe
// answered by a small in-test responder (the integration tests use the real double over HTTP).
#include <chrono>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "ih/plugin_abi.h"
#include "ih/testing/fake_host.hpp"
#include "stripe_common/webhook_signature.h"

extern "C" const ih_plugin_descriptor* ih_plugin_entry(uint16_t host_major, uint16_t host_minor);

namespace {

using ih::sdk::testing::FakeHost;
using ih::sdk::testing::FakeHttpResponse;
using ih::sdk::testing::HttpExchange;
using ih::sdk::testing::makeRequestJson;
using nlohmann::json;

constexpr char kKey[] = "sk_test_goodkey0000abcd";
constexpr char kPk[] = "pk_test_goodkey0000wxyz";
constexpr char kWhsec[] = "whsec_unit_secret_0001";
constexpr char kConfig[] = R"({"api_base_url":"https://stripe.test/","stripe_version":"2024-06-20"})";

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

FakeHttpResponse stripe(const HttpExchange& r) {
  if (r.header("Authorization").value_or("") != std::string("Bearer ") + kKey)
    return {
        401,
        {},
        R"({"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****abcd"}})"};
  if (r.url == "https://stripe.test/v1/balance")
    return {
        200, {}, R"({"object":"balance","livemode":false,"available":[{"amount":1200,"currency":"usd"}]})"};
  if (r.url == "https://stripe.test/v1/account") return {200, {}, R"({"id":"acct_123","object":"account"})"};
  return {404, {}, R"({"error":{"type":"invalid_request_error","message":"Unrecognized request URL"}})"};
}

struct Fixture {
  FakeHost host{ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR)};
  ih::sdk::testing::Instance inst;
  Fixture() {
    host.setTenant("t1");
    host.setHttpHandler(stripe);
    inst = host.create("stripe", kConfig);
    REQUIRE(inst.ok());
  }
  void connected(bool live = false) {
    host.setCredentials("t1", "stripe",
                        json({{"secret_key", live ? "sk_live_goodkey0000abcd" : kKey},
                              {"publishable_key", live ? "pk_live_x0000" : kPk},
                              {"webhook_secret", kWhsec},
                              {"livemode", live}})
                            .dump());
  }
  std::string event(const std::string& type, const json& object, int64_t created) {
    return json({{"id", "evt_" + std::to_string(created) + type.substr(0, 3)},
                 {"object", "event"},
                 {"type", type},
                 {"created", created},
                 {"livemode", false},
                 {"data", {{"object", object}}}})
        .dump();
  }
  ih::sdk::testing::CallResult verify(const std::string& body, const std::string& signature) {
    return host.verifyWebhook(
        inst, makeRequestJson("POST", "/webhooks/stripe/t1", "t1", {{"Stripe-Signature", signature}}), body);
  }
};

}  // namespace

TEST_CASE("stripe_byok: manifest", "[stripe]") {
  const ih_plugin_descriptor* d = ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR);
  const json manifest = json::parse(d->manifest_json);
  CHECK(manifest["name"] == "stripe_byok");
  CHECK(manifest["config_schema"]["properties"]["catalog"]["default"].size() == 2);
  CHECK(manifest["connect_schema"]["required"] == json::array({"secret_key", "publishable_key"}));
}

TEST_CASE("stripe_byok: connect checks formats, then the key, and stores only on success", "[stripe]") {
  Fixture f;
  auto r = f.host.connect(f.inst, R"({"secret_key":"pk_test_abc123","publishable_key":"pk_test_abc123"})");
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(r.error == "secret_key must start with sk_test_, sk_live_, rk_test_ or rk_live_");
  r = f.host.connect(f.inst, R"({"secret_key":"sk_test_abc123","publishable_key":"pk_live_abc123"})");
  CHECK(r.error == "secret key is a test key but publishable key is live");
  CHECK(f.host.httpRequests().empty());

  r = f.host.connect(f.inst,
                     R"({"secret_key":"sk_test_wrongkey00001234","publishable_key":"pk_test_abc123"})");
  CHECK(r.status == IH_ERR_UNAUTHENTICATED);
  CHECK(r.error == "Stripe rejected the API key (Invalid API Key provided: sk_test_****abcd)");
  CHECK_FALSE(f.host.credentials("t1", "stripe"));

  f.host.setHttpHandler([](const HttpExchange&) {
    FakeHttpResponse down;
    down.transport_error = IH_ERR_UNAVAILABLE;
    down.transport_message = "connection refused";
    return down;
  });
  r = f.host.connect(f.inst, json({{"secret_key", kKey}, {"publishable_key", kPk}}).dump());
  CHECK(r.status == IH_ERR_UNAVAILABLE);
  CHECK(r.error.rfind("Stripe is unreachable: ", 0) == 0);
  CHECK_FALSE(f.host.credentials("t1", "stripe"));

  f.host.setHttpHandler(stripe);
  r = f.host.connect(
      f.inst, json({{"secret_key", kKey}, {"publishable_key", kPk}, {"webhook_secret", kWhsec}}).dump());
  REQUIRE(r.ok());
  const json info = json::parse(r.result);
  CHECK(info["livemode"] == false);
  CHECK(info["secret_key"] == "sk_test_****abcd");
  CHECK(info["account_id"] == "acct_123");
  CHECK(r.result.find(kKey) == std::string::npos);
  const json stored = json::parse(*f.host.credentials("t1", "stripe"));
  CHECK(stored["secret_key"] == kKey);
  CHECK(stored["webhook_secret"] == kWhsec);
  const auto requests = f.host.httpRequests();
  CHECK(requests.back().header("Stripe-Version") == std::string("2024-06-20"));
  CHECK_FALSE(f.host.logsContain(kKey));
}

TEST_CASE("stripe_byok: test reads the balance; disconnect revokes nothing", "[stripe]") {
  Fixture f;
  f.connected();
  auto r = f.host.testConnection(f.inst);
  REQUIRE(r.ok());
  const json result = json::parse(r.result);
  CHECK(result["ok"] == true);
  CHECK(result["detail"]["available"][0]["amount"] == 1200);
  CHECK(f.host.disconnect(f.inst).ok());
}

TEST_CASE("stripe_byok: verify_webhook with the tenant's secret", "[stripe]") {
  Fixture f;
  f.connected();
  const int64_t t = now();
  const std::string body = f.event("invoice.paid", {{"id", "in_1"}, {"object", "invoice"}}, t);
  auto r = f.verify(body, ih::stripe::signatureHeader(kWhsec, t, body));
  REQUIRE(r.ok());
  const json meta = json::parse(r.result);
  CHECK(meta["type"] == "invoice.paid");
  CHECK(meta["object_id"] == "in_1");
  CHECK(meta["occurred_at"] == t);

  CHECK(f.verify(body, ih::stripe::signatureHeader("whsec_other", t, body)).status == IH_ERR_SIGNATURE);
  auto stale = f.verify(body, ih::stripe::signatureHeader(kWhsec, t - 301, body));
  CHECK(stale.status == IH_ERR_SIGNATURE);
  CHECK(stale.error == "Timestamp outside the tolerance zone");
  CHECK(f.verify(body, "t=" + std::to_string(t)).error == "No signatures found with expected scheme");
}

TEST_CASE("stripe_byok: handle_webhook turns events into records and normalized events", "[stripe]") {
  Fixture f;
  f.connected();
  const json invoice = {{"id", "in_1"},
                        {"object", "invoice"},
                        {"status", "paid"},
                        {"amount_due", 1500},
                        {"amount_paid", 1500},
                        {"currency", "usd"},
                        {"customer", "cus_1"},
                        {"number", "A-1"},
                        {"hosted_invoice_url", "https://pay/in_1"},
                        {"status_transitions", {{"paid_at", 1700000100}}},
                        {"metadata", {{"ihost_ref", "show1"}}}};
  auto r = f.host.handleWebhook(f.inst, R"({"event_id":"evt_1","type":"invoice.paid","stale":false})",
                                f.event("invoice.paid", invoice, 1700000100));
  REQUIRE(r.ok());
  auto rec = f.host.record("t1", "stripe", "invoice", "in_1");
  REQUIRE(rec);
  CHECK(rec->updated_at == 1700000100);
  const json data = json::parse(rec->data_json);
  CHECK(data["status"] == "paid");
  CHECK(data["paid_at"] == 1700000100);
  CHECK(data["hosted_invoice_url"] == "https://pay/in_1");
  // Every event handled is announced first (stripe.webhook.received), then what it meant.
  REQUIRE(f.host.events().size() == 2);
  CHECK(f.host.events()[0].type == "stripe.webhook.received");
  const json received = json::parse(f.host.events()[0].data_json);
  CHECK(received["type"] == "invoice.paid");
  CHECK(received["object_id"] == "in_1");
  CHECK(received["stale"] == false);
  CHECK(f.host.events()[1].type == "invoice.updated");

  const json pi = {{"id", "pi_1"},  {"object", "payment_intent"}, {"status", "succeeded"},
                   {"amount", 900}, {"amount_received", 900},     {"currency", "usd"}};
  REQUIRE(f.host
              .handleWebhook(f.inst, R"({"type":"payment_intent.succeeded"})",
                             f.event("payment_intent.succeeded", pi, 1700000200))
              .ok());
  CHECK(f.host.events().back().type == "payment.succeeded");
  CHECK(f.host.record("t1", "stripe", "payment", "pi_1"));

  const json sub = {{"id", "sub_1"},
                    {"object", "subscription"},
                    {"status", "active"},
                    {"customer", "cus_1"},
                    {"cancel_at_period_end", true},
                    {"items",
                     {{"data", json::array({{{"price", {{"id", "price_1"}, {"lookup_key", "pro"}}},
                                             {"current_period_start", 10},
                                             {"current_period_end", 20}}})}}}};
  REQUIRE(f.host.handleWebhook(f.inst, R"({"stale":true})", f.event("customer.subscription.updated", sub, 5))
              .ok());
  CHECK_FALSE(f.host.record("t1", "stripe", "subscription", "sub_1"));  // stale: skipped
  CHECK(f.host.events().back().type == "stripe.webhook.received");      // but announced, as stale
  CHECK(json::parse(f.host.events().back().data_json)["stale"] == true);
  REQUIRE(f.host.handleWebhook(f.inst, R"({"stale":false})", f.event("customer.subscription.updated", sub, 6))
              .ok());
  const json s = json::parse(f.host.record("t1", "stripe", "subscription", "sub_1")->data_json);
  CHECK(s["price"] == "price_1");
  CHECK(s["current_period_end"] == 20);
  CHECK(s["cancel_at_period_end"] == true);
  CHECK(f.host.events().back().type == "subscription.updated");

  const size_t events = f.host.events().size();
  CHECK(f.host.handleWebhook(f.inst, "{}", f.event("charge.refunded", {{"id", "ch_1"}}, 7)).ok());
  REQUIRE(f.host.events().size() == events + 1);  // an unused type is only announced as received
  CHECK(f.host.events().back().type == "stripe.webhook.received");
}

TEST_CASE("stripe_byok: simulate_payment is refused on live keys; actions need a connection", "[stripe]") {
  Fixture f;
  auto r = f.host.runAction(f.inst, "ensure_products", "{}");
  CHECK(r.status == IH_ERR_UNAUTHENTICATED);
  f.connected(true);
  r = f.host.runAction(f.inst, "simulate_payment", R"({"payment_intent":"pi_1"})");
  CHECK(r.status == IH_ERR_NOT_FOUND);
  CHECK(f.host.httpRequests().empty());
}

namespace {

// A ledger of `n` balance transactions served newest first with starting_after paging, as Stripe lists them.
FakeHttpResponse ledger(const HttpExchange& r, int n) {
  const std::string prefix = "https://stripe.test/v1/balance_transactions";
  if (r.url.rfind(prefix, 0) != 0) return stripe(r);
  int start = 0;  // index (0 = newest) of the first row of the page
  if (auto at = r.url.find("starting_after=txn_"); at != std::string::npos)
    start = std::stoi(r.url.substr(at + 19)) + 1;
  json data = json::array();
  for (int i = start; i < n && i < start + 100; ++i) {
    data.push_back({{"id", "txn_" + std::to_string(i)},
                    {"object", "balance_transaction"},
                    {"amount", 1000 + i},
                    {"fee", 59},
                    {"net", 941 + i},
                    {"currency", "usd"},
                    {"created", 1700000000 - i},
                    {"status", "available"},
                    {"type", "charge"},
                    {"source", "ch_" + std::to_string(i)}});
  }
  const bool has_more = start + 100 < n;
  return {
      200,
      {},
      json({{"object", "list"}, {"data", data}, {"has_more", has_more}, {"url", "/v1/balance_transactions"}})
          .dump()};
}

}  // namespace

TEST_CASE(
    "stripe_byok: transactions commit in order while the next pages are fetched; a failed commit stops "
    "every later one",
    "[stripe][sync]") {
  FakeHost host{ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR)};
  host.setTenant("t1");
  host.setHttpHandler([](const HttpExchange& r) { return ledger(r, 1000); });
  auto inst = host.create("stripe", R"({"api_base_url":"https://stripe.test/","stripe_version":"2024-06-20",
                                        "sync_expand_sources":false,"sync_commit_rows":200})");
  REQUIRE(inst.ok());
  host.setCredentials("t1", "stripe", json({{"secret_key", kKey}, {"publishable_key", kPk}}).dump());

  // The third commit fails (rows 400..599): the run fails, and rows after it are never committed, so the
  // stored cursor still points at the end of the second commit.
  host.failRecordsCommitsAfter(2, IH_ERR_UNAVAILABLE, "database is locked");
  auto failed = host.runJob(inst, "transactions");
  CHECK(failed.status == IH_ERR_UNAVAILABLE);
  CHECK_THAT(failed.error, Catch::Contains("transactions: storing pages: database is locked"));
  CHECK(host.recordsCommits() == 3);
  CHECK(host.records("t1", "stripe", "transaction").size() == 400);
  const json cursor = json::parse(host.state("t1", "stripe", "transactions").value_or("{}"));
  CHECK(cursor["starting_after"] == "txn_399");
  CHECK(cursor["phase"] == "backfill");

  host.clearRecordsCommitFailure();
  auto resumed = host.runJob(inst, "transactions");
  REQUIRE(resumed.ok());
  const json result = json::parse(resumed.result);
  CHECK(result["rows"] == 600);
  CHECK(result["resumed"] == true);
  CHECK(result["commits"] == 3);
  const auto stored = host.records("t1", "stripe", "transaction");
  REQUIRE(stored.size() == 1000);
  CHECK(json::parse(host.state("t1", "stripe", "transactions").value_or("{}"))["phase"] == "incremental");
  CHECK(host.liveBuffers() == 0);
}

TEST_CASE("stripe_byok: sync_commit_rows is checked at create", "[stripe][sync]") {
  FakeHost host{ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR)};
  auto inst = host.create("stripe", R"({"api_base_url":"https://stripe.test/","sync_commit_rows":50})");
  CHECK_FALSE(inst.ok());
  CHECK_THAT(inst.error, Catch::Contains("sync_commit_rows must be an integer from 100 to 50000"));
}
