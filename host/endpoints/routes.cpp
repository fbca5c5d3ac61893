// Tenant API for outbound webhook endpoints. See endpoints.h.
#include <openssl/rand.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include <charconv>
#include <ctime>

#include "common/clock.h"
#include "common/json_parse.h"
#include "common/text.h"
#include "common/time_text.h"
#include "endpoints/endpoints.h"
#include "endpoints/signature.h"
#include "events/events.h"
#include "http/params.h"
#include "http/server.h"
#include "log/log.h"
#include "outbound/client.h"
#include "store/endpoint_store.h"
#include "tenancy/http_auth.h"

namespace ih::endpoints {
namespace {

using nlohmann::json;

constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxDescription = 500;
constexpr size_t kMaxEventTypes = 50;
constexpr size_t kMaxEventType = 100;
constexpr int64_t kDefaultAttempts = 20;
constexpr int64_t kMaxAttempts = 100;

Result<std::string> newEndpointId() {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Status::internal("random generator failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "ep_";
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

Status checkUrl(const json& value, const outbound::NetworkPolicy& policy) {
  if (!value.is_string()) return Status::invalidArgument("url must be a string (an http:// or https:// URL)");
  const std::string& url = value.get_ref<const std::string&>();
  if (url.size() > kMaxUrl) return Status::invalidArgument("url is longer than 2048 characters");
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    rest = std::string_view(url).substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = std::string_view(url).substr(7);
  } else {
    return Status::invalidArgument("url must start with http:// or https:// (got \"" + url.substr(0, 40) +
                                   "\")");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::invalidArgument("url must not contain spaces or control characters");
    }
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.front() == ':') return Status::invalidArgument("url has no host");
  if (authority.find('@') != std::string_view::npos) {
    return Status::invalidArgument(
        "url must not carry credentials (user:password@); authenticate with the "
        "webhook signature instead");
  }
  // Where it points: loopback, private, link-local (cloud metadata) and similar addresses are refused
  // unless the operator allowed them. A name that does not resolve yet is accepted: the same check runs on
  // the resolved address at every delivery.
  Status reachable = outbound::checkUrl(url, policy);
  if (reachable.code() == StatusCode::kPermissionDenied || reachable.code() == StatusCode::kInvalidArgument) {
    return Status::invalidArgument("url is not allowed: " + reachable.message());
  }
  return Status::ok();
}

Result<std::vector<std::string>> parseEventTypes(const json& value) {
  if (!value.is_array() || value.empty() || value.size() > kMaxEventTypes) {
    return Status::invalidArgument(
        "event_types must be a non-empty array (at most 50) of event type prefixes, or [\"*\"] for every "
        "event");
  }
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string()) return Status::invalidArgument("event_types entries must be strings");
    const std::string& t = item.get_ref<const std::string&>();
    bool ok = t == "*" || (!t.empty() && t.size() <= kMaxEventType);
    for (size_t i = 0; ok && t != "*" && i < t.size(); ++i) {
      const char c = t[i];
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
    }
    if (!ok) {
      return Status::invalidArgument("event type prefix \"" + t.substr(0, kMaxEventType) +
                                     "\" is invalid: use \"*\" or a prefix of [A-Za-z0-9_.-] (at most 100 "
                                     "characters), e.g. \"invoice.\"");
    }
    out.push_back(t);
  }
  return out;
}

Status checkDescription(const json& value) {
  if (!value.is_string()) return Status::invalidArgument("description must be a string");
  if (value.get_ref<const std::string&>().size() > kMaxDescription) {
    return Status::invalidArgument("description is longer than 500 characters");
  }
  return Status::ok();
}

Result<json> parseBody(const http::Request& req, std::initializer_list<std::string_view> allowed) {
  auto parsed = parseJson(req.body);
  if (!parsed.isOk())
    return Status::invalidArgument("the body is not valid JSON: " + parsed.status().message());
  json body = std::move(*parsed);
  if (!body.is_object()) return Status::invalidArgument("the body must be a JSON object");
  for (const auto& [key, _] : body.items()) {
    bool known = false;
    for (auto a : allowed)
      known = known || key == a;
    if (!known) return Status::invalidArgument("unknown field \"" + key.substr(0, 50) + "\"");
  }
  return body;
}

json endpointJson(const store::EndpointRow& e, const std::string* full_secret) {
  json j = {{"object", "endpoint"},
            {"id", e.id},
            {"url", e.url},
            {"description", e.description},
            {"event_types", e.event_types},
            {"disabled", e.disabled},
            {"disabled_reason", e.disabled ? json(e.disabled_reason) : json(nullptr)},
            {"secret", full_secret ? *full_secret : std::string("whsec_****")},
            {"created_at", isoTimeMillis(e.created_at)},
            {"updated_at", isoTimeMillis(e.updated_at)}};
  if (!e.previous_secret.empty() && e.previous_secret_expires_at > nowMs()) {
    j["previous_secret_expires_at"] = isoTimeMillis(e.previous_secret_expires_at);
  }
  return j;
}

std::string dumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

class Api {
 public:
  explicit Api(Endpoints& endpoints) : endpoints_(endpoints), store_(endpoints.endpointStore()) {}

  void create(const tenancy::Principal& p, const http::Request& req, http::Response& res) {
    auto body = parseBody(req, {"url", "event_types", "description"});
    if (!body.isOk()) return http::setError(res, body.status());
    if (!body->contains("url")) return http::setError(res, Status::invalidArgument("url is required"));
    if (!body->contains("event_types")) {
      return http::setError(res, Status::invalidArgument("event_types is required (e.g. [\"*\"])"));
    }
    if (Status st = checkUrl((*body)["url"], endpoints_.networkPolicy()); !st.isOk())
      return http::setError(res, st);
    auto types = parseEventTypes((*body)["event_types"]);
    if (!types.isOk()) return http::setError(res, types.status());
    store::EndpointRow row;
    if (body->contains("description")) {
      if (Status st = checkDescription((*body)["description"]); !st.isOk()) return http::setError(res, st);
      row.description = (*body)["description"].get<std::string>();
    }
    auto id = newEndpointId();
    auto secret = generateSecret();
    if (!id.isOk() || !secret.isOk()) return http::setError(res, Status::internal("random generator failed"));
    row.id = *id;
    row.tenant_id = p.tenant_id;
    row.url = (*body)["url"].get<std::string>();
    row.event_types = std::move(types).value();
    auto sealed = endpoints_.sealSecret(p.tenant_id, row.id, *secret);
    if (!sealed.isOk()) return http::setError(res, sealed.status());
    row.secret = std::move(*sealed);
    row.created_at = row.updated_at = nowMs();
    if (Status st = store_.create(p.tenant_id, row); !st.isOk()) return http::setError(res, st);
    log::info("endpoint created", {{"tenant", p.tenant_id}, {"endpoint", row.id}});
    res.json(201, dumpJson(endpointJson(row, &*secret)));
  }

  void list(const tenancy::Principal& p, const http::Request&, http::Response& res) {
    auto rows = store_.list(p.tenant_id);
    if (!rows.isOk()) return http::setError(res, rows.status());
    json data = json::array();
    for (const auto& e : *rows)
      data.push_back(endpointJson(e, nullptr));
    res.json(200, dumpJson({{"object", "list"}, {"data", std::move(data)}}));
  }

  void get(const tenancy::Principal& p, const http::Request& req, http::Response& res) {
    auto row = store_.get(p.tenant_id, req.param("id"));
    if (!row.isOk()) return http::setError(res, row.status());
    res.json(200, dumpJson(endpointJson(*row, nullptr)));
  }

  void patch(const tenancy::Principal& p, const http::Request& req, http::Response& res) {
    auto body = parseBody(req, {"url", "event_types", "description", "disabled"});
    if (!body.isOk()) return http::setError(res, body.status());
    store::EndpointUpdate update;
    if (body->contains("url")) {
      if (Status st = checkUrl((*body)["url"], endpoints_.networkPolicy()); !st.isOk())
        return http::setError(res, st);
      update.url = (*body)["url"].get<std::string>();
    }
    if (body->contains("event_types")) {
      auto types = parseEventTypes((*body)["event_types"]);
      if (!types.isOk()) return http::setError(res, types.status());
      update.event_types = std::move(types).value();
    }
    if (body->contains("description")) {
      if (Status st = checkDescription((*body)["description"]); !st.isOk()) return http::setError(res, st);
      update.description = (*body)["description"].get<std::string>();
    }
    if (body->contains("disabled")) {
      if (!(*body)["disabled"].is_boolean()) {
        return http::setError(res, Status::invalidArgument("disabled must be true or false"));
      }
      update.disabled = (*body)["disabled"].get<bool>();
    }
    auto row = store_.update(p.tenant_id, req.param("id"), update);
    if (!row.isOk()) return http::setError(res, row.status());
    res.json(200, dumpJson(endpointJson(*row, nullptr)));
  }

  void remove(const tenancy::Principal& p, const http::Request& req, http::Response& res) {
    if (Status st = store_.remove(p.tenant_id, req.param("id")); !st.isOk()) return http::setError(res, st);
    log::info("endpoint deleted", {{"tenant", p.tenant_id}, {"endpoint", req.param("id")}});
    res.status = 204;
    res.body.clear();
  }

  void rotate(const tenancy::Principal& p, const http::Request& req, http::Response& res) {
    auto secret = generateSecret();
    if (!secret.isOk()) return http::setError(res, secret.status());
    const int64_t expires = nowMs() + endpoints_.options().previous_secret_ttl.count();
    auto sealed = endpoints_.sealSecret(p.tenant_id, req.param("id"), *secret);
    if (!sealed.isOk()) return http::setError(res, sealed.status());
    auto row = store_.rotateSecret(p.tenant_id, req.param("id"), *sealed, expires);
    if (!row.isOk()) return http::setError(res, row.status());
    log::info("endpoint secret rotated", {{"tenant", p.tenant_id}, {"endpoint", row->id}});
    res.json(200, dumpJson(endpointJson(*row, &*secret)));
  }

  void resend(const tenancy::Principal& p, const http::Request& req, http::Response& res) {
    std::string text = req.param("event_id");
    if (text.rfind("evt_", 0) == 0) text = text.substr(4);
    const auto event_id = parseInt64InRange(text, 0, std::numeric_limits<int64_t>::max());
    if (!event_id) return http::setError(res, Status::invalidArgument("event id must be evt_<n> or <n>"));
    auto delivery = store_.resend(p.tenant_id, req.param("id"), *event_id);
    if (!delivery.isOk()) return http::setError(res, delivery.status());
    endpoints_.wake();
    res.json(202, dumpJson({{"object", "delivery"},
                            {"id", delivery->id},
                            {"endpoint_id", delivery->endpoint_id},
                            {"event_id", "evt_" + std::to_string(delivery->event_id)},
                            {"status", delivery->status}}));
  }

  void recover(const tenancy::Principal& p, const http::Request& req, http::Response& res) {
    auto body = parseBody(req, {"since"});
    if (!body.isOk()) return http::setError(res, body.status());
    if (!body->contains("since") || !(*body)["since"].is_string()) {
      return http::setError(res, Status::invalidArgument("since is required: an ISO 8601 time, e.g. "
                                                         "\"2024-05-01T12:00:00Z\""));
    }
    auto since = parseIsoTime((*body)["since"].get<std::string>());
    if (!since.isOk())
      return http::setError(res, Status::invalidArgument("since " + since.status().message()));
    auto count = store_.recover(p.tenant_id, req.param("id"), *since);
    if (!count.isOk()) return http::setError(res, count.status());
    endpoints_.wake();
    log::info("endpoint deliveries recovered", {{"tenant", p.tenant_id},
                                                {"endpoint", req.param("id")},
                                                {"deliveries", static_cast<int64_t>(*count)}});
    res.json(202, dumpJson({{"object", "recover"}, {"requeued", *count}}));
  }

  void attempts(const tenancy::Principal& p, const http::Request& req, http::Response& res) {
    // An empty cursor is the first page (clients echo next_cursor, which is empty on the last page).
    const bool first_page = !req.hasQuery("cursor") || req.queryValue("cursor").empty();
    const auto cursor = first_page
                            ? std::optional<int64_t>(0)
                            : http::queryInt(req, res, "cursor", 0, std::numeric_limits<int64_t>::max(), 0);
    if (!cursor) return;
    const auto limit = http::queryInt(req, res, "limit", 1, kMaxAttempts, kDefaultAttempts);
    if (!limit) return;
    if (auto endpoint = store_.get(p.tenant_id, req.param("id")); !endpoint.isOk()) {
      return http::setError(res, endpoint.status());
    }
    auto rows = store_.listAttempts(p.tenant_id, req.param("id"), *cursor, static_cast<size_t>(*limit) + 1);
    if (!rows.isOk()) return http::setError(res, rows.status());
    const bool has_more = rows->size() > static_cast<size_t>(*limit);
    if (has_more) rows->pop_back();
    json data = json::array();
    for (const auto& a : *rows) {
      data.push_back({{"object", "attempt"},
                      {"id", std::to_string(a.id)},
                      {"event_id", "evt_" + std::to_string(a.event_id)},
                      {"delivery_id", a.delivery_id},
                      {"attempt", a.attempt},
                      {"at", isoTimeMillis(a.at)},
                      {"status", a.http_status > 0 ? json(a.http_status) : json(nullptr)},
                      {"succeeded", a.succeeded},
                      {"duration_ms", a.duration_ms},
                      {a.http_status > 0 ? "response" : "error", a.response}});
    }
    json out = {{"object", "list"}, {"data", std::move(data)}, {"has_more", has_more}};
    out["next_cursor"] = has_more ? json(std::to_string(rows->back().id)) : json(nullptr);
    res.json(200, dumpJson(out));
  }

 private:
  Endpoints& endpoints_;
  store::EndpointStore& store_;
};

}  // namespace

void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Endpoints& endpoints) {
  auto api = std::make_shared<Api>(endpoints);
  using Method = void (Api::*)(const tenancy::Principal&, const http::Request&, http::Response&);
  auto add = [&](std::string_view method, std::string_view pattern, std::string_view scope, Method fn) {
    server.route(method, pattern,
                 tenancy::requireTenant(tenancy, scope,
                                        [api, fn](const tenancy::Principal& p, const http::Request& req,
                                                  http::Response& res) { ((*api).*fn)(p, req, res); }));
  };
  add("POST", "/api/endpoints", tenancy::kScopeWrite, &Api::create);
  add("GET", "/api/endpoints", tenancy::kScopeRead, &Api::list);
  add("GET", "/api/endpoints/{id}", tenancy::kScopeRead, &Api::get);
  add("PATCH", "/api/endpoints/{id}", tenancy::kScopeWrite, &Api::patch);
  add("DELETE", "/api/endpoints/{id}", tenancy::kScopeWrite, &Api::remove);
  add("POST", "/api/endpoints/{id}/rotate_secret", tenancy::kScopeWrite, &Api::rotate);
  add("POST", "/api/endpoints/{id}/messages/{event_id}/resend", tenancy::kScopeWrite, &Api::resend);
  add("POST", "/api/endpoints/{id}/recover", tenancy::kScopeWrite, &Api::recover);
  add("GET", "/api/endpoints/{id}/attempts", tenancy::kScopeRead, &Api::attempts);
}

}  // namespace ih::endpoints
