// The plugin runtime: one instance per configured integration (runtime.cpp), the call gate every call into a
// plugin goes through (call_gate.cpp: capability check, in-flight accounting, serialization, metrics, status
// mapping) and the host services handed to plugins (host_services.cpp: everything a plugin can do).
//
// Every call carries an `ih_call` context naming its tenant and integration; the host services resolve state,
// credentials, records and events from that context only, so a plugin can never reach another tenant's data.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"
#include "ih/plugin_abi.h"
#include "isolation/runner.h"
#include "loader/registry.h"
#include "vault/secure_string.h"

namespace ih::config {
struct Config;
struct IntegrationConfig;
}  // namespace ih::config
namespace ih::store {
class Store;
struct Connection;
}  // namespace ih::store
namespace ih::vault {
class Vault;
}
namespace ih::outbound {
class Client;
}
namespace ih::tenancy {
class Connections;
}

namespace ih::runtime {

using sinks::EventSink;
using sinks::InboxSink;
using sinks::RecordSink;

// Borrowed collaborators; all must outlive the Runtime. records/events may be null (the plugin then gets
// IH_ERR_UNSUPPORTED with a message saying so).
struct Dependencies {
  store::Store* store = nullptr;
  vault::Vault* vault = nullptr;
  tenancy::Connections* connections = nullptr;  // credentials_get / credentials_delete
  outbound::Client* outbound = nullptr;
  RecordSink* records = nullptr;
  EventSink* events = nullptr;
  InboxSink* inbox = nullptr;  // may be set after construction (setInbox): the inbox needs the runtime first
  std::string public_url;      // [server] public_url when configured explicitly (call_info), else empty
  // Deadlines ([plugins] call_timeout_ms / job_timeout_ms; 0 = none). Calls that can prompt an operator
  // (interactive workflows) have none; a job may bring its own (runJob's `timeout`).
  std::chrono::milliseconds call_timeout{30000};
  std::chrono::milliseconds job_timeout{3600000};
  // Runners of integrations with isolation = "process" ([plugins] runner, runner_memory_mb, ...).
  isolation::Options isolation;
};

// The runner options of `config` ([plugins] runner, runner_memory_mb, runner_max_files, seccomp).
isolation::Options isolationOptions(const config::Config& config);
// How to scan `config`'s plugins directory. When any integration runs isolated, every file is first read by a
// runner (isolation::probe): a process that only checks or lists (`ihost config check`, the server's start)
// never maps a library an isolated integration may use.
loader::ScanOptions scanOptions(const config::Config& config);

// Answers a plugin's prompt (interactive workflows): receives the prompt JSON, returns the answer, or
// kUnsupported when nobody can answer.
using PromptFn = std::function<Result<std::string>(std::string_view prompt_json)>;

// The plugin entry points a call can run: what the call gate checks (capability), labels (metrics, call_info)
// and allows (credentials_put only while connecting).
enum class Handler {
  kRoute,
  kVerifyWebhook,
  kHandleWebhook,
  kRunJob,
  kRunAction,
  kConnect,
  kTestConnection,
  kDisconnect,
  kOAuthAuthorize,
  kOAuthComplete,
};
// The ABI name of the entry point ("handle_route", "run_job", ...): the `handler` metrics label.
std::string_view handlerName(Handler handler);

// Record writes of one call (records_upsert / records_commit pages and the records in them), counted while it
// runs: a sync's progress reads them live from another thread.
struct WriteCounts {
  std::atomic<int64_t> pages{0};
  std::atomic<int64_t> rows{0};
};

// What one plugin call produced.
struct CallResult {
  Status status;                    // IH_OK → ok; otherwise the plugin's code and set_error message
  bool responded = false;           // respond() was called
  int http_status = 0;              // from respond()
  std::string headers_json;         // from respond(), a JSON object or empty
  std::string body;                 // from respond()
  std::string refused_response;     // why the host refused the plugin's respond() (a header that breaks HTTP)
  std::string result_json;          // from set_result()
  vault::SecureString credentials;  // from credentials_put() during connect; empty otherwise
  double seconds = 0;               // time spent in the plugin
  int64_t record_pages = 0;         // records_upsert / records_commit calls that succeeded
  int64_t record_rows = 0;          // records in them
};

// One loaded version of an integration's plugin and the instance created from it. An integration switches to a
// new generation on a hot reload; calls already running finish on theirs, and the last one out destroys a
// retired generation's instance. The object itself (and so its manifest) lives as long as the integration:
// references to a manifest stay valid across reloads.
struct Generation {
  std::shared_ptr<loader::Plugin> plugin;
  ih_plugin* instance = nullptr;
  std::string source;                // the file in the plugins directory it was loaded from
  int64_t loaded_at_ms = 0;          // unix ms
  std::atomic<int> calls{0};         // calls running on it
  std::atomic<bool> retired{false};  // a newer generation serves new calls
  std::atomic<bool> destroyed{false};
};

// What a reload did, per plugin file (see Runtime::reloadPlugins).
struct ReloadOutcome {
  std::string file;
  std::string plugin;        // manifest name when it loaded
  std::string from_version;  // the version that served before ("" when nothing used it)
  std::string to_version;
  std::vector<std::string> integrations;  // switched to the new version
  // "reloaded" | "started" (an integration unavailable since start whose plugin arrived) | "unchanged" |
  // "refused" | "not_configured" | "removed" (the file is gone: its integrations are unavailable until it is
  // back)
  std::string status;
  std::string reason;  // for "refused"
};

// One configured integration: a plugin instance with its validated settings. Thread-safe.
class Integration {
 public:
  ~Integration();
  Integration(const Integration&) = delete;
  Integration& operator=(const Integration&) = delete;

  const std::string& id() const { return id_; }
  // The version serving new calls (it changes on a hot reload; the references stay valid).
  const loader::Plugin& plugin() const { return *current_.load()->plugin; }
  const loader::Manifest& manifest() const { return plugin().manifest(); }
  int64_t loadedAtMs() const { return current_.load()->loaded_at_ms; }
  // The version this one replaced ("" before any reload), and how many reloads happened.
  std::string previousVersion() const;
  int reloads() const;
  const std::string& settingsJson() const { return settings_json_; }
  bool enabled() const { return enabled_; }
  // isolation = "process": the plugin runs in a runner process (host/isolation).
  bool isolated() const { return isolated_; }
  // The current runner of an isolated integration; nullopt when it runs in-process. Thread-safe.
  std::optional<isolation::RunnerStatus> runner() const;

 private:
  friend class Runtime;
  Integration() = default;

  std::string id_;
  std::atomic<Generation*> current_{nullptr};
  std::atomic<bool> removed_{false};  // its plugin file was removed at a reload: unavailable until it returns
  mutable std::mutex generations_mu_;
  std::vector<std::unique_ptr<Generation>> generations_;  // GUARDED_BY(generations_mu_); never shrinks
  std::string previous_version_;                          // GUARDED_BY(generations_mu_)
  std::string settings_json_;
  bool enabled_ = true;
  bool isolated_ = false;
  std::optional<std::chrono::milliseconds> call_timeout_;
  std::mutex serialize_mu_;  // held around calls when the plugin sets IH_FLAG_SERIALIZE
};

// An integration in the config that could not be started (plugin missing or refused, bad settings).
struct UnavailableIntegration {
  std::string id;
  std::string plugin;
  std::string reason;
};

class Runtime {
 public:
  explicit Runtime(Dependencies deps);
  ~Runtime();  // shutdown()
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Validates the integration's settings against the plugin's config schema and creates its instance. On
  // failure the integration is recorded as unavailable (with the reason) and the error returned.
  Status addIntegration(const config::Config& config, const config::IntegrationConfig& integration,
                        std::shared_ptr<loader::Plugin> plugin);
  // Records a configured integration whose plugin is not loaded.
  void addUnavailable(UnavailableIntegration entry);

  // nullptr when unknown or unavailable.
  Integration* find(std::string_view id) const;
  // Also an integration whose plugin file was removed at a reload (for the reload itself).
  Integration* findAny(std::string_view id) const;
  std::vector<Integration*> integrations() const;
  std::vector<UnavailableIntegration> unavailable() const;

  // True when `in`'s plugin connects per tenant (connect or OAuth capability) and `tenant_id` has no active
  // connection to it: actions and workflows then answer 409 not_connected without calling the plugin. Fails
  // only when the store cannot be read. Thread-safe.
  Result<bool> lacksConnection(const Integration& in, std::string_view tenant_id) const;

  // Calls into the plugin. Thread-safe; fail with kUnavailable once shutdown started, kUnsupported when the
  // plugin lacks the capability. `tenant_id` may be empty for calls not bound to a tenant (platform webhook
  // verification).
  CallResult route(Integration& in, std::string_view tenant_id, std::string_view request_json,
                   std::string_view body);
  CallResult verifyWebhook(Integration& in, std::string_view tenant_id, std::string_view request_json,
                           std::string_view body);
  // `event_scope` (may be empty) names this handling of the webhook, e.g. "inbox:<row>:<replays>": the n-th
  // event of a type the call emits is keyed "<event_scope>:<type>:<n>", so handling the same webhook again
  // (after a crash, or a retry after a failure) does not emit its events twice. `deferred` (may be null):
  // the call's record writes and events are queued, not waited for; a failure to store them reaches the group
  // (sinks::WriteGroup), and the caller records the handling's outcome after them.
  CallResult handleWebhook(Integration& in, std::string_view tenant_id, std::string_view event_json,
                           std::string_view body, std::string_view event_scope,
                           const sinks::Deferred& deferred = nullptr);
  // `live` (optional, borrowed for the call) counts the job's record writes while it runs. `timeout`: this
  // job's deadline instead of Dependencies::job_timeout.
  CallResult runJob(Integration& in, std::string_view tenant_id, std::string_view job,
                    std::string_view params_json, WriteCounts* live = nullptr,
                    std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // `prompt` (optional) answers the plugin's prompts; without it a prompt fails with IH_ERR_UNSUPPORTED.
  CallResult runAction(Integration& in, std::string_view tenant_id, std::string_view action,
                       std::string_view input_json, const PromptFn* prompt = nullptr);
  CallResult connect(Integration& in, std::string_view tenant_id, std::string_view input_json);
  CallResult testConnection(Integration& in, std::string_view tenant_id);
  CallResult disconnect(Integration& in, std::string_view tenant_id);
  // ABI 1.2 OAuth (kUnsupported without IH_CAP_OAUTH). oauthComplete stages credentials_put like connect:
  // the caller stores CallResult::credentials (tenancy::Connections::save) only when the call succeeded.
  CallResult oauthAuthorize(Integration& in, std::string_view tenant_id, std::string_view params_json);
  CallResult oauthComplete(Integration& in, std::string_view tenant_id, std::string_view params_json);

  // Hot swap: scans `config.plugins.dir`; each .so whose digest differs from the version an integration runs is
  // loaded (from a private copy, so a file replaced in place is really re-read), validated (ABI, manifest, the
  // sha256 allow-list as the file `config.path` has it now, the integration's settings against the new schema,
  // create), and switched in: new calls go to the new version, running calls finish on the old one, whose
  // instance is then destroyed. An integration whose file is gone becomes unavailable the same way (and comes
  // back when the file does). A version that fails any check is refused with the reason and the old one keeps
  // serving; so is one whose jobs, entitlements or mappings differ (those are wired at start: restart to
  // apply). Thread-safe; reloads are serialized.
  std::vector<ReloadOutcome> reloadPlugins(const config::Config& config);

  // Stop accepting calls, wait up to `drain` for in-flight calls, destroy instances, release plugins.
  // Idempotent.
  void shutdown(std::chrono::milliseconds drain = std::chrono::seconds(10));

  // Wires the inbox in once it exists. Call before serving.
  void setInbox(InboxSink* inbox) { deps_.inbox = inbox; }

  // The services table handed to plugins (exposed for tests).
  static const ih_host_api* hostApi();

 private:
  struct CallArgs {
    std::string_view first;   // request / event / job / action / input / params JSON, by handler
    std::string_view second;  // body / params / input, by handler
    const PromptFn* prompt = nullptr;
    WriteCounts* live = nullptr;
    std::string_view event_scope{};                      // handleWebhook
    const sinks::Deferred* deferred = nullptr;           // handleWebhook
    std::optional<std::chrono::milliseconds> timeout{};  // runJob: the job's own deadline
  };
  // `plugin` as an isolated integration needs it (remote: isolation::probe) or an in-process one (mapped here:
  // loader::Registry::loadFile), loading the other kind from the same file when needed.
  Result<std::shared_ptr<loader::Plugin>> pluginOfKind(std::shared_ptr<loader::Plugin> plugin, bool remote);
  // A new integration running `plugin` (settings validated, instance created), not yet registered.
  Result<std::unique_ptr<Integration>> makeIntegration(const config::Config& config,
                                                       const config::IntegrationConfig& cfg,
                                                       std::shared_ptr<loader::Plugin> plugin);
  // The call gate: every call above goes through here.
  CallResult invoke(Integration& in, std::string_view tenant_id, Handler handler, const CallArgs& args);

  Dependencies deps_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Integration>> integrations_;  // GUARDED_BY(mu_) for insertion
  std::vector<UnavailableIntegration> unavailable_;         // GUARDED_BY(mu_)
  std::atomic<bool> accepting_{true};
  std::atomic<int> in_flight_{0};
  std::mutex reload_mu_;
  std::mutex kinds_mu_;
  // pluginOfKind's loads, by "remote|local:<sha256>:<file>".
  std::map<std::string, std::weak_ptr<loader::Plugin>> kinds_;  // GUARDED_BY(kinds_mu_)
};

}  // namespace ih::runtime
