// The access log through the real App on loopback: one line per answered request, the route pattern (never
// the raw path or query), the tenant once authenticated, the request id the client sees; off when configured.
#include <catch2/catch.hpp>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "log/log.h"
#include "support/test_host.h"
#include "support/webhook_test_signature.h"

using nlohmann::json;

namespace {

constexpr char kSecret[] = "whsec_access_log_test_secret";

ih::test::TestHostOptions options() {
  ih::test::TestHostOptions o;
  o.plugins_dir = std::string(IH_TEST_PLUGIN_DIR) + "/webhook_test";
  o.log_level = "info";
  o.extra_toml = std::string("[integrations.hooks]\nplugin = \"webhook_test\"\nwebhook_secret = \"") +
                 kSecret + "\"\ntolerance_s = 300\n";
  return o;
}

// Captures the access lines written while it lives.
class AccessLines {
 public:
  AccessLines() {
    ih::log::setSink([this](std::string_view line) {
      auto j = json::parse(line, nullptr, false);
      if (j.is_discarded() || j.value("msg", "") != "http request") return;
      std::lock_guard lock(mu_);
      lines_.push_back(std::move(j));
      raw_.append(line).append("\n");
    });
  }
  ~AccessLines() { ih::log::resetSink(); }
  std::vector<json> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  std::string raw() {
    std::lock_guard lock(mu_);
    return raw_;
  }
  json byRequestId(const std::string& id) {
    for (const auto& l : lines())
      if (l.value("request_id", "") == id) return l;
    return json();
  }

 private:
  std::mutex mu_;
  std::vector<json> lines_;
  std::string raw_;
};

}  // namespace

TEST_CASE("access log: one line per request with route pattern, status, tenant and request id",
          "[access_log]") {
  ih::test::TestHost host(options());
  auto tenant = host.createTenant("acme");
  AccessLines access;
  auto client = host.client();

  // An authenticated tenant call with ids in the path and a token-like value in the query.
  auto records =
      client->Get("/api/records/hooks/invoices/in_secret_id_123?token=sk_live_51HqLyjWDarjtT1zdp7dc4eC3",
                  {{"Authorization", "Bearer " + tenant.api_key}, {"X-Request-Id", "req-records-1"}});
  REQUIRE(records);
  CHECK(records->get_header_value("X-Request-Id") == "req-records-1");
  // Unauthenticated: no tenant.
  auto denied = client->Get("/api/whoami", {{"X-Request-Id", "req-denied-1"}});
  REQUIRE(denied);
  CHECK(denied->status == 401);
  // A webhook accepted for the tenant.
  const std::string body = R"({"id":"evt_access_1","type":"thing.happened"})";
  auto hook = client->Post(
      ("/webhooks/hooks/" + tenant.tenant_id).c_str(),
      {{"X-Test-Signature", ih::test::webhookTestSignature(kSecret, body, ih::test::unixSeconds())},
       {"X-Request-Id", "req-hook-1"}},
      body, "application/json");
  REQUIRE(hook);
  CHECK(hook->status == 200);
  // No route at all.
  auto missing = client->Get("/no/such/thing/abc", {{"X-Request-Id", "req-missing-1"}});
  REQUIRE(missing);

  json r = access.byRequestId("req-records-1");
  REQUIRE(r.is_object());
  CHECK(r["level"] == "info");
  CHECK(r["method"] == "GET");
  CHECK(r["route"] == "/api/records/{integration}/{model}/{id}");
  CHECK(r["status"] == records->status);
  CHECK(r["tenant"] == tenant.tenant_id);
  CHECK(r["bytes_in"] == 0);
  CHECK(r["bytes_out"] == records->body.size());
  CHECK(r["duration_ms"].is_number());
  CHECK(r["remote"] == "127.0.0.1");

  json d = access.byRequestId("req-denied-1");
  REQUIRE(d.is_object());
  CHECK(d["route"] == "/api/whoami");
  CHECK(d["status"] == 401);
  CHECK(d["tenant"].is_null());

  json h = access.byRequestId("req-hook-1");
  REQUIRE(h.is_object());
  CHECK(h["method"] == "POST");
  CHECK(h["route"] == "/webhooks/{integration}/{tenant}");
  CHECK(h["status"] == 200);
  CHECK(h["tenant"] == tenant.tenant_id);
  CHECK(h["bytes_in"] == body.size());

  json m = access.byRequestId("req-missing-1");
  REQUIRE(m.is_object());
  CHECK(m["route"] == "unmatched");
  CHECK(m["status"] == 404);

  // Neither the raw path's ids nor the query string, nor any key, reach the log.
  const std::string raw = access.raw();
  CHECK(raw.find("in_secret_id_123") == std::string::npos);
  CHECK(raw.find("sk_live_51HqLyjWDarjtT1zdp7dc4eC3") == std::string::npos);
  CHECK(raw.find("token=") == std::string::npos);
  CHECK(raw.find(tenant.api_key) == std::string::npos);
  CHECK(raw.find("/no/such/thing") == std::string::npos);
}

TEST_CASE("access log: [log] access = false writes none", "[access_log]") {
  auto o = options();
  o.env["IHOST_LOG__ACCESS"] = "false";
  ih::test::TestHost host(o);
  AccessLines access;
  auto healthz = host.client()->Get("/healthz");
  REQUIRE(healthz);
  CHECK(healthz->status == 200);
  CHECK(access.lines().empty());
}
