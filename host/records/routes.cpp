// Tenant API for records: GET /api/records/{integration}/{model}[/{id}]. See records.h.
#include <limits>
#include <optional>
#include <vector>
#include <string>

#include "http/params.h"
#include "http/server.h"
#include "records/records.h"
#include "tenancy/http_auth.h"

namespace ih::records {
namespace {

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 1000;
// Changes a filtered (data.<field>=) page reads at most.
constexpr size_t kFilterWindow = 5000;

// The integration and model of the path name something that can exist, or a 404/400 is written.
bool checkPath(const KnownIntegration& known, const http::Request& req, http::Response& res) {
  const std::string integration = req.param("integration");
  if (known && !known(integration)) {
    http::setError(res, 404, "unknown_integration",
                   "no integration \"" + integration + "\" is configured (see GET /api/integrations)");
    return false;
  }
  if (Status model = checkModel(req.param("model")); !model.isOk()) {
    http::setError(res, 400, "invalid_request", model.message());
    return false;
  }
  return true;
}

// Stored data is valid JSON (validated on write), so it is embedded as is instead of re-serialized.
void appendRecord(std::string& out, const store::Record& r, std::string_view extra = {}) {
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
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  out += '}';
}

// The annotations of `rows` (empty strings without an annotator), or an error written to `res`.
std::optional<std::vector<std::string>> annotations(const Annotate& annotate, const tenancy::Principal& p,
                                                    const http::Request& req,
                                                    const std::vector<store::Record>& rows,
                                                    http::Response& res) {
  if (!annotate) return std::vector<std::string>(rows.size());
  auto extra = annotate(p.tenant_id, req.param("integration"), req.param("model"), rows);
  if (!extra.isOk()) {
    http::setError(res, extra.status());
    return std::nullopt;
  }
  if (extra->size() != rows.size()) extra->resize(rows.size());
  return std::move(extra).value();
}

void listChanges(Records& records, const KnownIntegration& known, const Annotate& annotate,
                 const tenancy::Principal& p, const http::Request& req, http::Response& res) {
  if (!checkPath(known, req, res)) return;
  const auto after_param = http::queryInt(req, res, "after", 0, std::numeric_limits<int64_t>::max(), 0);
  if (!after_param) return;
  const auto limit_param = http::queryInt(req, res, "limit", 1, static_cast<int64_t>(kMaxLimit),
                                          static_cast<int64_t>(kDefaultLimit));
  if (!limit_param) return;
  const int64_t after = *after_param;
  const int64_t limit = *limit_param;
  // data.<field>=<value>: only records whose data member <field> is that string (e.g. the invoices of a show:
  // data.reference=show-42). At most 4. A filtered page reads at most kFilterWindow changes, however rare the
  // matches (one tenant's query never holds a read connection for long): next_after then moves past them.
  std::vector<store::RecordStore::FieldEquals> where;
  for (const auto& [key, value] : req.query) {
    if (key.rfind("data.", 0) != 0) continue;
    if (where.size() == 4)
      return http::setError(res, 400, "invalid_request", "at most 4 data.<field> filters");
    where.push_back({key.substr(5), value});
  }
  std::vector<store::Record> rows;
  int64_t next_after = after;
  bool has_more = false;
  if (where.empty()) {
    auto listed = records.recordStore().listChanges(p.tenant_id, req.param("integration"), req.param("model"),
                                                    after, static_cast<size_t>(limit) + 1);
    if (!listed.isOk()) return http::setError(res, listed.status());
    rows = std::move(listed).value();
    has_more = rows.size() > static_cast<size_t>(limit);
    if (has_more) rows.pop_back();
    if (!rows.empty()) next_after = rows.back().seq;
  } else {
    auto page = records.recordStore().listMatching(p.tenant_id, req.param("integration"), req.param("model"),
                                                   after, static_cast<size_t>(limit), where, kFilterWindow);
    if (!page.isOk()) {
      if (page.status().code() == StatusCode::kInvalidArgument)
        return http::setError(res, 400, "invalid_request", page.status().message());
      return http::setError(res, page.status());
    }
    rows = std::move(page->records);
    next_after = page->next_after;
    has_more = page->has_more;
  }
  auto extra = annotations(annotate, p, req, rows, res);
  if (!extra) return;
  std::string body = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i) body += ',';
    appendRecord(body, rows[i], (*extra)[i]);
  }
  body += "],\"next_after\":";
  body += std::to_string(next_after);
  body += has_more ? ",\"has_more\":true}" : ",\"has_more\":false}";
  res.json(200, std::move(body));
}

void getRecord(Records& records, const KnownIntegration& known, const Annotate& annotate,
               const tenancy::Principal& p, const http::Request& req, http::Response& res) {
  if (!checkPath(known, req, res)) return;
  auto row =
      records.recordStore().get(p.tenant_id, req.param("integration"), req.param("model"), req.param("id"));
  if (!row.isOk()) return http::setError(res, row.status());
  if (!row->has_value()) {
    return http::setError(res, 404, "record_not_found",
                          "no " + req.param("model") + " record \"" + req.param("id") +
                              "\" for integration \"" + req.param("integration") + "\"");
  }
  const std::vector<store::Record> one{**row};
  auto extra = annotations(annotate, p, req, one, res);
  if (!extra) return;
  std::string body;
  appendRecord(body, one.front(), extra->front());
  res.json(200, std::move(body));
}

}  // namespace

void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Records& records,
                    KnownIntegration known, Annotate annotate) {
  server.route("GET", "/api/records/{integration}/{model}",
               tenancy::requireTenant(
                   tenancy, tenancy::kScopeRead,
                   [&records, known, annotate](const tenancy::Principal& p, const http::Request& req,
                                               http::Response& res) {
                     listChanges(records, known, annotate, p, req, res);
                   }));
  server.route("GET", "/api/records/{integration}/{model}/{id}",
               tenancy::requireTenant(
                   tenancy, tenancy::kScopeRead,
                   [&records, known, annotate](const tenancy::Principal& p, const http::Request& req,
                                               http::Response& res) {
                     getRecord(records, known, annotate, p, req, res);
                   }));
}

}  // namespace ih::records
