// Request bytes that are not text (issue 14, item 9) against the real host: a correctly signed webhook whose
// query holds %FF used to reach the inbox's JSON dump and answer 500 with an error log line per request.
// Every route family now answers 400 invalid_request naming the part, logs no error, stores nothing, and the
// host keeps serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "log/log.h"
#include "support/test_host.h"
#include "support/webhook_test_signature.h"

using namespace std::chrono_literals;

namespace {

constexpr char kSecret[] = "whsec_request_bytes_secret";

// Sends `request` as raw bytes (a client library would re-encode the target) and reads the whole answer.
std::string exchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string got;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return got;
}

// The JSON body of a raw answer.
nlohmann::json bodyOf(const std::string& answer) {
  const size_t at = answer.find("\r\n\r\n");
  REQUIRE(at != std::string::npos);
  return nlohmann::json::parse(answer.substr(at + 4));
}

}  // namespace

TEST_CASE(
    "a target or header that is not UTF-8 is 400 invalid_request on every route family, with no error log",
    "[api][inbox]") {
  ih::test::TestHostOptions options;
  options.plugins_dir = std::string(IH_TEST_PLUGIN_DIR) + "/webhook_test";
  options.extra_toml = std::string(
                           "[inbox]\nworkers = 0\n\n[integrations.hooks]\nplugin = \"webhook_test\"\n"
                           "webhook_secret = \"") +
                       kSecret + "\"\ntolerance_s = 300\n";
  ih::test::TestHost host(options);
  auto tenant = host.createTenant("acme");

  std::mutex mu;
  std::vector<std::string> errors;
  ih::log::setSink([&](std::string_view line) {
    if (line.find("\"level\":\"error\"") != std::string_view::npos) {
      std::lock_guard lock(mu);
      errors.emplace_back(line);
    }
  });

  const std::string body = R"({"id":"evt_1","type":"thing.happened","account":"acct_1"})";
  const std::string signature = ih::test::webhookTestSignature(kSecret, body, ih::test::unixSeconds());
  auto webhook = [&](const std::string& target, const std::string& extra_header = "") {
    return "POST " + target +
           " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Test-Signature: " + signature +
           "\r\n" + extra_header + "Content-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
  };
  auto get = [&](const std::string& target, const std::string& auth) {
    return "GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + auth +
           "\r\nConnection: close\r\n\r\n";
  };
  const std::string hook = "/webhooks/hooks/" + tenant.tenant_id;

  struct Case {
    std::string request;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {webhook(hook + "?x=%FF"), "the value of query parameter \"x\" is not valid UTF-8"},
      {webhook(hook + "?%FF=1"), "query parameter name \"%FF\" is not valid UTF-8"},
      {webhook(hook + "?x=%F"), "query parameter \"x\" has a malformed percent escape"},
      {webhook("/webhooks/hooks/%C0%AF"), "the request path is not valid UTF-8"},
      {webhook(hook, "X-Vendor-Note: caf\xE9\r\n"), "header X-Vendor-Note is not valid UTF-8"},
      {get("/api/events?type=%ED%A0%80", tenant.api_key), "query parameter \"type\" is not valid UTF-8"},
      {get("/api/integrations/%FF", tenant.api_key), "the request path is not valid UTF-8"},
      {get("/api/admin/tenants?q=%zz", host.adminToken()),
       "query parameter \"q\" has a malformed percent escape"},
      {get("/api/records/hooks/customers?cursor=%80", tenant.api_key), "query parameter \"cursor\""},
  };
  for (const auto& c : cases) {
    INFO(c.request.substr(0, c.request.find("\r\n")));
    const std::string answer = exchange(host.port(), c.request);
    CHECK(answer.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    auto json = bodyOf(answer);
    CHECK(json["error"]["code"] == "invalid_request");
    CHECK(json["error"]["message"].get<std::string>().find(c.message_part) != std::string::npos);
  }
  ih::log::resetSink();

  {
    std::lock_guard lock(mu);
    INFO((errors.empty() ? std::string() : errors.front()));
    CHECK(errors.empty());
  }
  // Nothing was stored, and the same webhook with clean bytes is accepted.
  const std::string accepted = exchange(host.port(), webhook(hook + "?x=ok"));
  CHECK(accepted.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(bodyOf(accepted)["duplicate"] == false);  // the refused copies above were never stored
  CHECK(exchange(host.port(), get("/healthz", "none")).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
}
