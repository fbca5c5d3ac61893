// The server's defences against slow and greedy clients, over real loopback sockets: the header deadline
// (separate from the keep-alive idle wait, not extended by a trickle), the per-address and global connection
// caps with their 503 JSON answers, the reserve that keeps /healthz answerable, and application-held stream
// channels and completions that outlive the server without touching freed memory.
//
// Several client addresses come from 127.0.0.0/8: Linux routes all of it to the loopback interface, so a
// socket bound to 127.0.0.2 before connect() is a second client address.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "metrics/metrics.h"
#include "support/eventually.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ih::http::Request;
using ih::http::Response;

namespace {

struct Started {
  explicit Started(ih::http::ServerOptions options) {
    options.port = 0;
    server = std::make_unique<ih::http::Server>(options);
  }
  void start() { REQUIRE(server->start().isOk()); }
  std::unique_ptr<ih::http::Server> server;
};

// A client socket from `source` (a 127.x.y.z address) to the server.
class Client {
 public:
  Client(int port, const char* source = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // False when the peer is gone.
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until `needle` arrived, the peer closed or `timeout` passed; returns what was read.
  std::string readUntil(const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    return readFrom(0, needle, timeout);
  }
  // The same, counting only what arrived from byte `from` on.
  std::string readFrom(size_t from, const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (got_.find(needle, from) == std::string::npos && !closed_) {
      if (!poll(deadline)) break;
    }
    return got_;
  }
  // Reads until the peer closes (EOF or reset) or `timeout` passes; true when it closed.
  bool waitClosed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!closed_) {
      if (!poll(deadline)) break;
    }
    return closed_;
  }
  bool closed() const { return closed_; }
  const std::string& received() const { return got_; }

 private:
  // One wait for readability (until `deadline`) and one read. False on timeout.
  bool poll(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
    } else {
      got_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  int fd_ = -1;
  std::string got_;
  bool closed_ = false;
};

uint64_t counterValue(const char* name, const char* label, const char* value) {
  return ih::metrics::registry().counter(name, "", {{label, value}}).value();
}

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
}

// Connections are admitted and forgotten on network threads: wait until the server counts `n`.
bool waitForConnections(const ih::http::Server& server, size_t n) {
  for (int i = 0; i < 1000; ++i) {
    if (server.connectionCount() == n) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

void addRoutes(ih::http::Server& server) {
  server.route("GET", "/work", [](const Request&, Response& res) { res.json(200, R"({"worked":true})"); });
}

}  // namespace

TEST_CASE(
    "a request head must arrive within header_timeout_ms whatever trickles, and idle keep-alive waits longer",
    "[http][limits]") {
  ih::http::ServerOptions options;
  options.header_timeout_ms = 500;
  options.idle_timeout_ms = 10000;
  Started s(options);
  addRoutes(*s.server);
  s.start();
  const uint64_t header_timeouts = counterValue("ihost_http_read_timeouts_total", "phase", "header");

  // Silent after connecting: closed at the header deadline, not the 10 s idle timeout.
  Client silent(s.server->port());
  auto opened = Clock::now();
  REQUIRE(silent.waitClosed(8s));
  CHECK(Clock::now() - opened >= 480ms);
  CHECK(silent.received().empty());

  // A slowloris trickle (one header line every 50 ms) is closed at the same deadline: bytes do not extend it.
  Client trickle(s.server->port());
  opened = Clock::now();
  REQUIRE(trickle.send("GET /work HTTP/1.1\r\n"));
  int lines = 0;
  while (!trickle.closed() && Clock::now() - opened < 8s) {
    if (!trickle.send("X-Slow-" + std::to_string(lines++) + ": a\r\n")) break;
    trickle.waitClosed(50ms);
  }
  const auto held = Clock::now() - opened;
  INFO("header lines sent: " << lines);
  CHECK(trickle.waitClosed(1s));
  CHECK(held >= 480ms);
  CHECK(held < 8s);
  CHECK(lines >= 3);  // it really was trickling when it was cut off
  CHECK(trickle.received().empty());
  // The server counts a timeout as it closes the connection: the client may see the close first.
  CHECK(ih::test::eventually([&] {
    return counterValue("ihost_http_read_timeouts_total", "phase", "header") >= header_timeouts + 2;
  }));

  // A keep-alive connection may stay idle longer than the header timeout between requests.
  Client keep(s.server->port());
  REQUIRE(keep.send(get("/work")));
  REQUIRE(keep.readUntil("{\"worked\":true}").find("HTTP/1.1 200 OK") == 0);
  std::this_thread::sleep_for(1200ms);
  const size_t first_answer = keep.received().size();
  REQUIRE(keep.send(get("/work")));
  const std::string both = keep.readFrom(first_answer, "{\"worked\":true}");
  CHECK(both.find("HTTP/1.1 200 OK", first_answer) == first_answer);
  CHECK_FALSE(keep.closed());

  // ...but once the next request's first byte arrives, its head gets header_timeout_ms again.
  opened = Clock::now();  // before the send: the server's deadline starts when the byte arrives
  REQUIRE(keep.send("GET /work HTTP/1.1\r\n"));
  REQUIRE(keep.waitClosed(8s));
  CHECK(Clock::now() - opened >= 480ms);
}

TEST_CASE("over the connection caps clients get a 503 JSON with Retry-After and health probes still answer",
          "[http][limits]") {
  ih::http::ServerOptions options;
  options.max_connections = 4;
  options.max_connections_per_ip = 2;
  options.reserve_connections = 4;  // one per address
  options.header_timeout_ms = 20000;
  options.reserve_header_timeout_ms = 20000;  // the test decides when reserve connections end
  Started s(options);
  addRoutes(*s.server);
  s.server->setReady(true);
  s.start();
  const int port = s.server->port();
  const uint64_t per_ip_before =
      counterValue("ihost_http_connections_refused_total", "reason", "max_connections_per_ip");
  const uint64_t global_before =
      counterValue("ihost_http_connections_refused_total", "reason", "max_connections");

  // One address holds its two connections with half-sent requests.
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<Client>(port, "127.0.0.2"));
    REQUIRE(held.back()->send("GET /work HTTP/1.1\r\nHost: x\r\n"));
  }
  REQUIRE(waitForConnections(*s.server, 2));

  {  // A third one from that address: the per-address 503.
    Client third(port, "127.0.0.2");
    REQUIRE(third.send(get("/work")));
    const std::string answer = third.readUntil("}}");
    CHECK(answer.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    CHECK(answer.find("Retry-After: 2\r\n") != std::string::npos);
    CHECK(answer.find("Connection: close\r\n") != std::string::npos);
    CHECK(answer.find("Content-Type: application/json") != std::string::npos);
    CHECK(answer.find(R"({"error":{"code":"too_many_connections","message":")") != std::string::npos);
    CHECK(answer.find("max_connections_per_ip") != std::string::npos);
    CHECK(third.waitClosed(3s));
  }
  // Other addresses are unaffected.
  {
    Client other(port, "127.0.0.1");
    REQUIRE(other.send(get("/work")));
    CHECK(other.readUntil("{\"worked\":true}").rfind("HTTP/1.1 200 OK", 0) == 0);
  }
  REQUIRE(waitForConnections(*s.server, 2));  // the server has seen `other` leave
  // A second address fills the global cap.
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<Client>(port, "127.0.0.3"));
    REQUIRE(held.back()->send("GET /work HTTP/1.1\r\n"));
  }
  REQUIRE(waitForConnections(*s.server, 4));

  {  // A new client: the global 503.
    Client late(port, "127.0.0.1");
    REQUIRE(late.send(get("/work")));
    const std::string answer = late.readUntil("}}");
    CHECK(answer.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    CHECK(answer.find("Retry-After: 2\r\n") != std::string::npos);
    CHECK(answer.find(R"({"error":{"code":"overloaded","message":")") != std::string::npos);
    CHECK(late.waitClosed(3s));
  }
  // Health probes are answered, from the attacker's address too, one request per connection.
  for (const char* source : {"127.0.0.1", "127.0.0.2", "127.0.0.4"}) {
    for (const char* path : {"/healthz", "/readyz"}) {
      INFO(source << " " << path);
      Client probe(port, source);
      REQUIRE(probe.send(get(path)));
      const std::string answer = probe.readUntil("\"}");
      CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
      CHECK(answer.find("Connection: close\r\n") != std::string::npos);
      CHECK(probe.waitClosed(3s));
    }
  }
  {  // A probe path with a body is not a probe.
    Client post(port, "127.0.0.1");
    REQUIRE(post.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
    CHECK(post.readUntil("}}").rfind("HTTP/1.1 503", 0) == 0);
  }

  // The reserve allows one connection per address: a second reserve connection from 127.0.0.5 while the
  // first one is held is refused at once, without reading (the 503 is written before the client sends).
  Client reserve_holder(port, "127.0.0.5");
  REQUIRE(reserve_holder.send("GET /healthz HTTP/1.1\r\n"));
  REQUIRE(waitForConnections(*s.server, 5));
  {
    Client refused(port, "127.0.0.5");
    const std::string answer = refused.readUntil("}}");
    CHECK(answer.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    CHECK(answer.find(R"("code":"overloaded")") != std::string::npos);
    CHECK(refused.waitClosed(3s));
  }
  // The held reserve connection still gets its probe answered.
  REQUIRE(reserve_holder.send("Host: x\r\n\r\n"));
  CHECK(reserve_holder.readUntil("\"}").rfind("HTTP/1.1 200 OK\r\n", 0) == 0);

  CHECK(counterValue("ihost_http_connections_refused_total", "reason", "max_connections_per_ip") >=
        per_ip_before + 2);
  CHECK(counterValue("ihost_http_connections_refused_total", "reason", "max_connections") >=
        global_before + 6);

  // When the holders leave, capacity comes back.
  held.clear();
  REQUIRE(waitForConnections(*s.server, 0));
  Client after(port, "127.0.0.2");
  REQUIRE(after.send(get("/work")));
  CHECK(after.readUntil("{\"worked\":true}").rfind("HTTP/1.1 200 OK", 0) == 0);
}

TEST_CASE("a reserve connection that does not finish its head is closed at reserve_header_timeout_ms",
          "[http][limits]") {
  ih::http::ServerOptions options;
  options.max_connections = 1;
  options.max_connections_per_ip = 0;  // no per-address cap
  options.header_timeout_ms = 20000;
  options.reserve_header_timeout_ms = 300;
  Started s(options);
  addRoutes(*s.server);
  s.start();
  Client holder(s.server->port());
  REQUIRE(holder.send("GET /work HTTP/1.1\r\n"));
  REQUIRE(waitForConnections(*s.server, 1));
  Client slow_probe(s.server->port());
  const auto opened = Clock::now();
  REQUIRE(slow_probe.send("GET /healthz HTTP/1.1\r\n"));
  REQUIRE(slow_probe.waitClosed(8s));
  CHECK(Clock::now() - opened >= 280ms);
  CHECK(slow_probe.received().empty());
  CHECK_FALSE(holder.closed());  // the normal connection keeps its own, longer deadline
}

TEST_CASE("stream channels and async completions kept after the server is destroyed are harmless no-ops",
          "[http][limits]") {
  std::mutex mu;
  std::shared_ptr<ih::http::StreamChannel> channel;
  ih::http::Respond respond;
  auto server = std::make_unique<ih::http::Server>([] {
    ih::http::ServerOptions o;
    o.port = 0;
    return o;
  }());
  server->route("GET", "/stream", [&](const Request&, Response& res) {
    res.content_type = "text/plain";
    res.stream = [&](std::shared_ptr<ih::http::StreamChannel> c) {
      c->write("hello");
      std::lock_guard lock(mu);
      channel = std::move(c);
    };
  });
  server->routeAsync("GET", "/later", [&](const Request&, ih::http::Respond r) {
    std::lock_guard lock(mu);
    respond = std::move(r);  // answered only after the server is gone
  });
  REQUIRE(server->start().isOk());
  Client streamer(server->port());
  REQUIRE(streamer.send(get("/stream")));
  CHECK(streamer.readUntil("hello").find("hello") != std::string::npos);
  Client waiter(server->port());
  REQUIRE(waiter.send(get("/later")));
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(mu);
      if (channel && respond) break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::lock_guard lock(mu);
  REQUIRE(channel);
  REQUIRE(respond);
  CHECK(channel->isOpen());

  server->stop();
  server.reset();  // the io_context and every connection object are gone now

  CHECK_FALSE(channel->isOpen());
  CHECK_FALSE(channel->write("late"));
  CHECK(channel->pendingBytes() == 0);
  channel->close();
  bool ran = false;
  channel->onClose([&ran] { ran = true; });
  CHECK(ran);
  Response late;
  late.json(200, "{}");
  respond(std::move(late));  // nothing to answer any more
  channel.reset();
  respond = nullptr;
  CHECK(streamer.waitClosed(3s));
  CHECK(waiter.waitClosed(3s));
}
