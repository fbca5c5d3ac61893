// The inbox's routes: intake endpoints, and the tenant/operator API to inspect and replay events.
#include <nlohmann/json.hpp>

#include "inbox/internal.h"
#include "log/log.h"
#include "store/store.h"
#include "tenancy/http_auth.h"
#include "tenancy/tenancy.h"

namespace ih::inbox {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

std::string hex(std::string_view bytes) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
  }
  return out;
}

bool containsIgnoreCase(std::string_view haystack, std::string_view needle) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  return lower(haystack).find(needle) != std::string::npos;
}

// Signature-ish headers are masked whole; the rest goes through redact.
json displayHeaders(const std::string& headers_json) {
  json headers = json::parse(headers_json, nullptr, false);
  if (!headers.is_object()) return json::object();
  for (auto& [name, value] : headers.items()) {
    if (!value.is_string()) continue;
    const bool secretish = containsIgnoreCase(name, "signature") || containsIgnoreCase(name, "secret") ||
                           containsIgnoreCase(name, "token") || containsIgnoreCase(name, "hmac") ||
                           containsIgnoreCase(name, "api-key");
    value = secretish ? mask(value.get<std::string>()) : redact(value.get<std::string>());
  }
  return headers;
}

json summaryJson(const store::InboxEvent& e) {
  json out = {{"id", e.id},
              {"integration", e.integration_id},
              {"tenant", e.tenant_id.empty() ? json(nullptr) : json(e.tenant_id)},
              {"event_id", e.event_id},
              {"type", e.type},
              {"status", std::string(store::inboxStatusName(e.status))},
              {"attempts", e.attempts},
              {"received_at", isoTime(e.received_at)},
              {"updated_at", isoTime(e.updated_at)},
              {"occurred_at", e.occurred_at > 0 ? json(isoTime(e.occurred_at * 1000)) : json(nullptr)},
              {"duplicates", e.duplicates},
              {"conflicts", e.conflicts},
              {"last_error", e.last_error.empty() ? json(nullptr) : json(e.last_error)}};
  if (!e.account.empty()) out["account"] = e.account;
  if (!e.object_id.empty()) out["object_id"] = e.object_id;
  if (e.status == store::InboxStatus::kPending || e.status == store::InboxStatus::kFailed) {
    out["next_attempt_at"] = isoTime(e.next_attempt_at);
  }
  if (e.processed_at) out["processed_at"] = isoTime(*e.processed_at);
  return out;
}

// Parses ?status=&type=&integration=&cursor=&limit=&since= (and tenant= for the admin); false after a 400.
bool parseFilter(const Request& req, Response& res, store::InboxFilter& filter) {
  if (req.hasQuery("status")) {
    filter.status = store::parseInboxStatus(req.queryValue("status"));
    if (!filter.status) {
      http::setError(res, 400, "invalid_argument",
                     "status must be one of pending, processing, processed, failed, dead, unroutable");
      return false;
    }
  }
  if (req.hasQuery("type")) filter.type = req.queryValue("type");
  if (req.hasQuery("integration")) filter.integration_id = req.queryValue("integration");
  try {
    if (req.hasQuery("cursor") && !req.queryValue("cursor").empty())
      filter.before_id = std::stoll(req.queryValue("cursor"));
    if (req.hasQuery("limit"))
      filter.limit = static_cast<size_t>(std::clamp(std::stoll(req.queryValue("limit")), 1LL, 500LL));
    if (req.hasQuery("since")) filter.since = std::stoll(req.queryValue("since"));
  } catch (const std::exception&) {
    http::setError(res, 400, "invalid_argument", "cursor, limit and since must be integers (since: unix ms)");
    return false;
  }
  return true;
}

std::optional<int64_t> parseId(const Request& req) {
  const std::string text = req.param("id");
  if (text.empty() || text.size() > 18) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::stoll(text);
}

}  // namespace

void Inbox::registerRoutes(http::Server& server, tenancy::Tenancy& tenancy) {
  Impl* m = impl_.get();
  server.routeAsync("POST", "/webhooks/{integration}/{tenant}",
                    [m](const Request& req, http::Respond respond) { m->intake(req, respond, false); });
  server.routeAsync("POST", "/webhooks/{integration}",
                    [m](const Request& req, http::Respond respond) { m->intake(req, respond, true); });

  auto list = [m](const tenancy::Principal& who, const Request& req, Response& res, bool admin) {
    store::InboxFilter filter;
    if (!parseFilter(req, res, filter)) return;
    Result<std::vector<store::InboxEvent>> rows =
        admin ? (req.hasQuery("tenant") ? m->events.list(req.queryValue("tenant"), filter)
                                        : m->events.adminList(filter))
              : m->events.list(who.tenant_id, filter);
    if (!rows.isOk()) return http::setError(res, rows.status());
    json data = json::array();
    for (const auto& e : *rows)
      data.push_back(summaryJson(e));
    json body = {{"data", data}, {"next_cursor", nullptr}};
    if (rows->size() == filter.limit && !rows->empty()) body["next_cursor"] = std::to_string(rows->back().id);
    res.json(200, body.dump());
  };
  auto detail = [m](const tenancy::Principal& who, const Request& req, Response& res, bool admin) {
    auto id = parseId(req);
    if (!id)
      return http::setError(res, 404, "not_found", "webhook event \"" + req.param("id") + "\" not found");
    auto event = admin ? m->events.adminGet(*id) : m->events.get(who.tenant_id, *id);
    if (!event.isOk()) return http::setError(res, event.status());
    auto attempts = m->events.attempts(*id);
    if (!attempts.isOk()) return http::setError(res, attempts.status());
    json body = summaryJson(*event);
    body["payload"] = redact(event->payload);
    body["payload_sha256"] = hex(event->payload_sha256);
    body["headers"] = displayHeaders(event->headers_json);
    json list = json::array();
    for (const auto& a : *attempts) {
      list.push_back({{"attempt", a.attempt},
                      {"started_at", isoTime(a.started_at)},
                      {"duration_ms", a.duration_ms},
                      {"ok", a.ok},
                      {"error", a.error.empty() ? json(nullptr) : json(a.error)}});
    }
    body["attempt_log"] = list;
    res.json(200, body.dump());
  };
  auto replay = [m](const tenancy::Principal& who, const Request& req, Response& res, bool admin) {
    auto id = parseId(req);
    if (!id)
      return http::setError(res, 404, "not_found", "webhook event \"" + req.param("id") + "\" not found");
    const int64_t now = nowMs();
    Status s = admin ? m->events.adminReplay(*id, now) : m->events.replay(who.tenant_id, *id, now);
    if (!s.isOk()) return http::setError(res, s);
    log::info("webhook event replayed", {{"id", *id}, {"actor", who.actor()}});
    m->wake();
    res.json(202, json{{"id", *id}, {"status", "pending"}}.dump());
  };

  using tenancy::kScopeRead;
  using tenancy::kScopeWrite;
  server.route("GET", "/api/webhooks",
               tenancy::requireTenant(tenancy, kScopeRead,
                                      [list](auto& p, auto& q, auto& r) { list(p, q, r, false); }));
  server.route("GET", "/api/webhooks/{id}",
               tenancy::requireTenant(tenancy, kScopeRead,
                                      [detail](auto& p, auto& q, auto& r) { detail(p, q, r, false); }));
  server.route("POST", "/api/webhooks/{id}/replay",
               tenancy::requireTenant(tenancy, kScopeWrite,
                                      [replay](auto& p, auto& q, auto& r) { replay(p, q, r, false); }));
  server.route("GET", "/api/admin/webhooks",
               tenancy::requireAdmin(tenancy, [list](auto& p, auto& q, auto& r) { list(p, q, r, true); }));
  server.route(
      "GET", "/api/admin/webhooks/{id}",
      tenancy::requireAdmin(tenancy, [detail](auto& p, auto& q, auto& r) { detail(p, q, r, true); }));
  server.route(
      "POST", "/api/admin/webhooks/{id}/replay",
      tenancy::requireAdmin(tenancy, [replay](auto& p, auto& q, auto& r) { replay(p, q, r, true); }));
  // Platform routing: which tenant a provider account's events belong to.
  server.route(
      "PUT", "/api/admin/webhooks/routes/{integration}/{account}",
      tenancy::requireAdmin(tenancy, [m](const tenancy::Principal&, const Request& req, Response& res) {
        json body = json::parse(req.body, nullptr, false);
        const std::string tenant = body.is_object() ? body.value("tenant", std::string()) : std::string();
        if (tenant.empty() || !m->tenantExists(tenant)) {
          return http::setError(res, 400, "invalid_argument",
                                "body must be {\"tenant\":\"<existing tenant id>\"}");
        }
        Status s = m->events.setRoute(req.param("integration"), req.param("account"), tenant);
        if (!s.isOk()) return http::setError(res, s);
        res.json(200, json{{"integration", req.param("integration")},
                           {"account", req.param("account")},
                           {"tenant", tenant}}
                          .dump());
      }));
  server.route(
      "DELETE", "/api/admin/webhooks/routes/{integration}/{account}",
      tenancy::requireAdmin(tenancy, [m](const tenancy::Principal&, const Request& req, Response& res) {
        Status s = m->events.deleteRoute(req.param("integration"), req.param("account"));
        if (!s.isOk()) return http::setError(res, s);
        res.status = 204;
        res.body.clear();
      }));
}

}  // namespace ih::inbox
