// Hostile webhook senders (/webhooks/{integration}[/{tenant}]) and hostile readers of the webhook API
// (/api/webhooks…, /api/admin/webhooks…): nothing unsigned, too deep or not UTF-8 is stored, and one tenant
// never reads or replays another's events.
#include "hostile_env.h"

#include "stripe_double/stripe_double.h"
#include "ih/hmac.hpp"
#include "support/webhook_test_signature.h"

namespace ih::hostile {
namespace {

std::string hookEvent(const std::string& id) {
  return json{{"id", id}, {"type", "test.created"}}.dump();
}

int64_t inboxRows(Env& env) {
  return env.count("SELECT count(*) FROM webhook_events");
}

}  // namespace

TEST_CASE(
    "intake: unknown or disabled integration unknown tenant wrong kind of endpoint are 404 - nothing stored",
    "[hostile][webhooks]") {
  Env env;
  const std::string body = hookEvent("evt_404");
  const Headers sig = {{"X-Test-Signature", Env::hooksSignature(body)}};
  const auto before = env.rowCounts();
  CHECK_ERROR(env.post("/webhooks/nope/" + env.a.id, sig, body), 404, "unknown_integration");
  CHECK_ERROR(env.post("/webhooks/off/" + env.a.id, sig, body), 404, "unknown_integration");
  CHECK_ERROR(env.post("/webhooks/nope", sig, body), 404, "unknown_integration");
  CHECK_ERROR(env.post("/webhooks/hooks/ten_doesnotexist", sig, body), 404, "unknown_tenant");
  CHECK_ERROR(env.post("/webhooks/hooks/" + std::string(5000, 't'), sig, body), 404, "unknown_tenant");
  CHECK_ERROR(env.post("/webhooks/stripe", sig, body), 404, "not_found");  // BYOK has no platform endpoint
  CHECK_ERROR(env.post("/webhooks/echo/" + env.a.id, sig, body), 404, "not_found");  // no webhooks at all
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE(
    "intake: missing forged stale absurd or 40 KB signatures are 400 invalid_signature - nothing stored",
    "[hostile][webhooks]") {
  Env env;
  const std::string body = hookEvent("evt_forged");
  const int64_t now = unixSeconds();
  const auto before = env.rowCounts();
  for (const Headers& h : std::vector<Headers>{
           {},
           {{"X-Test-Signature", test::webhookTestSignature("whsec_wrong", body)}},
           {{"X-Test-Signature", Env::hooksSignature(body, now - 3600)}},
           {{"X-Test-Signature", Env::hooksSignature(body, now + 3600)}},
           {{"X-Test-Signature", "t=99999999999999999999,v1=00"}},
           {{"X-Test-Signature", "t=-1,v1=" + std::string(64, '0')}},
           {{"X-Test-Signature", "t=" + std::to_string(now) + ",v1=" + std::string(40000, 'a')}},
           {{"X-Test-Signature", Env::hooksSignature(body + " ")}}}) {
    INFO((h.empty() ? std::string("(none)") : h[0].second.substr(0, 60)));
    CHECK_ERROR(env.post("/webhooks/hooks/" + env.a.id, h, body), 400, "invalid_signature");
  }
  // A Stripe BYOK tenant's endpoint: Stripe-Signature over another payload, or for another tenant's secret.
  const std::string event =
      json{{"id", "evt_byok_forged"}, {"type", "invoice.paid"}, {"created", now}}.dump();
  env.connectStripe(env.b);
  const auto after_connect = env.rowCounts();
  CHECK_ERROR(env.post("/webhooks/stripe/" + env.b.id,
                       {{"Stripe-Signature",
                         stripe_double::StripeDouble::signatureHeader("whsec_other", now, event)}},
                       event),
              400, "invalid_signature");
  CHECK_ERROR(
      env.post("/webhooks/stripe/" + env.a.id,  // A never connected: no secret to check against
               {{"Stripe-Signature", stripe_double::StripeDouble::signatureHeader(kStripeWhsec, now, event)}},
               event),
      400, "invalid_signature");
  CHECK(env.rowCounts() == after_connect);
  CHECK(after_connect.at("webhook_events") == before.at("webhook_events"));
  CHECK(env.healthy());
}

TEST_CASE(
    "intake: 1 MB of nested arrays correctly signed is 400 invalid_payload naming the depth - nothing stored",
    "[hostile][webhooks]") {
  Env env;
  env.connectStripe(env.a);
  const auto before = env.rowCounts();
  const int64_t now = unixSeconds();
  // A BYOK tenant picks its own signing secret, so it can sign anything to its own endpoint.
  const std::string deep_stripe =
      "{\"id\":\"evt_deep\",\"type\":\"invoice.paid\",\"created\":1,\"data\":{\"object\":" +
      deepArrays(500000) + "}}";
  Answer r = env.post(
      "/webhooks/stripe/" + env.a.id,
      {{"Stripe-Signature", stripe_double::StripeDouble::signatureHeader(kStripeWhsec, now, deep_stripe)}},
      deep_stripe);
  CHECK_ERROR(r, 400, "invalid_payload");
  CHECK(r.body_json["error"]["message"].get<std::string>().find("64") != std::string::npos);
  const std::string deep_hook = "{\"id\":\"evt_deep2\",\"type\":\"t\",\"x\":" + deepArrays(100) + "}";
  CHECK_ERROR(env.post("/webhooks/hooks/" + env.a.id, {{"X-Test-Signature", Env::hooksSignature(deep_hook)}},
                       deep_hook),
              400, "invalid_payload");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("intake: invalid UTF-8 in the query (issue 14 item 9) a header or the path is 400 never 500",
          "[hostile][webhooks]") {
  Env env;
  const std::string body = hookEvent("evt_utf8");
  const Headers sig = {{"X-Test-Signature", Env::hooksSignature(body)}};
  const auto before = env.rowCounts();
  for (const std::string& target :
       {"/webhooks/hooks/" + env.a.id + "?x=%FF", "/webhooks/hooks/" + env.a.id + "?%C0%AF=1",
        std::string("/webhooks/hooks?x=%ED%A0%80")}) {
    INFO(target);
    CHECK_ERROR(env.post(target, sig, body), 400, "invalid_request");
  }
  Headers bad_header = sig;
  bad_header.emplace_back("X-Provider-Note", "caf\xe9 \xff");
  Answer header = env.post("/webhooks/hooks/" + env.a.id, bad_header, body);
  CHECK_ERROR(header, 400, "invalid_request");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("intake: a body over the limit is 413 and nothing is stored - a 40 KB header still verifies",
          "[hostile][webhooks]") {
  Env env;
  const auto before = env.rowCounts();
  const std::string big = json{{"id", "evt_big"}, {"type", "t"}, {"pad", std::string(2 << 20, 'p')}}.dump();
  CHECK_ERROR(env.post("/webhooks/hooks/" + env.a.id, {{"X-Test-Signature", Env::hooksSignature(big)}}, big),
              413, "payload_too_large");
  CHECK(env.rowCounts() == before);
  // Absurd but honest: a signed delivery with a 40 KB extra header is accepted and stored exactly once.
  const std::string body = hookEvent("evt_header_40k");
  Answer ok = env.post(
      "/webhooks/hooks/" + env.a.id,
      {{"X-Test-Signature", Env::hooksSignature(body)}, {"X-Padding", std::string(40000, 'h')}}, body);
  CHECK(ok.status == 200);
  CHECK(inboxRows(env) == before.at("webhook_events") + 1);
  CHECK(env.healthy());
}

TEST_CASE("webhooks API: another tenant's event is 404 on detail and replay - its status is unchanged",
          "[hostile][webhooks]") {
  Env env;
  const int64_t id = env.storeHookEvent(env.b, "evt_globex_1");
  REQUIRE(eventually([&] {
    return env.get("/api/webhooks/" + std::to_string(id), env.b.auth()).body_json.value("status", "") ==
           "processed";
  }));
  const auto before = env.rowCounts();
  CHECK_ERROR(env.get("/api/webhooks/" + std::to_string(id), env.a.auth()), 404, "not_found");
  CHECK_ERROR(env.post("/api/webhooks/" + std::to_string(id) + "/replay", env.a.auth(), ""), 404,
              "not_found");
  for (const std::string& bad :
       {std::string("99999999999999999999"), std::string("-1"), std::string("abc"), std::string("1e3")}) {
    CHECK_ERROR(env.get("/api/webhooks/" + bad, env.a.auth()), 404, "not_found");
    CHECK_ERROR(env.post("/api/webhooks/" + bad + "/replay", env.a.auth(), ""), 404, "not_found");
  }
  CHECK(env.get("/api/webhooks", env.a.auth()).body_json["data"].empty());
  CHECK(env.get("/api/webhooks/" + std::to_string(id), env.b.auth()).body_json.value("status", "") ==
        "processed");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

TEST_CASE("webhooks API: limit cursor since and status out of range are 400 naming the parameter",
          "[hostile][webhooks]") {
  Env env;
  env.storeHookEvent(env.a, "evt_list_1");
  for (const auto& auth : {env.a.auth(), env.admin()}) {
    const std::string base = auth == env.admin() ? "/api/admin/webhooks" : "/api/webhooks";
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, std::string>>{{"limit", "0"},
                                                          {"limit", "-5"},
                                                          {"limit", "501"},
                                                          {"limit", "abc"},
                                                          {"limit", "99999999999999999999"},
                                                          {"cursor", "abc"},
                                                          {"cursor", "-1"},
                                                          {"cursor", "99999999999999999999"},
                                                          {"since", "abc"},
                                                          {"since", "-1"},
                                                          {"since", "1.5"},
                                                          {"status", "bogus"},
                                                          {"status", ""}}) {
      INFO(base << "?" << name << "=" << value);
      Answer r = env.get(base + "?" + name + "=" + value, auth);
      CHECK_ERROR(r, 400, "invalid_request");
      CHECK(r.body_json["error"]["message"].get<std::string>().find(name) != std::string::npos);
    }
  }
  CHECK(env.healthy());
}

TEST_CASE(
    "admin webhooks: routes for an unknown integration unknown tenants or bad bodies are refused - nothing "
    "stored",
    "[hostile][webhooks][admin]") {
  Env env;
  const auto before = env.rowCounts();
  const std::string ok_body = json{{"tenant", env.a.id}}.dump();
  CHECK_ERROR(env.send("PUT", "/api/admin/webhooks/routes/nope/acct_1", env.admin(), ok_body), 404,
              "unknown_integration");
  CHECK_ERROR(env.send("DELETE", "/api/admin/webhooks/routes/nope/acct_1", env.admin()), 404,
              "unknown_integration");
  CHECK_ERROR(env.send("PUT", "/api/admin/webhooks/routes/hooks/acct_1", env.admin(), deepObjectBody(500000)),
              400, "invalid_json");
  CHECK_ERROR(env.send("PUT", "/api/admin/webhooks/routes/hooks/acct_1", env.admin(), R"({"tenant":42})"),
              400, "invalid_request");
  CHECK_ERROR(
      env.send("PUT", "/api/admin/webhooks/routes/hooks/acct_1", env.admin(), R"({"tenant":"ten_nobody"})"),
      400, "invalid_request");
  CHECK_ERROR(
      env.send("PUT", "/api/admin/webhooks/routes/hooks/" + std::string(300, 'a'), env.admin(), ok_body), 400,
      "invalid_request");
  CHECK_ERROR(
      env.send("PUT", "/api/admin/webhooks/routes/hooks/acct_1", env.admin(), "{\"tenant\":\"\xff\"}"), 400,
      "invalid_json");
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

}  // namespace ih::hostile

namespace ih::hostile {

// The example plugin is the template third parties copy; its config-level secret is shared by every tenant,
// so its signature covers the tenant in the URL, and a tenant that never connected gets nothing stored.
TEST_CASE("intake: the example plugin refuses a delivery replayed to another tenant and unconnected tenants",
          "[hostile][webhooks]") {
  Env env;
  env.connectExample(env.a);
  const std::string body =
      json{{"id", "evt_example_1"}, {"type", "item.updated"}, {"data", {{"id", "it_1"}, {"updated_at", 1}}}}.dump();
  const std::string ts = std::to_string(unixSeconds());
  const auto signedFor = [&](const std::string& tenant) {
    return Headers{{"X-Example-Timestamp", ts},
                   {"X-Example-Signature", "v1=" + sdk::hmacSha256Hex(kExampleSecret, ts + "." + tenant + "." + body)}};
  };
  const auto before = env.rowCounts();
  // Signed for A, sent to B's URL (the forgery of issue 14 item 8): the signature does not match.
  CHECK_ERROR(env.post("/webhooks/example/" + env.b.id, signedFor(env.a.id), body), 400, "invalid_signature");
  // Correctly signed for B, but B never connected the example integration.
  CHECK_ERROR(env.post("/webhooks/example/" + env.b.id, signedFor(env.b.id), body), 404, "not_connected");
  CHECK(env.rowCounts() == before);
  // A's own delivery is accepted.
  Answer accepted = env.post("/webhooks/example/" + env.a.id, signedFor(env.a.id), body);
  CHECK(accepted.status == 200);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
