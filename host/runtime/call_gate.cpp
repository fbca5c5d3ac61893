// The call gate: every call into a plugin goes through Runtime::invoke. It checks the handler's capability,
// counts the call in flight (shutdown drains them), serializes it when the plugin asks, times it
// (ihost_plugin_call_duration_seconds) and maps the plugin's status and set_error message to a Status.
#include <chrono>
#include <string>
#include <thread>

#include "common/text.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "runtime/call_context.h"
#include "runtime/runtime.h"

namespace ih::runtime {
namespace {

struct HandlerSpec {
  std::string_view name;  // the ABI entry point: metrics label, call_info "handler"
  std::string_view what;  // for messages: "plugin x does not support <what>"
  uint64_t capability;    // the IH_CAP_* bit the plugin must declare
  bool allow_credentials_put;
};

// Indexed by Handler.
constexpr HandlerSpec kHandlers[] = {
    {"handle_route", "route", IH_CAP_ROUTES, false},
    {"verify_webhook", "webhook verification", IH_CAP_WEBHOOKS, false},
    {"handle_webhook", "webhook handling", IH_CAP_WEBHOOKS, false},
    {"run_job", "jobs", IH_CAP_JOBS, false},
    {"run_action", "actions", IH_CAP_ACTIONS, false},
    {"connect", "connect", IH_CAP_CONNECT, true},
    {"test_connection", "connection test", IH_CAP_CONNECT, false},
    {"disconnect", "disconnect", IH_CAP_CONNECT, false},
    // The loader refused IH_CAP_OAUTH on pre-1.2 descriptors, so the OAuth entries exist when the bit is set.
    {"oauth_authorize", "OAuth authorization", IH_CAP_OAUTH, false},
    {"oauth_complete", "OAuth completion", IH_CAP_OAUTH, true},
};
static_assert(std::size(kHandlers) == static_cast<size_t>(Handler::kOAuthComplete) + 1);

const HandlerSpec& specOf(Handler handler) {
  return kHandlers[static_cast<size_t>(handler)];
}

}  // namespace

void destroyInstance(Generation& g) {
  if (g.instance != nullptr && !g.destroyed.exchange(true)) g.plugin->descriptor().destroy(g.instance);
}

// A call leaves its generation; the last call out of a retired one destroys its instance.
void releaseGeneration(Generation& g) {
  if (g.calls.fetch_sub(1) == 1 && g.retired.load()) destroyInstance(g);
}

std::string_view handlerName(Handler handler) {
  return specOf(handler).name;
}

CallResult Runtime::invoke(Integration& in, std::string_view tenant_id, Handler handler,
                           const CallArgs& args) {
  CallResult out;
  const HandlerSpec& spec = specOf(handler);
  // Counted before anything reads `in`: shutdown() sets accepting_ false, then waits for the count, so a call
  // either sees the refusal here (and never touches `in`) or is waited for.
  in_flight_.fetch_add(1);
  if (!accepting_.load()) {
    in_flight_.fetch_sub(1);
    out.status = Status::unavailable("the host is shutting down");
    return out;
  }
  // The generation this call runs on: taken, then confirmed not retired, so whoever retires it either sees
  // this call counted (and leaves its instance to the last call out) or this call sees the retirement: after
  // a reload it takes the newer generation; after the plugin file was removed it is refused.
  Generation* g = nullptr;
  for (;;) {
    g = in.current_.load();
    g->calls.fetch_add(1);
    if (!g->retired.load()) break;
    releaseGeneration(*g);
    if (in.removed_.load()) {
      out.status = Status::unavailable(
          "integration " + in.id() + " is unavailable: its plugin file was removed (put it back and reload)");
      in_flight_.fetch_sub(1);
      return out;
    }
    std::this_thread::yield();
  }
  const auto& d = g->plugin->descriptor();
  if (!(d.capabilities & spec.capability)) {
    out.status = Status(StatusCode::kUnsupported, "plugin " + g->plugin->manifest().name +
                                                      " does not support " + std::string(spec.what));
    releaseGeneration(*g);
    in_flight_.fetch_sub(1);
    return out;
  }
  ih_call call;
  call.deps = &deps_;
  call.integration = &in;
  call.tenant_id = tenant_id;
  call.handler = spec.name;
  call.allow_credentials_put = spec.allow_credentials_put;
  call.prompt = args.prompt;
  call.out = &out;
  if (args.live) call.counts = args.live;
  call.event_scope = args.event_scope;
  if (args.deferred) call.deferred = *args.deferred;
  // The deadline: none while an operator may be asked (interactive workflows), the job's own or the
  // configured job deadline for jobs, the call deadline otherwise.
  std::chrono::milliseconds budget{0};
  if (args.prompt == nullptr)
    budget = handler == Handler::kRunJob ? args.timeout.value_or(deps_.job_timeout)
                                         : in.call_timeout_.value_or(deps_.call_timeout);
  if (budget.count() > 0) call.deadline = std::chrono::steady_clock::now() + budget;

  ih_plugin* p = g->instance;
  const ih_str first = toStr(args.first);
  const ih_str second = toStr(args.second);
  auto run = [&]() -> ih_status {
    switch (handler) {
      case Handler::kRoute:
        return d.handle_route(p, &call, first, second);
      case Handler::kVerifyWebhook:
        return d.verify_webhook(p, &call, first, second);
      case Handler::kHandleWebhook:
        return d.handle_webhook(p, &call, first, second);
      case Handler::kRunJob:
        return d.run_job(p, &call, first, second);
      case Handler::kRunAction:
        return d.run_action(p, &call, first, second);
      case Handler::kConnect:
        return d.connect(p, &call, first);
      case Handler::kTestConnection:
        return d.test_connection(p, &call);
      case Handler::kDisconnect:
        return d.disconnect(p, &call);
      case Handler::kOAuthAuthorize:
        return d.oauth_authorize(p, &call, first);
      case Handler::kOAuthComplete:
        return d.oauth_complete(p, &call, first);
    }
    return IH_ERR_INTERNAL;
  };

  const auto started = std::chrono::steady_clock::now();
  g->plugin->enterCall();
  ih_status rc;
  if (g->plugin->serialized()) {
    std::lock_guard lock(in.serialize_mu_);
    rc = run();
  } else {
    rc = run();
  }
  g->plugin->leaveCall();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out.record_pages = call.counts->pages.load();
  out.record_rows = call.counts->rows.load();
  metrics::registry()
      .histogram("ihost_plugin_call_duration_seconds",
                 "Time spent inside a plugin call, by integration and handler.",
                 {{"integration", in.id()}, {"handler", std::string(spec.name)}})
      .observe(out.seconds);

  if (rc != IH_OK) {
    std::string message = call.error_message.empty()
                              ? "plugin " + in.manifest().name + " failed in " + std::string(spec.what) +
                                    " (status " + std::to_string(rc) + ")"
                              : redact(call.error_message);
    out.status = Status(rc == isolation::kRunnerFailed && g->plugin->remote() ? StatusCode::kPluginUnavailable
                                                                              : statusCodeFromAbi(rc),
                        std::move(message));
    out.credentials.clear();  // never keep credentials from a failed connect
    // A failure past the deadline is the deadline's doing (whatever the plugin made of it): retryable.
    const bool late = call.deadline != std::chrono::steady_clock::time_point{} &&
                      std::chrono::steady_clock::now() >= call.deadline;
    if (late || rc == IH_ERR_DEADLINE) {
      out.status = Status(StatusCode::kDeadlineExceeded,
                          "plugin " + in.manifest().name + " ran past its " + std::to_string(budget.count()) +
                              " ms deadline in " + std::string(spec.what) + ": " + out.status.message());
      metrics::registry()
          .counter("ihost_plugin_deadline_exceeded_total",
                   "Plugin calls answered as failed because they ran past their deadline, by integration and "
                   "handler.",
                   {{"integration", in.id()}, {"handler", std::string(spec.name)}})
          .inc();
      log::warn("plugin call ran past its deadline", {{"integration", in.id()},
                                                      {"tenant", std::string(tenant_id)},
                                                      {"handler", std::string(spec.name)},
                                                      {"deadline_ms", static_cast<int64_t>(budget.count())},
                                                      {"seconds", out.seconds}});
    }
  }
  metrics::registry()
      .counter("ihost_plugin_calls_total",
               "Plugin calls by integration, handler and outcome (ok, or the status the plugin returned).",
               {{"integration", in.id()},
                {"handler", std::string(spec.name)},
                {"outcome", rc == IH_OK ? std::string("ok") : std::string(out.status.codeName())}})
      .inc();
  releaseGeneration(*g);
  // Last: once the count drops, shutdown() may destroy `in` (its id and manifest were read above).
  in_flight_.fetch_sub(1);
  return out;
}

CallResult Runtime::route(Integration& in, std::string_view tenant_id, std::string_view request_json,
                          std::string_view body) {
  return invoke(in, tenant_id, Handler::kRoute, {request_json, body});
}

CallResult Runtime::verifyWebhook(Integration& in, std::string_view tenant_id, std::string_view request_json,
                                  std::string_view body) {
  return invoke(in, tenant_id, Handler::kVerifyWebhook, {request_json, body});
}

CallResult Runtime::handleWebhook(Integration& in, std::string_view tenant_id, std::string_view event_json,
                                  std::string_view body, std::string_view event_scope,
                                  const sinks::Deferred& deferred) {
  return invoke(in, tenant_id, Handler::kHandleWebhook,
                {event_json, body, nullptr, nullptr, event_scope, &deferred});
}

CallResult Runtime::runJob(Integration& in, std::string_view tenant_id, std::string_view job,
                           std::string_view params_json, WriteCounts* live,
                           std::optional<std::chrono::milliseconds> timeout) {
  return invoke(in, tenant_id, Handler::kRunJob, {job, params_json, nullptr, live, {}, nullptr, timeout});
}

CallResult Runtime::runAction(Integration& in, std::string_view tenant_id, std::string_view action,
                              std::string_view input_json, const PromptFn* prompt) {
  return invoke(in, tenant_id, Handler::kRunAction, {action, input_json, prompt});
}

CallResult Runtime::connect(Integration& in, std::string_view tenant_id, std::string_view input_json) {
  return invoke(in, tenant_id, Handler::kConnect, {input_json, {}});
}

CallResult Runtime::testConnection(Integration& in, std::string_view tenant_id) {
  return invoke(in, tenant_id, Handler::kTestConnection, {});
}

CallResult Runtime::disconnect(Integration& in, std::string_view tenant_id) {
  return invoke(in, tenant_id, Handler::kDisconnect, {});
}

CallResult Runtime::oauthAuthorize(Integration& in, std::string_view tenant_id,
                                   std::string_view params_json) {
  return invoke(in, tenant_id, Handler::kOAuthAuthorize, {params_json, {}});
}

CallResult Runtime::oauthComplete(Integration& in, std::string_view tenant_id, std::string_view params_json) {
  return invoke(in, tenant_id, Handler::kOAuthComplete, {params_json, {}});
}

void Runtime::shutdown(std::chrono::milliseconds drain) {
  if (!accepting_.exchange(false)) return;
  auto deadline = std::chrono::steady_clock::now() + drain;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::lock_guard lock(mu_);
  if (in_flight_.load() > 0) {
    // Destroying an instance under a running call would crash the process; leak it instead and say so.
    log::error("plugin calls still running after the drain timeout; instances are left alive",
               {{"in_flight", in_flight_.load()}});
    for (auto& in : integrations_)
      in.release();
    integrations_.clear();
    return;
  }
  for (auto& in : integrations_) {
    std::lock_guard generations(in->generations_mu_);
    for (auto& g : in->generations_)
      destroyInstance(*g);
  }
  integrations_.clear();  // drops plugin references; libraries unload when the registry lets go too
  removeStagedPlugins();
}

}  // namespace ih::runtime
