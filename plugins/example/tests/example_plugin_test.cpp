// Unit tests of the example plugin through the SDK's fake host: the real descriptor, real thunks, real HMAC.
#include <chrono>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "ih/hmac.hpp"
#include "ih/plugin_abi.h"
#include "ih/testing/fake_host.hpp"

extern "C" const ih_plugin_descriptor* ih_plugin_entry(uint16_t host_major, uint16_t host_minor);

namespace {

using ih::sdk::testing::FakeHost;
using ih::sdk::testing::FakeHttpResponse;
using ih::sdk::testing::HttpExchange;
using ih::sdk::testing::makeRequestJson;
using nlohmann::json;

constexpr char kSecret[] = "whsec_example_secret_123";
constexpr char kApiKey[] = "ex_GoodKey1234";
constexpr char kConfig[] =
    R"({"api_base_url":"https://provider.test/","greeting":"Howdy","webhook_secret":"whsec_example_secret_123",)"
    R"("timeout_ms":2000})";

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A delivery to tenant `to`'s webhook URL, signed over "<ts>.<signed_for>.<body>".
std::string webhookRequest(const std::string& secret, int64_t timestamp, const std::string& body,
                           const std::string& to = "t1", const std::string& signed_for = "t1") {
  const std::string ts = std::to_string(timestamp);
  const std::string signature = "v1=" + ih::sdk::hmacSha256Hex(secret, ts + "." + signed_for + "." + body);
  return makeRequestJson("POST", "/webhooks/example/" + to, to,
                         {{"X-Example-Timestamp", ts}, {"X-Example-Signature", signature}});
}

// A provider that accepts kApiKey only.
FakeHttpResponse provider(const HttpExchange& request) {
  const auto auth = request.header("Authorization");
  if (!auth || *auth != std::string("Bearer ") + kApiKey)
    return FakeHttpResponse{401, {}, R"({"error":"bad key"})"};
  if (request.url == "https://provider.test/ping")
    return FakeHttpResponse{200, {}, R"({"account":"acct_1"})"};
  return FakeHttpResponse{404, {}, "{}"};
}

struct Fixture {
  FakeHost host{ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR)};
  ih::sdk::testing::Instance inst;
  Fixture() {
    host.setTenant("t1");
    inst = host.create("example", kConfig);
  }
};

}  // namespace

TEST_CASE("descriptor declares v1.0 ABI and a parseable manifest", "[example]") {
  const ih_plugin_descriptor* d = ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR);
  REQUIRE(d != nullptr);
  CHECK(d->struct_size == sizeof(ih_plugin_descriptor));
  CHECK(d->abi_major == IH_ABI_MAJOR);
  CHECK(d->abi_minor == IH_ABI_MINOR);
  const json manifest = json::parse(d->manifest_json);
  CHECK(manifest["name"] == "example");
  CHECK(manifest["config_schema"]["required"] == json::array({"webhook_secret"}));
  CHECK(manifest["jobs"][0]["every"] == "15m");
}

TEST_CASE("create refuses a configuration without webhook_secret", "[example]") {
  FakeHost host(ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR));
  auto inst = host.create("example", R"({"greeting":"Hi"})");
  CHECK(inst.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(inst.error.find("webhook_secret") != std::string::npos);
}

TEST_CASE("GET /hello greets the calling tenant", "[example]") {
  Fixture f;
  REQUIRE(f.inst.ok());
  auto r = f.host.route(f.inst, makeRequestJson("GET", "/hello", "t1"), "");
  REQUIRE(r.status == IH_OK);
  CHECK(r.http_status == 200);
  const json body = json::parse(r.body);
  CHECK(body["message"] == "Howdy, t1!");
  CHECK(body["integration"] == "example");

  auto missing = f.host.route(f.inst, makeRequestJson("GET", "/nope", "t1"), "");
  CHECK(missing.status == IH_ERR_NOT_FOUND);
  CHECK_FALSE(missing.responded);
}

TEST_CASE("webhook signature: good, tampered, wrong secret, stale, other tenant, not connected",
          "[example]") {
  Fixture f;
  f.host.setCredentials("t1", "example", json{{"api_key", kApiKey}}.dump());
  const std::string body =
      R"({"id":"evt_1","type":"item.updated","data":{"id":"it_1","name":"Widget","updated_at":100}})";

  SECTION("good signature yields event id and type") {
    auto r = f.host.verifyWebhook(f.inst, webhookRequest(kSecret, now(), body), body);
    REQUIRE(r.status == IH_OK);
    const json result = json::parse(r.result);
    CHECK(result["event_id"] == "evt_1");
    CHECK(result["type"] == "item.updated");
    CHECK(result["object_id"] == "it_1");
  }
  SECTION("tampered body") {
    std::string tampered = body;
    tampered.replace(tampered.find("Widget"), 6, "Wodget");
    auto r = f.host.verifyWebhook(f.inst, webhookRequest(kSecret, now(), body), tampered);
    CHECK(r.status == IH_ERR_SIGNATURE);
    CHECK(r.error == "signature mismatch");
  }
  SECTION("wrong secret") {
    auto r = f.host.verifyWebhook(f.inst, webhookRequest("whsec_other", now(), body), body);
    CHECK(r.status == IH_ERR_SIGNATURE);
  }
  SECTION("stale timestamp (older than 300 s)") {
    auto r = f.host.verifyWebhook(f.inst, webhookRequest(kSecret, now() - 301, body), body);
    CHECK(r.status == IH_ERR_SIGNATURE);
    CHECK(r.error.find("tolerance") != std::string::npos);
  }
  SECTION("signed for another tenant: replaying tenant t2's delivery to t1's URL fails") {
    auto r = f.host.verifyWebhook(f.inst, webhookRequest(kSecret, now(), body, "t1", "t2"), body);
    CHECK(r.status == IH_ERR_SIGNATURE);
  }
  SECTION("a tenant that never connected: correctly signed, still refused, nothing to store for it") {
    f.host.setTenant("t3");
    auto r = f.host.verifyWebhook(f.inst, webhookRequest(kSecret, now(), body, "t3", "t3"), body);
    CHECK(r.status == IH_ERR_NOT_FOUND);
  }
  SECTION("malformed timestamps") {
    for (const char* ts : {"", "-5", "12x", "99999999999999999999", " 1"}) {
      const std::string request =
          makeRequestJson("POST", "/webhooks/example/t1", "t1",
                          {{"X-Example-Timestamp", ts}, {"X-Example-Signature", "v1=00"}});
      auto r = f.host.verifyWebhook(f.inst, request, body);
      CHECK(r.status == IH_ERR_SIGNATURE);
    }
  }
  SECTION("missing headers") {
    auto r = f.host.verifyWebhook(f.inst, makeRequestJson("POST", "/webhooks/example/t1", "t1"), body);
    CHECK(r.status == IH_ERR_SIGNATURE);
  }
  CHECK_FALSE(f.host.logsContain(kSecret));
}

TEST_CASE("handle_webhook upserts the item and emits example.item_changed", "[example]") {
  Fixture f;
  const std::string v2 =
      R"({"id":"evt_2","type":"item.updated","data":{"id":"it_1","name":"New","updated_at":200}})";
  const std::string v1 =
      R"({"id":"evt_1","type":"item.updated","data":{"id":"it_1","name":"Old","updated_at":100}})";
  REQUIRE(f.host.handleWebhook(f.inst, R"({"id":"1","event_id":"evt_2"})", v2).ok());
  REQUIRE(f.host.handleWebhook(f.inst, R"({"id":"2","event_id":"evt_1"})", v1).ok());  // late, older: skipped
  auto rec = f.host.record("t1", "example", "item", "it_1");
  REQUIRE(rec);
  CHECK(json::parse(rec->data_json)["name"] == "New");
  CHECK(rec->updated_at == 200);
  auto events = f.host.events();
  REQUIRE(events.size() == 2);
  CHECK(events[0].type == "example.item_changed");
  CHECK(json::parse(events[0].data_json)["id"] == "it_1");
}

TEST_CASE("sync job progresses its cursor across runs", "[example]") {
  Fixture f;
  f.host.setCredentials("t1", "example", json{{"api_key", kApiKey}}.dump());
  f.host.setHttpHandler([](const HttpExchange& request) {
    if (request.header("Authorization") != std::string("Bearer ") + kApiKey)
      return FakeHttpResponse{401, {}, ""};
    if (request.url == "https://provider.test/items?after=") {
      return FakeHttpResponse{
          200, {}, R"({"items":[{"id":"a","updated_at":1},{"id":"b","updated_at":2}],"next_cursor":"c2"})"};
    }
    if (request.url == "https://provider.test/items?after=c2") {
      return FakeHttpResponse{200, {}, R"({"items":[{"id":"c","updated_at":3}],"next_cursor":"c3"})"};
    }
    return FakeHttpResponse{500, {}, ""};
  });

  auto first = f.host.runJob(f.inst, "sync");
  REQUIRE(first.status == IH_OK);
  CHECK(json::parse(first.result)["synced"] == 2);
  CHECK(f.host.state("t1", "example", "cursor") == std::string("c2"));

  auto second = f.host.runJob(f.inst, "sync");
  REQUIRE(second.status == IH_OK);
  CHECK(f.host.state("t1", "example", "cursor") == std::string("c3"));
  CHECK(f.host.records("t1", "example", "item").size() == 3);

  const auto requests = f.host.httpRequests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].url == "https://provider.test/items?after=c2");
  CHECK(json::parse(requests[1].request_json)["timeout_ms"] == 2000);
  CHECK(f.host.liveBuffers() == 0);
  CHECK_FALSE(f.host.logsContain(kApiKey));
}

TEST_CASE("sync job without credentials is unauthenticated", "[example]") {
  Fixture f;
  auto r = f.host.runJob(f.inst, "sync");
  CHECK(r.status == IH_ERR_UNAUTHENTICATED);
  CHECK(f.host.httpRequests().empty());
}

TEST_CASE("ping action emits example.pinged and returns pong", "[example]") {
  Fixture f;
  auto r = f.host.runAction(f.inst, "ping", "{}");
  REQUIRE(r.status == IH_OK);
  CHECK(json::parse(r.result) == json{{"pong", true}});
  REQUIRE(f.host.events().size() == 1);
  CHECK(f.host.events()[0].type == "example.pinged");
  CHECK(f.host.runAction(f.inst, "nope", "{}").status == IH_ERR_NOT_FOUND);
}

TEST_CASE("connect: good key, bad format, provider 401", "[example]") {
  Fixture f;
  f.host.setHttpHandler(provider);

  SECTION("good key is checked live and stored") {
    auto r = f.host.connect(f.inst, json{{"api_key", kApiKey}}.dump());
    REQUIRE(r.status == IH_OK);
    CHECK(json::parse(r.result)["account"] == "acct_1");
    REQUIRE(f.host.httpRequests().size() == 1);
    CHECK(f.host.httpRequests()[0].url == "https://provider.test/ping");
    CHECK(json::parse(*f.host.credentials("t1", "example"))["api_key"] == kApiKey);

    auto test = f.host.testConnection(f.inst);
    REQUIRE(test.status == IH_OK);
    CHECK(json::parse(test.result)["ok"] == true);

    REQUIRE(f.host.disconnect(f.inst).ok());
    CHECK_FALSE(f.host.credentials("t1", "example"));
  }
  SECTION("bad format is refused without a provider call") {
    auto r = f.host.connect(f.inst, R"({"api_key":"sk_live_nope"})");
    CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
    CHECK(f.host.httpRequests().empty());
    CHECK_FALSE(f.host.credentials("t1", "example"));
  }
  SECTION("provider 401 stores nothing and says why plainly") {
    const std::string rejected = "ex_RevokedKey99";
    auto r = f.host.connect(f.inst, json{{"api_key", rejected}}.dump());
    CHECK(r.status == IH_ERR_UNAUTHENTICATED);
    CHECK(r.error == "connect: the provider rejected the API key");
    CHECK(r.error.find(rejected) == std::string::npos);
    CHECK_FALSE(f.host.credentials("t1", "example"));
    CHECK_FALSE(f.host.logsContain(rejected));
  }
  CHECK_FALSE(f.host.logsContain(kApiKey));
  CHECK_FALSE(f.host.logsContain(kSecret));
  CHECK(f.host.liveBuffers() == 0);
}

TEST_CASE("tenants are isolated by the host", "[example]") {
  Fixture f;
  f.host.setHttpHandler(provider);
  REQUIRE(f.host.connect(f.inst, json{{"api_key", kApiKey}}.dump()).ok());
  f.host.setTenant("t2");
  CHECK(f.host.testConnection(f.inst).status == IH_ERR_UNAUTHENTICATED);
}
