// The standard_webhooks plugin (a second provider family, written against sdk/ alone) end to end: deliveries
// signed by the public `standardwebhooks` npm package (tests/js/sign-standard-webhook.js) are verified by the
// real plugin .so in a real host, stored, deduplicated, mapped to records and emitted as events. Needs node and
// `npm ci --prefix tests/js` (scripts/setup.sh); the test fails without them.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/eventually.h"
#include "support/run_command.h"
#include "support/test_host.h"

namespace {

using ih::test::eventually;
using nlohmann::json;

// 24 random-looking bytes, base64: what a provider shows as the endpoint's signing secret.
constexpr char kSecret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr char kOtherSecret[] = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The webhook-signature value the npm package computes for this delivery.
std::string npmSignature(const ih::test::TestHost& host, const std::string& secret, const std::string& id,
                         int64_t timestamp, const std::string& body) {
  const std::string file = host.dir().file("body-" + id + ".json");
  std::ofstream(file, std::ios::binary) << body;
  const std::string cmd = "node " IH_SOURCE_DIR "/tests/js/sign-standard-webhook.js '" + secret + "' '" + id +
                          "' " + std::to_string(timestamp) + " '" + file + "' 2>&1";
  const ih::test::CommandResult run = ih::test::runCommand(cmd);
  const std::string& out = run.out;
  INFO("node said: " << out << " (run npm ci --prefix tests/js; see scripts/setup.sh)");
  REQUIRE(run.rc == 0);
  REQUIRE(out.rfind("v1,", 0) == 0);
  return out;
}

struct Env {
  ih::test::TestHost host{[] {
    ih::test::TestHostOptions o;
    o.extra_toml =
        "[integrations.acme_hooks]\nplugin = \"standard_webhooks\"\nevent_prefix = \"acme.\"\n"
        "models = [{type_prefix = \"invoice.\", model = \"invoice\", id = \"data.id\", delete_suffix = "
        "\".deleted\"}]\n";
    return o;
  }()};
  ih::test::TestHost::TenantKey tenant = host.createTenant("acme");

  httplib::Result deliver(const std::string& tenant_id, const std::string& id, int64_t timestamp,
                          const std::string& body, const std::string& signature,
                          const std::string& prefix = "webhook-") {
    return host.client()->Post(("/webhooks/acme_hooks/" + tenant_id).c_str(),
                               {{prefix + "id", id},
                                {prefix + "timestamp", std::to_string(timestamp)},
                                {prefix + "signature", signature}},
                               body, "application/json");
  }
  json get(const std::string& path) {
    auto res = host.client()->Get(path.c_str(), ih::test::bearer(tenant.api_key));
    REQUIRE(res);
    return json::parse(res->body, nullptr, false);
  }
};

}  // namespace

TEST_CASE(
    "standard_webhooks: deliveries signed by the standardwebhooks npm package become records and events",
    "[standard_webhooks][js]") {
  Env env;
  auto client = env.host.client();
  auto connect = [&](const std::string& secret) {
    auto res = client->Post("/api/integrations/acme_hooks/connect", ih::test::bearer(env.tenant.api_key),
                            json({{"signing_secret", secret}}).dump(), "application/json");
    REQUIRE(res);
    return res->status;
  };
  const std::string body =
      R"({"type":"invoice.paid","timestamp":"2026-12-03T10:00:00Z","data":{"id":"inv_42","amount":1200}})";
  const int64_t t = now();

  // Before connecting, nothing is accepted for the tenant.
  auto early =
      env.deliver(env.tenant.tenant_id, "msg_0", t, body, npmSignature(env.host, kSecret, "msg_0", t, body));
  REQUIRE(early);
  CHECK(early->status == 404);

  CHECK(connect("whsec_not base64!") == 400);
  CHECK(connect("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == 400);  // the whsec_ prefix is part of the form
  CHECK(connect("whsec_c2hvcnQ=") == 400);                    // 5 bytes: too short to be a real secret
  REQUIRE(connect(kSecret) == 200);

  const std::string signature = npmSignature(env.host, kSecret, "msg_1", t, body);
  auto accepted = env.deliver(env.tenant.tenant_id, "msg_1", t, body, signature);
  REQUIRE(accepted);
  INFO(accepted->body);
  CHECK(accepted->status == 200);
  CHECK(json::parse(accepted->body)["duplicate"] == false);
  // The same message again (a provider retry): deduplicated by webhook-id.
  auto again = env.deliver(env.tenant.tenant_id, "msg_1", t, body, signature);
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(json::parse(again->body)["duplicate"] == true);

  REQUIRE(eventually(
      [&] { return env.get("/api/records/acme_hooks/invoice/inv_42").value("id", "") == "inv_42"; }));
  const json record = env.get("/api/records/acme_hooks/invoice/inv_42");
  CHECK(record["data"]["amount"] == 1200);
  CHECK(record["updated_at"] == t);
  REQUIRE(eventually([&] {
    const json events = env.get("/api/events?type=acme.");  // a named value: the loop must not outlive it
    for (const json& e : events["data"])
      if (e["type"] == "acme.invoice.paid") return true;
    return false;
  }));

  // What the npm package signs for another secret, a tampered body, a stale timestamp: refused, nothing stored.
  auto wrong = env.deliver(env.tenant.tenant_id, "msg_2", t, body,
                           npmSignature(env.host, kOtherSecret, "msg_2", t, body));
  REQUIRE(wrong);
  CHECK(wrong->status == 400);
  CHECK(json::parse(wrong->body)["error"]["code"] == "invalid_signature");
  const std::string tampered = R"({"type":"invoice.paid","data":{"id":"inv_42","amount":1}})";
  auto forged = env.deliver(env.tenant.tenant_id, "msg_3", t, tampered,
                            npmSignature(env.host, kSecret, "msg_3", t, body));
  REQUIRE(forged);
  CHECK(forged->status == 400);
  const int64_t old = t - 600;
  auto stale = env.deliver(env.tenant.tenant_id, "msg_4", old, body,
                           npmSignature(env.host, kSecret, "msg_4", old, body));
  REQUIRE(stale);
  CHECK(stale->status == 400);

  // During a rotation a provider sends several signatures; one that matches is enough. Svix-style headers too.
  const std::string deleted = R"({"type":"invoice.deleted","data":{"id":"inv_42"}})";
  const std::string both = npmSignature(env.host, kOtherSecret, "msg_5", t + 1, deleted) + " " +
                           npmSignature(env.host, kSecret, "msg_5", t + 1, deleted);
  auto rotated = env.deliver(env.tenant.tenant_id, "msg_5", t + 1, deleted, both, "svix-");
  REQUIRE(rotated);
  INFO(rotated->body);
  CHECK(rotated->status == 200);
  REQUIRE(
      eventually([&] { return env.get("/api/records/acme_hooks/invoice/inv_42").value("deleted", false); }));

  // Another tenant's URL with this tenant's signature: that tenant never connected.
  auto other = env.host.createTenant("globex");
  auto cross =
      env.deliver(other.tenant_id, "msg_6", t, body, npmSignature(env.host, kSecret, "msg_6", t, body));
  REQUIRE(cross);
  CHECK(cross->status == 404);
}
