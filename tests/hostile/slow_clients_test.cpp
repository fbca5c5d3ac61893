// Slow and greedy clients against the real server: half-sent headers, bodies that stall, pipelines that are
// never read. None of them stores anything or keeps /healthz from answering others.
#include "hostile_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace ih::hostile {
namespace {

// A connection from `source` (the attacker's address: loopback has all of 127/8).
int openConnection(int port, const char* source = "127.0.0.1") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

void sendText(int fd, const std::string& text) {
  REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
}

// True when the server closed `fd` (EOF or reset) within `limit`; bytes that arrive first are collected.
bool closedByServer(int fd, std::chrono::milliseconds limit, std::string* received = nullptr) {
  return eventually(
      [&] {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) return false;
        char chunk[4096];
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n > 0 && received) received->append(chunk, static_cast<size_t>(n));
        return n <= 0;
      },
      limit);
}

}  // namespace

TEST_CASE("slow clients: 300 connections holding half a request header do not stop /healthz or the API",
          "[hostile][slow]") {
  Env env;
  std::vector<int> fds;
  for (int i = 0; i < 300; ++i) {  // from one address: past its per-address cap (256) the rest are refused
    fds.push_back(openConnection(env.port(), "127.0.0.9"));
    sendText(fds.back(), "POST /api/integrations/stripe/connect HTTP/1.1\r\nHost: x\r\nAuthorization: Bea");
  }
  const auto before = env.rowCounts();
  CHECK(env.healthy());
  CHECK(env.get("/api/whoami", env.a.auth()).status == 200);
  CHECK(env.rowCounts() == before);
  for (int fd : fds)
    ::close(fd);
  CHECK(env.healthy());
}

TEST_CASE("slow clients: a body that stalls midway is dropped after the read timeout - nothing stored",
          "[hostile][slow]") {
  Env env;
  const auto before = env.rowCounts();
  const int fd = openConnection(env.port());
  const std::string body = json{{"secret_key", kStripeKey}, {"publishable_key", kStripePk}}.dump();
  sendText(fd, "POST /api/integrations/stripe/connect HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                   env.a.key + "\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size() + 100) + "\r\n\r\n" + body);
  // The read timeout is 10 s by default ([server] read_timeout_ms): the host hangs up, it never runs the
  // handler.
  CHECK(env.healthy());
  std::string received;
  CHECK(closedByServer(fd, std::chrono::seconds(20), &received));
  CHECK(received.find("200 ") == std::string::npos);
  ::close(fd);
  CHECK(env.rowCounts() == before);
  CHECK(env.stripeRequests() == 0);
  CHECK(env.healthy());
}

TEST_CASE("slow clients: a pipeline of 200 requests whose answers are never read does not block others",
          "[hostile][slow]") {
  Env env;
  const int fd = openConnection(env.port());
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string pipeline;
  for (int i = 0; i < 200; ++i)
    pipeline +=
        "GET /api/integrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + env.a.key + "\r\n\r\n";
  sendText(fd, pipeline);
  for (int i = 0; i < 20; ++i)
    CHECK(env.get("/api/whoami", env.b.auth()).status == 200);
  CHECK(env.healthy());
  ::close(fd);
  CHECK(env.healthy());
}

TEST_CASE("slow clients: bytes that are not HTTP get 400 bad_request and a closed connection",
          "[hostile][slow]") {
  Env env;
  const auto before = env.rowCounts();
  for (const std::string& bytes :
       {std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"),
        std::string("POST /webhooks/hooks/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        std::string("G\x01T / HTTP/1.1\r\n\r\n")}) {
    CHECK_ERROR(rawBytes(env.port(), bytes, std::chrono::seconds(15)), 400, "bad_request");
  }
  CHECK(env.rowCounts() == before);
  CHECK(env.healthy());
}

}  // namespace ih::hostile
