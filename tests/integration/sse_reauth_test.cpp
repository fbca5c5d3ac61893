// Event streams and credentials (issue 14, item 7) against the real host: an open /api/events/stream ends
// within [events] stream_reauth_ms once its API key is revoked through the admin API, and receives nothing
// after that, while a stream of another, valid key goes on; reconnecting with the revoked key is a 401. And
// the per-tenant stream cap answers 429 JSON without touching other tenants.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "events/events.h"
#include "support/test_host.h"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

constexpr auto kReauth = 300ms;

// A raw SSE reader: sends the request, then accumulates the (chunked) response bytes.
class Stream {
 public:
  // `extra_headers`: more header lines, each ending in \r\n.
  Stream(int port, const std::string& key, const std::string& extra_headers = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    const std::string request = "GET /api/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
                                "\r\nAccept: text/event-stream\r\n" + extra_headers + "\r\n";
    REQUIRE(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
  }
  ~Stream() { close(); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Reads until `needle` arrived (true), or the peer closed / `timeout` passed (false).
  bool waitFor(const std::string& needle, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (got_.find(needle) == std::string::npos) {
      if (ended_ || !readOnce(deadline)) return got_.find(needle) != std::string::npos;
    }
    return true;
  }
  // Reads until the server ends the response (the last chunk, or the connection closes); false on timeout.
  bool waitEnded(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!ended_ && readOnce(deadline)) {
    }
    return ended_;
  }
  const std::string& received() const { return got_; }

 private:
  bool readOnce(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      ended_ = true;
    } else {
      got_.append(buf, static_cast<size_t>(n));
      if (got_.find("\r\n0\r\n\r\n") != std::string::npos) ended_ = true;
    }
    return true;
  }

  int fd_ = -1;
  std::string got_;
  bool ended_ = false;
};

struct Keyed {
  std::string api_key;
  std::string key_id;
};

// A second key for the tenant through the admin API, as an operator would create one.
Keyed createKey(ih::test::TestHost& host, const std::string& tenant_id) {
  auto client = host.client();
  auto r = client->Post(("/api/admin/tenants/" + tenant_id + "/keys").c_str(),
                        ih::test::bearer(host.adminToken()), R"({"scopes":["read"]})", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  json body = json::parse(r->body);
  return {body["api_key"].get<std::string>(), body["key"]["id"].get<std::string>()};
}

std::string sseHost(int max_streams_per_tenant) {
  return "[events]\nstream_reauth_ms = " + std::to_string(kReauth.count()) +
         "\nmax_streams_per_tenant = " + std::to_string(max_streams_per_tenant) + "\n";
}

}  // namespace

TEST_CASE("an open event stream ends within stream_reauth_ms of its key's revocation and gets nothing after",
          "[events][sse]") {
  ih::test::TestHostOptions options;
  options.extra_toml = sseHost(4);
  ih::test::TestHost host(options);
  auto tenant = host.createTenant("acme");
  const Keyed doomed = createKey(host, tenant.tenant_id);

  Stream revoked_stream(host.port(), doomed.api_key);
  Stream kept_stream(host.port(), tenant.api_key);
  // An operator watching the tenant's events through the console (admin token acting as the tenant).
  Stream operator_stream(host.port(), host.adminToken(), "X-Ihost-Tenant: acme\r\n");
  REQUIRE(operator_stream.waitFor(": stream open"));
  REQUIRE(revoked_stream.waitFor(": stream open"));
  REQUIRE(kept_stream.waitFor(": stream open"));
  REQUIRE(revoked_stream.received().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  REQUIRE(host.app().events().emit(tenant.tenant_id, "", "test.before", "{}").isOk());
  REQUIRE(revoked_stream.waitFor("event: test.before"));
  REQUIRE(kept_stream.waitFor("event: test.before"));

  // Revoke through the real admin API.
  auto client = host.client();
  const auto revoked_at = Clock::now();
  auto r = client->Delete(("/api/admin/tenants/" + tenant.tenant_id + "/keys/" + doomed.key_id).c_str(),
                          ih::test::bearer(host.adminToken()));
  REQUIRE(r);
  REQUIRE(r->status == 200);

  REQUIRE(revoked_stream.waitEnded(kReauth + 3s));
  const auto took = Clock::now() - revoked_at;
  INFO("stream ended " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                       << " ms after the revocation (stream_reauth_ms = " << kReauth.count() << ")");
  CHECK(took < kReauth + 3s);
  CHECK(revoked_stream.received().find(": stream closed: the API key was revoked\n\n") != std::string::npos);

  // Nothing reaches the revoked stream any more; the valid key's stream goes on.
  REQUIRE(host.app().events().emit(tenant.tenant_id, "", "test.after", "{}").isOk());
  REQUIRE(kept_stream.waitFor("event: test.after"));
  CHECK(revoked_stream.received().find("test.after") == std::string::npos);
  // Its pump keeps it open across more re-checks.
  std::this_thread::sleep_for(3 * kReauth);
  REQUIRE(host.app().events().emit(tenant.tenant_id, "", "test.later", "{}").isOk());
  CHECK(kept_stream.waitFor("event: test.later"));
  CHECK(operator_stream.waitFor("event: test.later"));
  CHECK(operator_stream.received().find("stream closed") == std::string::npos);

  // Reconnecting with the revoked key is refused.
  auto again = client->Get("/api/events/stream", ih::test::bearer(doomed.api_key));
  REQUIRE(again);
  CHECK(again->status == 401);
}

TEST_CASE("a tenant at max_streams_per_tenant gets 429 JSON and other tenants are not affected",
          "[events][sse]") {
  ih::test::TestHostOptions options;
  options.extra_toml = sseHost(2);
  ih::test::TestHost host(options);
  auto acme = host.createTenant("acme");
  auto globex = host.createTenant("globex");

  Stream one(host.port(), acme.api_key);
  Stream two(host.port(), acme.api_key);
  REQUIRE(one.waitFor(": stream open"));
  REQUIRE(two.waitFor(": stream open"));

  auto client = host.client();
  auto third = client->Get("/api/events/stream", ih::test::bearer(acme.api_key));
  REQUIRE(third);
  CHECK(third->status == 429);
  CHECK(third->get_header_value("Retry-After") == "5");
  CHECK(third->get_header_value("Content-Type") == "application/json");
  json error = json::parse(third->body);
  CHECK(error["error"]["code"] == "too_many_streams");
  CHECK(error["error"]["message"].get<std::string>().find("2 open event streams") != std::string::npos);

  Stream other(host.port(), globex.api_key);
  CHECK(other.waitFor(": stream open"));
  CHECK(other.received().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);

  // Closing one frees its slot once the host has seen the client leave.
  two.close();
  bool reopened = false;
  for (int i = 0; i < 100 && !reopened; ++i) {
    Stream retry(host.port(), acme.api_key);
    reopened = retry.waitFor(": stream open", 2s);
    if (!reopened) std::this_thread::sleep_for(50ms);
  }
  CHECK(reopened);
}
