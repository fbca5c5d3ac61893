// Host configuration: loads the TOML file (config/ihost.toml), applies IHOST_<SECTION>__<KEY> environment
// overrides, resolves relative paths against the file's directory and validates every host key. Integration
// settings are kept as JSON and validated later against the plugin's config schema (validateIntegration),
// which is the same JSON-Schema subset validator used for connect bodies and action inputs (validateJson).
//
// Every function here is pure (no globals; processEnvironment reads `environ`), thread-safe and returns its
// failures as values: problems are collected and returned together, one line per problem, formatted as
//   <file>:<line>:<col>: <key path>: <problem>. <fix>
// (or "environment variable IHOST_…: <key path>: …" for overrides), in a kInvalidArgument Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ih::config {

// Where a value came from: a position in the config file, or an environment override (then env_var is set and
// file/line/column are empty).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string env_var;
  // "file:line:col", "environment variable IHOST_…" or "<file>" when the position is unknown.
  std::string toString() const;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // host:port
  std::string public_url;                 // defaults to "http://" + listen
  size_t max_body_bytes = 1024 * 1024;
  int header_timeout_ms = 10000;  // the whole request head, from its first byte
  int read_timeout_ms = 10000;
  int write_timeout_ms = 10000;
  int idle_timeout_ms = 60000;
  int worker_threads = 32;
  int keep_alive_max_requests = 10000;
  int max_connections = 10000;
  int max_connections_per_ip = 256;  // 0 = no per-address cap
  // `ihost serve`: how long a graceful shutdown (SIGINT/SIGTERM) may take before the process exits anyway
  // (a plugin call that never returns must not hold it forever). A second signal exits at once.
  int shutdown_timeout_ms = 20000;  // below systemd's TimeoutStopSec=30
};

// [events]: Server-Sent Event streams (GET /api/events/stream).
struct EventsConfig {
  int stream_reauth_ms = 5000;  // an open stream's credentials are checked again this often
  int max_streams = 10000;
  int max_streams_per_tenant = 100;
};

struct StorageConfig {
  std::string backend =
      "sqlite";                   // "sqlite" (one file, the default) or "postgres" (N replicas on one server)
  std::string path = "ihost.db";  // sqlite: absolute after loading, or ":memory:"
  std::string url;                // postgres: postgresql://user@host:port/db (a password belongs in
                                  // IHOST_STORAGE__URL, not in the file)
  int pool_size = 4;              // read connections (postgres: plus one writer, per replica)
  int statement_timeout_ms = 30000;  // postgres: the server cancels a statement running longer
  std::string replica_id;            // postgres: this replica's stable name; empty: "<hostname>/<pid>"
  int64_t claim_lease_ms = 300000;   // postgres: a dead replica's claims are taken over after this
  std::string synchronous = "full";  // "full" (durable on power loss) or "normal"
};

struct VaultConfig {
  std::string key_file;  // absolute after loading; empty when the keys come from key_env only
  std::string key_env = "IHOST_VAULT_KEYS";
};

struct PluginsConfig {
  std::string dir = "plugins";  // absolute after loading
  // Plugin file name -> lowercase hex SHA-256. Empty means no allow-list (every plugin in dir may load).
  std::map<std::string, std::string> sha256_allow;
  // Deadline of one plugin call (routes, webhooks, actions, connect, OAuth), and of a sync job's run unless the
  // job sets its own `timeout`. Interactive workflow calls (waiting for an operator) have none.
  int64_t call_timeout_ms = 30000;
  int64_t job_timeout_ms = 3600000;
  // Hot-reload when the directory changes (inotify), as `ihost plugins reload` does.
  bool watch = false;
  // "in_process" (default) or "process": where integrations run their plugin unless their table says
  // `isolation = ...` (host/isolation). Isolated runners get the caps below.
  std::string isolation = "in_process";
  std::string
      runner;  // the ihost executable run as `plugin-runner`; empty: this one (absolute after loading)
  int64_t runner_memory_mb = 1024;
  int64_t runner_max_files = 64;
  bool seccomp = true;
};

struct AdminConfig {
  bool console = true;
  std::string token_env = "IHOST_ADMIN_TOKEN";
};

struct LogConfig {
  std::string level = "info";  // debug | info | warn | error
  bool access = true;          // one line per answered HTTP request (http/access_log.h), at info level
};

struct InboxConfig {
  std::vector<int> retry_schedule_s = {10, 60, 300, 1800, 7200};
  int workers = 4;
  int claim_batch = 128;  // events a dispatch worker claims per transaction
  int retention_days = 30;
};

// [outbound]: every HTTP call the host makes for plugins and to the tenants' webhook endpoints.
struct OutboundConfig {
  // Networks that may be reached although they are not public ("127.0.0.1/32", "10.0.0.0/8"). Empty: only
  // public addresses (loopback, private, link-local, CGNAT and metadata addresses are refused).
  std::vector<std::string> allow_networks;
  size_t max_response_bytes = 16 * 1024 * 1024;  // larger answers fail the call
  int deadline_ms = 120000;                      // one outbound call, retries included
  std::string ca_file;  // extra trust anchors (PEM); absolute after loading; empty = system only
};

// [endpoints]: signed outbound webhooks to the tenants' applications.
struct EndpointsConfig {
  std::vector<int> retry_schedule_s = {5,    300,   1800,
                                       7200, 18000, 36000};  // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
  int workers = 4;                       // concurrent deliveries; 0 = API only, nothing delivered
  int request_timeout_ms = 15000;        // one delivery attempt
  int disable_after_failed_events = 10;  // consecutive events whose every attempt failed; 0 = never
  int retention_days = 30;  // finished deliveries and attempts older than this are pruned; 0 = never
};

// [integrations.<id>.jobs.<name>]: overrides of a plugin job's default schedule. Unset fields keep the
// plugin's.
struct JobConfig {
  std::optional<int64_t> every_seconds;
  std::optional<bool> enabled;
  std::optional<int64_t> timeout_seconds;  // `timeout = "2h"`: this job's deadline instead of job_timeout_ms
  SourceLocation where;
};

struct IntegrationConfig {
  std::string id;      // matches ^[a-z][a-z0-9_]{0,39}$
  std::string plugin;  // plugin name from its manifest
  bool enabled = true;
  // `call_timeout_ms = N` (100..3600000): this integration's plugin call deadline instead of
  // [plugins] call_timeout_ms (a host key: never passed to the plugin).
  std::optional<int64_t> call_timeout_ms;
  // `isolation = "in_process" | "process"` (a host key): overrides [plugins] isolation for this integration.
  std::optional<std::string> isolation;
  bool isolated(const PluginsConfig& plugins) const {
    return isolation.value_or(plugins.isolation) == "process";
  }
  // Every other key of the table as a JSON object, not yet validated (see validateIntegration).
  std::string settings_json = "{}";
  std::map<std::string, JobConfig> jobs;
  SourceLocation where;  // the [integrations.<id>] header
  // Setting path ("greeting", "retry.max", "plans[0]") -> where it was written.
  std::map<std::string, SourceLocation> setting_locations;
  // Setting path -> raw text of the environment override that set it, so validateIntegration can type it by
  // the schema (an env value "0042" for a string setting stays "0042").
  std::map<std::string, std::string> env_values;
};

// [coming_soon.<id>]: a provider shown as a "coming soon" tile (no plugin, nothing to connect).
struct ComingSoonConfig {
  std::string id;           // like an integration id
  std::string name;         // display name, required, at most 80 bytes
  std::string description;  // optional, at most 300 bytes
  SourceLocation where;
};

struct Config {
  std::string path;  // the config file as given (used in messages)
  ServerConfig server;
  StorageConfig storage;
  VaultConfig vault;
  PluginsConfig plugins;
  AdminConfig admin;
  LogConfig log;
  InboxConfig inbox;
  OutboundConfig outbound;
  EndpointsConfig endpoints;
  EventsConfig events;
  std::vector<IntegrationConfig> integrations;  // in file order
  std::vector<ComingSoonConfig> coming_soon;    // in file order
  // Dotted key path ("server.listen", "integrations.x.secret") -> the environment variable that set it.
  std::map<std::string, std::string> overrides;

  // Borrowed pointer into integrations; nullptr when no integration has this id.
  const IntegrationConfig* findIntegration(std::string_view id) const;
};

using Environment = std::map<std::string, std::string>;

// A snapshot of the process environment (environ). Not safe against concurrent setenv.
Environment processEnvironment();

// Reads and validates the config file. Relative paths in it are resolved against the file's directory.
// Fails with kInvalidArgument listing every problem, or naming the unreadable file.
Result<Config> loadFile(const std::string& path, const Environment& env);
// Same as loadFile for text already in memory; `virtual_path` is used in messages and to resolve relative
// paths.
Result<Config> loadString(std::string_view toml_text, const std::string& virtual_path,
                          const Environment& env);

// Validates an integration's settings against its plugin's config_schema (JSON text) and returns the settings
// JSON with schema defaults applied. Errors name file:line, integrations.<id>.<key>, what was expected and
// the fix; secret values never appear in them. A schema that is not valid JSON fails with kInvalidArgument.
Result<std::string> validateIntegration(const Config& config, const IntegrationConfig& integration,
                                        std::string_view config_schema_json);

// Validates a JSON document against the schema subset (type, properties, required, enum, pattern, minimum,
// maximum, items, additionalProperties, secret). `what` prefixes each message ("connect body: mode: …").
Status validateJson(std::string_view schema_json, std::string_view document_json, std::string_view what);

// Returns the document with every missing property that has a schema "default" filled in (recursively through
// present objects and arrays). Fails only on invalid JSON.
Result<std::string> applyDefaults(std::string_view schema_json, std::string_view document_json);

// "30s" "15m" "1h" "1d" "1h30m" -> seconds. Units in descending order, each at most once; the result is > 0.
Result<int64_t> parseDuration(std::string_view text);

// Multi-line, human-readable effective config with secrets masked by ih::mask: schema "secret": true settings
// and any key named like *secret*, *token*, *key*, *password* that is not a path/env-var name (*_file,
// *_path,
// *_dir, *_env, *_url). Other strings pass through ih::redact. `schemas` maps plugin name -> config_schema
// JSON (used for secret flags and defaults; a missing or invalid schema only loses those).
std::string maskedSummary(const Config& config, const std::map<std::string, std::string>& schemas);

}  // namespace ih::config
