#include "hostile_env.h"
#include "support/response_recorder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "app/app.h"
#include "common/text.h"
#include "entitlements/entitlements.h"
#include "records/records.h"
#include "runtime/runtime.h"
#include "support/test_store.h"
#include "support/webhook_test_signature.h"

namespace ih::hostile {
namespace {

namespace fs = std::filesystem;

int connectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the peer closes, `timeout` passes, or a whole Content-Length answer has arrived.
std::string readAnswer(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string data;
  char chunk[64 * 1024];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 200)));
    if (n < 0) break;
    if (n == 0) continue;
    const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0) break;
    data.append(chunk, static_cast<size_t>(got));
    // A complete answer with a Content-Length: stop without waiting for the close.
    const size_t head_end = data.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    const std::string head = toLowerAscii(std::string_view(data).substr(0, head_end));
    const size_t at = head.find("\r\ncontent-length:");
    if (at == std::string::npos) continue;
    const size_t value_start = at + 17;
    const size_t value_end = head.find("\r\n", value_start);
    auto length = parseInt64(trimAscii(std::string_view(head).substr(
        value_start, value_end == std::string::npos ? std::string::npos : value_end - value_start)));
    if (length && data.size() >= head_end + 4 + static_cast<size_t>(*length)) break;
  }
  return data;
}

Answer parseAnswer(const std::string& data) {
  Answer a;
  const size_t head_end = data.find("\r\n\r\n");
  if (data.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return a;
  a.status = static_cast<int>(parseInt64(std::string_view(data).substr(9, 3)).value_or(0));
  size_t at = data.find("\r\n");
  bool chunked = false;
  while (at < head_end) {
    const size_t next = data.find("\r\n", at + 2);
    const std::string line = data.substr(at + 2, next - at - 2);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      a.headers.emplace_back(line.substr(0, colon),
                             std::string(trimAscii(std::string_view(line).substr(colon + 1))));
      if (equalsIgnoreCase(a.headers.back().first, "Transfer-Encoding") &&
          equalsIgnoreCase(a.headers.back().second, "chunked"))
        chunked = true;
    }
    at = next;
  }
  std::string body = data.substr(head_end + 4);
  if (chunked) {
    std::string decoded;
    size_t pos = 0;
    for (;;) {
      const size_t line_end = body.find("\r\n", pos);
      if (line_end == std::string::npos) break;
      size_t size = 0;
      for (size_t i = pos; i < line_end; ++i) {
        const char c = body[i];
        const int digit = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
        if (digit < 0) break;
        size = size * 16 + static_cast<size_t>(digit);
      }
      if (size == 0) break;
      decoded += body.substr(line_end + 2, size);
      pos = line_end + 2 + size + 2;
    }
    body = std::move(decoded);
  } else if (auto length = a.header("Content-Length"); !length.empty()) {
    if (auto n = parseInt64(length); n && static_cast<size_t>(*n) < body.size())
      body.resize(static_cast<size_t>(*n));
  }
  a.body = std::move(body);
  a.body_json = json::parse(a.body, nullptr, false);
  return a;
}

}  // namespace

std::string Answer::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (equalsIgnoreCase(k, name)) return v;
  return {};
}

std::string Answer::text() const {
  return std::to_string(status) + " " + (body.size() > 600 ? body.substr(0, 600) + "…" : body);
}

Answer rawBytes(int port, const std::string& bytes, std::chrono::milliseconds timeout) {
  const int fd = connectTo(port);
  if (fd < 0) return {};
  std::string_view rest = bytes;
  while (!rest.empty()) {
    const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) and close before reading everything
    rest.remove_prefix(static_cast<size_t>(n));
  }
  Answer a = parseAnswer(readAnswer(fd, timeout));
  ::close(fd);
  return a;
}

Answer rawRequest(int port, const std::string& method, const std::string& target, const Headers& headers,
                  const std::string& body, std::chrono::milliseconds timeout) {
  std::string request =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  bool has_length = false, has_connection = false;
  for (const auto& [k, v] : headers) {
    request += k + ": " + v + "\r\n";
    has_length =
        has_length || equalsIgnoreCase(k, "Content-Length") || equalsIgnoreCase(k, "Transfer-Encoding");
    has_connection = has_connection || equalsIgnoreCase(k, "Connection");
  }
  if (!has_connection) request += "Connection: close\r\n";
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH"))
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n";
  request += body;
  Answer answer = rawBytes(port, request, timeout);
  if (test::isHostPort(port))
    test::recordResponse(method, target, answer.status, answer.header("Content-Type"), answer.body);
  return answer;
}

std::string repeat(std::string_view unit, size_t times) {
  std::string out;
  out.reserve(unit.size() * times);
  for (size_t i = 0; i < times; ++i)
    out += unit;
  return out;
}

std::string deepArrays(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string deepObjectBody(size_t depth) {
  return "{\"a\":" + deepArrays(depth) + "}";
}

int64_t unixSeconds() {
  return test::unixSeconds();
}

std::string queryParam(const std::string& url, const std::string& name) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return {};
  std::string_view rest = std::string_view(url).substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      std::string out;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size()) {
          auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
          out += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
          i += 2;
        } else {
          out += raw[i] == '+' ? ' ' : raw[i];
        }
      }
      return out;
    }
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
  }
  return {};
}

std::string targetOf(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t path = url.find('/', scheme + 3);
  return path == std::string::npos ? "/" : url.substr(path);
}

std::string rowCountDiff(const std::map<std::string, int64_t>& before,
                         const std::map<std::string, int64_t>& after) {
  std::string out;
  for (const auto& [table, count] : after) {
    auto it = before.find(table);
    const int64_t was = it == before.end() ? -1 : it->second;
    if (was != count) out += table + ": " + std::to_string(was) + " -> " + std::to_string(count) + "; ";
  }
  return out;
}

void checkError(const Answer& answer, int /*status*/, const std::string& code) {
  CHECK(answer.header("Content-Type").rfind("application/json", 0) == 0);
  REQUIRE(answer.body_json.is_object());
  REQUIRE(answer.body_json.contains("error"));
  const json& error = answer.body_json["error"];
  REQUIRE(error.is_object());
  CHECK(error.value("code", std::string()) == code);
  REQUIRE(error.contains("message"));
  REQUIRE(error["message"].is_string());
  CHECK_FALSE(error["message"].get<std::string>().empty());
  CHECK(error.size() == 2);
}

Env::Env() {
  // One plugins directory holding every plugin the suite needs (the real ones and the test-only ones).
  for (const auto& [dir, names] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {IH_PLUGIN_DIR, {"libstripe_byok.so", "libstripe_connect.so", "libexample.so"}},
           {std::string(IH_TEST_PLUGIN_DIR) + "/webhook_test", {"libwebhook_test.so"}},
           {std::string(IH_TEST_PLUGIN_DIR) + "/hostile_echo", {"libhostile_echo.so"}}}) {
    for (const auto& name : names) {
      REQUIRE(fs::exists(fs::path(dir) / name));
      fs::create_symlink(fs::path(dir) / name, plugins_.path() / name);
    }
  }

  stripe_double::Options o;
  o.api_keys = {kStripeKey, kPlatformKey};
  o.webhook_retry_delays_ms = {200, 500};
  auto d = stripe_double::StripeDouble::start(o);
  REQUIRE(d.isOk());
  stripe_ = std::move(d).value();
  upstream_ = std::make_unique<RawUpstream>();

  const std::string daily = "every = \"1d\"\n";
  std::string toml;
  for (const std::string id : {"stripe", "rogue"}) {
    toml += "[integrations." + id + "]\nplugin = \"stripe_byok\"\napi_base_url = \"" +
            (id == "stripe" ? stripe_->url() : upstream_->url()) +
            "\"\nstripe_version = \"2024-06-20\"\ntimeout_ms = " + (id == "stripe" ? "20000" : "1000") + "\n";
    for (const char* job : {"catalog", "transactions", "reconcile_events"})
      toml += "[integrations." + id + ".jobs." + job + "]\n" + daily;
  }
  toml +=
      "[integrations.stripe_connect]\nplugin = \"stripe_connect\"\nclient_id = "
      "\"ca_ihostdoubleplatform0001\"\n"
      "webhook_secret = \"" +
      std::string(kConnectWhsec) + "\"\nconnect_base_url = \"" + stripe_->url() + "\"\napi_base_url = \"" +
      stripe_->url() + "\"\n";
  for (const char* job : {"catalog", "transactions", "reconcile_events"})
    toml += "[integrations.stripe_connect.jobs." + std::string(job) + "]\n" + daily;
  toml += "[integrations.example]\nplugin = \"example\"\napi_base_url = \"" + upstream_->url() +
          "\"\nwebhook_secret = \"" + kExampleSecret +
          "\"\ntimeout_ms = 1000\n[integrations.example.jobs.sync]\n" + daily;
  toml += "[integrations.hooks]\nplugin = \"webhook_test\"\nwebhook_secret = \"" + std::string(kHooksSecret) +
          "\"\n";
  toml += "[integrations.echo]\nplugin = \"hostile_echo\"\n";
  toml +=
      "[integrations.off]\nplugin = \"webhook_test\"\nenabled = false\nwebhook_secret = "
      "\"whsec_off_0000000001\"\n";

  test::TestHostOptions options;
  options.plugins_dir = plugins_.path().string();
  // The double and the raw upstream listen on 127.0.0.1: exactly that is allowed, as an operator running a
  // local proxy would; every other internal address keeps the default refusal (the SSRF cases rely on it).
  options.allow_loopback_outbound = false;
  options.extra_toml = toml + "[outbound]\nallow_networks = [\"127.0.0.1/32\"]\n";
  options.env["IHOST_INTEGRATIONS__STRIPE_CONNECT__SECRET_KEY"] = kPlatformKey;
  host_ = std::make_unique<test::TestHost>(options);
  REQUIRE(host_->app().runtime().unavailable().empty());
  REQUIRE(stripe_
              ->registerOAuthClient(
                  "ca_ihostdoubleplatform0001", "",
                  "http://127.0.0.1:" + std::to_string(port()) + "/oauth/stripe_connect/callback")
              .isOk());
  auto ta = host_->createTenant("acme");
  auto tb = host_->createTenant("globex");
  a = {ta.tenant_id, ta.api_key};
  b = {tb.tenant_id, tb.api_key};
}

Env::~Env() {
  // The misbehaving upstream first: closing its sockets ends any plugin call still stuck on it (a trickled
  // body), so the host can stop without waiting for that call.
  upstream_.reset();
  host_.reset();
  stripe_.reset();
}

Answer Env::post(const std::string& target, const Headers& headers, const std::string& body,
                 const std::string& content_type) {
  Headers all = headers;
  all.emplace_back("Content-Type", content_type);
  return rawRequest(port(), "POST", target, all, body);
}

bool Env::healthy() {
  Answer a = rawRequest(port(), "GET", "/healthz", {}, {}, std::chrono::seconds(10));
  return a.status == 200 && a.body_json.is_object() && a.body_json.value("status", "") == "ok";
}

std::map<std::string, int64_t> Env::rowCounts() {
  return ih::test::testStoreRowCounts(host_->dbPath());
}

int64_t Env::count(const std::string& sql) {
  return ih::test::testStoreScalar(host_->dbPath(), sql);
}

size_t Env::stripeRequests() {
  size_t n = 0;
  for (const auto& r : stripe_->requests())
    if (r.path.rfind("/v1/", 0) == 0 || r.path.rfind("/oauth/", 0) == 0) ++n;
  return n;
}

void Env::connectStripe(const Tenant& t) {
  const json body = {
      {"secret_key", kStripeKey}, {"publishable_key", kStripePk}, {"webhook_secret", kStripeWhsec}};
  Answer r = post("/api/integrations/stripe/connect", t.auth(), body.dump());
  INFO(r.text());
  REQUIRE(r.status == 200);
}

void Env::connectRogue(const Tenant& t) {
  upstream_->setMode(RawUpstream::Mode::kNormal);
  const json body = {{"secret_key", kStripeKey}, {"publishable_key", kStripePk}};
  Answer r = post("/api/integrations/rogue/connect", t.auth(), body.dump());
  INFO(r.text());
  REQUIRE(r.status == 200);
}

void Env::connectExample(const Tenant& t) {
  upstream_->setMode(RawUpstream::Mode::kNormal);
  Answer r = post("/api/integrations/example/connect", t.auth(), R"({"api_key":"ex_GOODKEY1234567890"})");
  INFO(r.text());
  REQUIRE(r.status == 200);
}

std::string Env::consentRedirect(const std::string& authorize_url, const std::string& decision) {
  REQUIRE(authorize_url.rfind(stripe_->url(), 0) == 0);
  Answer page = rawRequest(stripe_->port(), "GET", targetOf(authorize_url) + "&auto=" + decision);
  INFO(page.text());
  REQUIRE(page.status == 302);
  const std::string location = page.header("Location");
  const std::string base = "http://127.0.0.1:" + std::to_string(port());
  REQUIRE(location.rfind(base, 0) == 0);
  return location.substr(base.size());
}

int Env::connectThroughOAuth(const std::string& authorize_url) {
  Answer done = get(consentRedirect(authorize_url), {{"Accept", "application/json"}});
  INFO(done.text());
  return done.status;
}

std::string Env::hooksSignature(const std::string& body, int64_t t) {
  return test::webhookTestSignature(kHooksSecret, body, t);
}

int64_t Env::storeHookEvent(const Tenant& t, const std::string& event_id) {
  const std::string body = json{{"id", event_id}, {"type", "test.created"}}.dump();
  Answer r = post("/webhooks/hooks/" + t.id, {{"X-Test-Signature", hooksSignature(body)}}, body);
  INFO(r.text());
  REQUIRE(r.status == 200);
  // Wait until the inbox worker has processed it: its attempt row and plugin state are written by then, so a
  // later row-count snapshot does not race with them.
  int64_t id = 0;
  const bool processed = eventually([&] {
    Answer list = get("/api/webhooks?limit=500", t.auth());
    for (const auto& e : list.body_json["data"]) {
      if (e.value("event_id", "") != event_id) continue;
      id = e["id"].get<int64_t>();
      return e.value("status", "") == "processed";
    }
    return false;
  });
  INFO("event " << event_id << " as listed: id " << id);
  REQUIRE(processed);
  return id;
}

void Env::storeRecord(const Tenant& t, const std::string& id) {
  const json rows =
      json::array({{{"id", id}, {"data", {{"id", id}, {"email", id + "@example.com"}}}, {"updated_at", 1}}});
  REQUIRE(host_->app().records().upsert(t.id, "stripe", "customer", rows.dump()).isOk());
  // What the background entitlements pass derives from it is written now, not during the test's snapshots.
  REQUIRE(host_->app().entitlements().catchUp(t.id).isOk());
}

}  // namespace ih::hostile
