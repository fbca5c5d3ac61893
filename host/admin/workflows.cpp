// Interactive workflows over HTTP (see admin.h). Each run is one plugin action on its own thread; the
// action's prompts are published on the run and the thread blocks until an answer, a cancel, a timeout or
// stop().
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin.h"
#include "common/clock.h"
#include "common/json_parse.h"
#include "common/text.h"
#include "common/time_text.h"
#include "config/config.h"
#include "http/server.h"
#include "loader/registry.h"
#include "log/guard.h"
#include "log/log.h"
#include "log/redact_json.h"
#include "runtime/runtime.h"
#include "tenancy/http_auth.h"
#include "tenancy/tenancy.h"
#include "vault/secure_string.h"

namespace ih::admin {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

// Bounds on what a caller may answer a prompt with.
constexpr size_t kMaxAnswerKey = 200;
constexpr size_t kMaxAnswerBytes = 64 * 1024;

// JSON from a plugin (prompts, results), depth-bounded so that dump() and redactStrings() stay shallow;
// discarded when it does not parse.
json parsePluginJson(std::string_view text) {
  auto parsed = ih::parseJson(text);
  return parsed.isOk() ? std::move(*parsed) : json(json::value_t::discarded);
}

// One run. Every field is GUARDED_BY(Workflows::Impl::mu) except the constants set before the thread starts.
struct Run {
  std::string id;
  std::string tenant_id;
  std::string integration;
  std::string action;
  int64_t started_at = 0;

  std::string status = "running";  // running | waiting | succeeded | failed | cancelled
  json prompts = json::array();    // asked prompts; "answer" only for non-secret ones
  json pending;                    // the prompt waiting for an answer, or null
  std::optional<std::string> answer;
  std::string cancel_reason;  // set by DELETE, a timeout or stop(): later prompts are refused
  json log = json::array();
  json result;  // null until succeeded
  json error;   // null unless failed or cancelled
  int64_t finished_at = 0;
  std::condition_variable cv;

  bool finished() const { return finished_at != 0; }

  void addLog(std::string_view level, const std::string& message) {
    log.push_back({{"at", ih::isoTimeMillis(nowMs())}, {"level", level}, {"message", redact(message)}});
  }

  json toJson() const {
    return {{"id", id},
            {"object", "workflow_run"},
            {"integration", integration},
            {"action", action},
            {"status", status},
            {"started_at", ih::isoTimeMillis(started_at)},
            {"finished_at", finished_at ? json(ih::isoTimeMillis(finished_at)) : json(nullptr)},
            {"prompts", prompts},
            {"pending_prompt", pending},
            {"log", log},
            {"result", result},
            {"error", error}};
  }
};

// The answer text a prompt expects from a JSON answer value; nullopt when the type makes no sense.
std::optional<std::string> answerText(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return std::string(value.get<bool>() ? "yes" : "no");
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  return std::nullopt;
}

}  // namespace

struct Workflows::Impl {
  Impl(runtime::Runtime& rt, WorkflowOptions opts) : runtime(rt), options(opts) {}

  runtime::Runtime& runtime;
  const WorkflowOptions options;
  std::mutex mu;
  std::map<std::string, std::shared_ptr<Run>> runs;  // GUARDED_BY(mu)
  std::map<std::string, std::thread> threads;        // GUARDED_BY(mu); joined when pruned or at stop()
  bool stopping = false;                             // GUARDED_BY(mu)

  // The PromptFn body, on the run's thread.
  Result<std::string> ask(const std::shared_ptr<Run>& run, std::string_view prompt_json) {
    json p = parsePluginJson(prompt_json);
    if (!p.is_object() || !p.contains("key") || !p["key"].is_string())
      return Status::invalidArgument("a prompt must be a JSON object with a \"key\" string");
    auto text = [&p](const char* name, const std::string& fallback) {
      return p.contains(name) && p[name].is_string() ? p[name].get<std::string>() : fallback;
    };
    json pending = {{"key", p["key"]},
                    {"kind", text("kind", "text")},
                    {"message", text("message", p["key"].get<std::string>())}};
    if (p.contains("choices") && p["choices"].is_array()) pending["choices"] = p["choices"];
    if (p.contains("default") && !p["default"].is_null()) pending["default"] = p["default"];
    const bool secret = pending["kind"] == "secret";
    if (secret) pending.erase("default");  // never echo a secret, not even a default
    const std::string key = pending["key"];

    std::unique_lock lock(mu);
    if (stopping && run->cancel_reason.empty()) run->cancel_reason = "the host is shutting down";
    if (!run->cancel_reason.empty())
      return Status(StatusCode::kCancelled, "workflow cancelled: " + run->cancel_reason);
    run->pending = pending;
    run->answer.reset();
    run->status = "waiting";
    run->addLog("info", "waiting for an answer: " + pending["message"].get<std::string>());
    const bool woke = run->cv.wait_for(lock, options.prompt_timeout, [&] {
      return run->answer.has_value() || !run->cancel_reason.empty() || stopping;
    });
    run->pending = nullptr;
    run->status = "running";
    if (run->answer) {
      std::string value = std::move(*run->answer);
      run->answer.reset();
      json asked = {{"key", key},
                    {"kind", pending["kind"]},
                    {"message", pending["message"]},
                    {"answered_at", ih::isoTimeMillis(nowMs())}};
      if (!secret) asked["answer"] = value;
      run->prompts.push_back(std::move(asked));
      run->addLog("info", secret ? "answered \"" + key + "\" (secret, not shown)"
                                 : "answered \"" + key + "\": " + value);
      return value;
    }
    if (!woke) {
      run->cancel_reason = "no answer to \"" + key + "\" within " +
                           std::to_string(options.prompt_timeout.count() / 1000) + " s";
      run->addLog("warn", run->cancel_reason);
    } else if (stopping && run->cancel_reason.empty()) {
      run->cancel_reason = "the host is shutting down";
    }
    return Status(StatusCode::kCancelled, "workflow cancelled: " + run->cancel_reason);
  }

  // The run's thread: the action, then the outcome.
  void execute(const std::shared_ptr<Run>& run, runtime::Integration* integration, std::string input) {
    runtime::PromptFn prompt = [this, run](std::string_view prompt_json) { return ask(run, prompt_json); };
    runtime::CallResult outcome;
    try {
      outcome = runtime.runAction(*integration, run->tenant_id, run->action, input, &prompt);
    } catch (const std::exception& error) {  // the run ends as failed instead of staying "running"
      outcome.status = Status::internal(std::string("unhandled exception: ") + error.what());
    }
    std::lock_guard lock(mu);
    run->finished_at = nowMs();
    run->pending = nullptr;
    if (outcome.status.isOk()) {
      json result = outcome.result_json.empty() ? json::object() : parsePluginJson(outcome.result_json);
      if (result.is_discarded()) result = json{{"raw", outcome.result_json}};
      redactStrings(result);
      for (const char* list : {"steps", "next_steps"}) {
        if (!result.is_object() || !result.contains(list) || !result[list].is_array()) continue;
        for (const auto& step : result[list]) {
          if (step.is_string())
            run->addLog("info", std::string(list[0] == 's' ? "done: " : "next: ") + step.get<std::string>());
        }
      }
      run->result = std::move(result);
    } else {
      run->error = {{"code", std::string(outcome.status.codeName())},
                    {"message", redact(outcome.status.message())}};
      run->addLog("error", "failed: " + outcome.status.message());
    }
    if (!run->cancel_reason.empty()) {
      run->status = "cancelled";
      if (run->error.is_null()) run->error = {{"code", "cancelled"}, {"message", run->cancel_reason}};
    } else {
      run->status = outcome.status.isOk() ? "succeeded" : "failed";
    }
    run->addLog("info", "finished: " + run->status);
    log::info("workflow finished", {{"run", run->id},
                                    {"tenant", run->tenant_id},
                                    {"integration", run->integration},
                                    {"action", run->action},
                                    {"status", run->status}});
  }

  // Drops finished runs older than keep_finished and joins their threads. REQUIRES: mu held.
  void pruneLocked(std::vector<std::thread>& to_join) {
    const int64_t cutoff = nowMs() - options.keep_finished.count();
    for (auto it = runs.begin(); it != runs.end();) {
      if (it->second->finished() && it->second->finished_at < cutoff) {
        if (auto t = threads.find(it->first); t != threads.end()) {
          to_join.push_back(std::move(t->second));
          threads.erase(t);
        }
        it = runs.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::shared_ptr<Run> findFor(const tenancy::Principal& who, const std::string& id) {
    auto it = runs.find(id);
    if (it == runs.end() || it->second->tenant_id != who.tenant_id) return nullptr;
    return it->second;
  }

  void start(const tenancy::Principal& who, const Request& req, Response& res) {
    const std::string id = req.param("id");
    runtime::Integration* integration = runtime.find(id);
    if (integration == nullptr || !integration->enabled()) {
      for (const auto& u : runtime.unavailable()) {
        if (u.id == id)
          return http::setError(res, 503, "integration_unavailable",
                                "integration \"" + id + "\" is configured but not running: " + u.reason);
      }
      return http::setError(res, 404, "unknown_integration",
                            "no integration \"" + id + "\" is configured (see GET /api/integrations)");
    }
    const std::string action = req.param("action");
    const loader::ActionSpec* spec = integration->manifest().findAction(action);
    if (spec == nullptr) {
      return http::setError(res, 404, "unknown_action",
                            "integration \"" + id + "\" has no action \"" + action + "\"");
    }
    json input = json::object();
    if (!req.body.empty()) {
      auto parsed = ih::parseJson(req.body);
      if (!parsed.isOk())
        return http::setError(res, 400, "invalid_json", "request body: " + parsed.status().message());
      input = std::move(*parsed);
    }
    if (!input.is_object())
      return http::setError(res, 400, "invalid_json",
                            "request body must be a JSON object (the action input)");
    if (!spec->input_schema_json.empty()) {
      Status valid = config::validateJson(spec->input_schema_json, ih::dumpJson(input), "action input");
      if (!valid.isOk()) return http::setError(res, 400, "invalid_request", valid.message());
    }
    if (auto lacks = runtime.lacksConnection(*integration, who.tenant_id); !lacks.isOk() || *lacks) {
      if (!lacks.isOk()) return http::setError(res, lacks.status());
      return http::setError(res, 409, "not_connected",
                            "integration \"" + id + "\" is not connected for this tenant; connect it first");
    }
    input["tenant"] = who.tenant_id;  // the caller's tenant, whatever the body said

    auto token = vault::randomToken("wf_", 12);
    if (!token.isOk()) return http::setError(res, token.status());
    auto run = std::make_shared<Run>();
    run->id = std::string(token->view());
    run->tenant_id = who.tenant_id;
    run->integration = id;
    run->action = action;
    run->started_at = nowMs();
    run->addLog("info", "started " + action + " on " + id);

    std::vector<std::thread> finished_threads;
    json body;
    {
      std::lock_guard lock(mu);
      if (stopping) return http::setError(res, 503, "unavailable", "the host is shutting down");
      pruneLocked(finished_threads);
      size_t active = 0;
      for (const auto& [_, r] : runs)
        if (r->tenant_id == who.tenant_id && !r->finished()) ++active;
      if (active >= options.max_active_per_tenant) {
        res.setHeader("Retry-After", "10");
        http::setError(res, 429, "too_many_workflows",
                       std::to_string(active) +
                           " workflows are still running for this tenant; answer or cancel one first "
                           "(DELETE /api/workflows/{run})");
      } else {
        runs[run->id] = run;
        threads[run->id] = std::thread([this, run, integration, input = ih::dumpJson(input)]() mutable {
          log::runLogged("workflow run", [&] { execute(run, integration, std::move(input)); });
        });
        body = run->toJson();
      }
    }
    for (auto& t : finished_threads)
      t.join();
    if (body.is_null()) return;  // refused above
    log::info("workflow started", {{"run", run->id},
                                   {"tenant", who.tenant_id},
                                   {"integration", id},
                                   {"action", action},
                                   {"actor", who.actor()}});
    res.setHeader("Location", "/api/workflows/" + run->id);
    res.json(202, ih::dumpJson(body));
  }

  void get(const tenancy::Principal& who, const Request& req, Response& res) {
    std::lock_guard lock(mu);
    auto run = findFor(who, req.param("run"));
    if (!run) return notFound(req, res);
    res.json(200, ih::dumpJson(run->toJson()));
  }

  void answer(const tenancy::Principal& who, const Request& req, Response& res) {
    auto parsed = ih::parseJson(req.body);
    if (!parsed.isOk())
      return http::setError(res, 400, "invalid_json", "request body: " + parsed.status().message());
    json body = std::move(*parsed);
    if (!body.is_object() || !body.contains("key") || !body["key"].is_string() || !body.contains("value"))
      return http::setError(res, 400, "invalid_request",
                            "body must be {\"key\":\"<prompt key>\",\"value\":...}");
    if (body["key"].get_ref<const std::string&>().size() > kMaxAnswerKey)
      return http::setError(res, 400, "invalid_request",
                            "\"key\" is longer than " + std::to_string(kMaxAnswerKey) + " bytes");
    auto text = answerText(body["value"]);
    if (!text)
      return http::setError(res, 400, "invalid_request",
                            "\"value\" must be a string, a boolean or an integer");
    if (text->size() > kMaxAnswerBytes)
      return http::setError(res, 400, "invalid_request",
                            "\"value\" is longer than " + std::to_string(kMaxAnswerBytes) + " bytes");
    std::lock_guard lock(mu);
    auto run = findFor(who, req.param("run"));
    if (!run) return notFound(req, res);
    if (run->pending.is_null()) {
      return http::setError(
          res, 409, "no_pending_prompt",
          "workflow " + run->id + " is " + run->status + " and is not waiting for an answer");
    }
    if (run->pending["key"] != body["key"]) {
      return http::setError(res, 409, "prompt_mismatch",
                            "workflow " + run->id + " is waiting for \"" +
                                run->pending["key"].get<std::string>() + "\", not \"" +
                                body["key"].get<std::string>() + "\"");
    }
    run->answer = std::move(*text);
    run->cv.notify_all();
    res.json(200, ih::dumpJson(json{{"id", run->id}, {"accepted", true}, {"key", body["key"]}}));
  }

  void cancel(const tenancy::Principal& who, const Request& req, Response& res) {
    std::lock_guard lock(mu);
    auto run = findFor(who, req.param("run"));
    if (!run) return notFound(req, res);
    if (!run->finished() && run->cancel_reason.empty()) {
      run->cancel_reason = "cancelled by " + who.actor();
      run->addLog("warn", run->cancel_reason);
      run->cv.notify_all();
    }
    res.json(200, ih::dumpJson(run->toJson()));
  }

  static void notFound(const Request& req, Response& res) {
    http::setError(res, 404, "workflow_not_found",
                   "no workflow run \"" + req.param("run") + "\" for this tenant");
  }
};

Workflows::Workflows(runtime::Runtime& runtime, WorkflowOptions options)
    : impl_(std::make_shared<Impl>(runtime, options)) {}

Workflows::~Workflows() {
  stop();
}

void Workflows::registerRoutes(http::Server& server, tenancy::Tenancy& tenancy) {
  std::shared_ptr<Impl> m = impl_;
  server.route("POST", "/api/integrations/{id}/workflows/{action}",
               tenancy::requireTenant(tenancy, tenancy::kScopeWrite,
                                      [m](auto& p, auto& q, auto& r) { m->start(p, q, r); }));
  server.route("GET", "/api/workflows/{run}",
               tenancy::requireTenant(tenancy, tenancy::kScopeRead,
                                      [m](auto& p, auto& q, auto& r) { m->get(p, q, r); }));
  server.route("POST", "/api/workflows/{run}/answer",
               tenancy::requireTenant(tenancy, tenancy::kScopeWrite,
                                      [m](auto& p, auto& q, auto& r) { m->answer(p, q, r); }));
  server.route("DELETE", "/api/workflows/{run}",
               tenancy::requireTenant(tenancy, tenancy::kScopeWrite,
                                      [m](auto& p, auto& q, auto& r) { m->cancel(p, q, r); }));
}

void Workflows::stop() {
  std::map<std::string, std::thread> threads;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    for (auto& [_, run] : impl_->runs)
      run->cv.notify_all();
    threads.swap(impl_->threads);
  }
  for (auto& [_, t] : threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace ih::admin
