// maskedSummary: the effective configuration as an operator reads it (ihost serve at start, `ihost config`),
// with every secret masked and every other string passed through ih::redact.
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/json_parse.h"
#include "common/text.h"
#include "config/config.h"
#include "config/internal.h"
#include "log/log.h"

namespace ih::config {

namespace {

using Json = nlohmann::json;

std::string quoted(const std::string& text) {
  return dumpJson(Json(redact(text)));
}

std::string formatDuration(int64_t seconds) {
  static constexpr std::pair<int64_t, char> kUnits[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
  std::string out;
  for (auto [size, unit] : kUnits) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + unit;
      seconds %= size;
    }
  }
  return out.empty() ? "0s" : out;
}

class Writer {
 public:
  explicit Writer(const Config& config) : config_(config) {}

  void section(const std::string& name) { out_ << "[" << name << "]\n"; }

  void line(const std::string& key_path, const std::string& key, const std::string& value,
            const std::string& note = "") {
    out_ << "  " << key << " = " << value;
    if (auto it = config_.overrides.find(key_path); it != config_.overrides.end()) {
      out_ << "  # from " << it->second;
    } else if (!note.empty()) {
      out_ << "  # " << note;
    }
    out_ << "\n";
  }

  // Writes every leaf of `value` under `path`, masking secret ones.
  void settings(const std::string& integration_path, const std::string& path, const Json& value,
                const Json* schema, bool secret, const Json& original) {
    bool is_container = (value.is_object() || value.is_array()) && (!value.empty() || path.empty());
    if (!is_container) {
      std::string shown;
      if (secret && value.is_string()) {
        shown = "\"" + mask(value.get_ref<const std::string&>()) + "\"";
      } else if (secret && !value.is_null()) {
        shown = "\"****\"";
      } else if (value.is_string()) {
        shown = quoted(value.get<std::string>());
      } else {
        shown = dumpJson(value);
      }
      line(integration_path + "." + path, path, shown, original.is_discarded() ? "default" : "");
      return;
    }
    if (value.is_object()) {
      const Json* properties = nullptr;
      if (schema != nullptr && schema->is_object()) {
        auto it = schema->find("properties");
        if (it != schema->end() && it->is_object()) properties = &*it;
      }
      for (const auto& [key, member] : value.items()) {
        const Json* child_schema = properties && properties->contains(key) ? &(*properties)[key] : nullptr;
        // The schema's "secret" decides when it says; otherwise a secret-looking name is masked to be safe.
        const bool declared = child_schema && child_schema->is_object() && child_schema->contains("secret") &&
                              (*child_schema)["secret"].is_boolean();
        bool child_secret =
            secret || (declared ? (*child_schema)["secret"].get<bool>() : internal::looksSecretName(key));
        Json child_original =
            original.is_object() && original.contains(key) ? original[key] : Json(Json::value_t::discarded);
        settings(integration_path, path.empty() ? key : path + "." + key, member, child_schema, child_secret,
                 child_original);
      }
      return;
    }
    const Json* items = nullptr;
    if (schema != nullptr && schema->is_object() && schema->contains("items")) items = &(*schema)["items"];
    for (size_t i = 0; i < value.size(); ++i) {
      bool item_secret = secret || (items && items->is_object() && items->value("secret", false));
      Json child_original =
          original.is_array() && i < original.size() ? original[i] : Json(Json::value_t::discarded);
      settings(integration_path, path + "[" + std::to_string(i) + "]", value[i], items, item_secret,
               child_original);
    }
  }

  std::string text() const { return out_.str(); }
  std::ostringstream& out() { return out_; }

 private:
  const Config& config_;
  std::ostringstream out_;
};

}  // namespace

std::string maskedSummary(const Config& config, const std::map<std::string, std::string>& schemas) {
  Writer w(config);
  w.out() << "# ihost configuration from " << config.path << "\n";
  const ServerConfig& server = config.server;
  w.section("server");
  w.line("server.listen", "listen", quoted(server.listen));
  w.line("server.public_url", "public_url", quoted(server.public_url));
  w.line("server.max_body_bytes", "max_body_bytes", std::to_string(server.max_body_bytes));
  w.line("server.header_timeout_ms", "header_timeout_ms", std::to_string(server.header_timeout_ms));
  w.line("server.read_timeout_ms", "read_timeout_ms", std::to_string(server.read_timeout_ms));
  w.line("server.write_timeout_ms", "write_timeout_ms", std::to_string(server.write_timeout_ms));
  w.line("server.idle_timeout_ms", "idle_timeout_ms", std::to_string(server.idle_timeout_ms));
  w.line("server.shutdown_timeout_ms", "shutdown_timeout_ms", std::to_string(server.shutdown_timeout_ms));
  w.line("server.worker_threads", "worker_threads", std::to_string(server.worker_threads));
  w.line("server.keep_alive_max_requests", "keep_alive_max_requests",
         std::to_string(server.keep_alive_max_requests));
  w.line("server.max_connections", "max_connections", std::to_string(server.max_connections));
  w.line("server.max_connections_per_ip", "max_connections_per_ip",
         std::to_string(server.max_connections_per_ip),
         server.max_connections_per_ip == 0 ? "no per-address cap" : "");
  w.section("events");
  w.line("events.stream_reauth_ms", "stream_reauth_ms", std::to_string(config.events.stream_reauth_ms));
  w.line("events.max_streams", "max_streams", std::to_string(config.events.max_streams));
  w.line("events.max_streams_per_tenant", "max_streams_per_tenant",
         std::to_string(config.events.max_streams_per_tenant));
  w.section("storage");
  w.line("storage.backend", "backend", quoted(config.storage.backend));
  if (config.storage.backend == "postgres") {
    w.line("storage.url", "url", quoted(maskUrlPasswords(config.storage.url)));
    w.line("storage.statement_timeout_ms", "statement_timeout_ms",
           std::to_string(config.storage.statement_timeout_ms));
    w.line("storage.replica_id", "replica_id", quoted(config.storage.replica_id),
           config.storage.replica_id.empty() ? "<hostname>/<pid>" : "");
    w.line("storage.claim_lease_ms", "claim_lease_ms", std::to_string(config.storage.claim_lease_ms));
  } else {
    w.line("storage.path", "path", quoted(config.storage.path));
  }
  w.line("storage.pool_size", "pool_size", std::to_string(config.storage.pool_size));
  w.section("vault");
  w.line("vault.key_file", "key_file", quoted(config.vault.key_file),
         config.vault.key_file.empty() ? "keys come from key_env" : "");
  w.line("vault.key_env", "key_env", quoted(config.vault.key_env));
  w.section("plugins");
  w.line("plugins.dir", "dir", quoted(config.plugins.dir));
  if (config.plugins.sha256_allow.empty()) {
    w.line("plugins.sha256_allow", "sha256_allow", "{}", "no allow-list: every plugin in dir may load");
  } else {
    for (const auto& [file, digest] : config.plugins.sha256_allow) {
      w.line("plugins.sha256_allow." + file, "sha256_allow." + dumpJson(Json(file)), quoted(digest));
    }
  }
  w.line("plugins.call_timeout_ms", "call_timeout_ms", std::to_string(config.plugins.call_timeout_ms));
  w.line("plugins.job_timeout_ms", "job_timeout_ms", std::to_string(config.plugins.job_timeout_ms));
  w.line("plugins.watch", "watch", config.plugins.watch ? "true" : "false");
  w.line("plugins.isolation", "isolation", quoted(config.plugins.isolation));
  w.line("plugins.runner", "runner", quoted(config.plugins.runner),
         config.plugins.runner.empty() ? "this ihost" : "");
  w.line("plugins.runner_memory_mb", "runner_memory_mb", std::to_string(config.plugins.runner_memory_mb));
  w.line("plugins.runner_max_files", "runner_max_files", std::to_string(config.plugins.runner_max_files));
  w.line("plugins.seccomp", "seccomp", config.plugins.seccomp ? "true" : "false");
  w.section("admin");
  w.line("admin.console", "console", config.admin.console ? "true" : "false");
  w.line("admin.token_env", "token_env", quoted(config.admin.token_env));
  w.section("log");
  w.line("log.level", "level", quoted(config.log.level));
  w.section("inbox");
  w.line("inbox.retry_schedule_s", "retry_schedule_s", Json(config.inbox.retry_schedule_s).dump());
  w.line("inbox.workers", "workers", std::to_string(config.inbox.workers));
  w.line("inbox.claim_batch", "claim_batch", std::to_string(config.inbox.claim_batch));
  w.line("inbox.retention_days", "retention_days", std::to_string(config.inbox.retention_days));

  for (const IntegrationConfig& integration : config.integrations) {
    const std::string path = "integrations." + integration.id;
    w.section(path);
    w.line(path + ".plugin", "plugin", quoted(integration.plugin));
    w.line(path + ".enabled", "enabled", integration.enabled ? "true" : "false");
    if (integration.call_timeout_ms)
      w.line(path + ".call_timeout_ms", "call_timeout_ms", std::to_string(*integration.call_timeout_ms));
    if (integration.isolation) w.line(path + ".isolation", "isolation", quoted(*integration.isolation));
    Json original = ih::parseJsonOrDiscarded(integration.settings_json);
    if (original.is_discarded()) original = Json::object();
    Json schema = Json(Json::value_t::discarded);
    auto schema_text = schemas.find(integration.plugin);
    if (schema_text != schemas.end()) schema = ih::parseJsonOrDiscarded(schema_text->second);
    Json effective = original;
    if (!schema.is_discarded()) {
      Result<std::string> with_defaults = applyDefaults(schema_text->second, integration.settings_json);
      if (with_defaults.isOk()) effective = ih::parseJsonOrDiscarded(*with_defaults);
      if (effective.is_discarded()) effective = original;
    }
    w.settings(path, "", effective, schema.is_discarded() ? nullptr : &schema, false, original);
    for (const auto& [name, job] : integration.jobs) {
      const std::string job_path = path + ".jobs." + name;
      if (job.every_seconds) {
        w.line(job_path + ".every", "jobs." + name + ".every", quoted(formatDuration(*job.every_seconds)));
      }
      if (job.enabled)
        w.line(job_path + ".enabled", "jobs." + name + ".enabled", *job.enabled ? "true" : "false");
      if (job.timeout_seconds)
        w.line(job_path + ".timeout", "jobs." + name + ".timeout",
               quoted(formatDuration(*job.timeout_seconds)));
    }
  }
  for (const ComingSoonConfig& placeholder : config.coming_soon) {
    const std::string path = "coming_soon." + placeholder.id;
    w.section(path);
    w.line(path + ".name", "name", quoted(placeholder.name));
    if (!placeholder.description.empty())
      w.line(path + ".description", "description", quoted(placeholder.description));
  }
  return w.text();
}

}  // namespace ih::config
