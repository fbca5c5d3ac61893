#include "api/api.h"
#include "api/openapi.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/json_parse.h"
#include "common/text.h"
#include "common/time_text.h"
#include "config/config.h"
#include "http/params.h"
#include "http/server.h"
#include "loader/registry.h"
#include "log/log.h"
#include "records/idempotency.h"
#include "runtime/runtime.h"
#include "store/store.h"
#include "tenancy/connections.h"
#include "tenancy/http_auth.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

namespace ih::api {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

// Longest Idempotency-Key accepted (Stripe's limit too).
constexpr size_t kMaxIdempotencyKey = 255;
// Longest header value a plugin route may answer with.
constexpr size_t kMaxPluginHeaderValue = 8192;
// Longest tenant name (tenancy's rule: 1-63 characters of [a-z0-9_-]).
constexpr size_t kMaxTenantName = 63;

void sendJson(Response& res, int status, const json& body) {
  res.json(status, ih::dumpJson(body));
}

// JSON from the store or a plugin (depth-bounded: a later dump() cannot overflow the stack); discarded when
// it does not parse.
json parseJsonOrNull(std::string_view text) {
  auto parsed = ih::parseJson(text);
  return parsed.isOk() ? std::move(*parsed) : json(json::value_t::discarded);
}

// Parses a JSON object request body (depth-bounded, UTF-8), or writes a 400 invalid_json saying why not.
bool parseBody(const Request& req, Response& res, json& out, bool allow_empty = true) {
  if (req.body.empty() && allow_empty) {
    out = json::object();
    return true;
  }
  if (req.body.empty()) {
    http::setError(res, 400, "invalid_json", "request body is empty; send a JSON object");
    return false;
  }
  auto parsed = ih::parseJson(req.body);
  if (!parsed.isOk()) {
    http::setError(res, 400, "invalid_json", "request body: " + parsed.status().message());
    return false;
  }
  if (!parsed->is_object()) {
    http::setError(res, 400, "invalid_json", "request body must be a JSON object");
    return false;
  }
  out = std::move(*parsed);
  return true;
}

// A failed Status as the API answers it: invalid input is "invalid_request", like the host's own checks.
void setStatusError(Response& res, const Status& status) {
  if (status.code() == StatusCode::kInvalidArgument)
    return http::setError(res, 400, "invalid_request", status.message());
  http::setError(res, status);
}

// An Idempotency-Key is 1-255 bytes of printable ASCII (spaces allowed, no control bytes).
bool validIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKey) return false;
  for (char c : key)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// Headers a plugin route never receives: the caller's credentials and the host's own X-Ihost-* headers
// (X-Ihost-Tenant names whom an operator acts for). Compared without regard to case.
bool hiddenFromPlugins(std::string_view name) {
  return ih::equalsIgnoreCase(name, "Authorization") || ih::equalsIgnoreCase(name, "Proxy-Authorization") ||
         ih::equalsIgnoreCase(name, "Cookie") || ih::startsWithIgnoreCase(name, "X-Ihost-");
}

// RFC 9110 token characters (header names).
bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Why a header a plugin route answers with cannot go on the wire, or empty when it can. Framing and
// connection headers belong to the server; names must be tokens; values must not break the header block.
std::string refusedPluginHeader(std::string_view name, std::string_view value) {
  if (name.empty() || name.size() > 256) return "a header name must be 1-256 characters";
  for (char c : name)
    if (!isTokenChar(c))
      return "header name \"" + ih::toValidUtf8(name.substr(0, 64)) + "\" is not an HTTP token";
  for (std::string_view framing : {"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
                                   "Upgrade", "TE", "Trailer", "Proxy-Connection"}) {
    if (ih::equalsIgnoreCase(name, framing))
      return "header \"" + std::string(name) + "\" is set by the host, not by a plugin";
  }
  if (value.size() > kMaxPluginHeaderValue)
    return "header \"" + std::string(name) + "\" is longer than " + std::to_string(kMaxPluginHeaderValue) +
           " bytes";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f)
      return "header \"" + std::string(name) + "\" holds a control character";
  }
  if (!ih::isValidUtf8(value)) return "header \"" + std::string(name) + "\" is not valid UTF-8";
  return {};
}

json timeOrNull(const std::optional<int64_t>& ms) {
  return ms ? json(ih::isoTimeSeconds(*ms)) : json(nullptr);
}

// The status an API caller sees when a plugin's connect/test fails: the caller's ihost key is fine, so a
// provider rejecting credentials is not a 401 here.
void setPluginError(Response& res, const Status& status, std::string_view integration) {
  std::string message = status.message();
  switch (status.code()) {
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      http::setError(res, 422, "credentials_rejected", message);
      return;
    case StatusCode::kUnavailable:
      http::setError(res, 502, "provider_unavailable", message);
      return;
    case StatusCode::kProvider:
      http::setError(res, 502, "provider_error", message);
      return;
    case StatusCode::kRateLimited:
      http::setError(res, 429, "rate_limited", message);
      return;
    case StatusCode::kPluginUnavailable:
      res.setHeader("Retry-After", "1");
      http::setError(res, 503, "plugin_unavailable", message);
      return;
    case StatusCode::kInternal:
      log::error("plugin call failed", {{"integration", integration}, {"error", message}});
      http::setError(res, 500, "plugin_error", message);
      return;
    default:
      setStatusError(res, status);
  }
}

class Api {
 public:
  explicit Api(Context& ctx) : ctx_(ctx) {}

  void registerAll(http::Server& s) {
    // Tenant API.
    s.route("GET", "/api/integrations",
            tenant(tenancy::kScopeRead, [this](auto& p, auto& q, auto& r) { listIntegrations(p, q, r); }));
    s.route("GET", "/api/integrations/{id}",
            tenant(tenancy::kScopeRead, [this](auto& p, auto& q, auto& r) { getIntegration(p, q, r); }));
    s.route("POST", "/api/integrations/{id}/connect",
            tenant(tenancy::kScopeWrite, [this](auto& p, auto& q, auto& r) { connect(p, q, r); }));
    s.route("GET", "/api/integrations/{id}/test",
            tenant(tenancy::kScopeRead, [this](auto& p, auto& q, auto& r) { test(p, q, r); }));
    s.route("DELETE", "/api/integrations/{id}",
            tenant(tenancy::kScopeWrite, [this](auto& p, auto& q, auto& r) { disconnect(p, q, r); }));
    s.route("POST", "/api/integrations/{id}/disconnect",
            tenant(tenancy::kScopeWrite, [this](auto& p, auto& q, auto& r) { disconnect(p, q, r); }));
    s.route("POST", "/api/integrations/{id}/actions/{action}",
            tenant(tenancy::kScopeWrite, [this](auto& p, auto& q, auto& r) { action(p, q, r); }));
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      bool read_only = std::string_view(method) == "GET";
      s.route(method, "/api/integrations/{id}/routes/{path...}",
              tenant(read_only ? tenancy::kScopeRead : tenancy::kScopeWrite,
                     [this](auto& p, auto& q, auto& r) { pluginRoute(&p, q, r, false); }));
      s.route(method, "/plugins/{id}/{path...}",
              [this](const Request& q, Response& r) { pluginRoute(nullptr, q, r, true); });
    }
    s.route("GET", "/api/audit",
            tenant(tenancy::kScopeRead, [this](auto& p, auto& q, auto& r) { audit(p, q, r); }));
    s.route("GET", "/api/whoami",
            tenant(tenancy::kScopeRead, [this](auto& p, auto& q, auto& r) { whoami(p, q, r); }));

    // Operator API.
    s.route("GET", "/api/admin/tenants",
            admin([this](auto& p, auto& q, auto& r) { adminListTenants(p, q, r); }));
    s.route("POST", "/api/admin/tenants",
            admin([this](auto& p, auto& q, auto& r) { adminCreateTenant(p, q, r); }));
    s.route("GET", "/api/admin/tenants/{tenant}/keys",
            admin([this](auto& p, auto& q, auto& r) { adminListKeys(p, q, r); }));
    s.route("POST", "/api/admin/tenants/{tenant}/keys",
            admin([this](auto& p, auto& q, auto& r) { adminCreateKey(p, q, r); }));
    s.route("DELETE", "/api/admin/tenants/{tenant}/keys/{key}",
            admin([this](auto& p, auto& q, auto& r) { adminRevokeKey(p, q, r); }));
    s.route("GET", "/api/admin/plugins", admin([this](auto& p, auto& q, auto& r) { adminPlugins(p, q, r); }));
    s.route("POST", "/api/admin/plugins/reload",
            admin([this](auto& p, auto& q, auto& r) { adminReloadPlugins(p, q, r); }));

    registerOpenApi(s);
  }

 private:
  using TenantHandler = tenancy::AuthedHandler;

  http::Handler tenant(std::string_view scope, TenantHandler handler) {
    return tenancy::requireTenant(*ctx_.tenancy, scope, std::move(handler));
  }

  http::Handler admin(TenantHandler handler) {
    return tenancy::requireAdmin(*ctx_.tenancy, std::move(handler));
  }

  // The integration named in the path, or a 404 written to `res`.
  runtime::Integration* integrationOr404(const Request& req, Response& res) {
    std::string id = req.param("id");
    runtime::Integration* in = ctx_.runtime->find(id);
    if (in == nullptr) {
      for (const auto& u : ctx_.runtime->unavailable()) {
        if (u.id == id) {
          http::setError(res, 503, "integration_unavailable",
                         "integration \"" + id + "\" is configured but not running: " + u.reason);
          return nullptr;
        }
      }
      http::setError(res, 404, "unknown_integration",
                     "no integration \"" + id + "\" is configured (see GET /api/integrations)");
      return nullptr;
    }
    if (!in->enabled()) {
      http::setError(res, 404, "unknown_integration",
                     "integration \"" + id + "\" is disabled in the configuration");
      return nullptr;
    }
    return in;
  }

  json describe(const runtime::Integration& in, const std::optional<store::Connection>& conn) {
    const auto& m = in.manifest();
    json j = {{"id", in.id()},
              {"plugin", {{"name", m.name}, {"version", m.version}, {"display_name", m.display_name}}},
              {"description", m.description},
              {"connected", conn && conn->status != store::ConnectionStatus::kInactive},
              {"status",
               conn ? std::string(store::connectionStatusName(conn->status)) : std::string("not_connected")},
              {"connect_schema",
               m.connect_schema_json.empty() ? json(nullptr) : parseJsonOrNull(m.connect_schema_json)},
              {"actions", json::array()},
              {"jobs", json::array()}};
    for (const auto& a : m.actions)
      j["actions"].push_back({{"name", a.name}, {"description", a.description}});
    for (const auto& jb : m.jobs)
      j["jobs"].push_back({{"name", jb.name}, {"every_seconds", jb.every_seconds}});
    if (conn) {
      json info = parseJsonOrNull(conn->info_json);
      j["info"] = info.is_discarded() ? json::object() : info;
      j["connected_at"] = ih::isoTimeSeconds(conn->connected_at);
      j["last_check"] = {{"at", timeOrNull(conn->last_check_at)},
                         {"ok", conn->last_check_ok ? json(*conn->last_check_ok) : json(nullptr)},
                         {"error", conn->last_error ? json(*conn->last_error) : json(nullptr)}};
    } else {
      j["info"] = nullptr;
      j["connected_at"] = nullptr;
      j["last_check"] = nullptr;
    }
    return j;
  }

  void listIntegrations(const tenancy::Principal& p, const Request&, Response& res) {
    auto conns = ctx_.store->listConnections(p.tenant_id);
    if (!conns.isOk()) return http::setError(res, conns.status());
    json data = json::array();
    for (runtime::Integration* in : ctx_.runtime->integrations()) {
      if (!in->enabled()) continue;
      std::optional<store::Connection> conn;
      for (const auto& c : *conns)
        if (c.integration_id == in->id()) conn = c;
      data.push_back(describe(*in, conn));
    }
    for (const auto& u : ctx_.runtime->unavailable()) {
      data.push_back({{"id", u.id},
                      {"plugin", {{"name", u.plugin}, {"version", nullptr}}},
                      {"connected", false},
                      {"status", "unavailable"},
                      {"reason", u.reason}});
    }
    if (ctx_.config != nullptr) {
      for (const config::ComingSoonConfig& c : ctx_.config->coming_soon)
        data.push_back({{"id", c.id},
                        {"name", c.name},
                        {"description", c.description},
                        {"plugin", nullptr},
                        {"connected", false},
                        {"status", "coming_soon"}});
    }
    sendJson(res, 200, {{"object", "list"}, {"data", data}});
  }

  void getIntegration(const tenancy::Principal& p, const Request& req, Response& res) {
    runtime::Integration* in = integrationOr404(req, res);
    if (!in) return;
    auto conn = ctx_.store->getConnection(p.tenant_id, in->id());
    if (!conn.isOk()) return http::setError(res, conn.status());
    sendJson(res, 200, describe(*in, *conn));
  }

  void connect(const tenancy::Principal& p, const Request& req, Response& res) {
    runtime::Integration* in = integrationOr404(req, res);
    if (!in) return;
    json body;
    if (!parseBody(req, res, body, /*allow_empty=*/false)) return;
    if (!in->manifest().connect_schema_json.empty()) {
      Status valid = config::validateJson(in->manifest().connect_schema_json, req.body, "connect body");
      if (!valid.isOk()) return http::setError(res, 400, "invalid_request", valid.message());
    }
    runtime::CallResult result = ctx_.runtime->connect(*in, p.tenant_id, req.body);
    if (!result.status.isOk()) {
      log::info("connect refused",
                {{"tenant", p.tenant_id}, {"integration", in->id()}, {"reason", result.status.message()}});
      return setPluginError(res, result.status, in->id());
    }
    auto conn =
        ctx_.connections->save(p.tenant_id, in->id(), result.credentials, result.result_json, p.actor());
    if (!conn.isOk()) return http::setError(res, conn.status());
    log::info("integration connected", {{"tenant", p.tenant_id}, {"integration", in->id()}});
    sendJson(res, 200, describe(*in, *conn));
  }

  void test(const tenancy::Principal& p, const Request& req, Response& res) {
    runtime::Integration* in = integrationOr404(req, res);
    if (!in) return;
    auto conn = ctx_.store->getConnection(p.tenant_id, in->id());
    if (!conn.isOk()) return http::setError(res, conn.status());
    if (!*conn || (*conn)->status == store::ConnectionStatus::kInactive) {
      return http::setError(res, 409, "not_connected",
                            "integration \"" + in->id() +
                                "\" is not connected for this tenant; POST /api/integrations/" + in->id() +
                                "/connect first");
    }
    runtime::CallResult result = ctx_.runtime->testConnection(*in, p.tenant_id);
    json detail = parseJsonOrNull(result.result_json);
    // The plugin's {"ok":false,"detail":"…"}; members of other types count as absent.
    const bool reported_failure =
        detail.is_object() && detail.contains("ok") && detail["ok"].is_boolean() && !detail["ok"].get<bool>();
    bool ok = result.status.isOk() && !reported_failure;
    std::string error = result.status.message();
    if (result.status.isOk()) {
      error.clear();
      if (!ok) {
        error = detail.contains("detail") && detail["detail"].is_string()
                    ? detail["detail"].get<std::string>()
                    : std::string("check failed");
      }
    }
    int64_t now = nowMs();
    (void)ctx_.store->recordHealthCheck(p.tenant_id, in->id(), ok, error, now);
    json out = {{"integration", in->id()}, {"ok", ok}, {"checked_at", ih::isoTimeSeconds(now)}};
    if (!error.empty()) out["error"] = redact(error);
    if (detail.is_object()) {
      json redacted = parseJsonOrNull(redact(ih::dumpJson(detail)));
      out["detail"] = redacted.is_object() ? redacted : json::object();
    }
    sendJson(res, 200, out);
  }

  void disconnect(const tenancy::Principal& p, const Request& req, Response& res) {
    runtime::Integration* in = integrationOr404(req, res);
    if (!in) return;
    auto conn = ctx_.store->getConnection(p.tenant_id, in->id());
    if (!conn.isOk()) return http::setError(res, conn.status());
    if (!*conn || (*conn)->status == store::ConnectionStatus::kInactive) {
      return http::setError(res, 409, "not_connected",
                            "integration \"" + in->id() + "\" is not connected for this tenant");
    }
    // Revoke at the provider when the plugin can; local credentials are wiped whatever happens there.
    runtime::CallResult result = ctx_.runtime->disconnect(*in, p.tenant_id);
    json detail = {{"provider_revoked", result.status.isOk()}};
    if (!result.status.isOk() && result.status.code() != StatusCode::kUnsupported) {
      detail["provider_error"] = result.status.message();
      log::warn("provider-side disconnect failed; local credentials wiped anyway",
                {{"tenant", p.tenant_id}, {"integration", in->id()}, {"error", result.status.message()}});
    }
    if (Status s = ctx_.connections->remove(p.tenant_id, in->id(), p.actor(), ih::dumpJson(detail),
                                            json({{"integration", in->id()}}).dump());
        !s.isOk())
      return http::setError(res, s);
    sendJson(res, 200,
             {{"integration", in->id()}, {"connected", false}, {"status", "inactive"}, {"detail", detail}});
  }

  // Writes 409 not_connected (true) when the integration's plugin connects per tenant and this tenant has
  // no active connection: such a plugin cannot act for it, so it is not called at all.
  bool refuseUnconnected(const tenancy::Principal& p, runtime::Integration& in, Response& res) {
    auto lacks = ctx_.runtime->lacksConnection(in, p.tenant_id);
    if (!lacks.isOk()) {
      http::setError(res, lacks.status());
      return true;
    }
    if (!*lacks) return false;
    http::setError(res, 409, "not_connected",
                   "integration \"" + in.id() + "\" is not connected for this tenant; connect it first");
    return true;
  }

  void action(const tenancy::Principal& p, const Request& req, Response& res) {
    runtime::Integration* in = integrationOr404(req, res);
    if (!in) return;
    std::string name = req.param("action");
    const loader::ActionSpec* spec = in->manifest().findAction(name);
    if (spec == nullptr) {
      std::string known;
      for (const auto& a : in->manifest().actions)
        known += (known.empty() ? "" : ", ") + a.name;
      return http::setError(res, 404, "unknown_action",
                            "integration \"" + in->id() + "\" has no action \"" + name.substr(0, 100) + "\"" +
                                (known.empty() ? std::string() : " (actions: " + known + ")"));
    }
    // Idempotency-Key: the same key and input answer the stored result again, without running the action.
    const bool has_key = req.hasHeader("Idempotency-Key");
    std::string key = req.header("Idempotency-Key");
    if (has_key && !validIdempotencyKey(key)) {
      return http::setError(
          res, 400, "invalid_request",
          "Idempotency-Key must be 1-" + std::to_string(kMaxIdempotencyKey) + " bytes of printable ASCII");
    }
    json body;
    if (!parseBody(req, res, body)) return;
    std::string input = ih::dumpJson(body);
    if (!spec->input_schema_json.empty()) {
      Status valid = config::validateJson(spec->input_schema_json, input, "action input");
      if (!valid.isOk()) return http::setError(res, 400, "invalid_request", valid.message());
    }
    if (refuseUnconnected(p, *in, res)) return;
    std::optional<records::IdempotencyTicket> ticket;
    if (!key.empty() && ctx_.idempotency != nullptr) {
      auto lookup = ctx_.idempotency->lookup(p.tenant_id, in->id(), key, name, input);
      if (!lookup.isOk()) return http::setError(res, lookup.status());
      switch (lookup->kind) {
        case records::IdempotencyLookup::Kind::kReplay:
          res.json(lookup->status, lookup->body);
          res.setHeader("Idempotent-Replayed", "true");
          return;
        case records::IdempotencyLookup::Kind::kMismatch:
          return http::setError(
              res, 400, "idempotency_error",
              "Idempotency-Key \"" + key +
                  "\" was already used with another action or input; use a new key for a new request");
        case records::IdempotencyLookup::Kind::kInProgress:
          return http::setError(
              res, 409, "idempotency_error",
              "a request with Idempotency-Key \"" + key + "\" is still running; retry shortly");
        case records::IdempotencyLookup::Kind::kMiss:
          ticket = std::move(lookup->ticket);
          break;
      }
    }
    runtime::CallResult result = ctx_.runtime->runAction(*in, p.tenant_id, name, input);
    if (!result.status.isOk()) {
      setPluginError(res, result.status, in->id());
    } else {
      res.json(200, result.result_json.empty() ? "{}" : result.result_json);
    }
    // Transient failures are not stored: a retry with the same key runs the action again.
    if (ticket && res.status < 500 && res.status != 429) {
      if (Status s = ctx_.idempotency->save(std::move(*ticket), res.status, res.body); !s.isOk()) {
        log::warn("could not store an idempotent action result", {{"error", s.message()}});
      }
    }
  }

  void pluginRoute(const tenancy::Principal* p, const Request& req, Response& res, bool is_public) {
    runtime::Integration* in = integrationOr404(req, res);
    if (!in) return;
    std::string path = "/" + req.param("path");
    const loader::RouteSpec* spec = nullptr;
    bool path_known = false;
    for (const auto& r : in->manifest().routes) {
      if (r.path == path && r.is_public == is_public) {
        path_known = true;
        if (r.method == req.method) spec = &r;
      }
    }
    if (spec == nullptr) {
      if (path_known)
        return http::setError(res, 405, "method_not_allowed",
                              "method " + req.method + " is not allowed on " + req.path);
      return http::setError(res, 404, "not_found", "no route for " + req.method + " " + req.path);
    }
    if (!http::requireUtf8(req, res)) return;
    json meta = {{"method", req.method},
                 {"path", path},
                 {"route", spec->path},
                 {"params", json::object()},
                 {"query", json::object()},
                 {"headers", json::object()},
                 {"tenant", p ? p->tenant_id : std::string()},
                 {"request_id", req.request_id}};
    for (const auto& [k, v] : req.query)
      meta["query"][k] = v;
    for (const auto& [k, v] : req.headers) {
      if (hiddenFromPlugins(k)) continue;  // the plugin never sees the caller's credentials
      meta["headers"][k] = v;
    }
    runtime::CallResult result =
        ctx_.runtime->route(*in, p ? p->tenant_id : std::string(), ih::dumpJson(meta), req.body);
    // What the plugin answers goes on the wire only if it cannot break the response's framing.
    auto refuse = [&](const std::string& why) {
      log::warn("plugin route answer refused",
                {{"integration", in->id()}, {"route", spec->path}, {"reason", why}});
      http::setError(
          res, 502, "plugin_error",
          "plugin " + in->manifest().name + " answered " + spec->path + " with an invalid response: " + why);
    };
    // The host refused the plugin's respond() (whatever the plugin then returned): the plugin is at fault.
    if (!result.refused_response.empty()) return refuse(result.refused_response);
    if (!result.status.isOk()) return setStatusError(res, result.status);
    if (!result.responded) {
      res.status = 204;
      res.body.clear();
      return;
    }
    if (result.http_status < 200)
      return refuse("status " + std::to_string(result.http_status) + " is not final");
    std::vector<std::pair<std::string, std::string>> headers;
    std::string content_type = "application/json";
    if (!result.headers_json.empty()) {
      json parsed = parseJsonOrNull(result.headers_json);
      if (!parsed.is_object()) return refuse("headers are not a JSON object");
      for (auto& [k, v] : parsed.items()) {
        if (!v.is_string())
          return refuse("header \"" + ih::toValidUtf8(k.substr(0, 64)) + "\" is not a string");
        const std::string& value = v.get_ref<const std::string&>();
        if (std::string why = refusedPluginHeader(k, value); !why.empty()) return refuse(why);
        if (ih::equalsIgnoreCase(k, "Content-Type")) {
          content_type = value;
        } else {
          headers.emplace_back(k, value);
        }
      }
    }
    res.status = result.http_status;
    res.body = std::move(result.body);
    res.content_type = std::move(content_type);
    for (auto& [k, v] : headers)
      res.setHeader(std::move(k), std::move(v));
  }

  void audit(const tenancy::Principal& p, const Request& req, Response& res) {
    const auto after = http::queryInt(req, res, "after", 0, std::numeric_limits<int64_t>::max(), 0);
    if (!after) return;
    const auto limit = http::queryInt(req, res, "limit", 1, 500, 50);
    if (!limit) return;
    auto entries = ctx_.store->listAudit(p.tenant_id, *after, static_cast<size_t>(*limit));
    if (!entries.isOk()) return http::setError(res, entries.status());
    json data = json::array();
    for (const auto& e : *entries) {
      json detail = parseJsonOrNull(e.detail_json);
      data.push_back({{"id", e.id},
                      {"integration", e.integration_id},
                      {"actor", e.actor},
                      {"action", e.action},
                      {"detail", detail.is_discarded() ? json::object() : detail},
                      {"at", ih::isoTimeSeconds(e.at)}});
    }
    json out = {
        {"object", "list"}, {"data", data}, {"next_after", entries->empty() ? *after : entries->back().id}};
    sendJson(res, 200, out);
  }

  void whoami(const tenancy::Principal& p, const Request&, Response& res) {
    auto t = ctx_.store->getTenant(p.tenant_id);
    if (!t.isOk()) return http::setError(res, t.status());
    sendJson(res, 200,
             {{"tenant", {{"id", t->id}, {"name", t->name}}}, {"key_id", p.key_id}, {"scopes", p.scopes}});
  }

  // --- admin ---
  static json keyJson(const store::ApiKey& k) {
    return {{"id", k.id},
            {"tenant", k.tenant_id},
            {"prefix", k.display_prefix},
            {"scopes", k.scopes},
            {"created_at", ih::isoTimeSeconds(k.created_at)},
            {"last_used_at", timeOrNull(k.last_used_at)},
            {"revoked_at", timeOrNull(k.revoked_at)}};
  }

  void adminListTenants(const tenancy::Principal&, const Request&, Response& res) {
    auto tenants = ctx_.store->listTenants();
    if (!tenants.isOk()) return http::setError(res, tenants.status());
    json data = json::array();
    for (const auto& t : *tenants)
      data.push_back({{"id", t.id}, {"name", t.name}, {"created_at", ih::isoTimeSeconds(t.created_at)}});
    sendJson(res, 200, {{"object", "list"}, {"data", data}});
  }

  void adminCreateTenant(const tenancy::Principal&, const Request& req, Response& res) {
    json body;
    if (!parseBody(req, res, body, false)) return;
    if (!body.contains("name") || !body["name"].is_string()) {
      return http::setError(res, 400, "invalid_request", "body needs a \"name\" string");
    }
    const std::string& name = body["name"].get_ref<const std::string&>();
    if (name.empty() || name.size() > kMaxTenantName) {
      return http::setError(
          res, 400, "invalid_request",
          "tenant name must be 1-" + std::to_string(kMaxTenantName) + " characters of a-z, 0-9, '_' and '-'");
    }
    auto created = ctx_.tenancy->createTenant(name);
    if (!created.isOk()) return setStatusError(res, created.status());
    sendJson(res, 201,
             {{"tenant", {{"id", created->tenant.id}, {"name", created->tenant.name}}},
              {"api_key", created->first_key.plaintext},
              {"key", keyJson(created->first_key.key)},
              {"note", "the api_key is shown once; store it now"}});
  }

  void adminListKeys(const tenancy::Principal&, const Request& req, Response& res) {
    auto t = ctx_.tenancy->resolveTenant(req.param("tenant"));
    if (!t.isOk()) return http::setError(res, t.status());
    auto keys = ctx_.store->listApiKeys(t->id);
    if (!keys.isOk()) return http::setError(res, keys.status());
    json data = json::array();
    for (const auto& k : *keys)
      data.push_back(keyJson(k));
    sendJson(res, 200, {{"object", "list"}, {"data", data}});
  }

  void adminCreateKey(const tenancy::Principal&, const Request& req, Response& res) {
    auto t = ctx_.tenancy->resolveTenant(req.param("tenant"));
    if (!t.isOk()) return http::setError(res, t.status());
    json body;
    if (!parseBody(req, res, body)) return;
    std::vector<std::string> scopes;
    if (body.contains("scopes")) {
      if (!body["scopes"].is_array())
        return http::setError(res, 400, "invalid_request", "\"scopes\" must be an array of strings");
      for (const auto& s : body["scopes"]) {
        if (!s.is_string())
          return http::setError(res, 400, "invalid_request", "\"scopes\" must be an array of strings");
        if (s.get_ref<const std::string&>().size() > 16)
          return http::setError(res, 400, "invalid_request",
                                "unknown scope; use \"*\", \"read\" or \"write\"");
        scopes.push_back(s.get<std::string>());
      }
    }
    auto key = ctx_.tenancy->createKey(t->id, scopes);
    if (!key.isOk()) return setStatusError(res, key.status());
    sendJson(res, 201,
             {{"api_key", key->plaintext},
              {"key", keyJson(key->key)},
              {"note", "the api_key is shown once; store it now"}});
  }

  void adminRevokeKey(const tenancy::Principal&, const Request& req, Response& res) {
    auto t = ctx_.tenancy->resolveTenant(req.param("tenant"));
    if (!t.isOk()) return http::setError(res, t.status());
    if (Status s = ctx_.tenancy->revokeKey(t->id, req.param("key")); !s.isOk()) return http::setError(res, s);
    sendJson(res, 200, {{"id", req.param("key")}, {"revoked", true}});
  }

  void adminPlugins(const tenancy::Principal&, const Request&, Response& res) {
    json loaded = json::array();
    for (const auto& plugin : ctx_.registry->loaded()) {
      const auto& m = plugin->manifest();
      loaded.push_back(
          {{"name", m.name},
           {"version", m.version},
           {"display_name", m.display_name},
           {"description", m.description},
           {"abi", std::to_string(plugin->abiMajor()) + "." + std::to_string(plugin->abiMinor())},
           {"capabilities", loader::capabilityNames(plugin->capabilities())},
           {"file", plugin->file()},
           {"sha256", plugin->sha256()}});
    }
    json refused = json::array();
    for (const auto& r : ctx_.registry->refused())
      refused.push_back({{"file", r.file}, {"reason", r.reason}});
    json unavailable = json::array();
    for (const auto& u : ctx_.runtime->unavailable()) {
      unavailable.push_back({{"integration", u.id}, {"plugin", u.plugin}, {"reason", u.reason}});
    }
    json running = json::array();
    for (const runtime::Integration* in : ctx_.runtime->integrations()) {
      const std::string previous = in->previousVersion();
      running.push_back({{"integration", in->id()},
                         {"plugin", in->manifest().name},
                         {"version", in->manifest().version},
                         {"sha256", in->plugin().sha256()},
                         {"loaded_at", in->loadedAtMs() / 1000},
                         {"previous_version", previous.empty() ? json(nullptr) : json(previous)},
                         {"reloads", in->reloads()},
                         {"isolation", in->isolated() ? "process" : "in_process"}});
      if (auto runner = in->runner()) {
        running.back()["runner"] = {
            {"up", runner->up},
            {"pid", runner->up ? json(runner->pid) : json(nullptr)},
            {"restarts", runner->restarts},
            {"started_at", runner->started_at_ms / 1000},
            {"last_exit", runner->last_exit.empty() ? json(nullptr) : json(runner->last_exit)},
            {"last_exit_at", runner->last_exit_at_ms ? json(runner->last_exit_at_ms / 1000) : json(nullptr)}};
      }
    }
    sendJson(res, 200,
             {{"loaded", loaded},
              {"refused", refused},
              {"integrations", running},
              {"unavailable_integrations", unavailable}});
  }

  // Hot swap: every changed .so in the plugins directory replaces the version its integrations run.
  void adminReloadPlugins(const tenancy::Principal&, const Request&, Response& res) {
    json files = json::array();
    bool refused = false;
    for (const runtime::ReloadOutcome& o : ctx_.runtime->reloadPlugins(*ctx_.config)) {
      refused = refused || o.status == "refused";
      json entry = {{"file", o.file},
                    {"plugin", o.plugin.empty() ? json(nullptr) : json(o.plugin)},
                    {"status", o.status},
                    {"from_version", o.from_version.empty() ? json(nullptr) : json(o.from_version)},
                    {"to_version", o.to_version.empty() ? json(nullptr) : json(o.to_version)},
                    {"integrations", o.integrations}};
      if (!o.reason.empty()) entry["reason"] = o.reason;
      files.push_back(std::move(entry));
    }
    sendJson(res, 200, {{"files", files}, {"refused", refused}});
  }

  Context& ctx_;
};

}  // namespace

std::shared_ptr<void> registerRoutes(http::Server& server, Context& context) {
  auto api = std::make_shared<Api>(context);
  api->registerAll(server);
  return api;
}

}  // namespace ih::api
