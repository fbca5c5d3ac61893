// Hot swap (Runtime::reloadPlugins): a changed plugin file is loaded next to the running version, validated and
// switched in generation by generation (runtime.h, Generation); running calls finish on the old version.
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "config/config.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "runtime/call_context.h"
#include "runtime/runtime.h"

namespace ih::runtime {
namespace {

namespace fs = std::filesystem;

// The process's staging directory once made (empty before the first reload that needs one).
std::mutex staging_mu;
fs::path staging_path;  // GUARDED_BY(staging_mu)

// Where changed files are copied before dlopen: the loader would hand back the already-loaded library for a
// path it knows, even when the file behind it was replaced. Made by mkdtemp: a fresh, unpredictable name,
// created 0700 by this process, so nobody else can have placed (or can swap) what gets loaded from it.
Result<fs::path> stagingDir() {
  std::lock_guard lock(staging_mu);
  if (!staging_path.empty()) return staging_path;
  std::error_code ec;
  fs::path tmp = fs::temp_directory_path(ec);
  if (ec) tmp = "/tmp";
  std::string pattern = (tmp / "ihost-plugins-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return Status::unavailable("cannot create a directory like " + pattern + ": " + std::strerror(errno));
  staging_path = pattern;
  return staging_path;
}

// What the host wires from a manifest at start (job schedules, entitlement and mapping views): a new version
// must keep it, or it takes a restart. Empty when the two agree.
std::string wiredDifference(const loader::Manifest& running, const loader::Manifest& next) {
  auto jobs = [](const loader::Manifest& m) {
    std::vector<std::string> out;
    for (const auto& j : m.jobs)
      out.push_back(j.name + "/" + std::to_string(j.every_seconds) + (j.accepts_since ? "/since" : ""));
    return out;
  };
  if (jobs(running) != jobs(next)) return "its jobs (names, default schedules or params) differ";
  auto entitlements = [](const loader::Manifest& m) {
    std::vector<std::string> out;
    for (const auto& e : m.entitlements)
      out.push_back(e.model + "/" + e.customer + "/" + e.key + "/" + e.status + "/" + e.expires);
    return out;
  };
  if (entitlements(running) != entitlements(next)) return "its entitlements differ";
  auto mappings = [](const loader::Manifest& m) {
    std::vector<std::string> out;
    for (const auto& k : m.mappings.kinds)
      out.push_back(k.name);
    for (const auto& a : m.mappings.apply)
      out.push_back(a.model + "." + a.field + ":" + a.kind);
    return out;
  };
  if (mappings(running) != mappings(next)) return "its mappings differ";
  return {};
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void count(const std::string& plugin, const std::string& outcome) {
  metrics::registry()
      .counter("ihost_plugin_reloads_total",
               "Plugin hot reloads by plugin and outcome (reloaded, refused, removed).",
               {{"plugin", plugin.empty() ? "unknown" : plugin}, {"outcome", outcome}})
      .inc();
}

}  // namespace

void removeStagedPlugins() {
  std::lock_guard lock(staging_mu);
  if (staging_path.empty()) return;
  std::error_code ec;
  fs::remove_all(staging_path, ec);  // mapped libraries stay mapped; only the names go
  staging_path.clear();
}

std::vector<ReloadOutcome> Runtime::reloadPlugins(const config::Config& config) {
  std::lock_guard reload(reload_mu_);
  std::vector<ReloadOutcome> outcomes;
  // [plugins.sha256_allow] is the one part of the configuration file a reload reads again: a pinned plugin is
  // upgraded by writing its new digest there, then reloading. A file that no longer loads stops the reload.
  std::map<std::string, std::string> allow = config.plugins.sha256_allow;
  std::error_code ec;
  if (!config.path.empty() && fs::is_regular_file(config.path, ec)) {
    auto fresh = config::loadFile(config.path, config::processEnvironment());
    if (!fresh.isOk()) {
      outcomes.push_back(
          {config.path,
           "",
           "",
           "",
           {},
           "refused",
           "the configuration file no longer loads, so its [plugins.sha256_allow] cannot be read "
           "again; nothing was reloaded (run `ihost config check`): " +
               fresh.status().message()});
      count("", "refused");
      return outcomes;
    }
    allow = fresh->plugins.sha256_allow;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(config.plugins.dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".so") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (ec) {
    outcomes.push_back({config.plugins.dir,
                        "",
                        "",
                        "",
                        {},
                        "refused",
                        "cannot read the plugins directory: " + ec.message()});
    return outcomes;
  }

  for (const fs::path& file : files) {
    ReloadOutcome o;
    o.file = file.string();
    auto refuse = [&](std::string reason) {
      o.status = "refused";
      o.reason = std::move(reason);
      count(o.plugin, "refused");
      log::warn("plugin reload refused: the running version keeps serving",
                {{"file", o.file}, {"plugin", o.plugin}, {"reason", o.reason}});
      outcomes.push_back(o);
    };
    std::string expected;
    if (!allow.empty()) {
      auto it = allow.find(file.filename().string());
      if (it == allow.end()) {
        refuse("not in [plugins.sha256_allow]; add its sha256 to load it");
        continue;
      }
      expected = it->second;
    }
    auto digest = loader::sha256File(o.file);
    if (!digest.isOk()) {
      refuse(digest.status().message());
      continue;
    }
    // Integrations running a version loaded from this file: unchanged when they all run these bytes.
    std::vector<Integration*> users;
    bool all_same = true;
    for (Integration* in : integrations()) {
      Generation* g = in->current_.load();
      if (g->source != o.file) continue;
      users.push_back(in);
      if (g->plugin->sha256() != *digest) all_same = false;
    }
    if (!users.empty() && all_same) {
      o.plugin = users.front()->manifest().name;
      o.from_version = o.to_version = users.front()->manifest().version;
      o.status = "unchanged";
      outcomes.push_back(o);
      continue;
    }
    auto staging = stagingDir();
    if (!staging.isOk()) {
      refuse(staging.status().message());
      continue;
    }
    // Named by digest: the same bytes reuse their copy (which may be mapped by a version still running: never
    // rewrite it in place), new bytes get a new file, written aside and renamed in whole.
    const fs::path staged = *staging / (digest->substr(0, 16) + "-" + file.filename().string());
    if (!fs::exists(staged, ec)) {
      const fs::path partial = staged.string() + ".part";
      fs::copy_file(file, partial, fs::copy_options::overwrite_existing, ec);
      if (!ec) fs::rename(partial, staged, ec);
      if (ec) {
        refuse("cannot copy it to " + staged.string() + ": " + ec.message());
        continue;
      }
    }
    // A file that may serve an isolated integration is first read by a runner: the host never maps a library
    // an isolated integration could use (its name is only known from the manifest).
    bool any_isolated = false;
    for (const config::IntegrationConfig& cfg : config.integrations)
      any_isolated = any_isolated || cfg.isolated(config.plugins);
    auto loaded = any_isolated ? isolation::probe(staged.string(), expected, deps_.isolation)
                               : loader::Registry::loadFile(staged.string(), expected);
    if (!loaded.isOk()) {
      refuse(loaded.status().message());
      continue;
    }
    std::shared_ptr<loader::Plugin> plugin = *loaded;
    const loader::Manifest& next = plugin->manifest();
    o.plugin = next.name;
    o.to_version = next.version;

    // The integrations configured with this plugin name (a removed one comes back), and those unavailable
    // since start because the plugin was missing or refused: they start now.
    std::vector<std::pair<Integration*, const config::IntegrationConfig*>> targets;
    std::vector<const config::IntegrationConfig*> newcomers;
    for (const config::IntegrationConfig& cfg : config.integrations) {
      if (cfg.plugin != next.name) continue;
      if (Integration* in = findAny(cfg.id)) {
        targets.emplace_back(in, &cfg);
      } else {
        newcomers.push_back(&cfg);
      }
    }
    if (!newcomers.empty()) {
      if (!next.jobs.empty() || !next.entitlements.empty() || !next.mappings.kinds.empty()) {
        refuse("integration " + newcomers.front()->id + " cannot start while running: plugin " + next.name +
               " declares jobs, entitlements or mappings, which are wired at start (restart ihost)");
        continue;
      }
      for (const config::IntegrationConfig* cfg : newcomers) {
        auto made = makeIntegration(config, *cfg, plugin);
        if (!made.isOk()) {
          o.integrations.clear();
          refuse("integration " + cfg->id + ": " + made.status().message());
          break;
        }
        (*made)->current_.load()->source = o.file;
        {
          std::lock_guard lock(mu_);
          unavailable_.erase(std::remove_if(unavailable_.begin(), unavailable_.end(),
                                            [&](const UnavailableIntegration& u) { return u.id == cfg->id; }),
                             unavailable_.end());
          integrations_.push_back(std::move(*made));
        }
        o.integrations.push_back(cfg->id);
        log::info("integration started by a reload", {{"integration", cfg->id}, {"plugin", next.name}});
      }
      if (o.status == "refused") continue;
      if (targets.empty()) {
        o.status = "started";
        count(o.plugin, "started");
        outcomes.push_back(o);
        continue;
      }
    }
    if (targets.empty()) {
      o.status = "not_configured";
      outcomes.push_back(o);
      continue;
    }
    o.from_version = targets.front().first->manifest().version;
    // Validate everything and create every new instance before switching any: all or nothing per file.
    std::string problem;
    std::vector<std::pair<std::string, ih_plugin*>> created;  // validated settings, instance per target
    std::vector<std::shared_ptr<loader::Plugin>> kinds;       // the plugin each instance was made from
    for (auto& [in, cfg] : targets) {
      if (std::string diff = wiredDifference(in->manifest(), next); !diff.empty()) {
        problem = "version " + next.version + " cannot replace " + in->manifest().version +
                  " of integration " + in->id() + " while running: " + diff + " (restart ihost to apply)";
        break;
      }
      auto settings = config::validateIntegration(config, *cfg, next.config_schema_json);
      if (!settings.isOk()) {
        problem = "integration " + in->id() + ": " + settings.status().message();
        break;
      }
      auto kind = pluginOfKind(plugin, in->isolated());
      if (!kind.isOk()) {
        problem = "integration " + in->id() + ": " + kind.status().message();
        break;
      }
      auto instance = createInstance(deps_, *in, **kind, *settings);
      if (!instance.isOk()) {
        problem = "integration " + in->id() + ": plugin refused its settings: " + instance.status().message();
        break;
      }
      created.emplace_back(std::move(*settings), *instance);
      kinds.push_back(std::move(*kind));
    }
    if (!problem.empty()) {
      for (size_t i = 0; i < created.size(); ++i)
        kinds[i]->descriptor().destroy(created[i].second);
      refuse(problem);
      continue;
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      Integration& in = *targets[i].first;
      auto generation = std::make_unique<Generation>();
      generation->plugin = kinds[i];
      generation->instance = created[i].second;
      generation->source = o.file;
      generation->loaded_at_ms = nowMs();
      Generation* old = nullptr;
      {
        std::lock_guard lock(in.generations_mu_);
        old = in.current_.load();
        in.previous_version_ = old->plugin->manifest().version;
        in.current_.store(generation.get());
        in.generations_.push_back(std::move(generation));
      }
      in.removed_.store(false);
      // New calls now take the new generation; the old one's last call (or this line) destroys its instance.
      old->retired.store(true);
      if (old->calls.load() == 0) destroyInstance(*old);
      o.integrations.push_back(in.id());
    }
    o.status = "reloaded";
    count(o.plugin, "reloaded");
    log::info("plugin reloaded", {{"plugin", o.plugin},
                                  {"from", o.from_version},
                                  {"to", o.to_version},
                                  {"file", o.file},
                                  {"integrations", static_cast<int64_t>(o.integrations.size())}});
    outcomes.push_back(o);
  }

  // Integrations whose plugin file is gone: unavailable from now on (503 integration_unavailable); calls already
  // running finish, then the instance is destroyed. Putting the file back and reloading brings them back.
  for (Integration* in : integrations()) {
    Generation* g = in->current_.load();
    if (std::find(files.begin(), files.end(), fs::path(g->source)) != files.end()) continue;
    in->removed_.store(true);  // before retired: a call that sees the retirement also sees why
    g->retired.store(true);
    if (g->calls.load() == 0) destroyInstance(*g);
    ReloadOutcome o;
    o.file = g->source;
    o.plugin = g->plugin->manifest().name;
    o.from_version = g->plugin->manifest().version;
    o.integrations.push_back(in->id());
    o.status = "removed";
    count(o.plugin, "removed");
    log::warn("plugin file removed: its integration is unavailable until the file is back and reloaded",
              {{"integration", in->id()}, {"plugin", o.plugin}, {"file", o.file}});
    outcomes.push_back(std::move(o));
  }
  return outcomes;
}

}  // namespace ih::runtime
