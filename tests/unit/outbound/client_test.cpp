// The outbound client against upstreams that misbehave on purpose (raw loopback sockets) and against an
// independent TLS server (`openssl s_server`). Every limit the client promises is exercised here: deadlines,
// size caps, the address policy, Retry-After parsing, connection reuse and the stale-connection resend.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "outbound/client.h"
#include "raw_server.h"
#include "support/temp_dir.h"

using ih::StatusCode;
using ih::outbound::Client;
using ih::outbound::ClientOptions;
using ih::outbound::NetworkPolicy;
using ih::outbound::Request;
using ih::test::RawServer;
using Ms = std::chrono::milliseconds;

namespace {

ClientOptions loopbackOptions() {
  ClientOptions options;
  options.network = NetworkPolicy::make({"127.0.0.1/32"}).value();
  options.retry.initial_delay = Ms(10);
  options.retry.max_delay = Ms(20);
  options.retry.max_retry_after = Ms(100);
  return options;
}

Request get(const std::string& url, int max_attempts = 1, int timeout_ms = 5000) {
  Request request;
  request.url = url;
  request.max_attempts = max_attempts;
  request.timeout_ms = timeout_ms;
  return request;
}

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
// The end of an empty answer after which the server closes (so every attempt is a new connection).
const std::string kClose = "Content-Length: 0\r\nConnection: close\r\n\r\n";
const std::string kOkClose = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("outbound policy: every non-public range is refused unless allowed", "[outbound]") {
  const NetworkPolicy strict;
  for (const char* text : {"127.0.0.1",
                           "10.1.2.3",
                           "172.16.0.9",
                           "192.168.1.1",
                           "169.254.169.254",
                           "100.64.0.1",
                           "0.0.0.0",
                           "224.0.0.1",
                           "255.255.255.255",
                           "240.0.0.1",
                           "192.0.2.1",
                           "::1",
                           "::",
                           "fe80::1",
                           "fc00::1",
                           "fd12::1",
                           "ff02::1",
                           "::ffff:127.0.0.1",
                           "::ffff:10.0.0.1",
                           "64:ff9b::7f00:1",
                           "2002:7f00:1::",
                           "::127.0.0.1"}) {
    INFO(text);
    const auto address = ih::IpAddress::parse(text);
    REQUIRE(address.isOk());
    CHECK_FALSE(strict.refusal(address.value()).empty());
  }
  for (const char* text : {"8.8.8.8", "54.187.174.169", "2606:4700::1111", "::ffff:8.8.8.8"}) {
    INFO(text);
    CHECK(strict.refusal(ih::IpAddress::parse(text).value()).empty());
  }
  CHECK(strict.refusal(ih::IpAddress::parse("169.254.169.254").value()) == "link-local");

  const auto allowed = NetworkPolicy::make({"127.0.0.1/32", "10.20.0.0/16"});
  REQUIRE(allowed.isOk());
  CHECK(allowed.value().refusal(ih::IpAddress::parse("127.0.0.1").value()).empty());
  CHECK(allowed.value().refusal(ih::IpAddress::parse("::ffff:127.0.0.1").value()).empty());
  CHECK_FALSE(allowed.value().refusal(ih::IpAddress::parse("127.0.0.2").value()).empty());
  CHECK(allowed.value().refusal(ih::IpAddress::parse("10.20.255.1").value()).empty());
  CHECK_FALSE(allowed.value().refusal(ih::IpAddress::parse("10.21.0.1").value()).empty());

  const auto bad = NetworkPolicy::make({"127.0.0.1/32", "10.0.0.0/33"});
  REQUIRE_FALSE(bad.isOk());
  CHECK(bad.status().message().find("10.0.0.0/33") != std::string::npos);
}

TEST_CASE("outbound checkUrl: refuses schemes, credentials and internal hosts before anything is stored",
          "[outbound]") {
  const NetworkPolicy strict;
  CHECK(ih::outbound::checkUrl("ftp://example.com/", strict).code() == StatusCode::kInvalidArgument);
  CHECK(ih::outbound::checkUrl("http://user:pw@example.com/", strict).code() == StatusCode::kInvalidArgument);
  CHECK(ih::outbound::checkUrl("http://example.com:99999/", strict).code() == StatusCode::kInvalidArgument);
  CHECK(ih::outbound::checkUrl("http://exa mple.com/", strict).code() == StatusCode::kInvalidArgument);
  for (const char* url :
       {"http://127.0.0.1/", "http://localhost:8080/hook", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/", "https://10.0.0.1/", "http://0.0.0.0:80/"}) {
    INFO(url);
    const auto status = ih::outbound::checkUrl(url, strict);
    CHECK(status.code() == StatusCode::kPermissionDenied);
    CHECK(status.message().find("allow_networks") != std::string::npos);
  }
  CHECK(ih::outbound::checkUrl("http://127.0.0.1:8080/hook", NetworkPolicy::make({"127.0.0.0/8"}).value())
            .isOk());
}

TEST_CASE("outbound send: the default policy never connects to loopback", "[outbound]") {
  RawServer server([](int fd, const std::string&) { RawServer::writeAll(fd, kOk); });
  Client client;  // default options: public addresses only
  for (const std::string& url : {server.url(), "http://localhost:" + std::to_string(server.port()) + "/"}) {
    const auto result = client.send(get(url, 3));
    REQUIRE_FALSE(result.isOk());
    CHECK(result.status().code() == StatusCode::kPermissionDenied);
  }
  CHECK(server.connections() == 0);
}

TEST_CASE("outbound retryAfter: whole seconds up to the cap, longer asks ignored, never throws",
          "[outbound]") {
  using ih::outbound::retryAfter;
  const Ms cap(30000);
  CHECK(retryAfter("2", cap) == Ms(2000));
  CHECK(retryAfter(" 7 ", cap) == Ms(7000));
  CHECK(retryAfter("30", cap) == cap);
  CHECK_FALSE(retryAfter("31", cap));
  CHECK_FALSE(retryAfter("99999999999999999999", cap));
  CHECK_FALSE(retryAfter("184467440737095516160000", cap));
  CHECK_FALSE(retryAfter("", cap));
  CHECK_FALSE(retryAfter("-5", cap));
  CHECK_FALSE(retryAfter("1.5", cap));
  CHECK_FALSE(retryAfter("abc", cap));
  CHECK_FALSE(retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", cap));
}

TEST_CASE("outbound send: a 20-digit Retry-After is ignored for the normal backoff and the retry succeeds",
          "[outbound]") {
  RawServer server([](int fd, const std::string&) {
    static int calls = 0;
    RawServer::writeAll(fd, ++calls == 1 ? "HTTP/1.1 503 Busy\r\nRetry-After: 99999999999999999999\r\n"
                                           "Content-Length: 0\r\nConnection: close\r\n\r\n"
                                         : kOk);
  });
  Client client(loopbackOptions());
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.send(get(server.url(), 3));
  REQUIRE(result.isOk());
  CHECK(result.value().status == 200);
  CHECK(result.value().attempts == 2);
  CHECK(secondsSince(start) < 5);  // waited the 10 ms backoff, not 10^20 s
}

TEST_CASE("outbound send: a body over max_response_bytes fails the attempt, fixed length or chunked",
          "[outbound]") {
  const bool chunked = GENERATE(false, true);
  RawServer server([chunked](int fd, const std::string&) {
    RawServer::writeAll(fd, chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    : "HTTP/1.1 200 OK\r\nContent-Length: 600000000\r\n\r\n");
    const std::string block(65536, 'x');
    const std::string piece = chunked ? "10000\r\n" + block + "\r\n" : block;
    for (int i = 0; i < 1024 && RawServer::writeAll(fd, piece); ++i) {
    }
  });
  ClientOptions options = loopbackOptions();
  options.max_response_bytes = 1 << 20;
  Client client(options);
  const auto result = client.send(get(server.url(), 3));
  REQUIRE_FALSE(result.isOk());
  INFO(result.status().message());
  CHECK(result.status().code() == StatusCode::kProvider);
  CHECK(result.status().message().find("larger than") != std::string::npos);
  CHECK(server.connections() == 1);  // not retried
}

TEST_CASE("outbound send: an endless header flood fails on the header cap", "[outbound]") {
  RawServer server([](int fd, const std::string&) {
    RawServer::writeAll(fd, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 100000 && RawServer::writeAll(fd, "X-Flood-" + std::to_string(i) + ": v\r\n"); ++i) {
    }
  });
  Client client(loopbackOptions());
  const auto result = client.send(get(server.url()));
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().code() == StatusCode::kProvider);
  CHECK(result.status().message().find("headers larger than") != std::string::npos);
}

TEST_CASE("outbound send: a trickling server is cut at the attempt deadline", "[outbound]") {
  RawServer server([](int fd, const std::string&) {
    RawServer::writeAll(fd, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 100 && RawServer::writeAll(fd, "X-Slow: 1\r\n"); ++i) {
      std::this_thread::sleep_for(Ms(100));
    }
  });
  Client client(loopbackOptions());
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.send(get(server.url(), 1, 400));
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().code() == StatusCode::kUnavailable);
  CHECK(result.status().message().find("did not answer within") != std::string::npos);
  CHECK(secondsSince(start) < 5);
}

TEST_CASE("outbound send: the whole-send deadline bounds retries and their waits", "[outbound]") {
  RawServer server([](int fd, const std::string&) {
    RawServer::writeAll(
        fd, "HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  ClientOptions options = loopbackOptions();
  options.retry.max_retry_after = Ms(1000);
  options.deadline = Ms(300);
  Client client(options);
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.send(get(server.url(), 20));
  CHECK(secondsSince(start) < 5);
  // Either the last answer (503) or a deadline error; never 20 attempts of a second each.
  if (result.isOk()) {
    CHECK(result.value().status == 503);
    CHECK(result.value().attempts < 20);
  } else {
    CHECK(result.status().message().find("deadline") != std::string::npos);
  }
}

TEST_CASE("outbound send: the plugin call's deadline cuts a silent upstream and says so", "[outbound]") {
  // Answers nothing; lets go as soon as the client hangs up.
  RawServer server([](int fd, const std::string&) {
    char byte = 0;
    for (int i = 0; i < 50 && ::recv(fd, &byte, 1, MSG_DONTWAIT) != 0; ++i)
      std::this_thread::sleep_for(Ms(20));
  });
  Client client(loopbackOptions());
  Request request = get(server.url(), 3, 5000);
  const auto start = std::chrono::steady_clock::now();
  request.call_deadline = start + Ms(300);
  const auto result = client.send(request);
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().code() == StatusCode::kDeadlineExceeded);
  CHECK(result.status().message().find("the plugin call's deadline was reached") != std::string::npos);
  CHECK(secondsSince(start) >= 0.25);
  CHECK(secondsSince(start) < 2);

  // A deadline already behind: no attempt at all.
  Request late = get(server.url(), 1, 5000);
  late.call_deadline = std::chrono::steady_clock::now() - Ms(1);
  const auto refused = client.send(late);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.status().code() == StatusCode::kDeadlineExceeded);

  // A later call deadline than the attempt's own timeout: the attempt's timeout is what fails it.
  Request bounded = get(server.url(), 1, 300);
  bounded.call_deadline = std::chrono::steady_clock::now() + Ms(10000);
  const auto timed_out = client.send(bounded);
  REQUIRE_FALSE(timed_out.isOk());
  CHECK(timed_out.status().code() == StatusCode::kUnavailable);
}

TEST_CASE("outbound send: garbage instead of HTTP is a provider error", "[outbound]") {
  RawServer server([](int fd, const std::string&) { RawServer::writeAll(fd, "HELLO THERE\r\n\r\n"); });
  Client client(loopbackOptions());
  const auto result = client.send(get(server.url()));
  REQUIRE_FALSE(result.isOk());
  CHECK(result.status().code() == StatusCode::kProvider);
}

TEST_CASE("outbound send: keep-alive connections are reused and a stale one is replaced", "[outbound]") {
  SECTION("reused") {
    RawServer server([](int fd, const std::string&) {
      RawServer::writeAll(fd, kOk);
      while (!RawServer::readRequest(fd).empty())
        RawServer::writeAll(fd, kOk);
    });
    Client client(loopbackOptions());
    for (int i = 0; i < 3; ++i) {
      const auto result = client.send(get(server.url()));
      REQUIRE(result.isOk());
      CHECK(result.value().body == "ok");
    }
    CHECK(server.connections() == 1);
  }
  SECTION("closed by the server while idle") {
    RawServer server([](int fd, const std::string&) { RawServer::writeAll(fd, kOk); });  // then closes
    Client client(loopbackOptions());
    REQUIRE(client.send(get(server.url())).isOk());
    std::this_thread::sleep_for(Ms(50));
    Request post = get(server.url());  // a POST too: the resend happens only when nothing was answered
    post.method = "POST";
    post.body = "a=1";
    const auto result = client.send(post);
    REQUIRE(result.isOk());
    CHECK(result.value().status == 200);
    CHECK(result.value().attempts == 1);
    CHECK(server.connections() == 2);
  }
}

TEST_CASE("outbound send: a chunked answer is decoded and request headers with CR/LF are refused",
          "[outbound]") {
  RawServer server([](int fd, const std::string& head) {
    CHECK(head.find("Idempotency-Key: ") != std::string::npos);
    RawServer::writeAll(
        fd,
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  });
  Client client(loopbackOptions());
  Request request = get(server.url("/v1/things"));
  request.method = "POST";
  request.body = "name=x";
  const auto result = client.send(request);
  REQUIRE(result.isOk());
  CHECK(result.value().status == 201);
  CHECK(result.value().body == "hello world");
  CHECK_FALSE(result.value().idempotency_key.empty());

  Request injected = get(server.url());
  injected.headers.emplace_back("X-Test", "a\r\nX-Injected: 1");
  const auto refused = client.send(injected);
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.status().code() == StatusCode::kInvalidArgument);
  CHECK(refused.status().message().find("a\r\n") == std::string::npos);  // never echoes a header value
}

TEST_CASE("outbound send: https is verified against the trust anchors (openssl s_server)", "[outbound]") {
  ih::test::TempDir dir;
  const std::string key = dir.file("key.pem");
  const std::string cert = dir.file("cert.pem");
  const std::string make = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
                           " -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
                           ">/dev/null 2>&1";
  REQUIRE(std::system(make.c_str()) == 0);
  // s_server picks its own port and prints "ACCEPT 127.0.0.1:<port>" (a port chosen here could be taken
  // by a parallel test's listener before s_server binds it).
  int out[2];
  REQUIRE(::pipe(out) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::freopen("/dev/null", "w", stderr);
    ::execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert.c_str(), "-key",
             key.c_str(), "-www", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  struct Reap {
    pid_t pid;
    int fd;
    ~Reap() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
      ::close(fd);
    }
  } reap{pid, out[0]};
  std::string printed;
  char c;
  while (printed.find('\n', printed.find("ACCEPT ")) == std::string::npos && printed.size() < 4096 &&
         ::read(out[0], &c, 1) == 1) {
    printed += c;
  }
  const auto at = printed.find("ACCEPT 127.0.0.1:");
  REQUIRE(at != std::string::npos);
  int port = 0;
  std::from_chars(printed.data() + at + 17, printed.data() + printed.size(), port);
  REQUIRE(port > 0);

  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";
  ClientOptions trusting = loopbackOptions();
  trusting.ca_file = cert;
  Client client(trusting);
  ih::Result<ih::outbound::Response> result = ih::Status::unavailable("not tried");
  result = client.send(get(url));
  INFO(result.status().message());
  REQUIRE(result.isOk());
  CHECK(result.value().status == 200);
  CHECK(result.value().body.find("s_server") != std::string::npos);

  Client untrusting(loopbackOptions());  // the system's anchors only: a self-signed certificate is refused
  const auto refused = untrusting.send(get(url));
  REQUIRE_FALSE(refused.isOk());
  CHECK(refused.status().code() == StatusCode::kUnavailable);
  CHECK(refused.status().message().find("TLS") != std::string::npos);

  // The certificate names 127.0.0.1 and localhost, not this name: host name verification refuses it.
  ClientOptions wrong_name = trusting;
  wrong_name.network = NetworkPolicy::make({"127.0.0.0/8"}).value();
  Client named(wrong_name);
  const auto mismatch = named.send(get("https://127.0.0.2:" + std::to_string(port) + "/"));
  CHECK_FALSE(mismatch.isOk());
}

TEST_CASE("outbound shouldRetry: Stripe-Should-Retry decides first, then 409, 429 and 5xx", "[outbound]") {
  using ih::outbound::Response;
  using ih::outbound::shouldRetry;
  auto response = [](int status, const char* should) {
    Response r;
    r.status = status;
    if (should) r.headers.emplace_back("stripe-should-retry", should);
    return r;
  };
  CHECK(shouldRetry(response(400, "true")));
  CHECK_FALSE(shouldRetry(response(503, "false")));
  CHECK_FALSE(shouldRetry(response(429, "false")));
  CHECK(shouldRetry(response(409, nullptr)));
  CHECK(shouldRetry(response(429, nullptr)));
  CHECK(shouldRetry(response(500, nullptr)));
  CHECK(shouldRetry(response(503, "maybe")));  // not a boolean: the status decides
  CHECK_FALSE(shouldRetry(response(400, nullptr)));
  CHECK_FALSE(shouldRetry(response(402, "maybe")));
  CHECK_FALSE(shouldRetry(response(200, nullptr)));
}

TEST_CASE(
    "outbound send: Stripe-Should-Retry true retries a 400 with the same Idempotency-Key, false stops a "
    "503",
    "[outbound]") {
  std::vector<std::string> seen;
  std::mutex mu;
  RawServer server([&](int fd, const std::string& request) {
    size_t n;
    {
      std::lock_guard lock(mu);
      seen.push_back(request);
      n = seen.size();
    }
    if (request.rfind("POST /retry", 0) == 0) {
      RawServer::writeAll(fd,
                          n == 1 ? "HTTP/1.1 400 Bad\r\nStripe-Should-Retry: true\r\n" + kClose : kOkClose);
    } else {
      RawServer::writeAll(fd, "HTTP/1.1 503 Busy\r\nStripe-Should-Retry: false\r\n" + kClose);
    }
  });
  Client client(loopbackOptions());
  Request post = get(server.url() + "retry", 3);
  post.method = "POST";
  post.body = "a=1";
  const auto retried = client.send(post);
  REQUIRE(retried.isOk());
  CHECK(retried.value().status == 200);
  CHECK(retried.value().attempts == 2);
  {
    std::lock_guard lock(mu);
    REQUIRE(seen.size() == 2);
    auto key = [](const std::string& request) {
      const size_t at = request.find("Idempotency-Key: ");
      return at == std::string::npos ? std::string() : request.substr(at, request.find("\r\n", at) - at);
    };
    CHECK_FALSE(key(seen[0]).empty());
    CHECK(key(seen[0]) == key(seen[1]));
    CHECK(retried.value().idempotency_key == key(seen[0]).substr(std::string("Idempotency-Key: ").size()));
    seen.clear();
  }
  const auto stopped = client.send(get(server.url() + "stop", 3));
  REQUIRE(stopped.isOk());
  CHECK(stopped.value().status == 503);
  CHECK(stopped.value().attempts == 1);
  std::lock_guard lock(mu);
  CHECK(seen.size() == 1);
}

TEST_CASE("outbound send: a Retry-After within the cap is waited before the retry", "[outbound]") {
  RawServer server([](int fd, const std::string&) {
    static int calls = 0;
    RawServer::writeAll(fd,
                        ++calls == 1 ? "HTTP/1.1 429 Slow down\r\nRetry-After: 1\r\n" + kClose : kOkClose);
  });
  ClientOptions options = loopbackOptions();
  options.retry.max_retry_after = Ms(2000);
  Client client(options);
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.send(get(server.url(), 3));
  REQUIRE(result.isOk());
  CHECK(result.value().status == 200);
  CHECK(result.value().attempts == 2);
  CHECK(secondsSince(start) >= 0.95);  // the server's 1 s, not the 10 ms backoff
}
