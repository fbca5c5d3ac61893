// The inbox's routes: intake endpoints, and the tenant/operator API to inspect and replay events.
#include <nlohmann/json.hpp>

#include <limits>

#include "common/digest.h"
#include "common/json_parse.h"
#include "common/text.h"
#include "common/time_text.h"
#include "http/params.h"
#include "inbox/internal.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "store/store.h"
#include "tenancy/http_auth.h"
#include "tenancy/tenancy.h"

namespace ih::inbox {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

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
  json headers = ih::parseJsonOrDiscarded(headers_json);
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
              {"received_at", isoTimeMillis(e.received_at)},
              {"updated_at", isoTimeMillis(e.updated_at)},
              {"occurred_at", e.occurred_at > 0 ? json(isoTimeMillis(e.occurred_at * 1000)) : json(nullptr)},
              {"duplicates", e.duplicates},
              {"conflicts", e.conflicts},
              {"last_error", e.last_error.empty() ? json(nullptr) : json(e.last_error)}};
  if (!e.account.empty()) out["account"] = e.account;
  if (!e.object_id.empty()) out["object_id"] = e.object_id;
  if (e.status == store::InboxStatus::kPending || e.status == store::InboxStatus::kFailed) {
    out["next_attempt_at"] = isoTimeMillis(e.next_attempt_at);
  }
  if (e.processed_at) out["processed_at"] = isoTimeMillis(*e.processed_at);
  return out;
}

constexpr int64_t kMaxListLimit = 500;
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
constexpr size_t kMaxAccount = 255;  // bind_account's limit

// Parses ?status=&type=&integration=&cursor=&limit=&since= (and tenant= for the admin); false after a 400.
bool parseFilter(const Request& req, Response& res, store::InboxFilter& filter) {
  if (req.hasQuery("status")) {
    filter.status = store::parseInboxStatus(req.queryValue("status"));
    if (!filter.status) {
      http::setError(res, 400, "invalid_request",
                     "status must be one of pending, processing, processed, failed, dead, unroutable");
      return false;
    }
  }
  if (req.hasQuery("type")) filter.type = req.queryValue("type");
  if (req.hasQuery("integration")) filter.integration_id = req.queryValue("integration");
  // An empty cursor is the first page (what next_cursor: null gives a client that pastes it back).
  if (!(req.hasQuery("cursor") && req.queryValue("cursor").empty())) {
    const auto cursor = http::queryInt(req, res, "cursor", 1, kMaxInt, 0);
    if (!cursor) return false;
    if (*cursor > 0) filter.before_id = *cursor;
  }
  const auto limit = http::queryInt(req, res, "limit", 1, kMaxListLimit, static_cast<int64_t>(filter.limit));
  if (!limit) return false;
  filter.limit = static_cast<size_t>(*limit);
  if (req.hasQuery("since")) {
    const auto since = http::queryInt(req, res, "since", 0, kMaxInt, 0);  // unix ms
    if (!since) return false;
    filter.since = *since;
  }
  return true;
}

std::optional<int64_t> parseId(const Request& req) {
  return parseInt64InRange(req.param("id"), 1, kMaxInt);
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
    res.json(200, dumpJson(body));
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
    body["payload_sha256"] = hexEncode(event->payload_sha256);
    body["headers"] = displayHeaders(event->headers_json);
    json list = json::array();
    for (const auto& a : *attempts) {
      list.push_back({{"attempt", a.attempt},
                      {"started_at", isoTimeMillis(a.started_at)},
                      {"duration_ms", a.duration_ms},
                      {"ok", a.ok},
                      {"error", a.error.empty() ? json(nullptr) : json(a.error)}});
    }
    body["attempt_log"] = list;
    res.json(200, dumpJson(body));
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
    res.json(202, dumpJson(json{{"id", *id}, {"status", "pending"}}));
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
  // The integration must be configured (404 otherwise) and the account 1-255 printable bytes.
  auto checkRoute = [m](const Request& req, Response& res) {
    const std::string integration = req.param("integration");
    runtime::Integration* in = m->runtime.find(integration);
    if (in == nullptr || !in->enabled()) {
      http::setError(res, 404, "unknown_integration", "no integration \"" + integration + "\" is configured");
      return false;
    }
    const std::string account = req.param("account");
    bool printable = !account.empty() && account.size() <= kMaxAccount;
    for (char c : account)
      printable = printable && static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
    if (!printable || !isValidUtf8(account)) {
      http::setError(
          res, 400, "invalid_request",
          "account must be 1-" + std::to_string(kMaxAccount) + " bytes without spaces or control bytes");
      return false;
    }
    return true;
  };
  server.route(
      "PUT", "/api/admin/webhooks/routes/{integration}/{account}",
      tenancy::requireAdmin(
          tenancy, [m, checkRoute](const tenancy::Principal&, const Request& req, Response& res) {
            if (!checkRoute(req, res)) return;
            auto parsed = parseJson(req.body);
            if (!parsed.isOk())
              return http::setError(res, 400, "invalid_json", "request body: " + parsed.status().message());
            const json& body = *parsed;
            const bool has_tenant = body.is_object() && body.contains("tenant") && body["tenant"].is_string();
            const std::string tenant = has_tenant ? body["tenant"].get<std::string>() : std::string();
            if (tenant.empty() || !m->tenantExists(tenant)) {
              return http::setError(res, 400, "invalid_request",
                                    "body must be {\"tenant\":\"<existing tenant id>\"}");
            }
            Status s = m->events.setRoute(req.param("integration"), req.param("account"), tenant);
            if (!s.isOk()) return http::setError(res, s);
            res.json(200, dumpJson(json{{"integration", req.param("integration")},
                                        {"account", req.param("account")},
                                        {"tenant", tenant}}));
          }));
  server.route("DELETE", "/api/admin/webhooks/routes/{integration}/{account}",
               tenancy::requireAdmin(
                   tenancy, [m, checkRoute](const tenancy::Principal&, const Request& req, Response& res) {
                     if (!checkRoute(req, res)) return;
                     Status s = m->events.deleteRoute(req.param("integration"), req.param("account"));
                     if (!s.isOk()) return http::setError(res, s);
                     res.status = 204;
                     res.body.clear();
                   }));
}

}  // namespace ih::inbox
