// Connection starvation (issue 14, item 6) against the real host: many half-sent requests from two loopback
// addresses hold the connection caps (scaled down through the environment, as an operator would), and still
// /healthz, /readyz and /metrics answer, a new client gets a 503 JSON with Retry-After, a further connection
// from an attacking address gets the per-address 503, and every slow-header connection is cut at
// header_timeout_ms although it keeps trickling bytes. Then the host serves normally again.
//
// 127.0.0.2 and 127.0.0.3 are the attackers: Linux routes all of 127.0.0.0/8 to the loopback interface, so
// a socket bound to one of them before connect() is another client address.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/test_host.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMaxConnections = 64;
constexpr int kPerAddress = 32;
constexpr auto kHeaderTimeout = 4000ms;

int connectFrom(int port, const char* source) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  return fd;
}

// Reads until `needle` arrived, the peer closed, or 5 s passed.
std::string readUntil(int fd, const std::string& needle) {
  std::string got;
  const auto deadline = Clock::now() + 5s;
  char buf[4096];
  while (got.find(needle) == std::string::npos && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// Slow-header clients: each sends a request line, then one more header line every 100 ms, and never finishes
// its head. A background thread keeps them trickling and notes when the server closes each one.
class Slowloris {
 public:
  Slowloris(int port, const char* source, int count) {
    for (int i = 0; i < count; ++i) {
      Conn c;
      c.fd = connectFrom(port, source);
      c.opened = Clock::now();
      const std::string line = "GET /api/events HTTP/1.1\r\nHost: victim\r\n";
      REQUIRE(::send(c.fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size()));
      conns_.push_back(c);
    }
    thread_ = std::thread([this] { trickle(); });
  }
  ~Slowloris() {
    stop_ = true;
    thread_.join();
    for (auto& c : conns_)
      ::close(c.fd);
  }

  // True when every connection was closed by the server within `timeout` (from now).
  bool waitAllClosed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mu_);
        bool all = true;
        for (const auto& c : conns_)
          all = all && c.closed;
        if (all) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  struct Conn {
    int fd = -1;
    Clock::time_point opened;
    Clock::time_point closed_at;
    bool closed = false;
    int lines_sent = 0;
    bool answered = false;  // the server wrote something (it must not: there is no complete request)
  };
  std::vector<Conn> snapshot() {
    std::lock_guard lock(mu_);
    return conns_;
  }

 private:
  void trickle() {
    int n = 0;
    while (!stop_) {
      {
        std::lock_guard lock(mu_);
        for (auto& c : conns_) {
          if (c.closed) continue;
          pollfd p{c.fd, POLLIN, 0};
          if (::poll(&p, 1, 0) > 0) {
            char buf[512];
            const ssize_t got = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
            if (got > 0) c.answered = true;
            if (got <= 0 || (p.revents & (POLLHUP | POLLERR))) {
              c.closed = true;
              c.closed_at = Clock::now();
              continue;
            }
          }
          const std::string line = "X-Slow-" + std::to_string(n) + ": a\r\n";
          if (::send(c.fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
            ++c.lines_sent;
          }
        }
      }
      ++n;
      std::this_thread::sleep_for(100ms);
    }
  }

  std::mutex mu_;
  std::vector<Conn> conns_;  // GUARDED_BY(mu_)
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A gauge or counter value from the real /metrics text; -1 when the series is absent.
double metricValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  const size_t start = at + series.size() + 2;
  return std::strtod(text.c_str() + start, nullptr);
}

}  // namespace

TEST_CASE(
    "half-sent requests holding every connection cap starve neither health probes nor the error answers",
    "[limits]") {
  ih::test::TestHostOptions options;
  options.env["IHOST_SERVER__MAX_CONNECTIONS"] = std::to_string(kMaxConnections);
  options.env["IHOST_SERVER__MAX_CONNECTIONS_PER_IP"] = std::to_string(kPerAddress);
  options.env["IHOST_SERVER__HEADER_TIMEOUT_MS"] = std::to_string(kHeaderTimeout.count());
  ih::test::TestHost host(options);
  auto tenant = host.createTenant("acme");
  const int port = host.port();
  auto client = host.client();
  auto metrics = [&] {
    auto r = client->Get("/metrics");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return r->body;
  };
  auto openConnections = [&] { return metricValue(metrics(), "ihost_http_connections_open"); };

  // The attack: two addresses, each up to its per-address cap; together they hold the global cap.
  const auto attack_started = Clock::now();
  Slowloris first(port, "127.0.0.2", kPerAddress);
  Slowloris second(port, "127.0.0.3", kPerAddress);
  // Every one of them counted: the server accepts in connect() order, so the /metrics probe that follows is
  // over the cap and answered from the reserve (it counts itself there).
  bool attack_in_place = false;
  for (int i = 0; i < 200 && !attack_in_place; ++i) {
    const std::string text = metrics();
    attack_in_place = metricValue(text, "ihost_http_connections_open") == kMaxConnections + 1 &&
                      metricValue(text, "ihost_http_reserve_connections_open") == 1;
    if (!attack_in_place) std::this_thread::sleep_for(10ms);
  }
  REQUIRE(attack_in_place);
  INFO("setup took "
       << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - attack_started).count()
       << " ms of the " << kHeaderTimeout.count() << " ms header timeout");

  // Health probes still answer.
  auto health = client->Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(health->body == R"({"status":"ok"})");
  auto ready = client->Get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);

  // A new client is told, with a JSON error and Retry-After, instead of being dropped.
  auto refused = client->Get("/api/events", ih::test::bearer(tenant.api_key));
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->get_header_value("Retry-After") == "2");
  CHECK(refused->get_header_value("Content-Type") == "application/json");
  CHECK(refused->body.find(R"({"error":{"code":"overloaded","message":")") == 0);
  CHECK(refused->body.find("max_connections") != std::string::npos);

  // One more connection from an attacking address: the per-address 503.
  int extra = connectFrom(port, "127.0.0.2");
  const std::string get = "GET /api/events HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(::send(extra, get.data(), get.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(get.size()));
  const std::string per_address = readUntil(extra, "}}");
  ::close(extra);
  CHECK(per_address.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
  CHECK(per_address.find(R"({"error":{"code":"too_many_connections","message":")") != std::string::npos);
  CHECK(per_address.find("max_connections_per_ip") != std::string::npos);

  const std::string during = metrics();
  CHECK(metricValue(during, R"(ihost_http_connections_refused_total{reason="max_connections"})") >= 4);
  CHECK(metricValue(during, R"(ihost_http_connections_refused_total{reason="max_connections_per_ip"})") >= 1);

  // Every slow-header connection is cut at the header deadline, although it was still sending.
  REQUIRE(first.waitAllClosed(kHeaderTimeout + 10s));
  REQUIRE(second.waitAllClosed(5s));
  for (auto* attacker : {&first, &second}) {
    for (const auto& c : attacker->snapshot()) {
      const auto held = c.closed_at - c.opened;
      CHECK(held >= kHeaderTimeout - 50ms);
      CHECK(held < kHeaderTimeout + 10s);
      CHECK(c.lines_sent >= 10);  // it trickled for the whole time
      CHECK_FALSE(c.answered);
    }
  }
  CHECK(metricValue(metrics(), R"(ihost_http_read_timeouts_total{phase="header"})") >= 2 * kPerAddress);

  // The host serves normally again.
  auto normal = client->Get("/api/events", ih::test::bearer(tenant.api_key));
  REQUIRE(normal);
  CHECK(normal->status == 200);
  CHECK(openConnections() <= 2);
}
