// The "state" of each job in GET /api/integrations/{id}/jobs: the plugin state keys a manifest job declares
// ("state_keys", default [job name]), read from the real SQLite plugin_state table of a real ihost (TestHost,
// real libstripe_byok.so and libstripe_connect.so) after a real transactions run against the in-process
// Stripe double over HTTP.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "stripe_double/stripe_double.h"
#include "support/test_host.h"
#include "support/test_store.h"

namespace {

using ih::stripe_double::SeedOptions;
using ih::stripe_double::StripeDouble;
using nlohmann::json;

constexpr char kKey[] = "sk_test_ihostjobsstate000001";
constexpr char kPk[] = "pk_test_ihostjobsstate000001";

struct Answer {
  int status = 0;
  json body;
};

Answer request(ih::test::TestHost& host, const std::string& key, const std::string& method,
               const std::string& path, const json& body = json::object()) {
  auto client = host.client();
  client->set_read_timeout(std::chrono::seconds(60));
  httplib::Result res =
      method == "GET" ? client->Get(path.c_str(), ih::test::bearer(key))
                      : client->Post(path.c_str(), ih::test::bearer(key), body.dump(), "application/json");
  REQUIRE(res);
  INFO(method << " " << path << " -> " << res->status << " " << res->body);
  return {res->status, json::parse(res->body, nullptr, false)};
}

// The job named `name` in a jobs list.
json jobNamed(const json& list, const std::string& name) {
  for (const auto& j : list["data"])
    if (j["name"] == name) return j;
  FAIL("no job " << name << " in " << list.dump());
  return nullptr;
}

void putState(const std::string& db_path, const std::string& tenant, const std::string& key,
              const std::string& value) {
  const auto quoted = [](const std::string& text) {
    std::string out = "'";
    for (char c : text)
      out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  };
  ih::test::testStoreExec(
      db_path, "INSERT INTO plugin_state(tenant_id, integration_id, key, value, updated_at) VALUES (" +
                   quoted(tenant) + ", 'stripe', " + quoted(key) + ", " +
                   ih::test::testStoreBytesLiteral(value) +
                   ", 0) ON CONFLICT(tenant_id, integration_id, key) DO UPDATE SET value = "
                   "excluded.value, updated_at = excluded.updated_at");
}

}  // namespace

TEST_CASE("jobs API shows each job's declared plugin state (the sync cursor)", "[jobs][state]") {
  ih::stripe_double::Options o;
  o.api_keys = {kKey};
  auto started = StripeDouble::start(o);
  REQUIRE(started.isOk());
  auto stripe = std::move(started).value();
  ih::test::TestHostOptions options;
  options.extra_toml =
      "[integrations.stripe]\nplugin = \"stripe_byok\"\napi_base_url = \"" + stripe->url() +
      "\"\nrate_limit_per_s = 1000\n[integrations.stripe.jobs.transactions]\nevery = \"365d\"\n"
      "[integrations.stripe_connect]\nplugin = \"stripe_connect\"\n"
      "client_id = \"ca_ihostdoubleplatform0001\"\nconnect_base_url = \"" +
      stripe->url() + "\"\napi_base_url = \"" + stripe->url() + "\"\n";
  options.env["IHOST_INTEGRATIONS__STRIPE_CONNECT__SECRET_KEY"] = kKey;
  ih::test::TestHost host(options);
  auto acme = host.createTenant("acme");
  auto beta = host.createTenant("beta");

  // Before any run: every key is listed, unset (null). stripe_byok's manifest declares no state_keys: the
  // default is the job's name. stripe_connect's (the shared stripe_common manifest) declares them, e.g.
  // reconcile_events keeps its cursor under "events".
  Answer before = request(host, acme.api_key, "GET", "/api/integrations/stripe/jobs");
  REQUIRE(before.status == 200);
  CHECK(jobNamed(before.body, "transactions")["state"] == json{{"transactions", nullptr}});
  CHECK(jobNamed(before.body, "catalog")["state"] == json{{"catalog", nullptr}});
  Answer declared = request(host, acme.api_key, "GET", "/api/integrations/stripe_connect/jobs");
  REQUIRE(declared.status == 200);
  CHECK(jobNamed(declared.body, "transactions")["state"] == json{{"transactions", nullptr}});
  CHECK(jobNamed(declared.body, "reconcile_events")["state"] == json{{"events", nullptr}});

  // A real transactions run stores its cursor; the jobs API shows it as the stored JSON.
  REQUIRE(request(host, acme.api_key, "POST", "/api/integrations/stripe/connect",
                  {{"secret_key", kKey}, {"publishable_key", kPk}})
              .status == 200);
  SeedOptions seed;
  seed.count = 7;
  REQUIRE(stripe->seedBalanceTransactions(seed).isOk());
  Answer run = request(host, acme.api_key, "POST", "/api/integrations/stripe/jobs/transactions/run");
  REQUIRE(run.status == 200);
  REQUIRE(run.body["run"]["status"] == "succeeded");

  Answer after = request(host, acme.api_key, "GET", "/api/integrations/stripe/jobs");
  REQUIRE(after.status == 200);
  const json cursor = jobNamed(after.body, "transactions")["state"]["transactions"];
  INFO(cursor.dump());
  REQUIRE(cursor.is_object());
  CHECK(cursor["phase"] == "incremental");  // the backfill finished
  REQUIRE(cursor["high_watermark"].is_number_integer());
  CHECK(cursor["high_watermark"].get<int64_t>() >= stripe->now() - 60);
  // The same value as the plugin_state row, byte for byte.
  CHECK(json::parse(ih::test::testStoreBytes(
            host.dbPath(), "SELECT value FROM plugin_state WHERE tenant_id = '" + acme.tenant_id +
                               "' AND integration_id = 'stripe' AND key = 'transactions'")) == cursor);
  CHECK(jobNamed(after.body, "catalog")["state"] == json{{"catalog", nullptr}});  // catalog never ran

  // Per tenant: beta has no cursor.
  Answer other = request(host, beta.api_key, "GET", "/api/integrations/stripe/jobs");
  REQUIRE(other.status == 200);
  CHECK(jobNamed(other.body, "transactions")["state"] == json{{"transactions", nullptr}});

  // A value that is not JSON is shown as text; a huge one as a bounded preview naming its size.
  putState(host.dbPath(), beta.tenant_id, "transactions", "not json {");
  putState(host.dbPath(), beta.tenant_id, "catalog", "[" + std::string(10000, '1') + "]");
  Answer odd = request(host, beta.api_key, "GET", "/api/integrations/stripe/jobs");
  REQUIRE(odd.status == 200);
  CHECK(jobNamed(odd.body, "transactions")["state"]["transactions"] == "not json {");
  const json big = jobNamed(odd.body, "catalog")["state"]["catalog"];
  REQUIRE(big.is_string());
  CHECK(big.get<std::string>().size() < 4200);
  CHECK(big.get<std::string>().find("(10002 bytes)") != std::string::npos);

  // Without a valid key nothing is shown.
  CHECK(request(host, "ihk_not_a_key", "GET", "/api/integrations/stripe/jobs").status == 401);
}
