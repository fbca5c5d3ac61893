// Host-side OAuth: state issuing and checking, the start and callback routes. See oauth.h.
#include "oauth/oauth.h"

#include "common/clock.h"
#include "common/digest.h"
#include "common/json_parse.h"
#include "common/text.h"
#include "common/time_text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "http/params.h"
#include "http/server.h"
#include "loader/registry.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "store/oauth_store.h"
#include "store/store.h"
#include "tenancy/connections.h"
#include "tenancy/http_auth.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace ih::oauth {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

constexpr std::string_view kStateVersion = "v1";
constexpr int64_t kPruneEveryMs = 3600 * 1000;
constexpr int64_t kKeepExpiredMs = 24 * 3600 * 1000;  // expired rows kept a day to explain late callbacks
// A provider's error text is shown and audited up to this many bytes.
constexpr size_t kMaxProviderText = 500;
// Expiry field of a state: unix seconds, at most 12 digits (the check in consumeState).
constexpr int64_t kMaxStateExpiry = 999999999999;

// `text` cut to `max` bytes (on a UTF-8 boundary, "…" appended when cut).
std::string cut(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return std::string(text.substr(0, end)) + "…";
}

// A Host header that can be put into a URL: 1-255 bytes of letters, digits, '.', '-', ':', '[' and ']'.
bool isUsableHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

std::string base64Url(std::string_view bytes) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t at = text.find(sep, start);
    parts.emplace_back(
        text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

bool wantsJson(const Request& req) {
  return req.header("Accept").find("application/json") != std::string::npos;
}

// The callback's answer: the JSON error envelope for API clients, a small page for browsers.
// `back`: where the page offers to return (the integration's success_url with status=failed), or empty.
void answer(const Request& req, Response& res, int status, std::string_view code, std::string_view title,
            std::string_view message, std::string_view back = {}) {
  if (wantsJson(req)) {
    http::setError(res, status, code, message);
    return;
  }
  res.status = status;
  res.content_type = "text/html; charset=utf-8";
  res.body = "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + htmlEscape(title) +
             "</title></head><body><h1>" + htmlEscape(title) + "</h1><p>" + htmlEscape(redact(message)) +
             "</p><p><small>code: " + htmlEscape(code) + "</small></p>" +
             (back.empty() ? std::string()
                           : "<p><a href=\"" + htmlEscape(back) + "\">Back to the application</a></p>") +
             "</body></html>";
}

}  // namespace

struct OAuth::Impl {
  Impl(store::Store& s, vault::Vault& v, runtime::Runtime& r, tenancy::Connections& c, sinks::InboxSink* i,
       Options o)
      : store(s), oauth_store(s), vault(v), runtime(r), connections(c), inbox(i), options(std::move(o)) {
    ttl_s.store(options.state_ttl.count());
    // Derived, never stored: HMAC(pepper, label). The pepper never rotates, so states survive restarts.
    key = vault.keyRing()->pepperHash("ihost oauth state key v1");
  }
  ~Impl() {
    if (!key.empty()) OPENSSL_cleanse(key.data(), key.size());
  }

  std::string mac(std::string_view integration, std::string_view tenant, std::string_view nonce,
                  std::string_view expires) const {
    std::string data = std::string(kStateVersion) + "\n" + std::string(integration) + "\n" +
                       std::string(tenant) + "\n" + std::string(nonce) + "\n" + std::string(expires);
    return base64Url(hmacSha256(key, data));
  }

  void maybePrune(int64_t now) {
    int64_t last = last_prune_ms.load();
    if (now - last < kPruneEveryMs || !last_prune_ms.compare_exchange_strong(last, now)) return;
    auto pruned = oauth_store.pruneStates(now - kKeepExpiredMs);
    if (!pruned.isOk()) log::warn("pruning oauth states failed", {{"error", pruned.status().message()}});
  }

  // The integration of the path if it can do OAuth, else nullptr with the error written.
  runtime::Integration* oauthIntegration(const Request& req, Response& res, bool page) {
    const std::string id = req.param("id");
    runtime::Integration* in = runtime.find(id);
    std::string why;
    if (in == nullptr) {
      why = "no integration \"" + id + "\" is configured";
    } else if (!in->enabled()) {
      why = "integration \"" + id + "\" is disabled in the configuration";
    } else if (!in->plugin().hasOAuth()) {
      why = "integration \"" + id + "\" (plugin " + in->manifest().name +
            ") does not connect through OAuth; use POST /api/integrations/" + id + "/connect";
    } else {
      return in;
    }
    if (page) {
      answer(req, res, 404, "unknown_integration", "Not found", why);
    } else {
      http::setError(res, 404, "unknown_integration", why);
    }
    return nullptr;
  }

  std::string callbackUrl(const Request& req, std::string_view id) const {
    std::string base = options.public_url;
    if (base.empty()) {
      std::string host = req.header("Host");
      base = "http://" + (host.empty() ? std::string("127.0.0.1") : host);
    }
    while (!base.empty() && base.back() == '/')
      base.pop_back();
    return base + "/oauth/" + std::string(id) + "/callback";
  }

  void start(const tenancy::Principal& p, const Request& req, Response& res, OAuth& self) {
    runtime::Integration* in = oauthIntegration(req, res, false);
    if (!in) return;
    // Without a configured public_url the callback URL is built from the Host header: it must be a host.
    if (options.public_url.empty() && !req.header("Host").empty() && !isUsableHost(req.header("Host"))) {
      return http::setError(
          res, 400, "invalid_request",
          "the Host header is not a host name; set [server] public_url or send a valid Host");
    }
    auto state = self.issueState(p.tenant_id, in->id());
    if (!state.isOk()) return http::setError(res, state.status());
    const std::string redirect_uri = callbackUrl(req, in->id());
    json params = {{"state", *state}, {"redirect_uri", redirect_uri}};
    runtime::CallResult result = runtime.oauthAuthorize(*in, p.tenant_id, dumpJson(params));
    if (!result.status.isOk()) {
      log::warn("oauth authorize failed",
                {{"tenant", p.tenant_id}, {"integration", in->id()}, {"error", result.status.message()}});
      return http::setError(res, result.status);
    }
    auto parsed = parseJson(result.result_json);
    const json out = parsed.isOk() ? std::move(*parsed) : json();
    if (!out.is_object() || !out.contains("url") || !out["url"].is_string()) {
      return http::setError(res, 500, "plugin_error",
                            "plugin " + in->manifest().name + " returned no authorization \"url\"");
    }
    const int64_t expires_ms =
        parseInt64InRange(split(*state, '.')[2], 0, kMaxStateExpiry).value_or(0) * 1000;
    json body = {{"integration", in->id()},
                 {"url", out["url"]},
                 {"redirect_uri", redirect_uri},
                 {"state_expires_at", ih::isoTimeSeconds(expires_ms)}};
    res.json(200, dumpJson(body));
  }

  // A success_url (from the integration's settings or the plugin's connection info) that may become a
  // redirect: absolute http(s), printable ASCII, bounded. Anything else is ignored (logged), never sent.
  static std::string redirectTarget(const json& object) {
    if (!object.is_object()) return "";
    auto it = object.find("success_url");
    if (it == object.end() || !it->is_string()) return "";
    const std::string& url = it->get_ref<const std::string&>();
    const bool http = startsWithIgnoreCase(url, "http://") || startsWithIgnoreCase(url, "https://");
    const bool printable = std::all_of(url.begin(), url.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (url.empty()) return "";
    if (!http || !printable || url.size() > 2048) {
      log::warn("oauth success_url ignored: not an absolute http(s) URL of printable ASCII");
      return "";
    }
    return url;
  }

  void callback(const Request& req, Response& res, OAuth& self) {
    runtime::Integration* in = oauthIntegration(req, res, true);
    if (!in) return;
    // Query text that is not UTF-8 is refused before the state is looked at (and so left usable).
    if (Response invalid; !http::requireUtf8(req, invalid, /*headers=*/false)) {
      return answer(req, res, 400, "invalid_request", "Connection failed",
                    "The callback's query is not valid UTF-8. Nothing was stored; start again from your "
                    "application.");
    }
    // A failure page links back to the application (its success_url, told the attempt failed).
    std::string back;
    if (auto settings = parseJson(in->settingsJson()); settings.isOk()) {
      back = redirectTarget(*settings);
      if (!back.empty()) {
        back += back.find('?') == std::string::npos ? '?' : '&';
        back += "integration=" + urlEncode(in->id()) + "&status=failed";
      }
    }
    json query = json::object();
    for (const auto& [k, v] : req.query)
      query[k] = v;
    const std::string state = req.queryValue("state");
    if (state.empty()) {
      return answer(req, res, 400, "invalid_state", "Connection failed",
                    "The callback has no state parameter. Start again from your application.", back);
    }
    StateCheck check = self.consumeState(in->id(), state);
    if (!check.ok) {
      log::warn("oauth callback refused", {{"integration", in->id()}, {"reason", check.code}});
      return answer(req, res, check.code == "unavailable" ? 503 : 400, check.code, "Connection failed",
                    check.message, back);
    }
    const std::string& tenant = check.tenant_id;
    const int64_t now = nowMs();
    if (req.hasQuery("error")) {
      const std::string error = cut(req.queryValue("error"), kMaxProviderText);
      const std::string description = cut(req.queryValue("error_description"), kMaxProviderText);
      json detail = {{"error", error}, {"error_description", description}};
      (void)store.appendAudit(
          {0, tenant, in->id(), "oauth_callback", "integration.oauth_declined", dumpJson(detail), now});
      log::info("oauth authorization declined",
                {{"tenant", tenant}, {"integration", in->id()}, {"error", error}});
      if (error == "access_denied") {
        return answer(req, res, 403, "access_denied", "Connection cancelled",
                      "The account owner declined to connect " + in->manifest().display_name +
                          (description.empty() ? std::string(".") : " (" + description + ").") +
                          " Nothing was stored; start again from your application to retry.",
                      back);
      }
      return answer(req, res, 400, "oauth_error", "Connection failed",
                    "The provider refused the authorization: " + error +
                        (description.empty() ? std::string() : " (" + description + ")") +
                        ". Nothing was stored.",
                    back);
    }

    json params = {{"query", query}, {"redirect_uri", callbackUrl(req, in->id())}};
    runtime::CallResult result = runtime.oauthComplete(*in, tenant, dumpJson(params));
    if (!result.status.isOk()) {
      log::warn("oauth completion failed",
                {{"tenant", tenant}, {"integration", in->id()}, {"error", result.status.message()}});
      int status = 502;
      std::string code = "provider_error";
      switch (result.status.code()) {
        case StatusCode::kConflict:
          status = 409, code = "account_conflict";
          break;
        case StatusCode::kInvalidArgument:
          status = 400, code = "invalid_request";
          break;
        case StatusCode::kUnauthenticated:
        case StatusCode::kPermissionDenied:
          status = 422, code = "credentials_rejected";
          break;
        case StatusCode::kInternal:
          status = 500, code = "plugin_error";
          break;
        default:
          break;
      }
      return answer(req, res, status, code, "Connection failed",
                    result.status.message() + ". Nothing was stored.", back);
    }
    auto conn =
        connections.save(tenant, in->id(), result.credentials, result.result_json, "oauth_callback", "oauth");
    json info = json::object();
    if (conn.isOk()) {
      if (auto parsed = parseJson(conn->info_json); parsed.isOk() && parsed->is_object()) info = *parsed;
    }
    if (!conn.isOk()) {
      auto plugin_result = parseJson(result.result_json);
      unbind(*in, tenant, plugin_result.isOk() ? *plugin_result : json());
      const bool storage = conn.status().code() != StatusCode::kInternal;
      return answer(req, res, storage ? 503 : 500, storage ? "unavailable" : "internal", "Connection failed",
                    storage
                        ? "The connection could not be stored (" + conn.status().message() + "); start again."
                        : conn.status().message(),
                    back);
    }
    log::info("integration connected through oauth", {{"tenant", tenant}, {"integration", in->id()}});

    std::string success_url = redirectTarget(info);
    if (success_url.empty()) {
      if (auto settings = parseJson(in->settingsJson()); settings.isOk())
        success_url = redirectTarget(*settings);
    }
    if (!success_url.empty() && !wantsJson(req)) {
      success_url += success_url.find('?') == std::string::npos ? '?' : '&';
      success_url += "integration=" + urlEncode(in->id()) + "&status=connected";
      res.status = 302;
      res.setHeader("Location", success_url);
      res.content_type = "text/html; charset=utf-8";
      res.body = "<!doctype html><a href=\"" + htmlEscape(success_url) + "\">Continue</a>";
      return;
    }
    if (wantsJson(req)) {
      res.json(200, dumpJson(json({{"integration", in->id()}, {"connected", true}, {"info", info}})));
      return;
    }
    res.status = 200;
    res.content_type = "text/html; charset=utf-8";
    res.body =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Connected</title></head><body><h1>" +
        htmlEscape(in->manifest().display_name) +
        " is connected</h1><p>You can close this window and return to your application.</p></body></html>";
  }

  // After a failed save: the plugin already bound its account; undo that so nothing is left behind.
  void unbind(runtime::Integration& in, const std::string& tenant, const json& info) {
    const std::string account = info.is_object() && info.contains("account") && info["account"].is_string()
                                    ? info["account"].get<std::string>()
                                    : std::string();
    if (inbox == nullptr || account.empty()) return;
    if (Status s = inbox->bindAccount(in.id(), account, tenant, false); !s.isOk())
      log::warn("could not unbind the account after a failed oauth save", {{"error", s.message()}});
  }

  store::Store& store;
  store::OAuthStore oauth_store;
  vault::Vault& vault;
  runtime::Runtime& runtime;
  tenancy::Connections& connections;
  sinks::InboxSink* const inbox;
  const Options options;
  std::string key;  // HMAC key, 32 bytes; set once
  std::atomic<int64_t> ttl_s{600};
  std::atomic<int64_t> last_prune_ms{0};
};

OAuth::OAuth(store::Store& store, vault::Vault& vault, runtime::Runtime& runtime,
             tenancy::Connections& connections, sinks::InboxSink* inbox, Options options)
    : impl_(std::make_unique<Impl>(store, vault, runtime, connections, inbox, std::move(options))) {}

OAuth::~OAuth() = default;

void OAuth::setStateTtl(std::chrono::seconds ttl) {
  impl_->ttl_s.store(ttl.count());
}

Result<std::string> OAuth::issueState(std::string_view tenant_id, std::string_view integration_id) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::internal("the random number generator failed");
  const std::string nonce = base64Url(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  OPENSSL_cleanse(raw, sizeof raw);
  const int64_t now = nowMs();
  const int64_t expires_s = now / 1000 + impl_->ttl_s.load();
  const std::string expires = std::to_string(expires_s);
  store::OAuthStateRow row;
  row.nonce_hash = sha256(nonce);
  row.tenant_id = std::string(tenant_id);
  row.integration_id = std::string(integration_id);
  row.created_at = now;
  row.expires_at = expires_s * 1000;
  if (Status s = impl_->oauth_store.insertState(row); !s.isOk()) return s;
  impl_->maybePrune(now);
  return std::string(kStateVersion) + "." + nonce + "." + expires + "." +
         impl_->mac(integration_id, tenant_id, nonce, expires);
}

StateCheck OAuth::consumeState(std::string_view integration_id, std::string_view state) {
  StateCheck out;
  auto invalid = [&out]() {
    out.code = "invalid_state";
    out.message =
        "The state parameter is invalid (altered, unknown or for another integration). Nothing was stored; "
        "start again from your application.";
    return out;
  };
  const std::vector<std::string> parts = split(state, '.');
  if (parts.size() != 4 || parts[0] != kStateVersion || parts[1].size() != 43 || parts[3].size() != 43 ||
      parts[2].empty() || parts[2].size() > 12 ||
      parts[2].find_first_not_of("0123456789") != std::string::npos) {
    return invalid();
  }
  const std::string nonce_hash = sha256(parts[1]);
  auto row = impl_->oauth_store.findState(nonce_hash);
  if (!row.isOk()) {
    out.code = "unavailable";
    out.message = "The state could not be checked right now; retry in a moment.";
    return out;
  }
  if (!row->has_value() || (*row)->integration_id != integration_id) return invalid();
  const std::string expected = impl_->mac(integration_id, (*row)->tenant_id, parts[1], parts[2]);
  if (CRYPTO_memcmp(expected.data(), parts[3].data(), expected.size()) != 0 ||
      parseInt64InRange(parts[2], 0, kMaxStateExpiry).value_or(-1) * 1000 != (*row)->expires_at) {
    return invalid();
  }
  const int64_t now = nowMs();
  auto consumed = impl_->oauth_store.consumeState(nonce_hash, now);
  if (!consumed.isOk()) {
    out.code = "unavailable";
    out.message = "The state could not be checked right now; retry in a moment.";
    return out;
  }
  if (!*consumed) {
    auto again = impl_->oauth_store.findState(nonce_hash);
    const bool used = again.isOk() && again->has_value() && (*again)->consumed_at.has_value();
    out.code = used ? "state_already_used" : "state_expired";
    out.message = used
                      ? "This authorization link was already used. Nothing was stored; start again from your "
                        "application."
                      : "This authorization link expired (it is valid for a limited time). Nothing was "
                        "stored; start again from your application.";
    return out;
  }
  out.ok = true;
  out.tenant_id = (*row)->tenant_id;
  return out;
}

void OAuth::registerRoutes(http::Server& server, tenancy::Tenancy& tenancy) {
  Impl* impl = impl_.get();
  server.route("GET", "/api/integrations/{id}/oauth/start",
               tenancy::requireTenant(tenancy, tenancy::kScopeWrite,
                                      [impl, this](const tenancy::Principal& p, const Request& q,
                                                   Response& r) { impl->start(p, q, r, *this); }));
  server.route("GET", "/oauth/{id}/callback",
               [impl, this](const Request& q, Response& r) { impl->callback(q, r, *this); });
}

}  // namespace ih::oauth
