// Test harness for outbound webhooks (shared by tests/integration/endpoints_*.cpp and tests/js): a real
// store, tenancy, events and Endpoints behind a real HTTP server on loopback, and a real httplib receiver.
#pragma once

#include <httplib.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "endpoints/endpoints.h"
#include "events/events.h"
#include "http/server.h"
#include "outbound/client.h"
#include "store/endpoint_store.h"
#include "store/store.h"
#include "support/eventually.h"
#include "support/temp_dir.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace ih::test {

// A webhook receiver on a free loopback port. `respond(n)` chooses the status of the n-th request (0-based).
class Receiver {
 public:
  struct Hit {
    std::string id, timestamp, signature, content_type, body;
  };

  Receiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      int status = 200;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        hits_.push_back({req.get_header_value("webhook-id"), req.get_header_value("webhook-timestamp"),
                         req.get_header_value("webhook-signature"), req.get_header_value("Content-Type"),
                         req.body});
        status = respond_(hits_.size() - 1);
      }
      res.status = status;
      // A secret-shaped token in the answer checks that the attempt log redacts.
      res.set_content(status < 300 ? "ok" : "boom sk_test_abcdefghijklmnop1234", "text/plain");
      cv_.notify_all();
    });
    server_.set_keep_alive_max_count(1);  // no idle keep-alive to wait for at teardown
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }

  void respond(std::function<int(size_t)> fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    respond_ = std::move(fn);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  // Waits until at least `n` requests arrived; returns them all.
  std::vector<Hit> waitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return hits_.size() >= n; });
    return hits_;
  }
  std::vector<Hit> hits() {
    std::lock_guard<std::mutex> lock(mutex_);
    return hits_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Hit> hits_;                                            // GUARDED_BY(mutex_)
  std::function<int(size_t)> respond_ = [](size_t) { return 200; };  // GUARDED_BY(mutex_)
};

inline endpoints::Options fastEndpointOptions() {
  endpoints::Options o;
  o.retry_schedule = {std::chrono::milliseconds(30), std::chrono::milliseconds(30),
                      std::chrono::milliseconds(30)};
  o.jitter = 0;
  o.poll_interval = std::chrono::milliseconds(20);
  o.request_timeout = std::chrono::milliseconds(3000);
  o.workers = 2;
  o.disable_after_failed_events = 0;
  return o;
}

struct EndpointsHost {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<vault::Vault> vault;
  std::unique_ptr<tenancy::Tenancy> tenancy;
  std::unique_ptr<events::Events> events;
  std::unique_ptr<outbound::Client> client;
  std::unique_ptr<endpoints::Endpoints> endpoints;
  std::unique_ptr<http::Server> server;

  explicit EndpointsHost(endpoints::Options options = fastEndpointOptions()) {
    store::Options store_options;
    store_options.path = dir.file("ihost.db");
    auto opened = store::Store::open(store_options);
    REQUIRE(opened.isOk());
    store = std::move(opened).value();
    auto ring = vault::KeyRing::generate();
    REQUIRE(ring.isOk());
    vault = std::make_unique<vault::Vault>(std::move(ring).value());
    tenancy = std::make_unique<tenancy::Tenancy>(*store, *vault, "");
    events = std::make_unique<events::Events>(*store);
    outbound::ClientOptions
        client_options;  // the receivers listen on loopback: allowed, as an operator would
    client_options.network = outbound::NetworkPolicy::make({"127.0.0.0/8"}).value();
    client = std::make_unique<outbound::Client>(client_options);
    startEndpoints(options);
    http::ServerOptions server_options;
    server_options.port = 0;
    server = std::make_unique<http::Server>(server_options);
    endpoints::registerRoutes(*server, *tenancy, *endpoints);
    events::registerRoutes(*server, *tenancy, *events);
    REQUIRE(server->start().isOk());
  }
  ~EndpointsHost() {
    events->stop();
    server->stop();
    if (endpoints) endpoints->stop();
  }

  // Replaces the Endpoints object (simulates a restart of the delivery side; routes keep the old reference,
  // so only use the store / endpoints directly afterwards).
  void startEndpoints(endpoints::Options options) {
    if (endpoints) endpoints->stop();
    retired.push_back(std::move(endpoints));
    endpoints = std::make_unique<endpoints::Endpoints>(*store, *events, *client, *vault, options);
    REQUIRE(endpoints->start().isOk());
  }
  std::vector<std::unique_ptr<endpoints::Endpoints>> retired;  // routes may still point at them

  struct Tenant {
    std::string id, key;
  };
  Tenant tenant(const std::string& name) {
    auto created = tenancy->createTenant(name);
    REQUIRE(created.isOk());
    return {created->tenant.id, created->first_key.plaintext};
  }

  int64_t emit(const Tenant& t, const std::string& type,
               const nlohmann::json& data = nlohmann::json::object()) {
    REQUIRE(events->emit(t.id, "stripe", type, data.dump()).isOk());
    auto last = events->lastId(t.id);
    REQUIRE(last.isOk());
    return *last;
  }

  // Calls the API; REQUIREs `expect` and returns the parsed body (null for an empty one).
  nlohmann::json call(const std::string& method, const Tenant& t, const std::string& path,
                      const nlohmann::json& body = nullptr, int expect = 200) {
    httplib::Client c("127.0.0.1", server->port());
    httplib::Headers headers = {{"Authorization", "Bearer " + t.key}};
    const std::string text = body.is_null() ? std::string() : body.dump();
    httplib::Result res = method == "GET"     ? c.Get(path.c_str(), headers)
                          : method == "POST"  ? c.Post(path.c_str(), headers, text, "application/json")
                          : method == "PATCH" ? c.Patch(path.c_str(), headers, text, "application/json")
                                              : c.Delete(path.c_str(), headers);
    REQUIRE(res);
    INFO(method << " " << path << " -> " << res->status << " " << res->body);
    REQUIRE(res->status == expect);
    if (res->body.empty()) return nullptr;
    return nlohmann::json::parse(res->body);
  }

  nlohmann::json createEndpoint(const Tenant& t, const std::string& url,
                                const nlohmann::json& types = nlohmann::json::array({"*"})) {
    return call("POST", t, "/api/endpoints", {{"url", url}, {"event_types", types}}, 201);
  }
};

}  // namespace ih::test
