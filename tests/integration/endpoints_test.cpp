// Outbound webhooks end to end: tenant API, Standard Webhooks signatures checked by a real receiver on
// loopback, retries, attempt log, auto-disable, resend/recover, secret rotation, tenant isolation, and
// resuming durable deliveries after a restart.
#include <catch2/catch.hpp>

#include "support/temp_dir.h"

#include <algorithm>
#include <set>

#include "endpoints/signature.h"
#include "unit/endpoints/endpoints_harness.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using ih::test::EndpointsHost;
using ih::test::eventually;
using ih::test::Receiver;

bool signatureValid(const std::string& secret, const Receiver::Hit& hit) {
  return ih::endpoints::verify(secret, hit.id, std::stoll(hit.timestamp), hit.body, hit.signature);
}

TEST_CASE("endpoints API: create shows the secret once, CRUD, validation, tenant isolation", "[endpoints]") {
  EndpointsHost host;
  auto acme = host.tenant("acme");
  auto globex = host.tenant("globex");

  json created = host.call("POST", acme, "/api/endpoints",
                           {{"url", "https://app.example.com/hooks"},
                            {"event_types", {"invoice.", "customer.created"}},
                            {"description", "billing"}},
                           201);
  const std::string id = created["id"];
  const std::string secret = created["secret"];
  CHECK(id.rfind("ep_", 0) == 0);
  CHECK(secret.rfind("whsec_", 0) == 0);
  CHECK(ih::endpoints::secretKey(secret)->size() == 24);
  CHECK(created["event_types"] == json({"invoice.", "customer.created"}));
  CHECK(created["disabled"] == false);

  json got = host.call("GET", acme, "/api/endpoints/" + id);
  CHECK(got["url"] == "https://app.example.com/hooks");
  CHECK(got["description"] == "billing");
  const std::string masked = got["secret"];
  CHECK(masked != secret);
  CHECK(masked.rfind("whsec_****", 0) == 0);
  CHECK(host.call("GET", acme, "/api/endpoints")["data"].size() == 1);
  // The signing secret is stored sealed by the vault, never in plaintext.
  for (const char* suffix : {"", "-wal"}) {
    CHECK(ih::test::readFile(host.dir.file(std::string("ihost.db") + suffix)).find(secret.substr(6)) ==
          std::string::npos);
  }

  json patched = host.call("PATCH", acme, "/api/endpoints/" + id,
                           {{"url", "http://127.0.0.1:9/x"}, {"event_types", {"*"}}, {"disabled", true}});
  CHECK(patched["url"] == "http://127.0.0.1:9/x");
  CHECK(patched["event_types"] == json({"*"}));
  CHECK(patched["disabled"] == true);
  CHECK(patched["disabled_reason"] == "disabled by the tenant");

  SECTION("validation is explicit") {
    auto bad = [&](const json& body, const std::string& needle) {
      json error = host.call("POST", acme, "/api/endpoints", body, 400);
      INFO(error.dump());
      CHECK(error["error"]["message"].get<std::string>().find(needle) != std::string::npos);
    };
    bad({{"url", "ftp://x"}, {"event_types", {"*"}}}, "http:// or https://");
    bad({{"url", "https://"}, {"event_types", {"*"}}}, "no host");
    bad({{"url", "https://a b"}, {"event_types", {"*"}}}, "spaces");
    bad({{"url", "https://u:p@x.com"}, {"event_types", {"*"}}}, "credentials");
    bad({{"url", 5}, {"event_types", {"*"}}}, "url must be a string");
    bad({{"event_types", {"*"}}}, "url is required");
    bad({{"url", "https://x.com"}}, "event_types is required");
    bad({{"url", "https://x.com"}, {"event_types", json::array()}}, "non-empty array");
    bad({{"url", "https://x.com"}, {"event_types", {"in voice"}}}, "is invalid");
    bad({{"url", "https://x.com"}, {"event_types", {"*"}}, {"secret", "mine"}}, "unknown field \"secret\"");
    host.call("PATCH", acme, "/api/endpoints/" + id, {{"disabled", "yes"}}, 400);
    host.call("POST", acme, "/api/endpoints/" + id + "/recover", {{"since", "yesterday"}}, 400);
    host.call("GET", acme, "/api/endpoints/" + id + "/attempts?limit=0", nullptr, 400);
  }

  SECTION("another tenant's endpoint is 404 everywhere") {
    CHECK(host.call("GET", globex, "/api/endpoints")["data"].empty());
    host.call("GET", globex, "/api/endpoints/" + id, nullptr, 404);
    host.call("PATCH", globex, "/api/endpoints/" + id, {{"disabled", false}}, 404);
    host.call("POST", globex, "/api/endpoints/" + id + "/rotate_secret", nullptr, 404);
    host.call("GET", globex, "/api/endpoints/" + id + "/attempts", nullptr, 404);
    host.call("POST", globex, "/api/endpoints/" + id + "/recover", {{"since", "2024-01-01T00:00:00Z"}}, 404);
    const int64_t event = host.emit(acme, "invoice.paid");
    host.call("POST", globex, "/api/endpoints/" + id + "/messages/evt_" + std::to_string(event) + "/resend",
              nullptr, 404);
    host.call("DELETE", globex, "/api/endpoints/" + id, nullptr, 404);
    host.call("GET", acme, "/api/endpoints/" + id);
  }

  SECTION("delete") {
    host.call("DELETE", acme, "/api/endpoints/" + id, nullptr, 204);
    host.call("GET", acme, "/api/endpoints/" + id, nullptr, 404);
  }
}

TEST_CASE("deliveries are signed per Standard Webhooks and filtered by type", "[endpoints]") {
  EndpointsHost host;
  Receiver receiver;
  auto acme = host.tenant("acme");
  auto globex = host.tenant("globex");
  host.emit(acme, "invoice.paid", {{"before", true}});  // stored before the endpoint exists: not delivered

  json endpoint = host.createEndpoint(acme, receiver.url(), {"invoice."});
  const std::string secret = endpoint["secret"];
  host.emit(acme, "customer.created");  // filtered out
  host.emit(globex, "invoice.paid");    // another tenant
  const int64_t id = host.emit(acme, "invoice.paid", {{"amount", 42}});

  auto hits = receiver.waitFor(1);
  REQUIRE(hits.size() >= 1);
  std::this_thread::sleep_for(200ms);
  hits = receiver.hits();
  REQUIRE(hits.size() == 1);
  const auto& hit = hits[0];
  CHECK(hit.id == "evt_" + std::to_string(id));
  CHECK(hit.content_type == "application/json");
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  CHECK(std::abs(std::stoll(hit.timestamp) - now_s) < 10);
  CHECK(hit.signature.rfind("v1,", 0) == 0);
  CHECK(hit.signature.find(' ') == std::string::npos);
  CHECK(signatureValid(secret, hit));
  json body = json::parse(hit.body);
  CHECK(body["id"] == std::to_string(id));
  CHECK(body["type"] == "invoice.paid");
  CHECK(body["tenant"] == acme.id);
  CHECK(body["data"]["amount"] == 42);
  // The exact envelope the events API serves.
  json listed = host.call("GET", acme, "/api/events?type=invoice.paid");
  CHECK(listed["data"].back() == body);

  json attempts = host.call("GET", acme, "/api/endpoints/" + endpoint["id"].get<std::string>() + "/attempts");
  REQUIRE(attempts["data"].size() == 1);
  CHECK(attempts["data"][0]["status"] == 200);
  CHECK(attempts["data"][0]["succeeded"] == true);
  CHECK(attempts["data"][0]["event_id"] == hit.id);
}

TEST_CASE("a 500 is retried on the schedule until success, the attempt log pages and redacts",
          "[endpoints]") {
  EndpointsHost host;
  Receiver receiver;
  receiver.respond([](size_t n) { return n < 2 ? 500 : 200; });
  auto acme = host.tenant("acme");
  json endpoint = host.createEndpoint(acme, receiver.url());
  const std::string ep = endpoint["id"];
  const int64_t id = host.emit(acme, "invoice.paid");

  auto hits = receiver.waitFor(3);
  REQUIRE(hits.size() == 3);
  for (const auto& hit : hits) {
    CHECK(hit.id == "evt_" + std::to_string(id));  // stable across retries
    CHECK(signatureValid(endpoint["secret"], hit));
  }
  REQUIRE(eventually(
      [&] { return host.call("GET", acme, "/api/endpoints/" + ep + "/attempts")["data"].size() == 3; }));
  json page1 = host.call("GET", acme, "/api/endpoints/" + ep + "/attempts?limit=2");
  REQUIRE(page1["data"].size() == 2);
  CHECK(page1["has_more"] == true);
  CHECK(page1["data"][0]["status"] == 200);
  CHECK(page1["data"][0]["attempt"] == 3);
  CHECK(page1["data"][1]["status"] == 500);
  const std::string snippet = page1["data"][1]["response"];
  CHECK(snippet.find("sk_test_abcdefghijklmnop1234") == std::string::npos);
  CHECK(snippet.find("sk_test_****") != std::string::npos);
  json page2 = host.call(
      "GET", acme,
      "/api/endpoints/" + ep + "/attempts?limit=2&cursor=" + page1["next_cursor"].get<std::string>());
  REQUIRE(page2["data"].size() == 1);
  CHECK(page2["data"][0]["attempt"] == 1);
  CHECK(page2["has_more"] == false);
  CHECK(host.call("GET", acme, "/api/endpoints/" + ep)["disabled"] == false);
}

TEST_CASE("an unreachable endpoint is logged with the transport error", "[endpoints]") {
  auto options = ih::test::fastEndpointOptions();
  options.retry_schedule = {};
  EndpointsHost host(options);
  auto acme = host.tenant("acme");
  json endpoint = host.createEndpoint(acme, "http://127.0.0.1:1/closed");
  host.emit(acme, "invoice.paid");
  json attempts;
  REQUIRE(eventually([&] {
    attempts = host.call("GET", acme, "/api/endpoints/" + endpoint["id"].get<std::string>() + "/attempts");
    return attempts["data"].size() == 1;
  }));
  CHECK(attempts["data"][0]["status"].is_null());
  CHECK_FALSE(attempts["data"][0]["error"].get<std::string>().empty());
}

TEST_CASE("persistent failure disables the endpoint and emits endpoint.disabled", "[endpoints]") {
  auto options = ih::test::fastEndpointOptions();
  options.retry_schedule = {10ms, 10ms};
  options.disable_after_failed_events = 2;
  EndpointsHost host(options);
  Receiver failing;
  failing.respond([](size_t) { return 503; });
  Receiver watcher;  // another endpoint of the tenant sees the operational event
  auto acme = host.tenant("acme");
  json endpoint = host.createEndpoint(acme, failing.url(), {"invoice."});
  json other = host.createEndpoint(acme, watcher.url(), {"endpoint."});
  const std::string ep = endpoint["id"];
  host.emit(acme, "invoice.paid");
  host.emit(acme, "invoice.paid");

  REQUIRE(eventually([&] { return host.call("GET", acme, "/api/endpoints/" + ep)["disabled"] == true; }));
  json got = host.call("GET", acme, "/api/endpoints/" + ep);
  CHECK(got["disabled_reason"].get<std::string>().find("2 consecutive events") != std::string::npos);
  CHECK(failing.hits().size() == 6);  // 2 events × 3 attempts

  auto seen = watcher.waitFor(1);
  REQUIRE(seen.size() == 1);
  json disabled = json::parse(seen[0].body);
  CHECK(disabled["type"] == "endpoint.disabled");
  CHECK(disabled["integration"].is_null());
  CHECK(disabled["data"]["endpoint_id"] == ep);
  CHECK(signatureValid(other["secret"], seen[0]));

  // Disabled: new events are not delivered; re-enabling resumes with fresh counters.
  host.emit(acme, "invoice.paid");
  std::this_thread::sleep_for(200ms);
  CHECK(failing.hits().size() == 6);
  failing.respond([](size_t) { return 200; });
  host.call("PATCH", acme, "/api/endpoints/" + ep, {{"disabled", false}});
  const int64_t after = host.emit(acme, "invoice.paid");
  auto hits = failing.waitFor(7);
  REQUIRE(hits.size() == 7);
  CHECK(hits.back().id == "evt_" + std::to_string(after));
}

TEST_CASE("resend and recover re-deliver failed messages", "[endpoints]") {
  auto options = ih::test::fastEndpointOptions();
  options.retry_schedule = {};  // one attempt, then failed
  EndpointsHost host(options);
  Receiver receiver;
  receiver.respond([](size_t) { return 500; });
  auto acme = host.tenant("acme");
  auto globex = host.tenant("globex");
  json endpoint = host.createEndpoint(acme, receiver.url());
  const std::string ep = endpoint["id"];
  const int64_t first = host.emit(acme, "invoice.paid");
  const int64_t second = host.emit(acme, "invoice.created");
  REQUIRE(receiver.waitFor(2).size() == 2);
  REQUIRE(eventually([&] {
    auto rows = host.endpoints->endpointStore().listDeliveries(acme.id, ep);
    return rows.isOk() && rows->size() == 2 && (*rows)[0].status == "failed" && (*rows)[1].status == "failed";
  }));

  receiver.respond([](size_t) { return 200; });
  json resent =
      host.call("POST", acme, "/api/endpoints/" + ep + "/messages/evt_" + std::to_string(first) + "/resend",
                nullptr, 202);
  CHECK(resent["event_id"] == "evt_" + std::to_string(first));
  auto hits = receiver.waitFor(3);
  REQUIRE(hits.size() == 3);
  CHECK(hits[2].id == "evt_" + std::to_string(first));
  CHECK(signatureValid(endpoint["secret"], hits[2]));

  const int64_t globex_event = host.emit(globex, "invoice.paid");
  host.call("POST", acme, "/api/endpoints/" + ep + "/messages/" + std::to_string(globex_event) + "/resend",
            nullptr, 404);
  host.call("POST", acme, "/api/endpoints/" + ep + "/messages/abc/resend", nullptr, 400);

  // Recover: both original deliveries failed; one time filter in the future finds none.
  CHECK(host.call("POST", acme, "/api/endpoints/" + ep + "/recover", {{"since", "2999-01-01T00:00:00Z"}},
                  202)["requeued"] == 0);
  json recovered = host.call("POST", acme, "/api/endpoints/" + ep + "/recover",
                             {{"since", "2020-01-01T00:00:00.000+02:00"}}, 202);
  CHECK(recovered["requeued"] == 2);
  hits = receiver.waitFor(5);
  REQUIRE(hits.size() == 5);
  std::set<std::string> ids = {hits[3].id, hits[4].id};
  CHECK(ids == std::set<std::string>{"evt_" + std::to_string(first), "evt_" + std::to_string(second)});

  host.call("PATCH", acme, "/api/endpoints/" + ep, {{"disabled", true}});
  host.call("POST", acme, "/api/endpoints/" + ep + "/recover", {{"since", "2020-01-01T00:00:00Z"}}, 409);
  host.call("POST", acme, "/api/endpoints/" + ep + "/messages/" + std::to_string(first) + "/resend", nullptr,
            409);
}

TEST_CASE("rotate_secret: new secret once, both signatures during the overlap", "[endpoints]") {
  EndpointsHost host;
  Receiver receiver;
  auto acme = host.tenant("acme");
  json endpoint = host.createEndpoint(acme, receiver.url());
  const std::string ep = endpoint["id"];
  const std::string old_secret = endpoint["secret"];
  json rotated = host.call("POST", acme, "/api/endpoints/" + ep + "/rotate_secret");
  const std::string new_secret = rotated["secret"];
  CHECK(new_secret != old_secret);
  CHECK(new_secret.rfind("whsec_", 0) == 0);
  CHECK(rotated.contains("previous_secret_expires_at"));
  CHECK(host.call("GET", acme, "/api/endpoints/" + ep)["secret"] != new_secret);

  host.emit(acme, "invoice.paid");
  auto hits = receiver.waitFor(1);
  REQUIRE(hits.size() == 1);
  CHECK(std::count(hits[0].signature.begin(), hits[0].signature.end(), ' ') == 1);
  CHECK(signatureValid(new_secret, hits[0]));
  CHECK(signatureValid(old_secret, hits[0]));
}

TEST_CASE("a restart resumes pending and claimed deliveries and events stored while stopped", "[endpoints]") {
  auto idle = ih::test::fastEndpointOptions();
  idle.workers = 0;  // fan-out only: deliveries stay pending
  EndpointsHost host(idle);
  Receiver receiver;
  auto acme = host.tenant("acme");
  json endpoint = host.createEndpoint(acme, receiver.url());
  const std::string ep = endpoint["id"];
  const int64_t a = host.emit(acme, "invoice.paid");
  const int64_t b = host.emit(acme, "invoice.paid");
  auto& store = host.endpoints->endpointStore();
  REQUIRE(eventually([&] {
    auto rows = store.listDeliveries(acme.id, ep);
    return rows.isOk() && rows->size() == 2;
  }));
  // A worker claimed one and "died" mid-delivery (as after SIGKILL): it stays `sending`.
  auto claimed = store.claimDue(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count());
  REQUIRE(claimed.isOk());
  REQUIRE(claimed->has_value());
  host.endpoints->stop();
  const int64_t c = host.emit(acme, "invoice.paid");  // nobody fans out now: the cursor picks it up later
  CHECK(store.listDeliveries(acme.id, ep)->size() == 2);

  host.startEndpoints(ih::test::fastEndpointOptions());
  auto hits = receiver.waitFor(3);
  REQUIRE(hits.size() == 3);
  std::set<std::string> ids;
  for (const auto& hit : hits)
    ids.insert(hit.id);
  CHECK(ids == std::set<std::string>{"evt_" + std::to_string(a), "evt_" + std::to_string(b),
                                     "evt_" + std::to_string(c)});
  REQUIRE(eventually([&] {
    auto rows = store.listDeliveries(acme.id, ep);
    if (!rows.isOk() || rows->size() != 3) return false;
    for (const auto& row : *rows)
      if (row.status != "succeeded") return false;
    return true;
  }));
}

TEST_CASE("retention prunes finished deliveries and attempts, never pending ones", "[endpoints]") {
  EndpointsHost host;
  Receiver receiver;
  auto acme = host.tenant("acme");
  const std::string delivered = host.createEndpoint(acme, receiver.url())["id"];
  const std::string dead_end = host.createEndpoint(acme, "http://127.0.0.1:9/unreachable")["id"];
  host.emit(acme, "invoice.paid");
  REQUIRE(receiver.waitFor(1).size() == 1);
  auto& store = host.endpoints->endpointStore();
  REQUIRE(eventually([&] {
    auto rows = store.listDeliveries(acme.id, delivered);
    return rows.isOk() && rows->size() == 1 && (*rows)[0].status == "succeeded";
  }));
  host.endpoints->stop();
  // The unreachable endpoint's delivery is still being retried: pending, with failed attempts.
  auto retrying = store.listDeliveries(acme.id, dead_end);
  REQUIRE(retrying.isOk());
  REQUIRE(retrying->size() == 1);
  CHECK((*retrying)[0].status == "pending");

  const int64_t future = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() +
                         1000;
  CHECK(*store.purgeFinishedBefore(0) == 0);  // nothing that old
  auto pruned = store.purgeFinishedBefore(future);
  REQUIRE(pruned.isOk());
  CHECK(*pruned >= 2);  // the succeeded delivery and every attempt
  CHECK(store.listDeliveries(acme.id, delivered)->empty());
  CHECK(store.listAttempts(acme.id, delivered, 0, 10)->empty());
  auto kept = store.listDeliveries(acme.id, dead_end);
  REQUIRE(kept->size() == 1);
  CHECK((*kept)[0].status == "pending");
}

}  // namespace
