// The jobs API (see registerRoutes in scheduler.h).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <limits>

#include "common/json_parse.h"
#include "common/text.h"
#include "common/time_text.h"
#include "events/events.h"
#include "http/params.h"
#include "http/server.h"
#include "scheduler/scheduler.h"
#include "tenancy/http_auth.h"

namespace ih::scheduler {

namespace {

using nlohmann::json;

json timeOrNull(std::optional<int64_t> ms) {
  return ms ? json(isoTimeMillis(*ms)) : json(nullptr);
}

std::string formatEvery(int64_t seconds) {
  if (seconds <= 0) return "";
  std::string out;
  for (auto [unit, size] : {std::pair{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + unit;
      seconds %= size;
    }
  }
  return out;
}

json runJson(const store::JobRun& r) {
  json j = {{"id", r.id},
            {"integration", r.integration_id},
            {"job", r.job},
            {"trigger", r.trigger},
            {"full", r.full},
            {"since", r.since ? json(*r.since) : json(nullptr)},
            {"status", r.status},
            {"started_at", isoTimeMillis(r.started_at)},
            {"finished_at", timeOrNull(r.finished_at)},
            {"duration_ms", r.finished_at ? json(*r.finished_at - r.started_at) : json(nullptr)},
            {"pages", r.pages},
            {"rows", r.rows},
            {"error", r.error.empty() ? json(nullptr) : json(r.error)}};
  return j;
}

int httpStatusOf(const Status& s) {
  if (s.code() == StatusCode::kFailedPrecondition || s.code() == StatusCode::kConflict) return 409;
  return s.httpStatus();
}

std::string errorCodeOf(const Status& s, std::string_view message_hint) {
  if (s.code() == StatusCode::kConflict) return "job_running";
  if (s.code() == StatusCode::kFailedPrecondition)
    return message_hint.find("disabled") != std::string_view::npos ? "job_disabled" : "not_connected";
  if (s.code() == StatusCode::kNotFound) return "job_not_found";
  if (s.code() == StatusCode::kInvalidArgument) return "invalid_request";
  return std::string(s.codeName());
}

void fail(http::Response& res, const Status& s) {
  http::setError(res, httpStatusOf(s), errorCodeOf(s, s.message()), s.message());
}

// A stored plugin state value for the jobs API: JSON when it parses, else the text. A value larger than
// kMaxStateShown (e.g. a catalog cursor listing every id) is cut to a text preview naming its size.
constexpr size_t kMaxStateShown = 4096;
json stateJson(const std::optional<std::string>& value) {
  if (!value) return nullptr;
  if (value->size() > kMaxStateShown)
    return value->substr(0, kMaxStateShown) + "… (" + std::to_string(value->size()) + " bytes)";
  auto parsed = ih::parseJson(*value);
  return parsed.isOk() ? std::move(*parsed) : json(*value);
}

// The integration of the path is configured and enabled, or a 404 unknown_integration is written.
bool knownIntegration(Scheduler& scheduler, const http::Request& req, http::Response& res) {
  const std::string id = req.param("id");
  if (scheduler.knowsIntegration(id)) return true;
  http::setError(res, 404, "unknown_integration",
                 "no integration \"" + id + "\" is configured (see GET /api/integrations)");
  return false;
}

}  // namespace

// A run's "since": unix seconds, or an ISO 8601 time / date (UTC).
Result<int64_t> parseSince(const std::string& text) {
  if (!text.empty() && text.size() <= 20 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (auto seconds = parseInt64InRange(text, 0, int64_t{1} << 40)) return *seconds;
  } else if (auto ms = parseIsoTime(text); ms.isOk()) {
    return *ms / 1000;
  }
  return Status::invalidArgument(
      "since must be unix seconds or an ISO 8601 time, e.g. \"2024-05-01\" or "
      "\"2024-05-01T12:00:00Z\" (got " +
      json(text.substr(0, 40)).dump(-1, ' ', false, json::error_handler_t::replace) + ")");
}

void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Scheduler& scheduler) {
  server.route(
      "GET", "/api/integrations/{id}/jobs",
      tenancy::requireTenant(
          tenancy, tenancy::kScopeRead,
          [&scheduler](const tenancy::Principal& p, const http::Request& req, http::Response& res) {
            const std::string id = req.param("id");
            if (!knownIntegration(scheduler, req, res)) return;
            json data = json::array();
            for (const JobInfo& j : scheduler.jobs(id)) {
              auto last = scheduler.history().listRuns(p.tenant_id, id, j.job, 1);
              if (!last.isOk()) return http::setError(res, last.status());
              json state = json::object();
              for (const std::string& key : j.state_keys) {
                auto value = scheduler.stateValue(p.tenant_id, id, key);
                if (!value.isOk()) return http::setError(res, value.status());
                state[key] = stateJson(*value);
              }
              data.push_back(
                  {{"name", j.job},
                   {"description", j.description},
                   {"every", j.every_seconds > 0 ? json(formatEvery(j.every_seconds)) : json(nullptr)},
                   {"every_seconds", j.every_seconds},
                   {"enabled", j.enabled},
                   {"last_run", last->empty() ? json(nullptr) : runJson(last->front())},
                   {"next_run_at", timeOrNull(scheduler.nextRunAt(p.tenant_id, id, j.job))},
                   {"state", state}});
            }
            res.json(200, ih::dumpJson(json{{"object", "list"}, {"data", data}}));
          }));

  server.route(
      "POST", "/api/integrations/{id}/jobs/{job}/run",
      tenancy::requireTenant(
          tenancy, tenancy::kScopeWrite,
          [&scheduler](const tenancy::Principal& p, const http::Request& req, http::Response& res) {
            if (!knownIntegration(scheduler, req, res)) return;
            RunRequest request;
            std::string since_text;  // from ?since= or the body
            if (req.hasQuery("since")) since_text = req.queryValue("since");
            if (!req.body.empty()) {
              auto parsed = ih::parseJson(req.body);
              if (!parsed.isOk() || !parsed->is_object()) {
                http::setError(res, 400, "invalid_json",
                               parsed.isOk() ? "body must be a JSON object like {\"full\":true}"
                                             : "request body: " + parsed.status().message());
                return;
              }
              const json& body = *parsed;
              if (body.contains("full") && !body["full"].is_boolean()) {
                http::setError(res, 400, "invalid_request", "\"full\" must be true or false");
                return;
              }
              request.full = body.contains("full") && body["full"].get<bool>();
              if (body.contains("since")) {
                const json& since = body["since"];
                if (since.is_number_unsigned()) {
                  since_text = std::to_string(since.get<uint64_t>());
                } else if (since.is_string()) {
                  since_text = since.get<std::string>();
                } else {
                  http::setError(res, 400, "invalid_request",
                                 "\"since\" must be unix seconds or an ISO 8601 time such as \"2024-05-01\"");
                  return;
                }
              }
            }
            if (!since_text.empty() || req.hasQuery("since")) {
              auto since = parseSince(since_text);
              if (!since.isOk()) return http::setError(res, 400, "invalid_request", since.status().message());
              request.since = *since;
            }
            auto started =
                scheduler.trigger(p.tenant_id, req.param("id"), req.param("job"), Trigger::kManual, request);
            if (!started.isOk()) return fail(res, started.status());
            if (started->done.wait_for(scheduler.options().api_wait) == std::future_status::ready) {
              res.json(200, ih::dumpJson(json{{"run", runJson(started->done.get())}}));
              return;
            }
            auto row = scheduler.history().getRun(p.tenant_id, started->run_id);
            json run = row.isOk() && row->has_value() ? runJson(**row) : json{{"id", started->run_id}};
            res.setHeader("Location", "/api/integrations/" + req.param("id") + "/jobs/" + req.param("job") +
                                          "/runs/" + std::to_string(started->run_id));
            res.json(202, ih::dumpJson(json{{"run", run}}));
          }));

  server.route("GET", "/api/integrations/{id}/jobs/{job}/runs",
               tenancy::requireTenant(
                   tenancy, tenancy::kScopeRead,
                   [&scheduler](const tenancy::Principal& p, const http::Request& req, http::Response& res) {
                     const std::string id = req.param("id");
                     const std::string job = req.param("job");
                     if (!knownIntegration(scheduler, req, res)) return;
                     if (!scheduler.job(id, job)) {
                       http::setError(res, 404, "job_not_found",
                                      "integration \"" + id + "\" has no job \"" + job + "\"");
                       return;
                     }
                     const auto limit = http::queryInt(req, res, "limit", 1, 100, 20);
                     if (!limit) return;
                     auto runs =
                         scheduler.history().listRuns(p.tenant_id, id, job, static_cast<size_t>(*limit));
                     if (!runs.isOk()) return http::setError(res, runs.status());
                     json data = json::array();
                     for (const auto& r : *runs)
                       data.push_back(runJson(r));
                     res.json(200, ih::dumpJson(json{{"object", "list"}, {"data", data}}));
                   }));

  server.route("GET", "/api/integrations/{id}/jobs/{job}/runs/{run}",
               tenancy::requireTenant(
                   tenancy, tenancy::kScopeRead,
                   [&scheduler](const tenancy::Principal& p, const http::Request& req, http::Response& res) {
                     if (!knownIntegration(scheduler, req, res)) return;
                     auto id = parseInt64InRange(req.param("run"), 1, std::numeric_limits<int64_t>::max());
                     auto row = id ? scheduler.history().getRun(p.tenant_id, *id)
                                   : Result<std::optional<store::JobRun>>(std::optional<store::JobRun>());
                     if (!row.isOk()) return http::setError(res, row.status());
                     if (!row->has_value() || (*row)->integration_id != req.param("id") ||
                         (*row)->job != req.param("job")) {
                       http::setError(res, 404, "run_not_found", "no such run for this tenant");
                       return;
                     }
                     res.json(200, ih::dumpJson(runJson(**row)));
                   }));
}

}  // namespace ih::scheduler
