// Events through the real HTTP API: polling, and Server-Sent Events over a loopback socket (backlog, live
// latency, Last-Event-ID reconnects without loss or duplicates, tenant isolation, keep-alive, prompt stop);
// on PostgreSQL also two replicas on one database, each stream seeing both replicas' events.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "events/events.h"
#include "http/server.h"
#include "store/store.h"
#include "support/temp_dir.h"
#include "support/test_store.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct EventsHost {
  ih::test::TempDir dir;
  std::unique_ptr<ih::store::Store> store;
  std::unique_ptr<ih::vault::Vault> vault;
  std::unique_ptr<ih::tenancy::Tenancy> tenancy;
  std::unique_ptr<ih::events::Events> events;
  std::unique_ptr<ih::http::Server> server;

  // `primary`: another EventsHost whose database and key ring this one shares, as a second replica
  // (PostgreSQL lane).
  explicit EventsHost(ih::events::Options options = testOptions(), const EventsHost* primary = nullptr) {
    auto opened = ih::store::Store::open(ih::test::testStoreOptions(primary ? primary->dbPath() : dbPath()));
    REQUIRE(opened.isOk());
    store = std::move(opened).value();
    if (primary) {
      vault = std::make_unique<ih::vault::Vault>(primary->vault->keyRing()->clone());
    } else {
      auto ring = ih::vault::KeyRing::generate();
      REQUIRE(ring.isOk());
      vault = std::make_unique<ih::vault::Vault>(std::move(ring).value());
    }
    tenancy = std::make_unique<ih::tenancy::Tenancy>(*store, *vault, "");
    events = std::make_unique<ih::events::Events>(*store, options);
    ih::http::ServerOptions server_options;
    server_options.port = 0;
    server_options.worker_threads = 24;
    server = std::make_unique<ih::http::Server>(server_options);
    ih::events::registerRoutes(*server, *tenancy, *events);
    REQUIRE(server->start().isOk());
  }
  std::string dbPath() const { return dir.file("ihost.db"); }
  ~EventsHost() {
    events->stop();  // wakes every stream, so the server can join its workers
    server->stop();
  }
  static ih::events::Options testOptions() {
    ih::events::Options o;
    o.keepalive_interval = 200ms;
    o.max_streams = 20;
    o.max_streams_per_tenant = 16;
    return o;
  }
  std::pair<std::string, std::string> tenant(const std::string& name) {
    auto created = tenancy->createTenant(name);
    REQUIRE(created.isOk());
    return {created->tenant.id, created->first_key.plaintext};
  }
  void emit(const std::string& tenant_id, const std::string& type, const json& data = json::object()) {
    REQUIRE(events->emit(tenant_id, "stripe", type, data.dump()).isOk());
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

struct Frame {
  int64_t id = 0;
  std::string type;
  json envelope;
};

// Reads an SSE response on a background thread; complete frames are parsed on demand.
class SseClient {
 public:
  SseClient(int port, const std::string& key, const std::string& path, const std::string& last_event_id = "")
      : client_("127.0.0.1", port) {
    client_.set_read_timeout(20, 0);
    httplib::Headers headers{{"Authorization", "Bearer " + key}};
    if (!last_event_id.empty()) headers.emplace("Last-Event-ID", last_event_id);
    thread_ = std::thread([this, path, headers] {
      client_.Get(
          path.c_str(), headers,
          [this](const httplib::Response& r) {
            std::lock_guard lock(mutex_);
            status_ = r.status;
            content_type_ = r.get_header_value("Content-Type");
            return true;
          },
          [this](const char* data, size_t len) {
            std::lock_guard lock(mutex_);
            buffer_.append(data, len);
            cv_.notify_all();
            return !closing_.load();
          });
      std::lock_guard lock(mutex_);
      finished_ = true;
      cv_.notify_all();
    });
  }
  ~SseClient() { close(); }

  void close() {
    closing_ = true;
    client_.stop();
    if (thread_.joinable()) thread_.join();
  }
  // Waits until `pred(buffer)` holds; false on timeout.
  bool waitFor(const std::function<bool(const std::string&)>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(buffer_); });
  }
  bool waitForFrames(size_t n, std::chrono::milliseconds timeout = 5s) {
    return waitFor([n](const std::string& b) { return parse(b).size() >= n; }, timeout);
  }
  bool waitFinished(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return finished_; });
  }
  std::vector<Frame> frames() {
    std::lock_guard lock(mutex_);
    return parse(buffer_);
  }
  std::string buffer() {
    std::lock_guard lock(mutex_);
    return buffer_;
  }
  int status() {
    std::lock_guard lock(mutex_);
    return status_;
  }
  std::string contentType() {
    std::lock_guard lock(mutex_);
    return content_type_;
  }

  // Complete event frames (terminated by a blank line); comments and retry lines are skipped.
  static std::vector<Frame> parse(const std::string& buffer) {
    std::vector<Frame> out;
    size_t pos = 0;
    for (size_t end; (end = buffer.find("\n\n", pos)) != std::string::npos; pos = end + 2) {
      Frame f;
      bool has_data = false;
      size_t line_start = pos;
      while (line_start < end) {
        size_t line_end = buffer.find('\n', line_start);
        if (line_end == std::string::npos || line_end > end) line_end = end;
        std::string line = buffer.substr(line_start, line_end - line_start);
        if (line.rfind("id: ", 0) == 0) f.id = std::stoll(line.substr(4));
        if (line.rfind("event: ", 0) == 0) f.type = line.substr(7);
        if (line.rfind("data: ", 0) == 0) {
          f.envelope = json::parse(line.substr(6));
          has_data = true;
        }
        line_start = line_end + 1;
      }
      if (has_data) out.push_back(std::move(f));
    }
    return out;
  }

 private:
  httplib::Client client_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string buffer_;        // GUARDED_BY(mutex_)
  int status_ = 0;            // GUARDED_BY(mutex_)
  std::string content_type_;  // GUARDED_BY(mutex_)
  bool finished_ = false;     // GUARDED_BY(mutex_)
  std::atomic<bool> closing_{false};
};

std::vector<int64_t> ids(const std::vector<Frame>& frames) {
  std::vector<int64_t> out;
  for (const auto& f : frames)
    out.push_back(f.id);
  return out;
}

}  // namespace

TEST_CASE("events API: polling with after, limit and a type prefix", "[events]") {
  EventsHost host;
  auto [a, key_a] = host.tenant("acme");
  auto [b, key_b] = host.tenant("globex");
  host.emit(a, "invoice.created", {{"id", "in_1"}});
  host.emit(a, "customer.updated");
  host.emit(b, "invoice.created");
  host.emit(a, "invoice.paid", {{"id", "in_1"}});

  json all = host.get(key_a, "/api/events");
  REQUIRE(all["data"].size() == 3);
  CHECK(all["has_more"] == false);
  json first = all["data"][0];
  CHECK(first["type"] == "invoice.created");
  CHECK(first["tenant"] == a);
  CHECK(first["integration"] == "stripe");
  CHECK(first["data"] == json{{"id", "in_1"}});
  CHECK(first["id"].is_string());
  CHECK(all["next_after"] == all["data"][2]["id"]);

  json invoices = host.get(key_a, "/api/events?type=invoice.&limit=1");
  REQUIRE(invoices["data"].size() == 1);
  CHECK(invoices["has_more"] == true);
  json next = host.get(key_a, "/api/events?type=invoice.&after=" + invoices["next_after"].get<std::string>());
  REQUIRE(next["data"].size() == 1);
  CHECK(next["data"][0]["type"] == "invoice.paid");
  CHECK(next["has_more"] == false);

  json theirs = host.get(key_b, "/api/events");
  REQUIRE(theirs["data"].size() == 1);
  CHECK(theirs["data"][0]["tenant"] == b);
  host.get(key_a, "/api/events?after=x", 400);
  host.get(key_a, "/api/events?limit=501", 400);
  host.get("ihk_live_nope", "/api/events", 401);
}

TEST_CASE("SSE: backlog, then live within 100 ms, keep-alive, tenant isolation", "[events]") {
  EventsHost host;
  auto [a, key_a] = host.tenant("acme");
  auto [b, key_b] = host.tenant("globex");
  host.emit(a, "invoice.created");
  host.emit(a, "customer.updated");
  host.emit(b, "invoice.created");

  SseClient stream_a(host.server->port(), key_a, "/api/events/stream?after=0");
  SseClient stream_b(host.server->port(), key_b, "/api/events/stream?after=0");
  SseClient invoices_a(host.server->port(), key_a, "/api/events/stream?after=0&type=invoice.");
  REQUIRE(stream_a.waitForFrames(2));
  REQUIRE(stream_b.waitForFrames(1));
  REQUIRE(invoices_a.waitForFrames(1));
  CHECK(stream_a.status() == 200);
  CHECK(stream_a.contentType().find("text/event-stream") == 0);
  auto backlog = stream_a.frames();
  CHECK(backlog[0].type == "invoice.created");
  CHECK(backlog[0].envelope["id"] == std::to_string(backlog[0].id));
  CHECK(backlog[1].type == "customer.updated");

  const auto started = std::chrono::steady_clock::now();
  host.emit(a, "invoice.paid", {{"amount", 5}});
  REQUIRE(stream_a.waitForFrames(3, 2s));
  const auto latency = std::chrono::steady_clock::now() - started;
  CHECK(latency < 100ms);
  auto live = stream_a.frames()[2];
  CHECK(live.type == "invoice.paid");
  CHECK(live.envelope["data"]["amount"] == 5);
  REQUIRE(invoices_a.waitForFrames(2));
  CHECK(invoices_a.frames()[1].type == "invoice.paid");

  // Keep-alive comments arrive on an idle stream (200 ms in this test, 15 s by default).
  REQUIRE(stream_b.waitFor(
      [](const std::string& b) { return b.find(": keep-alive\n\n") != std::string::npos; }, 2s));
  // B never sees A's events.
  for (const auto& f : stream_b.frames())
    CHECK(f.envelope["tenant"] == b);
  CHECK(stream_b.frames().size() == 1);
  for (const auto& f : invoices_a.frames())
    CHECK(f.type.rfind("invoice.", 0) == 0);

  // Stop ends every stream promptly, even mid-wait.
  const auto stopping = std::chrono::steady_clock::now();
  host.events->stop();
  CHECK(stream_a.waitFinished(2s));
  CHECK(stream_b.waitFinished(2s));
  CHECK(std::chrono::steady_clock::now() - stopping < 1s);
}

TEST_CASE("SSE: without a cursor only new events, bad cursor is 400", "[events]") {
  EventsHost host;
  auto [a, key_a] = host.tenant("acme");
  host.emit(a, "old.event");
  SseClient stream(host.server->port(), key_a, "/api/events/stream");
  REQUIRE(
      stream.waitFor([](const std::string& b) { return b.find(": stream open") != std::string::npos; }, 2s));
  host.emit(a, "new.event");
  REQUIRE(stream.waitForFrames(1));
  CHECK(stream.frames()[0].type == "new.event");
  CHECK(stream.frames().size() == 1);

  SseClient bad(host.server->port(), key_a, "/api/events/stream", "abc");
  REQUIRE(bad.waitFinished(2s));
  CHECK(bad.status() == 400);
}

TEST_CASE("SSE: reconnecting with Last-Event-ID loses and duplicates nothing", "[events]") {
  auto options = EventsHost::testOptions();
  options.keepalive_interval = 20ms;  // dropped connections are noticed (and their workers freed) quickly
  EventsHost host(options);
  auto [a, key_a] = host.tenant("acme");
  auto [b, key_b] = host.tenant("globex");

  // Emit steadily (for both tenants) while the client connects, reads a little, drops and reconnects.
  constexpr int kEvents = 300;
  std::atomic<bool> emitting{true};
  std::thread emitter([&, tenant_a = a, tenant_b = b] {
    for (int i = 0; i < kEvents; ++i) {
      REQUIRE(host.events->emit(tenant_a, "stripe", "n.tick", "{\"n\":" + std::to_string(i) + "}").isOk());
      if (i % 3 == 0) REQUIRE(host.events->emit(tenant_b, "stripe", "n.tick", "{}").isOk());
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    emitting = false;
  });

  std::vector<Frame> received;
  std::string last = "0";
  int connections = 0;
  while (received.size() < static_cast<size_t>(kEvents) && connections < 200) {
    ++connections;
    SseClient stream(host.server->port(), key_a, "/api/events/stream?after=0", last);
    stream.waitFor([](const std::string&) { return false; }, std::chrono::milliseconds(5 + connections % 20));
    stream.close();
    auto frames = stream.frames();
    for (auto& f : frames)
      received.push_back(std::move(f));
    if (!received.empty()) last = std::to_string(received.back().id);
    if (!emitting && frames.empty() && received.size() < static_cast<size_t>(kEvents)) {
      std::this_thread::sleep_for(10ms);
    }
  }
  emitter.join();
  INFO("connections: " << connections);
  CHECK(connections > 3);
  REQUIRE(received.size() == static_cast<size_t>(kEvents));
  for (size_t i = 0; i < received.size(); ++i) {
    CHECK(received[i].envelope["tenant"] == a);
    CHECK(received[i].envelope["data"]["n"] == static_cast<int>(i));
    if (i) CHECK(received[i - 1].id < received[i].id);
  }
  // The same ids the polling API lists, in the same order.
  auto polled = host.events->list(a, 0, "", 1000);
  REQUIRE(polled.isOk());
  std::vector<int64_t> expected;
  for (const auto& e : *polled)
    expected.push_back(e.id);
  CHECK(ids(received) == expected);
}

TEST_CASE("SSE on replicas: a stream on either replica gets both replicas' events in id order, once",
          "[.][postgres]") {
  EventsHost a;
  EventsHost b(EventsHost::testOptions(), &a);  // a second ihost process: the same database and key ring
  auto [tenant, key] = a.tenant("acme");
  SseClient on_a(a.server->port(), key, "/api/events/stream?after=0");
  SseClient on_b(b.server->port(), key, "/api/events/stream?after=0");  // the key was made on replica a
  constexpr int kPerReplica = 40;
  std::thread writer_a([&, tenant = tenant] {
    for (int i = 0; i < kPerReplica; ++i)
      a.emit(tenant, "replica.a", {{"i", i}});
  });
  std::thread writer_b([&, tenant = tenant] {
    for (int i = 0; i < kPerReplica; ++i)
      b.emit(tenant, "replica.b", {{"i", i}});
  });
  writer_a.join();
  writer_b.join();
  for (SseClient* stream : {&on_a, &on_b}) {
    const bool complete = stream->waitForFrames(2 * kPerReplica, 10s);
    INFO((stream == &on_a ? "stream on a: " : "stream on b: ") << stream->frames().size() << " frames");
    REQUIRE(complete);
    const std::vector<int64_t> seen = ids(stream->frames());
    CHECK(seen.size() == 2 * kPerReplica);            // nothing duplicated
    CHECK(std::is_sorted(seen.begin(), seen.end()));  // id order
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
  }
  // Resuming on the other replica from the middle: the rest, no gap, no repeat.
  const std::vector<Frame> all = on_a.frames();
  const int64_t middle = all[kPerReplica - 1].id;
  SseClient resumed(b.server->port(), key, "/api/events/stream", std::to_string(middle));
  REQUIRE(resumed.waitForFrames(kPerReplica, 10s));
  const std::vector<Frame> rest = resumed.frames();
  REQUIRE(rest.size() == static_cast<size_t>(kPerReplica));
  CHECK(rest.front().id > middle);
  CHECK(rest.back().id == all.back().id);
}
