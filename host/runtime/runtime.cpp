// The set of configured integrations: each a plugin instance created with its validated settings, or the
// reason it could not be. Calls into them go through the call gate (call_gate.cpp).
#include "runtime/runtime.h"

#include <string>

#include "config/config.h"
#include "log/log.h"
#include "runtime/call_context.h"
#include "store/store.h"

namespace ih::runtime {

Integration::~Integration() = default;

std::string Integration::previousVersion() const {
  std::lock_guard lock(generations_mu_);
  return previous_version_;
}

int Integration::reloads() const {
  std::lock_guard lock(generations_mu_);
  return static_cast<int>(generations_.size()) - 1;
}

Result<ih_plugin*> createInstance(Dependencies& deps, Integration& in, loader::Plugin& plugin,
                                  const std::string& settings_json) {
  CallResult out;
  ih_call call;
  call.deps = &deps;
  call.integration = &in;
  call.out = &out;
  if (plugin.remote())
    return isolation::createRemote(plugin, deps.isolation, Runtime::hostApi(), in.id(), settings_json);
  const auto& d = plugin.descriptor();
  ih_plugin* instance = nullptr;
  plugin.enterCall();
  ih_status rc = d.create(Runtime::hostApi(), &call, toStr(in.id()), toStr(settings_json), &instance);
  plugin.leaveCall();
  if (rc != IH_OK || instance == nullptr) {
    std::string why =
        call.error_message.empty() ? "create failed with status " + std::to_string(rc) : call.error_message;
    return Status(statusCodeFromAbi(rc == IH_OK ? IH_ERR_INTERNAL : rc), why);
  }
  return instance;
}

isolation::Options isolationOptions(const config::Config& config) {
  isolation::Options options;
  options.runner_path = config.plugins.runner;
  options.memory_mb = config.plugins.runner_memory_mb;
  options.max_files = config.plugins.runner_max_files;
  options.seccomp = config.plugins.seccomp;
  return options;
}

loader::ScanOptions scanOptions(const config::Config& config) {
  loader::ScanOptions scan{config.plugins.dir, config.plugins.sha256_allow, nullptr};
  bool any_isolated = false;
  for (const auto& integration : config.integrations)
    any_isolated = any_isolated || integration.isolated(config.plugins);
  if (any_isolated) {
    scan.load = [options = isolationOptions(config)](const std::string& path, const std::string& sha256) {
      return isolation::probe(path, sha256, options);
    };
  }
  return scan;
}

Runtime::Runtime(Dependencies deps) : deps_(deps) {}

Runtime::~Runtime() {
  shutdown();
}

const ih_host_api* Runtime::hostApi() {
  return hostServices();
}

Result<std::unique_ptr<Integration>> Runtime::makeIntegration(const config::Config& config,
                                                              const config::IntegrationConfig& cfg,
                                                              std::shared_ptr<loader::Plugin> scanned) {
  auto kind = pluginOfKind(std::move(scanned), cfg.isolated(config.plugins));
  if (!kind.isOk()) return kind.status();
  std::shared_ptr<loader::Plugin> plugin = std::move(*kind);
  auto settings = config::validateIntegration(config, cfg, plugin->manifest().config_schema_json);
  if (!settings.isOk()) return settings.status();
  auto integration = std::unique_ptr<Integration>(new Integration());
  integration->id_ = cfg.id;
  integration->settings_json_ = std::move(*settings);
  integration->enabled_ = cfg.enabled;
  integration->isolated_ = cfg.isolated(config.plugins);
  if (cfg.call_timeout_ms) integration->call_timeout_ = std::chrono::milliseconds(*cfg.call_timeout_ms);

  auto generation = std::make_unique<Generation>();
  generation->source = plugin->file();
  generation->plugin = std::move(plugin);
  generation->loaded_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  // create may call host services that read the integration's manifest: it is current from here on.
  integration->current_.store(generation.get());
  auto instance = createInstance(deps_, *integration, *generation->plugin, integration->settings_json_);
  if (!instance.isOk())
    return Status(instance.status().code(), "plugin refused its settings: " + instance.status().message());
  generation->instance = *instance;
  integration->generations_.push_back(std::move(generation));
  return integration;
}

Result<std::shared_ptr<loader::Plugin>> Runtime::pluginOfKind(std::shared_ptr<loader::Plugin> plugin,
                                                              bool remote) {
  if (plugin->remote() == remote) return plugin;
  const std::string key =
      std::string(remote ? "remote:" : "local:") + plugin->sha256() + ":" + plugin->file();
  std::lock_guard lock(kinds_mu_);
  if (auto cached = kinds_[key].lock()) return cached;
  auto loaded = remote ? isolation::probe(plugin->file(), plugin->sha256(), deps_.isolation)
                       : loader::Registry::loadFile(plugin->file(), plugin->sha256());
  if (!loaded.isOk()) return loaded.status();
  kinds_[key] = *loaded;
  return loaded;
}

std::optional<isolation::RunnerStatus> Integration::runner() const {
  Generation* g = current_.load();
  if (!g->plugin->remote()) return std::nullopt;
  // Held like a call, so a reload cannot destroy the instance while it is read.
  g->calls.fetch_add(1);
  std::optional<isolation::RunnerStatus> status;
  if (!g->retired.load() && g->instance != nullptr) status = isolation::runnerStatus(g->instance);
  releaseGeneration(*g);
  return status;
}

Status Runtime::addIntegration(const config::Config& config, const config::IntegrationConfig& cfg,
                               std::shared_ptr<loader::Plugin> plugin) {
  auto made = makeIntegration(config, cfg, std::move(plugin));
  if (!made.isOk()) {
    addUnavailable({cfg.id, cfg.plugin, made.status().message()});
    // A settings error is the configuration's (its message names the file and key); a refusal by create is
    // the integration's.
    if (made.status().message().rfind("plugin refused its settings: ", 0) != 0) return made.status();
    return Status(made.status().code(),
                  "integration " + cfg.id + ": " +
                      made.status().message().substr(sizeof("plugin refused its settings: ") - 1));
  }
  std::lock_guard lock(mu_);
  integrations_.push_back(std::move(*made));
  return Status::ok();
}

void Runtime::addUnavailable(UnavailableIntegration entry) {
  log::warn("integration unavailable",
            {{"integration", entry.id}, {"plugin", entry.plugin}, {"reason", entry.reason}});
  std::lock_guard lock(mu_);
  unavailable_.push_back(std::move(entry));
}

Integration* Runtime::find(std::string_view id) const {
  Integration* in = findAny(id);
  return in != nullptr && !in->removed_.load() ? in : nullptr;
}

Integration* Runtime::findAny(std::string_view id) const {
  std::lock_guard lock(mu_);
  for (const auto& in : integrations_)
    if (in->id_ == id) return in.get();
  return nullptr;
}

std::vector<Integration*> Runtime::integrations() const {
  std::lock_guard lock(mu_);
  std::vector<Integration*> out;
  for (const auto& in : integrations_)
    if (!in->removed_.load()) out.push_back(in.get());
  return out;
}

std::vector<UnavailableIntegration> Runtime::unavailable() const {
  std::lock_guard lock(mu_);
  std::vector<UnavailableIntegration> out = unavailable_;
  for (const auto& in : integrations_) {
    if (!in->removed_.load()) continue;
    const Generation* g = in->current_.load();
    out.push_back({in->id_, g->plugin->manifest().name,
                   "its plugin file " + g->source +
                       " was removed; put it back and run `ihost plugins reload` (or restart)"});
  }
  return out;
}

Result<bool> Runtime::lacksConnection(const Integration& in, std::string_view tenant_id) const {
  if (!(in.plugin().capabilities() & (IH_CAP_CONNECT | IH_CAP_OAUTH))) return false;
  auto conn = deps_.store->getConnection(tenant_id, in.id());
  if (!conn.isOk()) return conn.status();
  return !*conn || (*conn)->status == store::ConnectionStatus::kInactive;
}

}  // namespace ih::runtime
