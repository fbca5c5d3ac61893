// Records through the real HTTP API: plugin-side writes via the RecordSink, tenant reads over loopback.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "http/server.h"
#include "records/records.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace {

using nlohmann::json;

// Store + tenancy + records routes on a loopback port (until App wires the records module in).
struct RecordsHost {
  ih::test::TempDir dir;
  std::unique_ptr<ih::store::Store> store;
  std::unique_ptr<ih::vault::Vault> vault;
  std::unique_ptr<ih::tenancy::Tenancy> tenancy;
  std::unique_ptr<ih::records::Records> records;
  std::unique_ptr<ih::http::Server> server;

  RecordsHost() {
    ih::store::Options options;
    options.path = dir.file("ihost.db");
    auto opened = ih::store::Store::open(options);
    REQUIRE(opened.isOk());
    store = std::move(opened).value();
    auto ring = ih::vault::KeyRing::generate();
    REQUIRE(ring.isOk());
    vault = std::make_unique<ih::vault::Vault>(std::move(ring).value());
    tenancy = std::make_unique<ih::tenancy::Tenancy>(*store, *vault, "");
    records = std::make_unique<ih::records::Records>(*store);
    ih::http::ServerOptions server_options;
    server_options.port = 0;
    server_options.worker_threads = 4;
    server = std::make_unique<ih::http::Server>(server_options);
    ih::records::registerRoutes(*server, *tenancy, *records);
    REQUIRE(server->start().isOk());
  }
  ~RecordsHost() { server->stop(); }

  std::pair<std::string, std::string> tenant(const std::string& name) {
    auto created = tenancy->createTenant(name);
    REQUIRE(created.isOk());
    return {created->tenant.id, created->first_key.plaintext};
  }
  json get(const std::string& key, const std::string& path, int expect_status = 200) {
    httplib::Client client("127.0.0.1", server->port());
    auto res = client.Get(path.c_str(), {{"Authorization", "Bearer " + key}});
    REQUIRE(res);
    INFO(path << " -> " << res->body);
    REQUIRE(res->status == expect_status);
    return json::parse(res->body);
  }
};

std::string page(std::initializer_list<std::tuple<const char*, const char*, int>> rows) {
  json out = json::array();
  for (const auto& [id, data, at] : rows)
    out.push_back({{"id", id}, {"data", json::parse(data)}, {"updated_at", at}});
  return out.dump();
}

}  // namespace

TEST_CASE("records API: changes by seq cursor, guard, tombstones, one record, tenant isolation",
          "[records]") {
  RecordsHost host;
  auto [a, key_a] = host.tenant("acme");
  auto [b, key_b] = host.tenant("globex");
  auto& sink = *host.records;

  REQUIRE(sink.upsert(a, "stripe", "customer",
                      page({{"cus_1", R"({"name":"one"})", 100}, {"cus_2", "{}", 100}, {"cus_3", "{}", 100}}))
              .isOk());
  REQUIRE(
      sink.upsert(a, "stripe", "customer", page({{"cus_1", R"({"name":"stale"})", 90}})).isOk());  // skipped
  REQUIRE(sink.upsert(a, "stripe", "customer", page({{"cus_2", R"({"name":"two"})", 101}})).isOk());  // seq 4
  REQUIRE(sink.remove(a, "stripe", "customer", "cus_3", 102).isOk());                                 // seq 5
  REQUIRE(sink.upsert(b, "stripe", "customer", page({{"cus_b", "{}", 1}})).isOk());
  CHECK(sink.upsert(a, "stripe", "customer", R"([{"id":"x"}])").code() == ih::StatusCode::kInvalidArgument);

  json first = host.get(key_a, "/api/records/stripe/customer?limit=2");
  CHECK(first["object"] == "list");
  REQUIRE(first["data"].size() == 2);
  CHECK(first["has_more"] == true);
  CHECK(first["data"][0] == json{{"id", "cus_1"},
                                 {"model", "customer"},
                                 {"data", {{"name", "one"}}},
                                 {"updated_at", 100},
                                 {"deleted", false},
                                 {"seq", 1}});
  CHECK(first["data"][1]["id"] == "cus_2");  // moved to seq 4 by its update
  CHECK(first["data"][1]["data"]["name"] == "two");
  const int64_t next = first["next_after"];
  CHECK(next == 4);
  json rest = host.get(key_a, "/api/records/stripe/customer?after=" + std::to_string(next));
  REQUIRE(rest["data"].size() == 1);
  CHECK(rest["has_more"] == false);
  CHECK(rest["data"][0]["id"] == "cus_3");
  CHECK(rest["data"][0]["deleted"] == true);
  CHECK(rest["data"][0]["seq"] == 5);
  CHECK(rest["next_after"] == 5);
  json empty = host.get(key_a, "/api/records/stripe/customer?after=5");
  CHECK(empty["data"].empty());
  CHECK(empty["next_after"] == 5);

  json one = host.get(key_a, "/api/records/stripe/customer/cus_1");
  CHECK(one["data"]["name"] == "one");
  CHECK(host.get(key_a, "/api/records/stripe/customer/cus_3")["deleted"] == true);
  CHECK(host.get(key_a, "/api/records/stripe/customer/nope", 404)["error"]["code"] == "record_not_found");

  // Tenant B sees only its own record, with its own sequence; A's ids are invisible to B.
  json theirs = host.get(key_b, "/api/records/stripe/customer");
  REQUIRE(theirs["data"].size() == 1);
  CHECK(theirs["data"][0]["id"] == "cus_b");
  CHECK(theirs["data"][0]["seq"] == 1);
  host.get(key_b, "/api/records/stripe/customer/cus_1", 404);
  CHECK(host.get(key_a, "/api/records/stripe/invoice")["data"].empty());

  host.get(key_a, "/api/records/stripe/customer?limit=0", 400);
  host.get(key_a, "/api/records/stripe/customer?after=-1", 400);
  host.get("ihk_live_wrong", "/api/records/stripe/customer", 401);
}
