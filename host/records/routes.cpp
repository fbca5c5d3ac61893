// Tenant API for records: GET /api/records/{integration}/{model}[/{id}]. See records.h.
#include <charconv>
#include <string>

#include "http/server.h"
#include "records/records.h"
#include "tenancy/http_auth.h"

namespace ih::records {
namespace {

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 1000;

// Parses a non-negative decimal integer; false for anything else.
bool parseCount(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 0;
}

// Stored data is valid JSON (validated on write), so it is embedded as is instead of re-serialized.
void appendRecord(std::string& out, const store::Record& r) {
  out += "{\"id\":";
  out += http::jsonQuote(r.id);
  out += ",\"model\":";
  out += http::jsonQuote(r.model);
  out += ",\"data\":";
  out += r.data_json.empty() ? "{}" : r.data_json;
  out += ",\"updated_at\":";
  out += std::to_string(r.updated_at);
  out += r.deleted ? ",\"deleted\":true" : ",\"deleted\":false";
  out += ",\"seq\":";
  out += std::to_string(r.seq);
  out += '}';
}

void listChanges(Records& records, const tenancy::Principal& p, const http::Request& req,
                 http::Response& res) {
  int64_t after = 0;
  int64_t limit = static_cast<int64_t>(kDefaultLimit);
  if (req.hasQuery("after") && !parseCount(req.queryValue("after"), after)) {
    return http::setError(res, 400, "invalid_request", "after must be a non-negative integer (a seq)");
  }
  if (req.hasQuery("limit") &&
      (!parseCount(req.queryValue("limit"), limit) || limit < 1 || limit > static_cast<int64_t>(kMaxLimit))) {
    return http::setError(res, 400, "invalid_request",
                          "limit must be an integer between 1 and " + std::to_string(kMaxLimit));
  }
  auto rows = records.recordStore().listChanges(p.tenant_id, req.param("integration"), req.param("model"),
                                                after, static_cast<size_t>(limit) + 1);
  if (!rows.isOk()) return http::setError(res, rows.status());
  const bool has_more = rows->size() > static_cast<size_t>(limit);
  if (has_more) rows->pop_back();
  std::string body = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < rows->size(); ++i) {
    if (i) body += ',';
    appendRecord(body, (*rows)[i]);
  }
  body += "],\"next_after\":";
  body += std::to_string(rows->empty() ? after : rows->back().seq);
  body += has_more ? ",\"has_more\":true}" : ",\"has_more\":false}";
  res.json(200, std::move(body));
}

void getRecord(Records& records, const tenancy::Principal& p, const http::Request& req, http::Response& res) {
  auto row =
      records.recordStore().get(p.tenant_id, req.param("integration"), req.param("model"), req.param("id"));
  if (!row.isOk()) return http::setError(res, row.status());
  if (!row->has_value()) {
    return http::setError(res, 404, "record_not_found",
                          "no " + req.param("model") + " record \"" + req.param("id") +
                              "\" for integration \"" + req.param("integration") + "\"");
  }
  std::string body;
  appendRecord(body, **row);
  res.json(200, std::move(body));
}

}  // namespace

void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Records& records) {
  server.route(
      "GET", "/api/records/{integration}/{model}",
      tenancy::requireTenant(tenancy, tenancy::kScopeRead,
                             [&records](const tenancy::Principal& p, const http::Request& req,
                                        http::Response& res) { listChanges(records, p, req, res); }));
  server.route("GET", "/api/records/{integration}/{model}/{id}",
               tenancy::requireTenant(tenancy, tenancy::kScopeRead,
                                      [&records](const tenancy::Principal& p, const http::Request& req,
                                                 http::Response& res) { getRecord(records, p, req, res); }));
}

}  // namespace ih::records
