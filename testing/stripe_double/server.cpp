// HTTP front of the Stripe double: lifecycle, request recording, fault injection, auth, Stripe-Account
// scoping, idempotency, admin endpoints and the public C++ API.
#include <arpa/inet.h>
#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

int64_t realNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string base64Decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int buf = 0, bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  return out;
}

bool isSecretKey(const std::string& key) {
  for (const char* p : {"sk_test_", "sk_live_", "rk_test_", "rk_live_"})
    if (key.rfind(p, 0) == 0 && key.size() > std::string(p).size()) return true;
  return false;
}

// Closes the TCP connection of a request without answering (fault kind "drop"). Linux only: finds the socket
// by its local/remote ports.
void dropConnection(int local_port, int remote_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  while (dirent* e = readdir(dir)) {
    int fd = -1;
    const char* name = e->d_name;
    const auto [end, ec] = std::from_chars(name, name + std::strlen(name), fd);
    if (ec != std::errc() || *end != '\0' || fd <= 2) continue;  // ".", "..", stdio
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) continue;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0) continue;
    auto portOf = [](const sockaddr_storage& s) {
      if (s.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(s).sin_port);
      if (s.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(s).sin6_port);
      return static_cast<uint16_t>(0);
    };
    if (portOf(local) == local_port && portOf(peer) == remote_port) {
      ::shutdown(fd, SHUT_RDWR);
      break;
    }
  }
  closedir(dir);
}

std::optional<FaultKind> faultKindFromString(const std::string& s) {
  if (s == "rate_limit") return FaultKind::kRateLimit;
  if (s == "lock_timeout") return FaultKind::kLockTimeout;
  if (s == "server_error") return FaultKind::kServerError;
  if (s == "slow") return FaultKind::kSlow;
  if (s == "drop") return FaultKind::kDrop;
  return std::nullopt;
}

const char* faultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kRateLimit:
      return "rate_limit";
    case FaultKind::kLockTimeout:
      return "lock_timeout";
    case FaultKind::kServerError:
      return "server_error";
    case FaultKind::kSlow:
      return "slow";
    case FaultKind::kDrop:
      return "drop";
  }
  return "";
}

json accountObject(const std::string& id, const std::string& platform, int64_t created) {
  return {{"id", id},
          {"object", "account"},
          {"business_profile",
           {{"mcc", nullptr},
            {"name", nullptr},
            {"product_description", nullptr},
            {"support_email", nullptr},
            {"support_phone", nullptr},
            {"support_url", nullptr},
            {"url", nullptr}}},
          {"business_type", nullptr},
          {"capabilities", {{"card_payments", "active"}, {"transfers", "active"}}},
          {"charges_enabled", true},
          {"controller", platform.empty() ? json{{"type", "account"}} : json{{"type", "application"}}},
          {"country", "US"},
          {"created", created},
          {"default_currency", "usd"},
          {"details_submitted", true},
          {"email", "site@example.com"},
          {"external_accounts",
           {{"object", "list"},
            {"data", json::array()},
            {"has_more", false},
            {"url", "/v1/accounts/" + id + "/external_accounts"}}},
          {"metadata", json::object()},
          {"payouts_enabled", true},
          {"settings", {{"dashboard", {{"display_name", nullptr}, {"timezone", "Etc/UTC"}}}}},
          {"tos_acceptance", {{"date", nullptr}, {"ip", nullptr}, {"user_agent", nullptr}}},
          {"type", "standard"}};
}

}  // namespace

std::string RecordedRequest::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return "";
}

int64_t StripeDouble::Impl::clock() const {
  return realNow() + clock_offset;
}

Account& StripeDouble::Impl::newAccount(const std::string& platform_id) {
  auto a = std::make_unique<Account>();
  a->id = "acct_" + detail::randomTail(16);
  a->platform_id = platform_id;
  a->obj = accountObject(a->id, platform_id, clock());
  Account& ref = *a;
  accounts[a->id] = std::move(a);
  return ref;
}

Account* StripeDouble::Impl::account(const std::string& id) {
  auto it = accounts.find(id);
  return it == accounts.end() ? nullptr : it->second.get();
}

bool StripeDouble::Impl::startServer(std::string* error) {
  signal(SIGPIPE, SIG_IGN);  // writes to dropped sockets must not kill the process
  server = std::make_unique<httplib::Server>();
  const int threads = options.threads > 0 ? options.threads : 8;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_tcp_nodelay(true);
  server->set_keep_alive_max_count(100000);
  server->set_payload_max_length(64 << 20);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) { handleHttp(req, res); };
  server->Get(".*", handler);
  server->Post(".*", handler);
  server->Delete(".*", handler);
  server->Put(".*", handler);
  server->Patch(".*", handler);
  if (options.port == 0) {
    bound_port = server->bind_to_any_port(options.host);
    if (bound_port <= 0) {
      *error = "cannot bind " + options.host;
      return false;
    }
  } else {
    if (!server->bind_to_port(options.host, options.port)) {
      *error = "cannot bind " + options.host + ":" + std::to_string(options.port);
      return false;
    }
    bound_port = options.port;
  }
  base_url = "http://" + (options.host == "0.0.0.0" ? std::string("127.0.0.1") : options.host) + ":" +
             std::to_string(bound_port);
  server_thread = std::thread([this] { server->listen_after_bind(); });
  // httplib's stop() only wakes a server that is already listening: a stop() before that (a test that starts
  // the double and ends at once) left the listener blocked in accept() and the destructor's join hanging.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server->is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  delivery_thread = std::thread([this] { deliveryLoop(); });
  return true;
}

void StripeDouble::Impl::stopAll() {
  if (stopping.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(mu);
    delivery_cv.notify_all();
  }
  if (server) server->stop();
  if (server_thread.joinable()) server_thread.join();
  if (delivery_thread.joinable()) delivery_thread.join();
}

void StripeDouble::Impl::handleHttp(const httplib::Request& req, httplib::Response& res) {
  RecordedRequest rec;
  rec.method = req.method;
  rec.path = req.path;
  if (auto q = req.target.find('?'); q != std::string::npos) rec.query = req.target.substr(q + 1);
  for (const auto& [k, v] : req.headers)
    rec.headers.emplace_back(k, v);
  rec.body = req.body;
  const std::string request_id = "req_" + detail::randomTail(14);
  const bool admin = req.path.rfind("/_double/", 0) == 0;

  // Fault injection (never on admin endpoints), applied outside the state lock.
  std::optional<Fault> fault;
  if (!admin) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (it->path != req.path) continue;
      if (!it->method.empty() && strcasecmp(it->method.c_str(), req.method.c_str()) != 0) continue;
      if (!it->query_contains.empty() && rec.query.find(it->query_contains) == std::string::npos) continue;
      if (it->skip > 0) {
        --it->skip;
        break;
      }
      fault = *it;
      if (--it->count <= 0) faults.erase(it);
      break;
    }
  }
  if (fault && fault->delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(fault->delay_ms));

  auto finish = [&](Reply r) {
    res.status = r.status;
    res.set_header("Request-Id", request_id);
    std::string version = req.get_header_value("Stripe-Version");
    res.set_header("Stripe-Version", version.empty() ? options.api_version : version);
    for (auto& [k, v] : r.headers)
      res.set_header(k, v);
    if (!r.content_type.empty()) {
      res.set_content(r.raw, r.content_type.c_str());
    } else {
      res.set_header("Cache-Control", "no-cache, no-store");
      res.set_content(r.body.dump(), "application/json");
    }
    rec.status = r.status;
  };

  if (fault && fault->kind == FaultKind::kDrop) {
    dropConnection(req.local_port > 0 ? req.local_port : bound_port, req.remote_port);
    res.status = 500;
    rec.status = 0;
  } else if (fault && fault->kind == FaultKind::kRateLimit) {
    finish(stripeError(429, "invalid_request_error", "rate_limit",
                       "Request rate limit exceeded. Learn more about rate limits here "
                       "https://stripe.com/docs/rate-limits."));
  } else if (fault && fault->kind == FaultKind::kLockTimeout) {
    Reply r = stripeError(
        429, "invalid_request_error", "lock_timeout",
        "This object cannot be accessed right now because another API request or Stripe process is "
        "currently accessing it. If you see this error intermittently, retry the request. If you "
        "see this error frequently and are making multiple concurrent requests to a single object, "
        "make your requests serially or at a lower rate.");
    r.headers.emplace_back("Stripe-Should-Retry", "true");
    finish(std::move(r));
  } else if (fault && fault->kind == FaultKind::kServerError) {
    Reply r = stripeError(500, "api_error", "",
                          "An unknown error occurred. Please try again later. Request id: " + request_id);
    r.headers.emplace_back("Stripe-Should-Retry", "true");
    finish(std::move(r));
  } else {
    json params;
    const std::string ctype = req.get_header_value("Content-Type");
    if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      if (ctype.find("json") != std::string::npos)
        params = json::parse(req.body, nullptr, false);
      else
        params = detail::parseForm(req.body);
      if (params.is_discarded() || !params.is_object()) params = json::object();
      // Query-string parameters also count on POST (Stripe accepts both).
      if (!rec.query.empty()) {
        const json query = detail::parseForm(rec.query);  // named: items() must not outlive a temporary
        for (auto& [k, v] : query.items())
          if (!params.contains(k)) params[k] = v;
      }
    } else {
      params = detail::parseForm(rec.query);
    }
    std::lock_guard<std::mutex> lock(mu);
    Reply r;
    if (admin) {
      r = dispatchAdmin(req, req.path, params);
    } else if (req.path.rfind("/v1/", 0) == 0) {
      r = dispatchV1(req, req.path, params, request_id);
    } else if (req.path.rfind("/oauth/", 0) == 0) {
      r = routeOAuth(req, req.path, params);
    } else if (req.path.rfind("/hosted/", 0) == 0) {
      std::vector<std::string> seg;
      size_t p = 1;
      while (p < req.path.size()) {
        size_t n = req.path.find('/', p);
        if (n == std::string::npos) n = req.path.size();
        seg.push_back(req.path.substr(p, n - p));
        p = n + 1;
      }
      r = seg.size() > 1 && (seg[1] == "checkout" || seg[1] == "billing_portal") ? hostedCheckout(req, seg)
                                                                                 : hostedInvoice(req, seg);
    } else {
      r = stripeError(
          404, "invalid_request_error", "",
          "Unrecognized request URL (" + req.method + ": " + req.path +
              "). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.");
    }
    finish(std::move(r));
  }

  std::lock_guard<std::mutex> lock(mu);
  rec.received_at = clock();
  recorded.push_back(std::move(rec));
  while (recorded.size() > options.max_recorded_requests)
    recorded.pop_front();
}

Reply StripeDouble::Impl::dispatchV1(const httplib::Request& req, const std::string& path, const json& params,
                                     const std::string& request_id) {
  // ---- Authentication
  std::string auth = req.get_header_value("Authorization");
  std::string key;
  if (auth.rfind("Bearer ", 0) == 0) {
    key = auth.substr(7);
  } else if (auth.rfind("Basic ", 0) == 0) {
    std::string decoded = base64Decode(auth.substr(6));
    key = decoded.substr(0, decoded.find(':'));
  }
  while (!key.empty() && key.back() == ' ')
    key.pop_back();
  auto unauthorized = [](const std::string& message) {
    Reply r = stripeError(401, "invalid_request_error", "", message);
    r.headers.emplace_back("Www-Authenticate", "Bearer realm=\"Stripe\"");
    return r;
  };
  if (key.empty())
    return unauthorized(
        "You did not provide an API key. You need to provide your API key in the Authorization header, using "
        "Bearer "
        "auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
        "for "
        "details, or we can help at https://support.stripe.com/.");
  if (key.rfind("pk_", 0) == 0)
    return unauthorized(
        "This API call cannot be made with a publishable API key. Please use a secret API key. You can find "
        "a list "
        "of your API keys at https://dashboard.stripe.com/account/apikeys.");
  auto kit = keys.find(key);
  Account* acct = kit == keys.end() ? nullptr : account(kit->second.account_id);
  if (!acct || acct->deauthorized) return unauthorized("Invalid API Key provided: " + detail::maskKey(key));

  // ---- Stripe-Account scoping
  std::string on_behalf = req.get_header_value("Stripe-Account");
  if (!on_behalf.empty() && on_behalf != acct->id) {
    Account* target = account(on_behalf);
    if (!target || target->platform_id != acct->id || target->deauthorized)
      return stripeError(403, "invalid_request_error", "account_invalid",
                         "The provided key '" + detail::maskKey(key) + "' does not have access to account '" +
                             on_behalf +
                             "' (or that account does not exist). Application access may have been revoked.");
    acct = target;
  }

  Ctx c{*acct, params, req.method, {}, "", std::nullopt, kit->second.livemode, clock()};
  size_t p = 4;  // after "/v1/"
  while (p <= path.size()) {
    size_t n = path.find('/', p);
    if (n == std::string::npos) n = path.size();
    if (n > p) c.seg.push_back(detail::urlDecode(path.substr(p, n - p), false));
    p = n + 1;
  }
  c.request_id = request_id;
  // Undocumented parameters are refused before the endpoint executes, so no idempotent result is saved.
  const std::string version = req.get_header_value("Stripe-Version");
  if (auto unknown = checkParams(req.method, c.seg, params, version.empty() ? options.api_version : version))
    return *unknown;
  std::string idem = req.get_header_value("Idempotency-Key");
  if (req.method == "POST" && !idem.empty()) {
    if (idem.size() > 255)
      return invalidParam("Idempotency-Key", "Idempotency-Key must be at most 255 characters long.");
    c.idempotency_key = idem;
    const std::string fingerprint = req.method + " " + path + " " + params.dump();
    auto it = acct->idempotency.find(idem);
    if (it != acct->idempotency.end() && it->second.created + 86400 > c.now) {
      if (it->second.fingerprint != fingerprint)
        return stripeError(
            400, "idempotency_error", "idempotency_key_in_use",
            "Keys for idempotent requests can only be used with the same parameters they were first "
            "used with. Try using a key other than '" +
                idem + "' if you meant to execute a different request.");
      Reply r;
      r.status = it->second.status;
      r.body = json::parse(it->second.body, nullptr, false);
      r.headers.emplace_back("Idempotent-Replayed", "true");
      r.headers.emplace_back("Original-Request", it->second.request_id);
      return r;
    }
    Reply r = routeResource(c);
    std::string code =
        r.body.is_object() && r.body.contains("error") ? r.body["error"].value("code", "") : "";
    const bool validation =
        r.status == 400 && (code == "parameter_missing" || code == "parameter_invalid" ||
                            code == "parameter_invalid_integer" || code == "parameter_unknown");
    if (!validation) acct->idempotency[idem] = {fingerprint, r.status, r.body.dump(), c.now, request_id};
    return r;
  }
  return routeResource(c);
}

Reply StripeDouble::Impl::dispatchAdmin(const httplib::Request& req, const std::string& path,
                                        const json& params) {
  auto ok = [](json body) {
    Reply r;
    r.body = std::move(body);
    return r;
  };
  auto bad = [](const std::string& m) {
    return stripeError(400, "invalid_request_error", "parameter_invalid", m);
  };
  const std::string& m = req.method;
  if (path == "/_double/health") return ok({{"ok", true}, {"url", base_url}});
  if (path == "/_double/requests" && m == "GET") {
    json out = json::array();
    std::string filter = str(params, "path");
    for (const auto& r : recorded) {
      if (!filter.empty() && r.path != filter) continue;
      json h = json::object();
      for (const auto& [k, v] : r.headers)
        h[k] = v;
      out.push_back({{"method", r.method},
                     {"path", r.path},
                     {"query", r.query},
                     {"headers", h},
                     {"body", r.body},
                     {"status", r.status},
                     {"received_at", r.received_at}});
    }
    return ok({{"data", out}});
  }
  if (path == "/_double/requests" && m == "DELETE") {
    recorded.clear();
    return ok({{"deleted", true}});
  }
  if (path == "/_double/keys" && m == "POST") {
    std::string key = str(params, "key");
    std::string acct_id = str(params, "account");
    if (!isSecretKey(key)) return bad("key must start with sk_test_, sk_live_, rk_test_ or rk_live_");
    if (!acct_id.empty() && !account(acct_id)) return bad("unknown account " + acct_id);
    if (acct_id.empty()) acct_id = newAccount("").id;
    keys[key] = {acct_id, key.find("_live_") != std::string::npos};
    return ok({{"key", key}, {"account", acct_id}});
  }
  if (path == "/_double/accounts" && m == "POST") {
    std::string platform = str(params, "platform");
    if (platform.empty()) platform = primary_account;
    if (!account(platform)) return bad("unknown platform account " + platform);
    Account& a = newAccount(platform);
    std::string key = "sk_test_" + detail::randomTail(32);
    keys[key] = {a.id, false};
    return ok({{"id", a.id}, {"platform", platform}, {"secret_key", key}});
  }
  if (path == "/_double/clock" && m == "POST") {
    if (params.contains("offset_s")) {
      auto v = asInt(params["offset_s"]);
      if (!v) return bad("offset_s must be an integer");
      clock_offset = *v;
    }
    if (params.contains("advance_s")) {
      auto v = asInt(params["advance_s"]);
      if (!v) return bad("advance_s must be an integer");
      clock_offset += *v;
    }
    return ok({{"now", clock()}, {"offset_s", clock_offset}});
  }
  if (path == "/_double/seed/balance_transactions" && m == "POST") {
    std::string acct_id = str(params, "account");
    Account* a = account(acct_id.empty() ? primary_account : acct_id);
    if (!a) return bad("unknown account");
    auto count = asInt(params.value("count", json(0)));
    auto start = asInt(params.value("start", json(0)));
    auto spacing = asInt(params.value("spacing_s", json(1)));
    auto amount = asInt(params.value("amount", json(1000)));
    if (!count || *count < 0 || *count > 50'000'000 || !start || !spacing || *spacing < 0 || !amount)
      return bad("count/start/spacing_s/amount must be integers");
    int64_t first = *start ? *start : clock() - *count * *spacing;
    a->txns.seed(*count, first, *spacing, *amount, nextSeq() * 0x9E3779B97F4A7C15ull ^ realNow());
    return ok({{"account", a->id}, {"count", *count}, {"total", a->txns.size()}});
  }
  if (path == "/_double/faults" && m == "POST") {
    Fault f;
    f.path = str(params, "path");
    f.method = str(params, "method");
    auto kind = faultKindFromString(str(params, "kind"));
    auto count = asInt(params.value("count", json(1)));
    auto delay = asInt(params.value("delay_ms", json(0)));
    auto skip = asInt(params.value("skip", json(0)));
    f.query_contains = str(params, "query_contains");
    if (f.path.empty() || !kind || !count || !delay || !skip || *skip < 0)
      return bad("need path, kind (rate_limit|lock_timeout|server_error|slow|drop); skip >= 0");
    f.skip = static_cast<int>(*skip);
    f.kind = *kind;
    f.count = static_cast<int>(*count);
    f.delay_ms = static_cast<int>(*delay);
    faults.push_back(f);
    return ok({{"path", f.path}, {"method", f.method}, {"kind", faultKindName(f.kind)}, {"count", f.count}});
  }
  if (path == "/_double/faults" && m == "DELETE") {
    faults.clear();
    return ok({{"deleted", true}});
  }
  if (path == "/_double/faults" && m == "GET") {
    json out = json::array();
    for (const auto& f : faults)
      out.push_back(
          {{"path", f.path}, {"method", f.method}, {"kind", faultKindName(f.kind)}, {"count", f.count}});
    return ok({{"data", out}});
  }
  if (path == "/_double/deliveries" && m == "GET") {
    json out = json::array();
    for (const auto& d : delivery_log)
      out.push_back({{"event", d.event_id},
                     {"type", d.event_type},
                     {"endpoint", d.endpoint_id},
                     {"url", d.url},
                     {"attempt", d.attempt},
                     {"status", d.status},
                     {"ok", d.ok},
                     {"error", d.error},
                     {"signature", d.signature_header},
                     {"attempted_at", d.attempted_at}});
    return ok({{"data", out}});
  }
  if (path == "/_double/oauth/clients" && m == "POST") {
    std::string client = str(params, "client_id");
    std::string acct_id = str(params, "account");
    if (acct_id.empty()) acct_id = primary_account;
    if (client.rfind("ca_", 0) != 0 || !account(acct_id))
      return bad("need client_id ca_… and a known account");
    oauth_clients[client] = {acct_id, str(params, "redirect_uri")};
    return ok({{"client_id", client}, {"account", acct_id}, {"redirect_uri", str(params, "redirect_uri")}});
  }
  return stripeError(404, "invalid_request_error", "", "Unknown admin endpoint " + m + " " + path);
}

// ---- Public API

StripeDouble::StripeDouble(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StripeDouble::~StripeDouble() {
  stop();
}

Result<std::unique_ptr<StripeDouble>> StripeDouble::start(Options options) {
  for (const auto& k : options.api_keys)
    if (!isSecretKey(k)) return Status::invalidArgument("not a secret key: " + detail::maskKey(k));
  auto impl = std::make_unique<Impl>(std::move(options));
  {
    std::lock_guard<std::mutex> lock(impl->mu);
    Account& primary = impl->newAccount("");
    impl->primary_account = primary.id;
    for (const auto& k : impl->options.api_keys)
      impl->keys[k] = {primary.id, k.find("_live_") != std::string::npos};
    if (!impl->options.platform_client_id.empty())
      impl->oauth_clients[impl->options.platform_client_id] = {primary.id, impl->options.oauth_redirect_uri};
  }
  std::string error;
  if (!impl->startServer(&error)) return Status::unavailable(error);
  return std::unique_ptr<StripeDouble>(new StripeDouble(std::move(impl)));
}

std::string StripeDouble::url() const {
  return impl_->base_url;
}
int StripeDouble::port() const {
  return impl_->bound_port;
}
void StripeDouble::stop() {
  if (impl_) impl_->stopAll();
}

std::string StripeDouble::primaryAccountId() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->primary_account;
}

Result<std::string> StripeDouble::addSecretKey(const std::string& key, const std::string& account_id) {
  if (!isSecretKey(key)) return Status::invalidArgument("not a secret key");
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string id = account_id;
  if (!id.empty() && !impl_->account(id)) return Status::invalidArgument("unknown account " + id);
  if (id.empty()) id = impl_->newAccount("").id;
  impl_->keys[key] = {id, key.find("_live_") != std::string::npos};
  return id;
}

Result<std::string> StripeDouble::createConnectedAccount(const std::string& platform_account_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string platform = platform_account_id.empty() ? impl_->primary_account : platform_account_id;
  if (!impl_->account(platform)) return Status::invalidArgument("unknown platform account " + platform);
  return impl_->newAccount(platform).id;
}

Result<int64_t> StripeDouble::seedBalanceTransactions(const SeedOptions& o) {
  if (o.count < 0 || o.spacing_s < 0) return Status::invalidArgument("count and spacing_s must be >= 0");
  std::lock_guard<std::mutex> lock(impl_->mu);
  Account* a = impl_->account(o.account.empty() ? impl_->primary_account : o.account);
  if (!a) return Status::invalidArgument("unknown account " + o.account);
  int64_t first = o.start ? o.start : impl_->clock() - o.count * o.spacing_s;
  a->txns.seed(o.count, first, o.spacing_s, o.amount, impl_->nextSeq() * 0x9E3779B97F4A7C15ull ^ realNow());
  return o.count;
}

void StripeDouble::setClockOffset(int64_t seconds) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->clock_offset = seconds;
}

int64_t StripeDouble::now() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->clock();
}

std::vector<RecordedRequest> StripeDouble::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return {impl_->recorded.begin(), impl_->recorded.end()};
}

void StripeDouble::clearRequests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->recorded.clear();
}

std::vector<DeliveryRecord> StripeDouble::deliveries() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->delivery_log;
}

void StripeDouble::addFault(Fault fault) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults.push_back(std::move(fault));
}

void StripeDouble::clearFaults() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults.clear();
}

Status StripeDouble::registerOAuthClient(const std::string& client_id, const std::string& account_id,
                                         const std::string& redirect_uri) {
  if (client_id.rfind("ca_", 0) != 0) return Status::invalidArgument("client id must start with ca_");
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string id = account_id.empty() ? impl_->primary_account : account_id;
  if (!impl_->account(id)) return Status::invalidArgument("unknown account " + id);
  impl_->oauth_clients[client_id] = {id, redirect_uri};
  return Status::ok();
}

}  // namespace ih::stripe_double
