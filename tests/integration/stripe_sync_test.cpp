// The Stripe sync jobs (plugins/stripe_common/src/sync_jobs.cpp) end to end: a real ihost (TestHost, real
// libstripe_byok.so, real SQLite) running catalog / transactions / reconcile_events through the jobs API and
// the `ihost sync run` CLI against the in-process Stripe double over real HTTP; results are checked against
// the double's own lists.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "stripe_double/stripe_double.h"
#include "support/eventually.h"
#include "support/stripe_fixture.h"
#include "support/test_host.h"

namespace {

using ih::stripe_double::Fault;
using ih::stripe_double::FaultKind;
using ih::stripe_double::SeedOptions;
using ih::stripe_double::StripeDouble;
using nlohmann::json;

constexpr char kKey[] = "sk_test_ihostsyncintegration00001";
constexpr char kKey2[] = "sk_test_ihostsyncintegration00002";
constexpr char kPk[] = "pk_test_ihostsyncintegration00001";

using ih::test::eventually;

std::unique_ptr<StripeDouble> startDouble() {
  return ih::test::startStripeDouble(kKey, {200});
}

// Schedules far out so only the test triggers runs; a high rate budget keeps 10k-row tests quick; 700-row
// commits so a 10k backfill makes 15 commits, each overlapping the fetch of the next pages.
ih::test::TestHostOptions hostOptions(const std::string& api_base_url, double rate = 1000) {
  ih::test::TestHostOptions o;
  o.extra_toml = ih::test::stripeByokToml(
      api_base_url, "rate_limit_per_s = " + std::to_string(rate) +
                        "\nsync_commit_rows = 700\n[integrations.stripe.jobs.catalog]\nevery = \"365d\"\n"
                        "[integrations.stripe.jobs.transactions]\nevery = \"365d\"\n"
                        "[integrations.stripe.jobs.reconcile_events]\nevery = \"365d\"\n");
  return o;
}

struct Answer {
  int status = 0;
  json body;
};

struct Env {
  explicit Env(double rate = 1000) : host(hostOptions(stripe->url(), rate)) {}

  std::unique_ptr<StripeDouble> stripe = startDouble();
  ih::test::TestHost host;
  ih::test::TestHost::TenantKey tenant = host.createTenant("acme");

  Answer request(const std::string& method, const std::string& path, const json& body = json::object(),
                 const std::string& key = "") {
    auto client = host.client();
    client->set_read_timeout(std::chrono::seconds(120));
    const auto headers = ih::test::bearer(key.empty() ? tenant.api_key : key);
    httplib::Result res = method == "GET" ? client->Get(path.c_str(), headers)
                          : method == "PUT"
                              ? client->Put(path.c_str(), headers, body.dump(), "application/json")
                              : client->Post(path.c_str(), headers, body.dump(), "application/json");
    REQUIRE(res);
    return {res->status, json::parse(res->body, nullptr, false)};
  }

  void connect(const std::string& secret_key = kKey, const std::string& api_key = "") {
    auto r = request("POST", "/api/integrations/stripe/connect",
                     {{"secret_key", secret_key}, {"publishable_key", kPk}}, api_key);
    INFO(r.body.dump());
    REQUIRE(r.status == 200);
  }

  // Runs a job through the API and waits for its end; returns the finished run.
  json runJob(const std::string& job, bool full = false, const std::string& api_key = "") {
    auto started =
        request("POST", "/api/integrations/stripe/jobs/" + job + "/run", {{"full", full}}, api_key);
    INFO(started.body.dump());
    REQUIRE((started.status == 200 || started.status == 202));
    json run = started.body["run"];
    const std::string path =
        "/api/integrations/stripe/jobs/" + job + "/runs/" + std::to_string(run["id"].get<int64_t>());
    REQUIRE(eventually(
        [&] {
          if (run["status"] != "running") return true;
          run = request("GET", path, json::object(), api_key).body;
          return run["status"] != "running";
        },
        std::chrono::seconds(120)));
    return run;
  }

  // Every record change of `model` after `after` (seq order), following next_after.
  std::vector<json> records(const std::string& model, int64_t after = 0, const std::string& api_key = "") {
    std::vector<json> out;
    for (;;) {
      auto page =
          request("GET", "/api/records/stripe/" + model + "?limit=1000&after=" + std::to_string(after),
                  json::object(), api_key);
      REQUIRE(page.status == 200);
      for (auto& r : page.body["data"])
        out.push_back(r);
      after = page.body["next_after"].get<int64_t>();
      if (!page.body["has_more"].get<bool>()) return out;
    }
  }

  // The double's own list, straight over HTTP (newest first), every page.
  std::vector<json> stripeList(const std::string& path, const std::string& key = kKey) {
    httplib::Client client(stripe->url());
    std::vector<json> out;
    std::string after;
    for (;;) {
      std::string target = path + "?limit=100" + (after.empty() ? "" : "&starting_after=" + after);
      auto res = client.Get(target.c_str(), {{"Authorization", "Bearer " + key}});
      REQUIRE(res);
      REQUIRE(res->status == 200);
      json page = json::parse(res->body);
      for (auto& item : page["data"])
        out.push_back(item);
      if (!page["has_more"].get<bool>() || page["data"].empty()) return out;
      after = page["data"].back()["id"];
    }
  }

  json stripePost(const std::string& path, const std::string& form, const std::string& key = kKey) {
    httplib::Client client(stripe->url());
    auto res = client.Post(path.c_str(), {{"Authorization", "Bearer " + key}}, form,
                           "application/x-www-form-urlencoded");
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 200);
    return json::parse(res->body);
  }
  json stripeDelete(const std::string& path, const std::string& key = kKey) {
    httplib::Client client(stripe->url());
    auto res = client.Delete(path.c_str(), {{"Authorization", "Bearer " + key}});
    REQUIRE(res);
    INFO(res->body);
    REQUIRE(res->status == 200);
    return json::parse(res->body);
  }

  size_t requestsTo(const std::string& path, int status = -1) {
    size_t n = 0;
    for (const auto& r : stripe->requests())
      if (r.path == path && (status < 0 || r.status == status)) ++n;
    return n;
  }
};

// id -> (amount, fee, net) of a list of balance transactions or transaction records' data.
std::map<std::string, std::tuple<int64_t, int64_t, int64_t>> figures(const std::vector<json>& items) {
  std::map<std::string, std::tuple<int64_t, int64_t, int64_t>> out;
  for (const json& item : items)
    out[item["id"].get<std::string>()] = {item["amount"].get<int64_t>(), item["fee"].get<int64_t>(),
                                          item["net"].get<int64_t>()};
  return out;
}

std::vector<json> dataOf(const std::vector<json>& records) {
  std::vector<json> out;
  for (const json& r : records)
    out.push_back(r["data"]);
  return out;
}

}  // namespace

TEST_CASE(
    "stripe sync: a 10k-row backfill (CLI) equals the double's data, incremental takes exactly the new "
    "rows",
    "[stripe][sync]") {
  Env env;
  env.connect();
  REQUIRE(env.stripe->seedBalanceTransactions({"", 10000, 0, 1, 1250}).isOk());

  // Backfill through `ihost sync run` against the same database (the server stopped meanwhile).
  env.host.stop();
  std::ostringstream out, err;
  const int code = ih::cli::run(
      {"sync", "run", "stripe", "transactions", "--tenant", "acme", "--config", env.host.configPath()}, out,
      err);
  INFO(out.str() << err.str());
  REQUIRE(code == 0);
  CHECK_THAT(out.str(), Catch::Contains("succeeded: 100 pages, 10000 rows"));
  env.host.restart();

  const std::vector<json> stored = env.records("transaction");
  const std::vector<json> truth = env.stripeList("/v1/balance_transactions");
  REQUIRE(truth.size() == 10000);
  REQUIRE(stored.size() == 10000);  // each record written once: no duplicate change
  CHECK(figures(dataOf(stored)) == figures(truth));
  for (const json& r : stored) {
    CHECK(r["data"]["net"].get<int64_t>() ==
          r["data"]["amount"].get<int64_t>() - r["data"]["fee"].get<int64_t>());
    CHECK(r["updated_at"] == r["data"]["created"]);
  }
  const json& sample = stored.front()["data"];
  CHECK(sample["currency"] == "usd");
  CHECK(sample["type"] == "charge");
  CHECK(sample["source_type"] == "charge");
  CHECK(sample["source"].get<std::string>().rfind("ch_", 0) == 0);
  CHECK(sample["fee_details"][0]["type"] == "stripe_fee");
  CHECK(sample.contains("available_on"));
  CHECK(sample.contains("status"));
  const int64_t seq_after_backfill = stored.back()["seq"];

  // 250 new rows, all in one second (more than two pages): the incremental run lists created >= the high
  // watermark through every page; the one old row at the watermark second is re-read without a new change.
  REQUIRE(env.stripe->seedBalanceTransactions({"", 250, env.stripe->now() + 1, 0, 700}).isOk());
  json run = env.runJob("transactions");
  INFO(run.dump());
  REQUIRE(run["status"] == "succeeded");
  CHECK(run["rows"] == 251);
  CHECK(run["pages"] == 3);
  const std::vector<json> fresh = env.records("transaction", seq_after_backfill);
  CHECK(fresh.size() == 250);
  const std::vector<json> truth_after = env.stripeList("/v1/balance_transactions");
  std::set<std::string> new_ids;
  for (size_t i = 0; i < 250; ++i)
    new_ids.insert(truth_after[i]["id"].get<std::string>());
  std::set<std::string> fresh_ids;
  for (const json& r : fresh)
    fresh_ids.insert(r["id"].get<std::string>());
  CHECK(fresh_ids == new_ids);
  CHECK(env.records("transaction").size() == 10250);

  // Nothing new: no change at all; "full" starts a new backfill that rewrites nothing either.
  json again = env.runJob("transactions");
  CHECK(again["status"] == "succeeded");
  CHECK(env.records("transaction", seq_after_backfill).size() == 250);
  json full = env.runJob("transactions", true);
  CHECK(full["status"] == "succeeded");
  CHECK(full["rows"] == 10250);
  CHECK(env.records("transaction", seq_after_backfill).size() == 250);
}

TEST_CASE("stripe sync: a run that dies on page 21 resumes there with no gap and no duplicate",
          "[stripe][sync]") {
  Env env;
  env.connect();
  REQUIRE(env.stripe->seedBalanceTransactions({"", 5000, 0, 1, 1000}).isOk());
  // Page 21 and everything after it drop the connection (every host retry too).
  Fault drop;
  drop.path = "/v1/balance_transactions";
  drop.kind = FaultKind::kDrop;
  drop.skip = 20;
  drop.count = 1000;
  env.stripe->addFault(drop);
  json failed = env.runJob("transactions");
  INFO(failed.dump());
  REQUIRE(failed["status"] == "failed");
  CHECK_THAT(failed["error"].get<std::string>(), Catch::Contains("transactions: page 21"));
  // What was committed is a whole number of pages from the newest row down (every 700 rows, then the
  // pages buffered when page 21 failed), page 20 at the latest.
  const std::vector<json> partial = env.records("transaction");
  REQUIRE(partial.size() >= 100);
  REQUIRE(partial.size() <= 2000);
  REQUIRE(partial.size() % 100 == 0);
  env.stripe->clearFaults();
  const std::vector<json> truth = env.stripeList("/v1/balance_transactions");
  REQUIRE(truth.size() == 5000);
  const auto committed = static_cast<std::ptrdiff_t>(partial.size());
  const std::string last_committed = truth[partial.size() - 1]["id"];
  CHECK(figures(dataOf(partial)) == figures({truth.begin(), truth.begin() + committed}));

  env.stripe->clearRequests();
  json resumed = env.runJob("transactions");
  INFO(resumed.dump());
  REQUIRE(resumed["status"] == "succeeded");
  CHECK(resumed["rows"] == 5000 - committed);
  // The first request of the rerun continues right after the last committed row.
  auto requests = env.stripe->requests();
  REQUIRE_FALSE(requests.empty());
  CHECK_THAT(requests.front().query, Catch::Contains("starting_after=" + last_committed));

  const std::vector<json> stored = env.records("transaction");
  REQUIRE(stored.size() == 5000);
  CHECK(figures(dataOf(stored)) == figures(truth));
  std::set<int64_t> seqs;
  for (const json& r : stored)
    seqs.insert(r["seq"].get<int64_t>());
  CHECK(seqs.size() == 5000);
  CHECK(*seqs.rbegin() - *seqs.begin() == 4999);  // one change per row: contiguous, none repeated
}

TEST_CASE("stripe sync: injected 429s slow the run down but it finishes", "[stripe][sync]") {
  Env env;
  env.connect();
  REQUIRE(env.stripe->seedBalanceTransactions({"", 1000, 0, 1, 1000}).isOk());
  Fault limited;
  limited.path = "/v1/balance_transactions";
  limited.kind = FaultKind::kRateLimit;
  limited.skip = 3;
  limited.count = 2;
  env.stripe->addFault(limited);
  const auto started = std::chrono::steady_clock::now();
  json run = env.runJob("transactions");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(run.dump());
  REQUIRE(run["status"] == "succeeded");
  CHECK(run["rows"] == 1000);
  CHECK(env.requestsTo("/v1/balance_transactions", 429) == 2);
  CHECK(seconds >= 0.5);  // the host backed off (0.5 s, then 1 s, with jitter) before retrying
  CHECK(env.records("transaction").size() == 1000);
}

TEST_CASE("stripe sync: catalog keeps archived products and prices, deleted products become tombstones",
          "[stripe][sync]") {
  Env env;
  env.connect();
  const json kept = env.stripePost("/v1/products", "name=Kept");
  const json kept_price = env.stripePost(
      "/v1/prices", "product=" + kept["id"].get<std::string>() + "&unit_amount=900&currency=usd");
  const json archived = env.stripePost("/v1/products", "name=Archived");
  const json archived_price = env.stripePost(
      "/v1/prices", "product=" + archived["id"].get<std::string>() + "&unit_amount=500&currency=usd");
  env.stripePost("/v1/prices/" + archived_price["id"].get<std::string>(), "active=false");
  env.stripePost("/v1/products/" + archived["id"].get<std::string>(), "active=false");
  const json doomed = env.stripePost("/v1/products", "name=Doomed");

  json first = env.runJob("catalog");
  INFO(first.dump());
  REQUIRE(first["status"] == "succeeded");
  CHECK(first["rows"] == 5);
  auto record = [&](const std::string& model, const json& object) {
    auto r = env.request("GET", "/api/records/stripe/" + model + "/" + object["id"].get<std::string>());
    REQUIRE(r.status == 200);
    return r.body;
  };
  CHECK(record("product", kept)["data"]["active"] == true);
  CHECK(record("product", archived)["data"]["active"] == false);
  CHECK(record("product", archived)["deleted"] == false);
  CHECK(record("price", archived_price)["data"]["active"] == false);
  CHECK(record("price", kept_price)["data"]["unit_amount"] == 900);
  CHECK(record("product", doomed)["deleted"] == false);

  env.stripeDelete("/v1/products/" + doomed["id"].get<std::string>());
  env.stripePost("/v1/prices/" + kept_price["id"].get<std::string>(), "active=false");
  json second = env.runJob("catalog");
  REQUIRE(second["status"] == "succeeded");
  CHECK(record("product", doomed)["deleted"] == true);
  CHECK(record("product", doomed)["data"]["name"] == "Doomed");  // the tombstone keeps the last data
  CHECK(record("price", kept_price)["data"]["active"] == false);
  CHECK(record("product", kept)["deleted"] == false);

  // A third run changes nothing (no new seq).
  const int64_t seq = std::max(env.records("product").back()["seq"].get<int64_t>(),
                               env.records("price").back()["seq"].get<int64_t>());
  REQUIRE(env.runJob("catalog")["status"] == "succeeded");
  CHECK(env.records("product", seq).empty());
  CHECK(env.records("price", seq).empty());
}

TEST_CASE("stripe sync: two tenants sync their own accounts independently", "[stripe][sync]") {
  Env env;
  env.connect();
  auto other_account = env.stripe->addSecretKey(kKey2);
  REQUIRE(other_account.isOk());
  auto beta = env.host.createTenant("beta");
  env.connect(kKey2, beta.api_key);
  REQUIRE(env.stripe->seedBalanceTransactions({"", 300, 0, 1, 1000}).isOk());
  REQUIRE(env.stripe->seedBalanceTransactions({*other_account, 500, 0, 1, 2000}).isOk());

  json a = env.runJob("transactions");
  json b = env.runJob("transactions", false, beta.api_key);
  REQUIRE(a["status"] == "succeeded");
  REQUIRE(b["status"] == "succeeded");
  CHECK(a["rows"] == 300);
  CHECK(b["rows"] == 500);
  const auto acme_rows = figures(dataOf(env.records("transaction")));
  const auto beta_rows = figures(dataOf(env.records("transaction", 0, beta.api_key)));
  CHECK(acme_rows == figures(env.stripeList("/v1/balance_transactions", kKey)));
  CHECK(beta_rows == figures(env.stripeList("/v1/balance_transactions", kKey2)));
  for (const auto& [id, f] : beta_rows)
    CHECK(acme_rows.count(id) == 0);

  // Each tenant has its own cursor: new rows for acme only; beta's next run finds only its watermark row.
  REQUIRE(env.stripe->seedBalanceTransactions({"", 120, env.stripe->now() + 1, 1, 1000}).isOk());
  json a2 = env.runJob("transactions");
  json b2 = env.runJob("transactions", false, beta.api_key);
  CHECK(a2["rows"] == 121);
  CHECK(b2["rows"] == 1);
  CHECK(env.records("transaction").size() == 420);
  CHECK(env.records("transaction", 0, beta.api_key).size() == 500);
}

TEST_CASE("stripe sync: reconcile_events recovers events the webhook path missed", "[stripe][sync]") {
  Env env;
  env.connect();
  // No webhook endpoint at the double: Stripe's events never reach the host on their own.
  auto created = env.request(
      "POST", "/api/integrations/stripe/actions/create_invoices",
      {{"reference", "show-1"},
       {"buyers",
        json::array({{{"reference", "b1"},
                      {"email", "b1@example.com"},
                      {"items", json::array({{{"title", "Lot"}, {"quantity", 1}, {"price", 1500}}})}}})}});
  INFO(created.body.dump());
  REQUIRE(created.status == 200);
  const std::string invoice = created.body["results"][0]["invoice_id"];
  auto paid =
      env.request("POST", "/api/integrations/stripe/actions/simulate_payment", {{"invoice", invoice}});
  REQUIRE(paid.status == 200);
  auto record = env.request("GET", "/api/records/stripe/invoice/" + invoice);
  REQUIRE(record.status == 200);
  REQUIRE(record.body["data"]["status"] == "open");  // the webhook that says "paid" never came

  const size_t stripe_events = env.stripeList("/v1/events").size();
  REQUIRE(stripe_events > 3);
  json first = env.runJob("reconcile_events");
  INFO(first.dump());
  REQUIRE(first["status"] == "succeeded");
  CHECK(first["rows"] == static_cast<int64_t>(stripe_events));
  // The inbox processes invoice.paid like a real delivery: the record turns paid.
  CHECK(eventually([&] {
    return env.request("GET", "/api/records/stripe/invoice/" + invoice).body["data"]["status"] == "paid";
  }));

  // The next run only walks newer events: none now, then exactly the one new event.
  json second = env.runJob("reconcile_events");
  REQUIRE(second["status"] == "succeeded");
  CHECK(second["rows"] == 0);
  env.stripePost("/v1/products", "name=Later");
  env.stripe->clearRequests();
  json third = env.runJob("reconcile_events");
  REQUIRE(third["status"] == "succeeded");
  CHECK(third["rows"] == 1);
  auto requests = env.stripe->requests();
  REQUIRE_FALSE(requests.empty());
  CHECK_THAT(requests.front().query, Catch::Contains("ending_before=evt_"));
}

TEST_CASE("stripe mappings: products and prices map to the tenant's ids, shown on records and transactions",
          "[stripe][sync][mappings]") {
  Env env;
  env.connect();
  const json a = env.stripePost("/v1/products", "name=Basic");
  const json a1 =
      env.stripePost("/v1/prices", "product=" + a["id"].get<std::string>() + "&unit_amount=900&currency=usd");
  const json b = env.stripePost("/v1/products", "name=Pro");
  REQUIRE(env.runJob("catalog")["status"] == "succeeded");
  const std::string A = a["id"], A1 = a1["id"], B = b["id"];

  auto mappings = env.request("GET", "/api/integrations/stripe/mappings");
  REQUIRE(mappings.status == 200);
  CHECK(mappings.body["object"] == "mappings");
  CHECK(mappings.body["integration"] == "stripe");
  CHECK(mappings.body["kinds"]["product"]["applies_to"].size() == 3);
  CHECK(mappings.body["kinds"]["price"]["applies_to"].size() == 2);
  CHECK(mappings.body["mappings"] == json({{"product", json::object()}, {"price", json::object()}}));
  CHECK(mappings.body["updated_at"].is_null());
  auto record = [&](const std::string& model, const std::string& id) {
    auto r = env.request("GET", "/api/records/stripe/" + model + "/" + id);
    REQUIRE(r.status == 200);
    return r.body;
  };
  CHECK(record("product", A)["mapped"] == json({{"product", nullptr}}));

  const json set = {{"mappings", {{"product", {{A, "sku-basic"}}}, {"price", {{A1, "sku-basic-monthly"}}}}}};
  auto put = env.request("PUT", "/api/integrations/stripe/mappings", set);
  INFO(put.body.dump());
  REQUIRE(put.status == 200);
  CHECK(put.body["mappings"] == set["mappings"]);
  CHECK(put.body["updated_at"].is_number_integer());
  CHECK(env.request("GET", "/api/integrations/stripe/mappings").body == put.body);

  CHECK(record("product", A)["mapped"] == json({{"product", "sku-basic"}}));
  CHECK(record("product", B)["mapped"] == json({{"product", nullptr}}));
  CHECK(record("price", A1)["mapped"] == json({{"price", "sku-basic-monthly"}, {"product", "sku-basic"}}));
  for (const json& r : env.records("product"))
    CHECK(r["mapped"]["product"] == (r["id"] == A ? json("sku-basic") : json(nullptr)));
  CHECK(env.records("price").front()["mapped"]["price"] == "sku-basic-monthly");

  // A payment tagged with the product and price: its transaction record is mapped too.
  const json pi = env.stripePost("/v1/payment_intents",
                                 "amount=900&currency=usd&payment_method=pm_card_visa&confirm=true");
  REQUIRE(pi["status"] == "succeeded");
  env.stripePost("/v1/charges/" + pi["latest_charge"].get<std::string>(),
                 "metadata[product]=" + A + "&metadata[price]=" + A1);
  REQUIRE(env.runJob("transactions")["status"] == "succeeded");
  bool seen = false;
  for (const json& r : env.records("transaction")) {
    if (r["data"]["source"] != pi["latest_charge"]) continue;
    seen = true;
    CHECK(r["data"]["product"] == A);
    CHECK(r["mapped"] == json({{"product", "sku-basic"}, {"price", "sku-basic-monthly"}}));
  }
  CHECK(seen);

  // A purchase through create_payment_intent with a catalog price: the PaymentIntent's metadata names the price
  // and product, the sync reads them through the expanded PaymentIntent, and the mapping applies.
  const json plans =
      env.request("POST", "/api/integrations/stripe/actions/ensure_products", json::object()).body;
  INFO(plans.dump());
  const std::string starter_price = plans["plans"]["starter"];
  auto bought = env.request("POST", "/api/integrations/stripe/actions/create_payment_intent",
                            {{"price", "starter"}, {"reference", "order-9"}});
  REQUIRE(bought.status == 200);
  const std::string bought_pi = bought.body["payment_intent_id"];
  REQUIRE(env.request("POST", "/api/integrations/stripe/actions/simulate_payment",
                      {{"payment_intent", bought_pi}})
              .status == 200);
  REQUIRE(env.runJob("catalog")["status"] == "succeeded");
  std::string starter_product;
  for (const json& r : env.records("price"))
    if (r["id"] == starter_price) starter_product = r["data"]["product"];
  REQUIRE_FALSE(starter_product.empty());
  const json with_starter = {
      {"mappings",
       {{"product", {{A, "sku-basic"}, {starter_product, "sku-starter"}}},
        {"price", {{A1, "sku-basic-monthly"}, {starter_price, "sku-starter-monthly"}}}}}};
  REQUIRE(env.request("PUT", "/api/integrations/stripe/mappings", with_starter).status == 200);
  REQUIRE(env.runJob("transactions")["status"] == "succeeded");
  bool bought_seen = false;
  for (const json& r : env.records("transaction")) {
    if (r["data"]["payment_intent"] != bought_pi) continue;
    bought_seen = true;
    CHECK(r["data"]["price"] == starter_price);
    CHECK(r["data"]["product"] == starter_product);
    CHECK(r["mapped"] == json({{"product", "sku-starter"}, {"price", "sku-starter-monthly"}}));
  }
  CHECK(bought_seen);
  // Back to `set`; its answer (updated_at included: this PUT may land in a later second than the first one)
  // is what the refused PUTs below must leave unchanged.
  put = env.request("PUT", "/api/integrations/stripe/mappings", set);
  REQUIRE(put.status == 200);

  // Bad input is refused with the member named, and changes nothing.
  auto refused = [&](const json& body, const std::string& says) {
    auto r = env.request("PUT", "/api/integrations/stripe/mappings", body);
    INFO(r.body.dump());
    CHECK(r.status == 400);
    CHECK(r.body["error"]["code"] == "invalid_request");
    CHECK_THAT(r.body["error"]["message"].get<std::string>(), Catch::Contains(says));
  };
  refused({{"mappings", {{"sku", {{A, "x"}}}}}}, "unknown kind \"sku\" (known: price, product)");
  refused({{"mappings", {{"product", {{A, 7}}}}}}, "must be a string");
  refused({{"mappings", {{"product", {{A, ""}}}}}}, "your id is 1-200 bytes");
  refused({{"mappings", {{"product", {{A, std::string(201, 'x')}}}}}}, "your id is 1-200 bytes");
  refused({{"mappings", {{"product", {{"", "x"}}}}}}, "a provider id is 1-255 bytes");
  refused({{"mappings", {{"product", {{A, "line\nbreak"}}}}}}, "printable");
  refused({{"mapping", json::object()}}, "body must be");
  refused(json::array(), "body must be");
  CHECK(env.request("GET", "/api/integrations/stripe/mappings").body == put.body);
  CHECK(env.request("PUT", "/api/integrations/nope/mappings", set).status == 404);
  CHECK(env.request("GET", "/api/integrations/nope/mappings").status == 404);

  // PUT replaces the whole set; another tenant sees none of it.
  auto replaced = env.request("PUT", "/api/integrations/stripe/mappings",
                              {{"mappings", {{"product", {{B, "sku-pro"}}}}}});
  REQUIRE(replaced.status == 200);
  CHECK(replaced.body["mappings"] == json({{"product", {{B, "sku-pro"}}}, {"price", json::object()}}));
  CHECK(record("product", A)["mapped"] == json({{"product", nullptr}}));
  CHECK(record("price", A1)["mapped"] == json({{"price", nullptr}, {"product", nullptr}}));
  auto other = env.host.createTenant("globex");
  auto theirs = env.request("GET", "/api/integrations/stripe/mappings", json::object(), other.api_key);
  CHECK(theirs.body["mappings"] == json({{"product", json::object()}, {"price", json::object()}}));
}

namespace {

// Every event of `type` (GET /api/events?type=, all pages), oldest first. Events are written asynchronously:
// the caller waits for the count it expects.
std::vector<json> eventsOf(Env& env, const std::string& type) {
  std::vector<json> out;
  std::string after = "0";
  for (;;) {
    auto page = env.request("GET", "/api/events?limit=100&type=" + type + "&after=" + after);
    REQUIRE(page.status == 200);
    for (auto& e : page.body["data"])
      out.push_back(e);
    after = page.body["next_after"].get<std::string>();
    if (!page.body["has_more"].get<bool>()) return out;
  }
}

size_t settledCount(Env& env, const std::string& type, size_t expected) {
  size_t n = 0;
  eventually([&] { return (n = eventsOf(env, type).size()) >= expected; }, std::chrono::seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // nothing more arrives
  return eventsOf(env, type).size();
}

}  // namespace

TEST_CASE("stripe events: sync.started per run, transaction.created once per new row, never for the backfill",
          "[stripe][sync][events]") {
  Env env;
  env.connect();
  REQUIRE(env.stripe->seedBalanceTransactions({"", 300, 0, 1, 1000}).isOk());
  json backfill = env.runJob("transactions");
  REQUIRE(backfill["status"] == "succeeded");
  CHECK(backfill["rows"] == 300);
  REQUIRE(settledCount(env, "stripe.sync.started", 1) == 1);
  const json s0 = eventsOf(env, "stripe.sync.started").front();
  CHECK(s0["data"]["job"] == "transactions");
  CHECK(s0["data"]["run_id"] == backfill["id"]);
  CHECK(s0["data"]["trigger"] == "manual");
  CHECK(s0["data"]["full"] == false);
  CHECK(s0["data"]["since"].is_null());
  CHECK(s0["integration"] == "stripe");
  CHECK(eventsOf(env, "transaction.created").empty());  // history is stored silently

  // 150 new rows in one second after the watermark: each announced once, with the record's data; the row the
  // backfill stored in the watermark second is read again but not announced.
  REQUIRE(env.stripe->seedBalanceTransactions({"", 150, env.stripe->now() + 1, 0, 700}).isOk());
  json incremental = env.runJob("transactions");
  REQUIRE(incremental["status"] == "succeeded");
  CHECK(incremental["rows"] == 151);
  REQUIRE(settledCount(env, "transaction.created", 150) == 150);
  std::set<std::string> announced;
  for (const json& e : eventsOf(env, "transaction.created")) {
    announced.insert(e["data"]["id"].get<std::string>());
    CHECK(e["data"]["amount"] == 700);
    CHECK(e["data"]["net"] == e["data"]["amount"].get<int64_t>() - e["data"]["fee"].get<int64_t>());
  }
  const std::vector<json> truth = env.stripeList("/v1/balance_transactions");
  std::set<std::string> fresh;
  for (size_t i = 0; i < 150; ++i)
    fresh.insert(truth[i]["id"].get<std::string>());
  CHECK(announced == fresh);

  // Again (the same second is read again): nothing new is announced; a since= pass re-reads old rows
  // silently and leaves the cursor alone.
  REQUIRE(env.runJob("transactions")["status"] == "succeeded");
  auto cursor_before = env.request("GET", "/api/integrations/stripe/jobs").body;
  const int64_t since = env.stripe->now() - 100;
  auto since_run =
      env.request("POST", "/api/integrations/stripe/jobs/transactions/run?since=" + std::to_string(since),
                  json::object());
  INFO(since_run.body.dump());
  REQUIRE(since_run.status == 200);
  CHECK(since_run.body["run"]["status"] == "succeeded");
  CHECK(since_run.body["run"]["since"] == since);
  CHECK(since_run.body["run"]["rows"].get<int64_t>() >= 150);
  auto cursor_after = env.request("GET", "/api/integrations/stripe/jobs").body;
  for (size_t i = 0; i < cursor_before["data"].size(); ++i)
    if (cursor_before["data"][i]["name"] == "transactions")
      CHECK(cursor_after["data"][i]["state"] == cursor_before["data"][i]["state"]);
  CHECK(settledCount(env, "transaction.created", 150) == 150);
  REQUIRE(settledCount(env, "stripe.sync.started", 4) == 4);
  CHECK(eventsOf(env, "stripe.sync.started").back()["data"]["since"] == since);
}

TEST_CASE("stripe jobs: since= is validated and refused where it has no meaning", "[stripe][sync]") {
  Env env;
  env.connect();
  auto run = [&](const std::string& query, const json& body) {
    return env.request("POST", "/api/integrations/stripe/jobs/" + query, body);
  };
  for (const char* bad : {"yesterday", "2024-13-01", "-5", "1e9", "2024-05-01T12:00:00"}) {
    INFO(bad);
    auto r = run(std::string("transactions/run?since=") + bad, json::object());
    CHECK(r.status == 400);
    CHECK(r.body["error"]["code"] == "invalid_request");
    CHECK_THAT(r.body["error"]["message"].get<std::string>(), Catch::Contains("since must be unix seconds"));
  }
  auto typed = run("transactions/run", {{"since", true}});
  CHECK(typed.status == 400);
  auto both = run("transactions/run", {{"since", "2024-05-01"}, {"full", true}});
  CHECK(both.status == 400);
  CHECK_THAT(both.body["error"]["message"].get<std::string>(), Catch::Contains("cannot be combined"));
  auto catalog = run("catalog/run", {{"since", 1714521600}});
  CHECK(catalog.status == 400);
  CHECK(catalog.body["error"]["message"] ==
        "job \"catalog\" of integration \"stripe\" does not take \"since\"");
  // Accepted forms: unix seconds, a date, an ISO time (the body or the query).
  auto date = run("transactions/run", {{"since", "2024-05-01"}});
  REQUIRE(date.status == 200);
  CHECK(date.body["run"]["since"] == 1714521600);
  auto iso = run("transactions/run?since=2024-05-01T01:00:00%2B01:00", json::object());
  REQUIRE(iso.status == 200);
  CHECK(iso.body["run"]["since"] == 1714521600);
  // No run was recorded for the refused requests.
  auto runs = env.request("GET", "/api/integrations/stripe/jobs/transactions/runs?limit=100");
  CHECK(runs.body["data"].size() == 2);
}
