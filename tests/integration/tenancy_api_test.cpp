// Tenancy, the credential vault and the integrations API through the real server, the real example plugin
// .so, a real SQLite file and a fake provider on loopback.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "app/app.h"
#include "app/vault_rotation.h"
#include "cli/cli.h"
#include "endpoints/endpoints.h"
#include "log/log.h"
#include "store/endpoint_store.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_host.h"
#include "support/test_store.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

using ih::test::bearer;
using nlohmann::json;

namespace {

constexpr const char* kGoodKey = "ex_GOODKEY1234567890";
constexpr const char* kSecretMarker = "ex_SECRETVALUE987654321";

// The provider the example plugin talks to: GET /ping accepts the two keys above.
class FakeProvider {
 public:
  FakeProvider() {
    server_.Get("/ping", [](const httplib::Request& req, httplib::Response& res) {
      std::string auth = req.get_header_value("Authorization");
      if (auth == std::string("Bearer ") + kGoodKey || auth == std::string("Bearer ") + kSecretMarker) {
        res.set_content(R"({"account":"acct_provider_1"})", "application/json");
      } else {
        res.status = 401;
        res.set_content(R"({"error":"invalid api key"})", "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeProvider() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string exampleToml(const std::string& base_url) {
  return "[integrations.example]\nplugin = \"example\"\napi_base_url = \"" + base_url +
         "\"\nwebhook_secret = \"whsec_example_test_secret\"\ntimeout_ms = 2000\n";
}

ih::test::TestHostOptions withToml(std::string toml) {
  ih::test::TestHostOptions o;
  o.extra_toml = std::move(toml);
  return o;
}

json parse(const httplib::Result& res) {
  return json::parse(res->body, nullptr, false);
}

// Captures every log line while alive.
class LogCapture {
 public:
  LogCapture() {
    ih::log::setLevel(ih::log::Level::kDebug);
    ih::log::setSink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      text_ += line;
      text_ += '\n';
    });
  }
  ~LogCapture() {
    ih::log::resetSink();
    ih::log::setLevel(ih::log::Level::kWarn);
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

}  // namespace

TEST_CASE("connect, test and disconnect an integration, state and audit follow", "[tenancy][api]") {
  FakeProvider provider;
  ih::test::TestHost host(withToml(exampleToml(provider.url())));
  auto tenant = host.createTenant("acme");
  auto client = host.client();
  auto auth = bearer(tenant.api_key);

  auto list = client->Get("/api/integrations", auth);
  REQUIRE(list);
  REQUIRE(list->status == 200);
  auto listed = parse(list)["data"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] == "example");
  CHECK(listed[0]["plugin"]["name"] == "example");
  CHECK(listed[0]["plugin"]["version"] == "1.0.0");
  CHECK(listed[0]["connected"] == false);
  CHECK(listed[0]["status"] == "not_connected");

  auto connect = client->Post("/api/integrations/example/connect", auth, json({{"api_key", kGoodKey}}).dump(),
                              "application/json");
  REQUIRE(connect);
  INFO(connect->body);
  REQUIRE(connect->status == 200);
  CHECK(parse(connect)["connected"] == true);
  CHECK(parse(connect)["status"] == "active");
  CHECK(parse(connect)["info"]["account"] == "acct_provider_1");

  auto test = client->Get("/api/integrations/example/test", auth);
  REQUIRE(test);
  CHECK(test->status == 200);
  CHECK(parse(test)["ok"] == true);

  listed = parse(client->Get("/api/integrations", auth))["data"];
  CHECK(listed[0]["connected"] == true);
  CHECK(listed[0]["last_check"]["ok"] == true);

  auto disconnect = client->Delete("/api/integrations/example", auth);
  REQUIRE(disconnect);
  CHECK(disconnect->status == 200);
  CHECK(parse(disconnect)["status"] == "inactive");
  auto conn = host.app().store().getConnection(tenant.tenant_id, "example");
  REQUIRE(conn.isOk());
  REQUIRE(conn->has_value());
  CHECK((*conn)->status == ih::store::ConnectionStatus::kInactive);
  CHECK(host.app().store().getSecret(tenant.tenant_id, "example", "credentials").status().code() ==
        ih::StatusCode::kNotFound);

  auto test_after = client->Get("/api/integrations/example/test", auth);
  REQUIRE(test_after);
  CHECK(test_after->status == 409);
  CHECK(parse(test_after)["error"]["code"] == "not_connected");

  auto audit = parse(client->Get("/api/audit", auth))["data"];
  REQUIRE(audit.size() == 2);
  CHECK(audit[0]["action"] == "integration.connected");
  CHECK(audit[1]["action"] == "integration.disconnected");
  CHECK_THAT(audit[0]["actor"].get<std::string>(), Catch::StartsWith("api_key:key_"));
}

TEST_CASE("a failed connect answers 4xx with the reason and stores nothing", "[tenancy][api]") {
  FakeProvider provider;
  ih::test::TestHost host(withToml(exampleToml(provider.url())));
  auto tenant = host.createTenant("acme");
  auto client = host.client();
  auto auth = bearer(tenant.api_key);
  auto nothingStored = [&] {
    auto conn = host.app().store().getConnection(tenant.tenant_id, "example");
    REQUIRE(conn.isOk());
    CHECK_FALSE(conn->has_value());
    CHECK(host.app().store().getSecret(tenant.tenant_id, "example", "credentials").status().code() ==
          ih::StatusCode::kNotFound);
  };

  SECTION("bad format is refused before any provider call") {
    auto res =
        client->Post("/api/integrations/example/connect", auth, R"({"api_key":"nope"})", "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(parse(res)["error"]["code"] == "invalid_request");
    CHECK_THAT(parse(res)["error"]["message"].get<std::string>(), Catch::Contains("api_key"));
  }
  SECTION("the provider rejects the key") {
    auto res = client->Post("/api/integrations/example/connect", auth, R"({"api_key":"ex_WRONGKEY123456"})",
                            "application/json");
    REQUIRE(res);
    CHECK(res->status == 422);
    CHECK(parse(res)["error"]["code"] == "credentials_rejected");
    CHECK(parse(res)["error"]["message"].get<std::string>().find("WRONGKEY123456") == std::string::npos);
  }
  SECTION("malformed JSON, wrong types and missing fields") {
    auto bad_json = client->Post("/api/integrations/example/connect", auth, "{not json", "application/json");
    REQUIRE(bad_json);
    CHECK(bad_json->status == 400);
    CHECK(parse(bad_json)["error"]["code"] == "invalid_json");
    auto wrong_type =
        client->Post("/api/integrations/example/connect", auth, R"({"api_key":5})", "application/json");
    REQUIRE(wrong_type);
    CHECK(wrong_type->status == 400);
    CHECK_THAT(parse(wrong_type)["error"]["message"].get<std::string>(), Catch::Contains("api_key"));
    auto missing = client->Post("/api/integrations/example/connect", auth, R"({})", "application/json");
    REQUIRE(missing);
    CHECK(missing->status == 400);
    CHECK_THAT(parse(missing)["error"]["message"].get<std::string>(), Catch::Contains("api_key"));
  }
  SECTION("an oversize body is refused with 413") {
    std::string big = "{\"api_key\":\"" + std::string(2 * 1024 * 1024, 'a') + "\"}";
    auto res = client->Post("/api/integrations/example/connect", auth, big, "application/json");
    REQUIRE(res);
    CHECK(res->status == 413);
    CHECK(parse(res)["error"]["code"] == "payload_too_large");
  }
  SECTION("an unknown integration is a 404") {
    auto res = client->Post("/api/integrations/nope/connect", auth, R"({"api_key":"x"})", "application/json");
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK(parse(res)["error"]["code"] == "unknown_integration");
  }
  nothingStored();
}

TEST_CASE("an unreachable provider is reported as such and nothing is stored", "[tenancy][api]") {
  // A port nobody listens on: bind then close.
  std::string dead_url;
  {
    httplib::Server s;
    int port = s.bind_to_any_port("127.0.0.1");
    dead_url = "http://127.0.0.1:" + std::to_string(port);
  }
  ih::test::TestHost host(withToml(exampleToml(dead_url)));
  auto tenant = host.createTenant("acme");
  auto res = host.client()->Post("/api/integrations/example/connect", bearer(tenant.api_key),
                                 json({{"api_key", kGoodKey}}).dump(), "application/json");
  REQUIRE(res);
  CHECK(res->status == 502);
  CHECK(parse(res)["error"]["code"] == "provider_unavailable");
  auto conn = host.app().store().getConnection(tenant.tenant_id, "example");
  REQUIRE(conn.isOk());
  CHECK_FALSE(conn->has_value());
}

TEST_CASE("API keys: missing, unknown, revoked and out-of-scope keys are refused", "[tenancy][api]") {
  ih::test::TestHost host;
  auto tenant = host.createTenant("acme");
  auto client = host.client();

  auto none = client->Get("/api/integrations");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(parse(none)["error"]["code"] == "unauthenticated");
  auto unknown = client->Get("/api/integrations", bearer("ihk_live_notarealkeyatallnotarealkeyatall00"));
  REQUIRE(unknown);
  CHECK(unknown->status == 401);
  CHECK(parse(unknown)["error"]["message"] == "unknown or revoked API key");
  auto not_bearer = client->Get("/api/integrations", {{"Authorization", "Basic abc"}});
  REQUIRE(not_bearer);
  CHECK(not_bearer->status == 401);

  auto read_only = host.app().tenancy().createKey(tenant.tenant_id, {"read"});
  REQUIRE(read_only.isOk());
  auto get = client->Get("/api/integrations", bearer(read_only->plaintext));
  REQUIRE(get);
  CHECK(get->status == 200);
  auto post =
      client->Post("/api/integrations/x/connect", bearer(read_only->plaintext), "{}", "application/json");
  REQUIRE(post);
  CHECK(post->status == 403);
  CHECK(parse(post)["error"]["code"] == "insufficient_scope");

  REQUIRE(host.app().tenancy().revokeKey(tenant.tenant_id, read_only->key.id).isOk());
  auto revoked = client->Get("/api/integrations", bearer(read_only->plaintext));
  REQUIRE(revoked);
  CHECK(revoked->status == 401);

  // Tenant keys never open the admin API, and the admin token is not a tenant key.
  auto admin_with_tenant_key = client->Get("/api/admin/tenants", bearer(tenant.api_key));
  REQUIRE(admin_with_tenant_key);
  CHECK(admin_with_tenant_key->status == 401);
  auto tenant_route_with_admin = client->Get("/api/integrations", bearer(host.adminToken()));
  REQUIRE(tenant_route_with_admin);
  CHECK(tenant_route_with_admin->status == 401);

  // Keys are stored only as a hash, and last use is recorded.
  auto keys = host.app().store().listApiKeys(tenant.tenant_id);
  REQUIRE(keys.isOk());
  for (const auto& k : *keys)
    CHECK(k.key_hash.find(tenant.api_key) == std::string::npos);
  host.stop();  // flushes the async last-used write
  auto store = ih::store::Store::open(ih::test::testStoreOptions(host.dbPath()));
  REQUIRE(store.isOk());
  auto after = (*store)->listApiKeys(tenant.tenant_id);
  REQUIRE(after.isOk());
  bool used = false;
  for (const auto& k : *after)
    if (k.last_used_at) used = true;
  CHECK(used);
}

TEST_CASE("the admin API creates tenants and keys, keys are shown once", "[tenancy][api][admin]") {
  ih::test::TestHost host;
  auto client = host.client();
  auto admin = bearer(host.adminToken());
  auto created = client->Post("/api/admin/tenants", admin, R"({"name":"globex"})", "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);
  std::string key = parse(created)["api_key"];
  std::string tenant_id = parse(created)["tenant"]["id"];
  CHECK_THAT(key, Catch::StartsWith("ihk_live_"));
  CHECK(client->Get("/api/whoami", bearer(key))->status == 200);

  auto dup = client->Post("/api/admin/tenants", admin, R"({"name":"globex"})", "application/json");
  REQUIRE(dup);
  CHECK(dup->status == 409);
  auto bad = client->Post("/api/admin/tenants", admin, R"({"name":"Bad Name!"})", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);

  auto second =
      client->Post("/api/admin/tenants/globex/keys", admin, R"({"scopes":["read"]})", "application/json");
  REQUIRE(second);
  REQUIRE(second->status == 201);
  std::string key_id = parse(second)["key"]["id"];
  auto keys = parse(client->Get("/api/admin/tenants/" + tenant_id + "/keys", admin))["data"];
  REQUIRE(keys.size() == 2);
  for (const auto& k : keys) {
    CHECK_FALSE(k.contains("api_key"));
    CHECK(k["prefix"].get<std::string>().size() < 20);
  }
  auto revoke = client->Delete("/api/admin/tenants/globex/keys/" + key_id, admin);
  REQUIRE(revoke);
  CHECK(revoke->status == 200);
  auto wrong = client->Get("/api/admin/tenants", bearer("iha_wrongwrongwrongwrongwrong"));
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
}

TEST_CASE("isolation: a tenant never sees or changes another tenant's connection",
          "[tenancy][api][isolation]") {
  FakeProvider provider;
  ih::test::TestHost host(withToml(exampleToml(provider.url())));
  auto a = host.createTenant("tenant-a");
  auto b = host.createTenant("tenant-b");
  auto client = host.client();
  REQUIRE(client
              ->Post("/api/integrations/example/connect", bearer(a.api_key),
                     json({{"api_key", kGoodKey}}).dump(), "application/json")
              ->status == 200);

  // B sees the integration as not connected, cannot test or disconnect A's connection, sees no audit.
  auto b_list = parse(client->Get("/api/integrations", bearer(b.api_key)))["data"];
  CHECK(b_list[0]["connected"] == false);
  CHECK(client->Get("/api/integrations/example", bearer(b.api_key))->body.find("acct_provider_1") ==
        std::string::npos);
  CHECK(client->Get("/api/integrations/example/test", bearer(b.api_key))->status == 409);
  CHECK(client->Delete("/api/integrations/example", bearer(b.api_key))->status == 409);
  CHECK(parse(client->Get("/api/audit", bearer(b.api_key)))["data"].empty());
  // B's key cannot administer A's keys either.
  CHECK(client->Get("/api/admin/tenants/" + a.tenant_id + "/keys", bearer(b.api_key))->status == 401);
  // Plugin calls run with B's tenant: the credentials of A are out of reach (the route answers for B).
  auto hello = parse(client->Get("/api/integrations/example/routes/hello", bearer(b.api_key)));
  CHECK(hello["message"].get<std::string>().find(b.tenant_id) != std::string::npos);

  // A is still connected.
  CHECK(parse(client->Get("/api/integrations/example/test", bearer(a.api_key)))["ok"] == true);
}

TEST_CASE("a known secret appears in no log, no response and not in the SQLite file", "[tenancy][secrets]") {
  FakeProvider provider;
  LogCapture logs;
  std::string db_path;
  {
    auto options = withToml(exampleToml(provider.url()));
    options.log_level = "debug";
    ih::test::TestHost host(options);
    db_path = host.dbPath();
    auto tenant = host.createTenant("acme");
    auto client = host.client();
    std::string responses;
    auto collect = [&](const httplib::Result& r) {
      REQUIRE(r);
      responses += r->body;
      for (const auto& [k, v] : r->headers)
        responses += k + v;
    };
    auto connect = client->Post("/api/integrations/example/connect", bearer(tenant.api_key),
                                json({{"api_key", kSecretMarker}}).dump(), "application/json");
    collect(connect);
    REQUIRE(connect->status == 200);
    collect(client->Get("/api/integrations", bearer(tenant.api_key)));
    collect(client->Get("/api/integrations/example", bearer(tenant.api_key)));
    collect(client->Get("/api/integrations/example/test", bearer(tenant.api_key)));
    collect(client->Get("/api/audit", bearer(tenant.api_key)));
    collect(client->Delete("/api/integrations/example", bearer(tenant.api_key)));
    CHECK(responses.find(kSecretMarker) == std::string::npos);
    CHECK(responses.find("SECRETVALUE") == std::string::npos);
  }
  CHECK(logs.text().find("SECRETVALUE") == std::string::npos);
  CHECK_FALSE(logs.text().empty());
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string bytes = ih::test::readFile(db_path + suffix);
    CHECK(bytes.find("SECRETVALUE") == std::string::npos);
  }
}

TEST_CASE("credentials are encrypted at rest and survive a restart", "[tenancy][vault]") {
  FakeProvider provider;
  ih::test::TestHost host(withToml(exampleToml(provider.url())));
  auto tenant = host.createTenant("acme");
  REQUIRE(host.client()
              ->Post("/api/integrations/example/connect", bearer(tenant.api_key),
                     json({{"api_key", kGoodKey}}).dump(), "application/json")
              ->status == 200);
  auto row = host.app().store().getSecret(tenant.tenant_id, "example", "credentials");
  REQUIRE(row.isOk());
  CHECK(row->ciphertext.find(kGoodKey) == std::string::npos);
  CHECK(row->nonce.size() == 12);
  host.restart();
  CHECK(parse(host.client()->Get("/api/integrations/example/test", bearer(tenant.api_key)))["ok"] == true);
}

TEST_CASE(
    "vault rotate re-encrypts every sealed item (credentials, endpoint secrets, canary) while the host "
    "keeps serving",
    "[tenancy][vault][cli]") {
  FakeProvider provider;
  ih::test::TestHost host(withToml(exampleToml(provider.url())));
  std::vector<ih::test::TestHost::TenantKey> tenants;
  for (int i = 0; i < 3; ++i) {
    tenants.push_back(host.createTenant("t" + std::to_string(i)));
    REQUIRE(host.client()
                ->Post("/api/integrations/example/connect", bearer(tenants.back().api_key),
                       json({{"api_key", kGoodKey}}).dump(), "application/json")
                ->status == 200);
  }
  // An outbound endpoint with a rotated signing secret: its current and previous secrets are both sealed.
  auto created = host.client()->Post("/api/endpoints", bearer(tenants[0].api_key),
                                     json({{"url", provider.url() + "/hook"}, {"event_types", {"*"}}}).dump(),
                                     "application/json");
  REQUIRE(created);
  INFO(created->body);
  REQUIRE(created->status == 201);
  const std::string endpoint_id = parse(created)["id"];
  REQUIRE(host.client()
              ->Post("/api/endpoints/" + endpoint_id + "/rotate_secret", bearer(tenants[0].api_key), "",
                     "application/json")
              ->status == 200);
  auto sealed_k1 = ih::app::countSealedByKey(host.app().store(), host.app().vault(), "k1");
  REQUIRE(sealed_k1.isOk());
  CHECK(*sealed_k1 == 3 + 2 + 1);  // credentials, endpoint secrets, canary

  // Before rotating, remove-key refuses: k1 still encrypts everything.
  std::ostringstream refused_out, refused_err;
  CHECK(ih::cli::run({"vault", "remove-key", "k1", "--config", host.configPath()}, refused_out,
                     refused_err) != 0);
  CHECK_THAT(refused_err.str(), Catch::Contains("still encrypts 6 sealed item(s)"));

  std::ostringstream out, err;
  int code = ih::cli::run({"vault", "rotate", "--config", host.configPath()}, out, err);
  INFO(out.str() << err.str());
  REQUIRE(code == 0);
  CHECK_THAT(out.str(),
             Catch::Contains("added key k2") && Catch::Contains("re-encrypted 6 sealed item(s) with key k2"));
  auto k1 = ih::app::countSealedByKey(host.app().store(), host.app().vault(), "k1");
  REQUIRE(k1.isOk());
  CHECK(*k1 == 0);
  std::ostringstream status_out, status_err;
  REQUIRE(ih::cli::run({"vault", "status", "--config", host.configPath()}, status_out, status_err) == 0);
  CHECK_THAT(
      status_out.str(),
      Catch::Contains("k2 (newest): 3 credentials and plugin secrets, 2 endpoint signing secrets, 1 vault "
                      "canary"));
  // The running host (which loaded only k1) reloads the ring and still decrypts.
  for (const auto& t : tenants) {
    CHECK(parse(host.client()->Get("/api/integrations/example/test", bearer(t.api_key)))["ok"] == true);
  }
  // The old key can now be removed; credentials keep working after a restart.
  std::ostringstream out2, err2;
  CHECK(ih::cli::run({"vault", "remove-key", "k1", "--config", host.configPath()}, out2, err2) == 0);
  host.restart();
  CHECK(parse(host.client()->Get("/api/integrations/example/test", bearer(tenants[0].api_key)))["ok"] ==
        true);
  // The endpoint's secrets open with k2 alone (they were "malformed" after a rotation before issue 14).
  ih::store::EndpointStore endpoint_store(host.app().store());
  auto row = endpoint_store.get(tenants[0].tenant_id, endpoint_id);
  REQUIRE(row.isOk());
  for (const std::string* stored : {&row->secret, &row->previous_secret}) {
    CHECK(stored->rfind("sealed:v1:k2:", 0) == 0);
    auto opened =
        ih::endpoints::openSigningSecret(host.app().vault(), tenants[0].tenant_id, endpoint_id, *stored);
    INFO(opened.status().message());
    REQUIRE(opened.isOk());
    CHECK(opened->rfind("whsec_", 0) == 0);
  }
}

TEST_CASE("a missing or wrong vault key refuses to start with a clear message", "[tenancy][vault]") {
  ih::test::TempDir dir;
  ih::test::writeFile(
      dir.path() / "ihost.toml",
      "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"db.sqlite\"\n[vault]\nkey_file = "
      "\"missing.keys\"\n[plugins]\ndir = \"" IH_PLUGIN_DIR "\"\n");
  auto cfg = ih::config::loadFile(dir.file("ihost.toml"), {});
  REQUIRE(cfg.isOk());
  auto app = ih::app::App::create(*cfg, {});
  REQUIRE_FALSE(app.isOk());
  CHECK_THAT(app.status().message(),
             Catch::Contains("no vault key ring") && Catch::Contains("ihost vault init"));

  // A key ring that is not the one this database was set up with: refuse to start, never fall back.
  ih::test::TestHost host;
  host.stop();
  std::filesystem::remove(host.dir().file("vault.keys"));
  REQUIRE(ih::vault::initKeyFile(host.dir().file("vault.keys")).isOk());
  auto cfg2 = ih::config::loadFile(host.configPath(), {});
  REQUIRE(cfg2.isOk());
  auto wrong = ih::app::App::create(*cfg2, {});
  REQUIRE_FALSE(wrong.isOk());
  CHECK(wrong.status().code() == ih::StatusCode::kFailedPrecondition);
  CHECK_THAT(wrong.status().message(), Catch::Contains("does not belong to this database") ||
                                           Catch::Contains("cannot decrypt this database"));
}

TEST_CASE("coming-soon providers from [coming_soon.<id>] are listed and cannot be used", "[tenancy][api]") {
  FakeProvider provider;
  ih::test::TestHost host(withToml(exampleToml(provider.url()) +
                                   "[coming_soon.paypal]\nname = \"PayPal\"\n"
                                   "description = \"Payouts to PayPal accounts\"\n"));
  auto tenant = host.createTenant("acme");
  auto client = host.client();
  auto auth = bearer(tenant.api_key);
  auto listed = parse(client->Get("/api/integrations", auth))["data"];
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["id"] == "example");
  CHECK(listed[1] == json({{"id", "paypal"},
                           {"name", "PayPal"},
                           {"description", "Payouts to PayPal accounts"},
                           {"plugin", nullptr},
                           {"connected", false},
                           {"status", "coming_soon"}}));
  auto connect =
      client->Post("/api/integrations/paypal/connect", auth, R"({"api_key":"x"})", "application/json");
  REQUIRE(connect);
  CHECK(connect->status == 404);
  CHECK(parse(connect)["error"]["code"] == "unknown_integration");
}
