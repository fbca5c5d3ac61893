// The HTTP server over real loopback sockets: routing and decoding, Expect: 100-continue, body limits, bad
// requests, async handlers that hold no thread, pushed streams, and a graceful stop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"

using namespace std::chrono_literals;
using ih::http::Request;
using ih::http::Response;

namespace {

struct Started {
  explicit Started(ih::http::ServerOptions options = {}) {
    options.port = 0;
    server = std::make_unique<ih::http::Server>(options);
  }
  void start() { REQUIRE(server->start().isOk()); }
  std::unique_ptr<ih::http::Server> server;
};

// A raw client socket: what cpp-httplib's client would smooth over.
int connectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void sendAll(int fd, const std::string& data) {
  REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size()));
}

// Reads until `needle` was received (or the peer closes / 5 s pass); returns everything read.
std::string readUntil(int fd, const std::string& needle) {
  std::string got;
  char buf[4096];
  while (got.find(needle) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

}  // namespace

TEST_CASE("routes match patterns and decode path segments and queries", "[http]") {
  Started s;
  s.server->route("GET", "/items/{id}", [](const Request& req, Response& res) {
    res.json(200, "{\"id\":" + ih::http::jsonQuote(req.param("id")) +
                      ",\"q\":" + ih::http::jsonQuote(req.queryValue("q")) +
                      ",\"route\":" + ih::http::jsonQuote(req.route) + "}");
  });
  s.server->route("GET", "/files/{rest...}", [](const Request& req, Response& res) {
    res.json(200, ih::http::jsonQuote(req.param("rest")));
  });
  s.start();
  // Raw bytes: an HTTP client library would re-encode the target.
  int fd = connectTo(s.server->port());
  sendAll(fd, "GET /items/a%2Fb%20c?q=x+y%26z HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string raw = readUntil(fd, "}");
  ::close(fd);
  CHECK(raw.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(raw.find(R"({"id":"a/b c","q":"x y&z","route":"/items/{id}"})") != std::string::npos);
  CHECK(raw.find("X-Request-Id: req_") != std::string::npos);
  httplib::Client c("127.0.0.1", s.server->port());
  auto r = c.Get("/files/one/two.txt");
  REQUIRE(r);
  CHECK(r->body == "\"one/two.txt\"");
  // HEAD is served by the GET route, with the length and no body.
  int head_fd = connectTo(s.server->port());
  sendAll(head_fd,
          "HEAD /files/a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /files/b.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string both = readUntil(head_fd, "\"b.txt\"");
  ::close(head_fd);
  CHECK(both.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(both.find("Content-Length: 7\r\n") != std::string::npos);  // "a.txt" quoted
  CHECK(both.find("\"a.txt\"") == std::string::npos);              // no body for HEAD
  CHECK(both.find("\"b.txt\"") != std::string::npos);              // the next request still parses
  r = c.Post("/items/1", "", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 405);
  r = c.Get("/nothing");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body.find("\"not_found\"") != std::string::npos);
}

TEST_CASE("a target with a bad escape or ill-formed UTF-8 gets 400 invalid_request naming the part", "[http]") {
  Started s;
  std::atomic<int> ran{0};
  s.server->route("GET", "/items/{id}", [&ran](const Request& req, Response& res) {
    ++ran;
    res.json(200, "{\"id\":" + ih::http::jsonQuote(req.param("id")) + "}");
  });
  s.start();
  struct Case {
    std::string target;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"/items/%FF", "the request path is not valid UTF-8"},
      {"/items/\xC3\x28", "the request path is not valid UTF-8"},
      {"/items/a%2", "the request path has a malformed percent escape"},
      {"/items/1?x=%FF", "the value of query parameter \\\"x\\\" is not valid UTF-8"},
      {"/items/1?x=%ZZ", "query parameter \\\"x\\\" has a malformed percent escape"},
      {"/items/1?%C0%AF=1", "query parameter name \\\"%C0%AF\\\" is not valid UTF-8"},
  };
  // One keep-alive connection for all of them: a refused target is answered and the next request parses.
  int fd = connectTo(s.server->port());
  for (const auto& c : cases) {
    INFO(c.target);
    sendAll(fd, "GET " + c.target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string answer = readUntil(fd, "}}");
    CHECK(answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(answer.find("Content-Type: application/json") != std::string::npos);
    CHECK(answer.find(R"({"error":{"code":"invalid_request","message":")") != std::string::npos);
    CHECK(answer.find(c.message_part) != std::string::npos);
  }
  // A header value with bytes that are not UTF-8 (obs-text is legal HTTP, but not text we can put in JSON).
  sendAll(fd, "GET /items/1 HTTP/1.1\r\nHost: x\r\nX-Note: caf\xE9\r\n\r\n");
  const std::string header_answer = readUntil(fd, "}}");
  CHECK(header_answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(header_answer.find("header X-Note is not valid UTF-8") != std::string::npos);
  // A request id that is not printable ASCII is replaced by one of ours.
  sendAll(fd, "GET /items/%FF HTTP/1.1\r\nHost: x\r\nX-Request-Id: a b\r\n\r\n");
  const std::string id_answer = readUntil(fd, "}}");
  CHECK(id_answer.find("X-Request-Id: req_") != std::string::npos);
  sendAll(fd, "GET /items/caf%C3%A9 HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine-1\r\n\r\n");
  const std::string ok = readUntil(fd, "}");
  ::close(fd);
  CHECK(ok.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(ok.find("{\"id\":\"caf\xC3\xA9\"}") != std::string::npos);
  CHECK(ok.find("X-Request-Id: mine-1\r\n") != std::string::npos);
  CHECK(ran.load() == 1);
}

TEST_CASE("a client that sends Expect: 100-continue gets it, then its answer", "[http]") {
  Started s;
  s.server->route("POST", "/echo", [](const Request& req, Response& res) { res.json(200, req.body); });
  s.start();
  int fd = connectTo(s.server->port());
  sendAll(fd,
          "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nExpect: 100-continue\r\n"
          "Content-Type: application/json\r\n\r\n");
  CHECK(readUntil(fd, "\r\n\r\n").rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
  sendAll(fd, "{\"a\":1}");
  const std::string answer = readUntil(fd, "{\"a\":1}");
  CHECK(answer.rfind("HTTP/1.1 200 OK", 0) == 0);
  ::close(fd);
}

TEST_CASE("an oversize body gets 413 the client can read, garbage gets 400", "[http]") {
  ih::http::ServerOptions options;
  options.max_body_bytes = 1000;
  Started s(options);
  s.server->route("POST", "/in", [](const Request&, Response& res) { res.json(200, "{}"); });
  s.start();
  httplib::Client c("127.0.0.1", s.server->port());
  auto r = c.Post("/in", std::string(200000, 'x'), "application/octet-stream");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(r->body.find("max_body_bytes") != std::string::npos);
  r = c.Post("/in", std::string(999, 'x'), "application/octet-stream");
  REQUIRE(r);
  CHECK(r->status == 200);

  int fd = connectTo(s.server->port());
  sendAll(fd, "NOT AN HTTP REQUEST\r\n\r\n");
  const std::string answer = readUntil(fd, "}}");
  CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(answer.find("malformed HTTP request") != std::string::npos);
  ::close(fd);
}

TEST_CASE("async handlers answer from another thread and hold no worker while waiting", "[http]") {
  ih::http::ServerOptions options;
  options.worker_threads = 1;  // a blocking design would serve the 32 requests below one after another
  Started s(options);
  std::mutex mu;
  std::vector<ih::http::Respond> waiting;
  s.server->routeAsync("GET", "/later/{n}", [&](const Request& req, ih::http::Respond respond) {
    const std::string n = req.param("n");
    std::lock_guard lock(mu);
    waiting.push_back([respond, n](Response res) {
      res.json(200, "\"" + n + "\"");
      respond(std::move(res));
    });
  });
  s.start();
  constexpr int kRequests = 32;
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < kRequests; ++i) {
    answers.push_back(std::async(std::launch::async, [port = s.server->port(), i] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(10, 0);
      auto r = c.Get(("/later/" + std::to_string(i)).c_str());
      return r ? r->body : std::string("transport error");
    }));
  }
  // Every request reaches its handler while none has been answered yet.
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mu);
      if (waiting.size() == kRequests) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::vector<ih::http::Respond> ready;
  {
    std::lock_guard lock(mu);
    REQUIRE(waiting.size() == kRequests);
    ready.swap(waiting);
  }
  std::thread answerer([&ready] {
    for (auto& respond : ready)
      respond(Response{});
  });
  answerer.join();
  std::set<std::string> bodies;
  for (auto& a : answers)
    bodies.insert(a.get());
  CHECK(bodies.size() == kRequests);
  CHECK(bodies.count("\"0\"") == 1);
  CHECK(bodies.count("\"31\"") == 1);
}

TEST_CASE("a pushed stream delivers chunks and reports the client leaving", "[http]") {
  Started s;
  std::promise<std::shared_ptr<ih::http::StreamChannel>> opened;
  std::promise<void> closed;
  s.server->route("GET", "/stream", [&](const Request&, Response& res) {
    res.content_type = "text/event-stream";
    res.stream = [&](std::shared_ptr<ih::http::StreamChannel> channel) {
      channel->write("hello\n");
      channel->onClose([&closed] { closed.set_value(); });
      opened.set_value(channel);
    };
  });
  s.start();
  int fd = connectTo(s.server->port());
  sendAll(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string head = readUntil(fd, "hello\n");
  CHECK(head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(head.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(head.find("text/event-stream") != std::string::npos);
  auto channel = opened.get_future().get();
  CHECK(channel->isOpen());
  REQUIRE(channel->write("second\n"));
  CHECK(readUntil(fd, "second\n").find("7\r\nsecond\n\r\n") != std::string::npos);
  ::close(fd);
  REQUIRE(closed.get_future().wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(channel->isOpen());
  CHECK_FALSE(channel->write("lost"));
}

TEST_CASE("stop lets a running handler answer and ends open streams", "[http]") {
  Started s;
  std::promise<void> entered;
  std::atomic<bool> stream_closed{false};
  s.server->route("GET", "/slow", [&](const Request&, Response& res) {
    entered.set_value();
    std::this_thread::sleep_for(300ms);
    res.json(200, R"({"done":true})");
  });
  s.server->route("GET", "/stream", [&](const Request&, Response& res) {
    res.stream = [&](std::shared_ptr<ih::http::StreamChannel> channel) {
      channel->onClose([&] { stream_closed = true; });
    };
  });
  s.start();
  int stream_fd = connectTo(s.server->port());
  sendAll(stream_fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  readUntil(stream_fd, "\r\n\r\n");
  auto slow = std::async(std::launch::async, [port = s.server->port()] {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get("/slow");
    return r ? r->body : std::string("transport error");
  });
  entered.get_future().wait();
  s.server->stop();
  CHECK(slow.get() == R"({"done":true})");
  CHECK(stream_closed.load());
  char buf[64];
  CHECK(::recv(stream_fd, buf, sizeof buf, 0) <= 0);  // the stream's connection was closed
  ::close(stream_fd);
  CHECK(s.server->connectionCount() == 0);
}
