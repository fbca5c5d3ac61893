// stripe_connect through the SDK's fake host, with Stripe played by the Stripe double (testing/stripe_double)
// on loopback: every request the plugin makes through host HTTP is forwarded to the double over real HTTP, so
// the OAuth code exchange, the Stripe-Account scoping and the error answers are the double's, not a script's.
// Webhook signatures come from the double's own signer (StripeDouble::signatureHeader, and real deliveries to
// a receiver in the test), never from the plugin's code.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ih/plugin_abi.h"
#include "ih/testing/fake_host.hpp"
#include "stripe_double/stripe_double.h"
#include "support/eventually.h"

extern "C" const ih_plugin_descriptor* ih_plugin_entry(uint16_t host_major, uint16_t host_minor);

namespace {

using ih::sdk::testing::CallResult;
using ih::sdk::testing::FakeHost;
using ih::sdk::testing::FakeHttpResponse;
using ih::sdk::testing::HttpExchange;
using ih::sdk::testing::makeRequestJson;
using ih::stripe_double::StripeDouble;
using nlohmann::json;

constexpr char kPlatformKey[] = "sk_test_connectunitplatform0001";
constexpr char kClientId[] = "ca_ihostdoubleplatform0001";  // the double's default platform client
constexpr char kWhsec[] = "whsec_connect_unit_secret_0001";
constexpr char kRedirect[] = "https://ihost.example.com/oauth/stripe_connect/callback";
constexpr char kIntegration[] = "stripe_connect";

int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct SplitUrl {
  std::string origin;  // scheme://host:port
  std::string target;  // /path?query
};
SplitUrl splitUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (path == std::string::npos) return {url, "/"};
  return {url.substr(0, path), url.substr(path)};
}

std::string percentDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// The decoded name=value pairs of a URL's query (or of a form body), in order.
std::vector<std::pair<std::string, std::string>> queryPairs(std::string_view text) {
  if (const size_t q = text.find('?'); q != std::string_view::npos) text = text.substr(q + 1);
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view item = text.substr(0, amp);
    const size_t eq = item.find('=');
    out.emplace_back(percentDecode(item.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : percentDecode(item.substr(eq + 1)));
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
  }
  return out;
}

std::string queryValue(std::string_view url, const std::string& name) {
  for (const auto& [k, v] : queryPairs(url))
    if (k == name) return v;
  return {};
}

// The fake host's outbound HTTP, sent for real: what ihost's outbound client would put on the wire for the
// request (its headers, body and the Idempotency-Key it derives from request_json), without ihost's retries.
FakeHttpResponse sendOverHttp(const HttpExchange& exchange) {
  const SplitUrl url = splitUrl(exchange.url);
  httplib::Client client(url.origin);
  client.set_connection_timeout(5);
  client.set_read_timeout(20);
  httplib::Headers headers;
  std::string content_type = "application/octet-stream";
  for (const auto& [name, value] : exchange.headers) {
    if (ih::sdk::toLowerAscii(name) == "content-type")
      content_type = value;
    else
      headers.emplace(name, value);
  }
  if (auto key = ih::sdk::json::stringField(exchange.request_json, "idempotency_key"); key && !key->empty())
    headers.emplace("Idempotency-Key", *key);
  auto send = [&]() -> httplib::Result {
    if (exchange.method == "POST")
      return client.Post(url.target.c_str(), headers, exchange.body, content_type.c_str());
    if (exchange.method == "DELETE") return client.Delete(url.target.c_str(), headers);
    return client.Get(url.target.c_str(), headers);
  };
  const httplib::Result result = send();
  FakeHttpResponse response;
  if (!result) {
    response.transport_error = IH_ERR_UNAVAILABLE;
    response.transport_message =
        "connection to " + url.origin + " failed: " + httplib::to_string(result.error());
    return response;
  }
  response.status = result->status;
  for (const auto& [name, value] : result->headers)
    response.headers.emplace_back(name, value);
  response.body = result->body;
  return response;
}

// The status line and headers of GET <origin><target>, verbatim, read over a plain socket: httplib 0.11
// percent-decodes the header values it reads, which would turn a redirect's %26 into a query separator.
std::string rawGetHead(const std::string& origin, const std::string& target) {
  const size_t colon = origin.rfind(':');
  REQUIRE(origin.rfind("http://127.0.0.1:", 0) == 0);
  int port = 0;
  const char* digits = origin.data() + colon + 1;
  REQUIRE(std::from_chars(digits, origin.data() + origin.size(), port).ec == std::errc());
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;)
        response.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return response.substr(0, response.find("\r\n\r\n"));
}

// A header's value in a response head (name case-insensitive); "" when absent.
std::string headerOf(const std::string& head, const std::string& name) {
  const std::string wanted = "\r\n" + ih::sdk::toLowerAscii(name) + ":";
  const std::string lower = ih::sdk::toLowerAscii(head);
  const size_t at = lower.find(wanted);
  if (at == std::string::npos) return {};
  size_t begin = at + wanted.size();
  while (begin < head.size() && head[begin] == ' ')
    ++begin;
  return head.substr(begin, head.find("\r\n", begin) - begin);
}

// Webhook deliveries of the double, received on loopback (what Stripe would POST to ihost).
class WebhookReceiver {
 public:
  struct Delivery {
    std::string signature;
    std::string body;
    json event;
  };

  WebhookReceiver() {
    server_.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      deliveries_.push_back(
          {req.get_header_value("Stripe-Signature"), req.body, json::parse(req.body, nullptr, false)});
      res.status = 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() only wakes a server that is listening already.
    REQUIRE(ih::test::eventually([this] { return server_.is_running(); }));
  }
  ~WebhookReceiver() {
    server_.stop();
    thread_.join();
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  // The first delivery of an event of `type` (waits for it; nullopt after the limit).
  std::optional<Delivery> waitFor(const std::string& type) {
    std::optional<Delivery> found;
    ih::test::eventually([&] {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& d : deliveries_) {
        if (d.event.is_object() && d.event.value("type", "") == type) {
          found = d;
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Delivery> deliveries_;
};

json parsed(const std::string& text) {
  return json::parse(text, nullptr, false);
}

// `base` with the members of `patch` replaced or added (RFC 7386).
json patched(json base, const json& patch) {
  base.merge_patch(patch);
  return base;
}

struct Env {
  std::unique_ptr<StripeDouble> stripe;
  FakeHost host{ih_plugin_entry(IH_ABI_MAJOR, IH_ABI_MINOR)};
  ih::sdk::testing::Instance inst;

  explicit Env(std::string platform_key = kPlatformKey) {
    ih::stripe_double::Options options;
    options.api_keys = {platform_key};
    options.threads = 4;
    options.webhook_retry_delays_ms = {100};
    auto started = StripeDouble::start(options);
    REQUIRE(started.isOk());
    stripe = std::move(started).value();
    host.setTenant("t1");
    host.setHttpHandler(sendOverHttp);
    inst = create(config());
    REQUIRE(inst.ok());
  }

  json config(std::string platform_key = kPlatformKey) const {
    return {{"client_id", kClientId},        {"secret_key", platform_key},
            {"webhook_secret", kWhsec},      {"connect_base_url", stripe->url()},
            {"api_base_url", stripe->url()}, {"timeout_ms", 20000}};
  }
  ih::sdk::testing::Instance create(const json& config) { return host.create(kIntegration, config.dump()); }

  // oauth_authorize -> the URL the host would send the account owner to.
  std::string authorizeUrl(const ih::sdk::testing::Instance& instance, const std::string& state) {
    const CallResult r =
        host.oauthAuthorize(instance, json({{"state", state}, {"redirect_uri", kRedirect}}).dump());
    REQUIRE(r.ok());
    return parsed(r.result).value("url", "");
  }
  // The account owner approves on the double's consent page; returns where Stripe redirects the browser.
  // `extra`: more query text for the double (existing=acct_… reuses an account, stripe_user[email]=…).
  std::string approve(const std::string& authorize_url, const std::string& extra = "") {
    const SplitUrl url = splitUrl(authorize_url);
    const std::string head = rawGetHead(url.origin, url.target + "&auto=approve" + extra);
    INFO(head);
    REQUIRE(head.rfind("HTTP/1.1 302 ", 0) == 0);
    const std::string location = headerOf(head, "Location");
    REQUIRE_FALSE(location.empty());
    return location;
  }
  // oauth_complete with the query of Stripe's redirect, as the host's callback route passes it.
  CallResult complete(const ih::sdk::testing::Instance& instance, const std::string& callback_url) {
    json query = json::object();
    for (const auto& [k, v] : queryPairs(callback_url))
      query[k] = v;
    return host.oauthComplete(instance, json({{"query", query}, {"redirect_uri", kRedirect}}).dump());
  }
  // The whole dance for the current tenant; returns the connected account id.
  std::string connect(const std::string& extra = "") {
    const CallResult r = complete(inst, approve(authorizeUrl(inst, "state-" + host.tenant()), extra));
    INFO(r.error);
    REQUIRE(r.ok());
    return parsed(r.result).value("account", "");
  }

  // A Stripe call as the platform itself (the Dashboard's view), optionally on a connected account.
  std::pair<int, json> stripeCall(const std::string& method, const std::string& path,
                                  const httplib::Params& form = {}, const std::string& account = "") {
    httplib::Client client(stripe->url());
    httplib::Headers headers = {{"Authorization", std::string("Bearer ") + kPlatformKey}};
    if (!account.empty()) headers.emplace("Stripe-Account", account);
    httplib::Result r =
        method == "GET" ? client.Get(path.c_str(), headers) : client.Post(path.c_str(), headers, form);
    REQUIRE(r);
    return {r->status, parsed(r->body)};
  }

  // The requests the double received on `path`, in order.
  std::vector<ih::stripe_double::RecordedRequest> received(const std::string& path) const {
    std::vector<ih::stripe_double::RecordedRequest> out;
    for (auto& r : stripe->requests())
      if (r.path == path) out.push_back(r);
    return out;
  }

  CallResult verify(const std::string& body, const std::string& signature,
                    const std::string& header_name = "Stripe-Signature") {
    return verifyWith(inst, body, signature, header_name);
  }
  CallResult verifyWith(const ih::sdk::testing::Instance& instance, const std::string& body,
                        const std::string& signature, const std::string& header_name = "Stripe-Signature") {
    return host.verifyWebhook(
        instance, makeRequestJson("POST", "/webhooks/stripe_connect", "", {{header_name, signature}}), body);
  }
};

std::string eventBody(const std::string& type, const std::string& account, const json& object,
                      int64_t created, bool livemode = false) {
  return json({{"id", "evt_" + std::to_string(created) + "_" + type.substr(0, 4)},
               {"object", "event"},
               {"type", type},
               {"account", account},
               {"created", created},
               {"livemode", livemode},
               {"data", {{"object", object}}}})
      .dump();
}

}  // namespace

TEST_CASE("stripe_connect: a bad platform configuration is refused at create", "[stripe_connect]") {
  Env env;
  auto refused = [&](json config, const std::string& message) {
    const auto instance = env.create(config);
    CHECK(instance.status == IH_ERR_INVALID_ARGUMENT);
    CHECK(instance.error == "invalid configuration: " + message);
  };
  json config = env.config();
  refused(patched(config, {{"client_id", "client_1"}}), "client_id must start with ca_");
  refused(patched(config, {{"webhook_secret", "secret"}}), "webhook_secret must start with whsec_");
  refused(patched(config, {{"api_base_url", "ftp://stripe.test"}}),
          "connect_base_url and api_base_url must start with http:// or https://");
  const auto publishable = env.create(patched(config, {{"secret_key", "pk_test_abc123"}}));
  CHECK(publishable.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(publishable.error.find("secret_key") != std::string::npos);
  CHECK(env.stripe->requests().empty());
}

TEST_CASE("stripe_connect: oauth_authorize builds Stripe's authorize URL around the host's state",
          "[stripe_connect]") {
  Env env;
  CallResult r = env.host.oauthAuthorize(env.inst, json({{"redirect_uri", kRedirect}}).dump());
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(r.error == "oauth_authorize needs a state");

  // The state is opaque to the plugin: any bytes must come back unchanged, so they must be encoded.
  const std::string state = "st/8 x&y=z+\xc3\xa9";
  const std::string url = env.authorizeUrl(env.inst, state);
  REQUIRE(url.rfind(env.stripe->url() + "/oauth/authorize?", 0) == 0);
  CHECK(url.find(' ') == std::string::npos);
  CHECK(url.find("x&y") == std::string::npos);
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  CHECK(queryPairs(url) == Pairs{{"response_type", "code"},
                                 {"client_id", kClientId},
                                 {"scope", "read_write"},
                                 {"state", state},
                                 {"redirect_uri", kRedirect}});
  CHECK(env.host.httpRequests().empty());  // building the URL calls nobody

  // Stripe (the double) accepts the URL and sends the same state back with a code.
  const std::string callback = env.approve(url);
  REQUIRE(callback.rfind(std::string(kRedirect) + "?", 0) == 0);
  CHECK(queryValue(callback, "state") == state);
  CHECK(queryValue(callback, "code").rfind("ac_", 0) == 0);
  CHECK(queryValue(callback, "scope") == "read_write");

  // A redirect_url in the configuration wins over the host's default callback.
  const auto fixed = env.create(patched(env.config(), {{"redirect_url", "https://app.test/cb"}}));
  REQUIRE(fixed.ok());
  CHECK(queryValue(env.authorizeUrl(fixed, "s1"), "redirect_uri") == "https://app.test/cb");
}

TEST_CASE("stripe_connect: oauth_complete exchanges the code, stores the account and binds it",
          "[stripe_connect]") {
  Env env;
  const std::string callback =
      env.approve(env.authorizeUrl(env.inst, "s1"), "&stripe_user%5Bemail%5D=owner%40shop.test");
  const std::string code = queryValue(callback, "code");
  const CallResult r = env.complete(env.inst, callback);
  INFO(r.error);
  REQUIRE(r.ok());
  const json result = parsed(r.result);
  const std::string account = result.value("account", "");
  REQUIRE(account.rfind("acct_", 0) == 0);
  CHECK(account != env.stripe->primaryAccountId());
  CHECK(result["livemode"] == false);
  CHECK(result["scope"] == "read_write");
  // Read from GET /v1/account on the connected account: only that account has this email.
  CHECK(result["email"] == "owner@shop.test");

  const json stored = parsed(env.host.credentials("t1", kIntegration).value_or(""));
  CHECK(stored["stripe_user_id"] == account);
  CHECK(stored["livemode"] == false);
  CHECK(stored.value("access_token", "").rfind("sk_test_", 0) == 0);
  CHECK(stored.value("refresh_token", "").rfind("rt_", 0) == 0);
  CHECK(env.host.boundAccounts() == std::map<std::string, std::string>{{account, "t1"}});

  // The exchange: the platform key, the code, and never replayed (an authorization code is single-use).
  const auto token = env.received("/oauth/token");
  REQUIRE(token.size() == 1);
  CHECK(token[0].header("Authorization") == std::string("Bearer ") + kPlatformKey);
  CHECK(queryPairs(token[0].body) == std::vector<std::pair<std::string, std::string>>{
                                         {"grant_type", "authorization_code"}, {"code", code}});
  const auto exchanges = env.host.httpRequests();
  REQUIRE_FALSE(exchanges.empty());
  CHECK(ih::sdk::json::intField(exchanges[0].request_json, "max_attempts") == 1);
  const auto details = env.received("/v1/account");
  REQUIRE(details.size() == 1);
  CHECK(details[0].header("Stripe-Account") == account);
  CHECK_FALSE(env.host.logsContain(kPlatformKey));
  CHECK_FALSE(env.host.logsContain(stored.value("access_token", "-")));
}

TEST_CASE("stripe_connect: oauth_complete refuses bad codes and maps Stripe's OAuth errors",
          "[stripe_connect]") {
  Env env;
  CallResult r = env.host.oauthComplete(env.inst, R"({"query":{"state":"s1"}})");
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(r.error == "the callback carries no authorization code");
  r = env.host.oauthComplete(env.inst, R"({"query":{"code":"ac_x&grant_type=refresh_token"}})");
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(r.error == "the callback's code is not a Stripe authorization code (ac_...)");
  CHECK(env.host.httpRequests().empty());

  // A code Stripe never issued.
  r = env.host.oauthComplete(env.inst, R"({"query":{"code":"ac_neverissued0001"}})");
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(r.error == "Stripe OAuth invalid_grant: Authorization code does not exist: ac_neverissued0001");

  // A code used twice: the second exchange fails and leaves the first connection as it was.
  const std::string callback = env.approve(env.authorizeUrl(env.inst, "s1"));
  REQUIRE(env.complete(env.inst, callback).ok());
  const auto credentials = env.host.credentials("t1", kIntegration);
  env.host.setTenant("t2");
  r = env.complete(env.inst, callback);
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(r.error.rfind("Stripe OAuth invalid_grant: This authorization code has already been used.", 0) == 0);
  CHECK_FALSE(env.host.credentials("t2", kIntegration));
  CHECK(env.host.credentials("t1", kIntegration) == credentials);
  CHECK(env.host.boundAccounts().size() == 1);

  // Stripe refuses the platform key: the operator's configuration, not the tenant's input.
  const auto wrong_key = env.create(patched(env.config(), {{"secret_key", "sk_test_notregistered01"}}));
  REQUIRE(wrong_key.ok());
  r = env.complete(wrong_key, env.approve(env.authorizeUrl(wrong_key, "s2")));
  CHECK(r.status == IH_ERR_UNAUTHENTICATED);
  CHECK(r.error.rfind("Stripe rejected the platform secret key (Stripe OAuth invalid_client: ", 0) == 0);
  CHECK_FALSE(env.host.credentials("t2", kIntegration));

  // Stripe down or throttling.
  ih::stripe_double::Fault fault;
  fault.path = "/oauth/token";
  fault.kind = ih::stripe_double::FaultKind::kServerError;
  env.stripe->addFault(fault);
  r = env.complete(env.inst, env.approve(env.authorizeUrl(env.inst, "s3")));
  CHECK(r.status == IH_ERR_UNAVAILABLE);
  CHECK(r.error.rfind("Stripe is unreachable: Stripe OAuth ", 0) == 0);
  fault.kind = ih::stripe_double::FaultKind::kRateLimit;
  env.stripe->addFault(fault);
  r = env.complete(env.inst, env.approve(env.authorizeUrl(env.inst, "s4")));
  CHECK(r.status == IH_ERR_RATE_LIMITED);
  CHECK_FALSE(env.host.credentials("t2", kIntegration));
  CHECK(env.host.boundAccounts().size() == 1);
}

TEST_CASE("stripe_connect: a live platform refuses a test-mode account", "[stripe_connect]") {
  Env env("sk_live_connectunitplatform0001");
  const auto live = env.create(env.config("sk_live_connectunitplatform0001"));
  REQUIRE(live.ok());
  const CallResult r = env.complete(live, env.approve(env.authorizeUrl(live, "s1")));
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(r.error == "the connected account was authorized in test mode but the platform key is a live key");
  CHECK_FALSE(env.host.credentials("t1", kIntegration));
  CHECK(env.host.boundAccounts().empty());
}

TEST_CASE("stripe_connect: one Stripe account belongs to one tenant; switching releases the old one",
          "[stripe_connect]") {
  Env env;
  const std::string first = env.connect();

  // The same account, authorized again from another tenant: refused, nothing stored for that tenant.
  env.host.setTenant("t2");
  CallResult r = env.complete(env.inst, env.approve(env.authorizeUrl(env.inst, "s2"), "&existing=" + first));
  CHECK(r.status == IH_ERR_CONFLICT);
  CHECK(r.error == "Stripe account " + first + " is already connected to another tenant");
  CHECK_FALSE(env.host.credentials("t2", kIntegration));
  CHECK(env.host.boundAccounts() == std::map<std::string, std::string>{{first, "t1"}});

  // t1 connects another account: the first is released.
  env.host.setTenant("t1");
  const std::string second = env.connect();
  REQUIRE(second != first);
  CHECK(env.host.boundAccounts() == std::map<std::string, std::string>{{second, "t1"}});
  CHECK(parsed(*env.host.credentials("t1", kIntegration))["stripe_user_id"] == second);
}

TEST_CASE("stripe_connect: calls for a connected account carry the platform key and Stripe-Account",
          "[stripe_connect]") {
  Env env;
  // Not connected yet: refused before any request.
  CallResult r = env.host.runAction(env.inst, "create_product", R"({"name":"Pro"})");
  CHECK(r.status == IH_ERR_UNAUTHENTICATED);
  CHECK(r.error.rfind("no Stripe account is connected for this tenant", 0) == 0);
  CHECK(env.host.testConnection(env.inst).status == IH_ERR_UNAUTHENTICATED);
  CHECK(env.host.httpRequests().empty());

  const std::string account = env.connect();
  const std::string access_token = parsed(*env.host.credentials("t1", kIntegration))["access_token"];
  env.stripe->clearRequests();
  r = env.host.runAction(env.inst, "create_product",
                         R"({"name":"Pro","metadata":{"plan":"pro"},"idempotency_key":"order-7"})");
  INFO(r.error);
  REQUIRE(r.ok());
  const json created = parsed(r.result);
  CHECK(created["account"] == account);
  const std::string product = created["product"].value("id", "");
  REQUIRE(product.rfind("prod_", 0) == 0);

  const auto posts = env.received("/v1/products");
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].header("Stripe-Account") == account);
  CHECK(posts[0].header("Authorization") == std::string("Bearer ") + kPlatformKey);
  CHECK(posts[0].header("Stripe-Version") == "2024-06-20");
  CHECK(posts[0].header("Idempotency-Key").rfind("ihost-", 0) == 0);
  for (const auto& request : env.stripe->requests())
    CHECK(request.header("Authorization").find(access_token) == std::string::npos);
  CHECK(queryPairs(posts[0].body) ==
        std::vector<std::pair<std::string, std::string>>{{"name", "Pro"}, {"metadata[plan]", "pro"}});

  // The product lives on the connected account, not on the platform.
  CHECK(env.stripeCall("GET", "/v1/products/" + product, {}, account).first == 200);
  CHECK(env.stripeCall("GET", "/v1/products/" + product).first == 404);

  // The caller's idempotency_key makes a retry return the same object.
  r = env.host.runAction(env.inst, "create_product",
                         R"({"name":"Pro","metadata":{"plan":"pro"},"idempotency_key":"order-7"})");
  REQUIRE(r.ok());
  CHECK(parsed(r.result)["product"]["id"] == product);

  r = env.host.testConnection(env.inst);
  REQUIRE(r.ok());
  const json tested = parsed(r.result);
  CHECK(tested["ok"] == true);
  CHECK(tested["detail"]["account"] == account);
  CHECK(env.received("/v1/account").back().header("Stripe-Account") == account);
}

TEST_CASE("stripe_connect: Stripe's API errors become statuses", "[stripe_connect]") {
  Env env;
  const std::string account = env.connect();

  // Input Stripe would refuse is refused before a request.
  env.stripe->clearRequests();
  CallResult r = env.host.runAction(env.inst, "create_price",
                                    R"({"product":"prod_1/../x","unit_amount":900,"currency":"usd"})");
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(env.stripe->requests().empty());

  // Stripe's 404 (the product does not exist on this account) and 400 (a parameter Stripe refuses).
  r = env.host.runAction(env.inst, "create_price",
                         R"({"product":"prod_doesnotexist","unit_amount":900,"currency":"usd"})");
  CHECK(r.status == IH_ERR_NOT_FOUND);
  CHECK(r.error == "Stripe: No such product: 'prod_doesnotexist' (code: resource_missing, param: product)");

  ih::stripe_double::Fault fault;
  fault.path = "/v1/products";
  fault.kind = ih::stripe_double::FaultKind::kServerError;
  env.stripe->addFault(fault);
  r = env.host.runAction(env.inst, "create_product", R"({"name":"Pro"})");
  CHECK(r.status == IH_ERR_UNAVAILABLE);
  CHECK(r.error.rfind("Stripe is unreachable: Stripe answered HTTP 500", 0) == 0);
  fault.kind = ih::stripe_double::FaultKind::kRateLimit;
  env.stripe->addFault(fault);
  r = env.host.runAction(env.inst, "create_product", R"({"name":"Pro"})");
  CHECK(r.status == IH_ERR_RATE_LIMITED);
  CHECK(r.error.rfind("Stripe rate limit: ", 0) == 0);

  // The account owner revokes the platform's access at Stripe.
  const auto revoked =
      env.stripeCall("POST", "/oauth/deauthorize", {{"client_id", kClientId}, {"stripe_user_id", account}});
  REQUIRE(revoked.first == 200);
  r = env.host.testConnection(env.inst);
  REQUIRE(r.ok());  // a finding, not a failure of the test itself
  const json tested = parsed(r.result);
  CHECK(tested["ok"] == false);
  CHECK(tested.value("detail", "").rfind("the platform has no access to " + account + " any more: ", 0) == 0);
  r = env.host.runAction(env.inst, "create_product", R"({"name":"Pro"})");
  CHECK(r.status == IH_ERR_PERMISSION_DENIED);
  CHECK(r.error.find("does not have access to account '" + account + "'") != std::string::npos);
  CHECK_FALSE(env.host.logsContain(kPlatformKey));
}

TEST_CASE("stripe_connect: verify_webhook checks the Stripe-Signature HMAC and its age", "[stripe_connect]") {
  Env env;
  const int64_t t = now();
  const std::string body =
      eventBody("invoice.paid", "acct_1Connected", {{"id", "in_1"}, {"object", "invoice"}}, t - 5);
  auto sign = [&](const std::string& payload, int64_t at, const std::string& secret = kWhsec) {
    return StripeDouble::signatureHeader(secret, at, payload);
  };
  auto signatureError = [](const CallResult& r, const std::string& message) {
    CHECK(r.status == IH_ERR_SIGNATURE);
    CHECK(r.error == message);
  };

  CallResult r = env.verify(body, sign(body, t));
  INFO(r.error);
  REQUIRE(r.ok());
  const json meta = parsed(r.result);
  CHECK(meta["event_id"] == parsed(body)["id"]);
  CHECK(meta["type"] == "invoice.paid");
  CHECK(meta["account"] == "acct_1Connected");  // the host routes the event to this account's tenant
  CHECK(meta["object_id"] == "in_1");
  CHECK(meta["occurred_at"] == t - 5);
  CHECK(env.verify(body, sign(body, t), "stripe-signature").ok());  // header names are case-insensitive

  std::string tampered = body;
  tampered.replace(tampered.find("in_1"), 4, "in_2");
  const char kMismatch[] = "No signatures found matching the expected signature for payload";
  signatureError(env.verify(tampered, sign(body, t)), kMismatch);
  signatureError(env.verify(body, sign(body, t, "whsec_someone_else")), kMismatch);
  signatureError(env.verify(body, sign(body, t + 1).replace(2, 10, std::to_string(t))), kMismatch);
  // While a secret rolls, Stripe signs with both: one matching v1 is enough.
  const std::string rolled =
      sign(body, t, "whsec_old_secret") + ",v1=" + sign(body, t).substr(sign(body, t).find("v1=") + 3);
  CHECK(env.verify(body, rolled).ok());

  // The age check (default tolerance 300 s).
  CHECK(env.verify(body, sign(body, t - 240)).ok());
  signatureError(env.verify(body, sign(body, t - 400)), "Timestamp outside the tolerance zone");
  const auto lenient = env.create(patched(env.config(), {{"webhook_tolerance_s", 0}}));
  CHECK(env.verifyWith(lenient, body, sign(body, t - 86400)).ok());
  const auto strict = env.create(patched(env.config(), {{"webhook_tolerance_s", 60}}));
  signatureError(env.verifyWith(strict, body, sign(body, t - 120)), "Timestamp outside the tolerance zone");

  signatureError(env.verify(body, "", "X-Other"), "missing Stripe-Signature header");
  signatureError(env.verify(body, "v1=abc"), "Unable to extract timestamp and signatures from header");
  signatureError(env.verify(body, "t=" + std::to_string(t)), "No signatures found with expected scheme");
  json no_secret = env.config();
  no_secret.erase("webhook_secret");
  const auto unsigned_instance = env.create(no_secret);
  r = env.verifyWith(unsigned_instance, body, sign(body, t));
  CHECK(r.status == IH_ERR_SIGNATURE);
  CHECK(r.error.rfind("no webhook_secret configured for stripe_connect", 0) == 0);

  // Correctly signed, but not a Stripe event.
  const std::string not_event = R"({"object":"event"})";
  r = env.verify(not_event, sign(not_event, t));
  CHECK(r.status == IH_ERR_INVALID_ARGUMENT);
  CHECK(r.error == "webhook body is not a Stripe event");
  CHECK(env.stripe->requests().empty());  // verification is local
}

TEST_CASE("stripe_connect: webhooks the double signs and delivers verify and apply per connected account",
          "[stripe_connect]") {
  Env env;
  WebhookReceiver receiver;
  // The platform's Connect endpoint ("events on connected accounts"), with its own signing secret.
  const auto endpoint =
      env.stripeCall("POST", "/v1/webhook_endpoints",
                     {{"url", receiver.url()}, {"connect", "true"}, {"enabled_events[]", "*"}});
  REQUIRE(endpoint.first == 200);
  const std::string whsec = endpoint.second["secret"];
  const auto inst = env.create(patched(env.config(), {{"webhook_secret", whsec}}));
  REQUIRE(inst.ok());
  env.inst = inst;
  const std::string account = env.connect();

  // An event on the connected account, signed and delivered by the double.
  REQUIRE(env.host.runAction(inst, "create_product", R"({"name":"Pro"})").ok());
  const auto product = receiver.waitFor("product.created");
  REQUIRE(product);
  CallResult r = env.verify(product->body, product->signature);
  INFO(r.error);
  REQUIRE(r.ok());
  CHECK(parsed(r.result)["account"] == account);
  CHECK(env.verify(product->body + " ", product->signature).status == IH_ERR_SIGNATURE);

  // A signed invoice event for this account becomes a record; the same for another account is skipped.
  const int64_t t = now();
  const std::string paid = eventBody(
      "invoice.paid", account,
      {{"id", "in_1"}, {"object", "invoice"}, {"status", "paid"}, {"amount_paid", 900}, {"currency", "usd"}},
      t);
  r = env.verify(paid, StripeDouble::signatureHeader(whsec, t, paid));
  REQUIRE(r.ok());
  REQUIRE(env.host.handleWebhook(inst, r.result, paid).ok());
  const auto record = env.host.record("t1", kIntegration, "invoice", "in_1");
  REQUIRE(record);
  CHECK(parsed(record->data_json)["amount_paid"] == 900);
  const std::string other =
      eventBody("invoice.paid", "acct_someoneelse", {{"id", "in_2"}, {"object", "invoice"}}, t);
  REQUIRE(env.host.handleWebhook(inst, "{}", other).ok());
  CHECK_FALSE(env.host.record("t1", kIntegration, "invoice", "in_2"));

  // The platform loses the account at Stripe: the double delivers account.application.deauthorized and the
  // plugin wipes the tenant's connection.
  REQUIRE(
      env.stripeCall("POST", "/oauth/deauthorize", {{"client_id", kClientId}, {"stripe_user_id", account}})
          .first == 200);
  const auto deauthorized = receiver.waitFor("account.application.deauthorized");
  REQUIRE(deauthorized);
  r = env.verify(deauthorized->body, deauthorized->signature);
  REQUIRE(r.ok());
  CHECK(parsed(r.result)["account"] == account);
  REQUIRE(env.host.handleWebhook(inst, r.result, deauthorized->body).ok());
  CHECK_FALSE(env.host.credentials("t1", kIntegration));
  CHECK(env.host.boundAccounts().empty());
  const auto events = env.host.events();
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().type == "integration.disconnected");
}

TEST_CASE("stripe_connect: disconnect revokes the platform's access at Stripe and releases the account",
          "[stripe_connect]") {
  Env env;
  CallResult r = env.host.disconnect(env.inst);  // never connected: nothing to revoke
  REQUIRE(r.ok());
  CHECK(parsed(r.result)["revoked"] == false);
  CHECK(env.host.httpRequests().empty());

  const std::string account = env.connect();
  const std::string stored = *env.host.credentials("t1", kIntegration);
  r = env.host.disconnect(env.inst);
  INFO(r.error);
  REQUIRE(r.ok());
  CHECK(parsed(r.result) == json({{"revoked", true}, {"account", account}}));
  const auto deauthorize = env.received("/oauth/deauthorize");
  REQUIRE(deauthorize.size() == 1);
  CHECK(deauthorize[0].header("Authorization") == std::string("Bearer ") + kPlatformKey);
  CHECK(queryPairs(deauthorize[0].body) == std::vector<std::pair<std::string, std::string>>{
                                               {"client_id", kClientId}, {"stripe_user_id", account}});
  CHECK(env.host.boundAccounts().empty());
  CHECK_FALSE(env.host.credentials("t1", kIntegration));
  CHECK(env.stripeCall("GET", "/v1/account", {}, account).first == 403);  // Stripe agrees

  // Already revoked at Stripe (stale credentials): Stripe's "not connected" is not an error.
  env.host.setCredentials("t1", kIntegration, stored);
  r = env.host.disconnect(env.inst);
  REQUIRE(r.ok());
  CHECK(parsed(r.result) == json({{"revoked", false}, {"account", account}}));
}
