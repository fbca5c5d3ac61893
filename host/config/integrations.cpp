// [integrations.<id>] tables: the host keys (plugin, enabled, jobs) read and checked, the rest kept as the
// integration's settings (JSON) for the plugin's schema to validate later.
#include <algorithm>
#include <set>

#include "common/text.h"
#include "config/internal.h"
#include "config/keys.h"
#include "config/loader.h"
#include "log/log.h"

namespace ih::config {

using namespace keys;

void Loader::readIntegrations(const toml::key& key, const toml::node& node) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    report("integrations", key.source(), "expected a table, got " + describe(node),
           "Write one [integrations.<id>] table per integration, e.g. [integrations.example] with plugin = "
           "\"example\".");
    return;
  }
  for (auto&& [id_key, integration_node] : *table)
    readIntegration(id_key, integration_node);
  std::stable_sort(
      config_.integrations.begin(), config_.integrations.end(),
      [](const IntegrationConfig& a, const IntegrationConfig& b) { return a.where.line < b.where.line; });
}

void Loader::readIntegration(const toml::key& id_key, const toml::node& node) {
  const std::string id(id_key.str());
  const std::string path = "integrations." + id;
  if (!isIntegrationId(id)) {
    report(path, id_key.source(), "invalid integration id " + quoteForMessage(id),
           "Use 1 to 40 lowercase letters, digits or underscores, starting with a letter, e.g. \"" +
               suggestId(id) + "\".");
    return;
  }
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    report(path, id_key.source(), "expected a table, got " + describe(node),
           "Write [integrations." + id + "] followed by plugin = \"<plugin name>\" and its settings.");
    return;
  }
  IntegrationConfig integration;
  integration.id = id;
  integration.where = locate(path, node.source());
  if (auto it = env_settings_.find(id); it != env_settings_.end()) integration.env_values = it->second;
  nlohmann::json settings = nlohmann::json::object();
  bool has_plugin = false;
  for (auto&& [key, value] : *table) {
    const std::string name(key.str());
    const std::string key_path = path + "." + name;
    if (name == "plugin") {
      has_plugin = true;
      if (!value.is_string()) {
        report(key_path, key.source(), "expected a string, got " + describe(value),
               "Write plugin = \"<plugin name>\" (see ihost plugins list).");
      } else if (value.as_string()->get().empty()) {
        report(key_path, key.source(), "must not be empty",
               "Write plugin = \"<plugin name>\" (see ihost plugins list).");
      } else {
        integration.plugin = value.as_string()->get();
      }
    } else if (name == "enabled") {
      if (!value.is_boolean()) {
        report(key_path, key.source(), "expected a boolean, got " + describe(value),
               "Write enabled = true or enabled = false.");
      } else {
        integration.enabled = value.as_boolean()->get();
      }
    } else if (name == "jobs") {
      readJobs(integration, key, value);
    } else if (name == "call_timeout_ms") {
      const auto* ms = value.as_integer();
      if (ms == nullptr || ms->get() < 100 || ms->get() > 3600000) {
        report(
            key_path, key.source(),
            ms == nullptr ? "expected an integer, got " + describe(value) : "must be between 100 and 3600000",
            "Write a number of milliseconds, e.g. call_timeout_ms = 60000 (this integration's plugin call "
            "deadline; default [plugins] call_timeout_ms).");
      } else {
        integration.call_timeout_ms = ms->get();
      }
    } else if (name == "isolation") {
      const auto* mode = value.as_string();
      if (mode == nullptr || (mode->get() != "in_process" && mode->get() != "process")) {
        report(key_path, key.source(),
               mode == nullptr ? "expected a string, got " + describe(value)
                               : "expected \"in_process\" or \"process\"",
               "Write isolation = \"process\" (run this integration's plugin in its own capped process) or "
               "\"in_process\" (default [plugins] isolation).");
      } else {
        integration.isolation = mode->get();
      }
    } else {
      integration.setting_locations[name] = locate(key_path, key.source());
      settings[name] = settingToJson(value, path, name, integration, 0);
    }
  }
  if (!has_plugin) {
    report(path, node.source(), "missing required key \"plugin\"",
           "Add plugin = \"<plugin name>\" (see ihost plugins list).");
  }
  integration.settings_json = settings.dump();
  config_.integrations.push_back(std::move(integration));
}

void Loader::readComingSoon(const toml::key& key, const toml::node& node) {
  const std::string hint =
      "Write one [coming_soon.<id>] table per placeholder provider, e.g. [coming_soon.paypal] with name = "
      "\"PayPal\" and description = \"Payouts to PayPal accounts\".";
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    report("coming_soon", key.source(), "expected a table, got " + describe(node), hint);
    return;
  }
  for (auto&& [id_key, entry_node] : *table) {
    const std::string id(id_key.str());
    const std::string path = "coming_soon." + id;
    if (!isIntegrationId(id)) {
      report(path, id_key.source(), "invalid id " + quoteForMessage(id),
             "Use 1 to 40 lowercase letters, digits or underscores, starting with a letter, e.g. \"" +
                 suggestId(id) + "\".");
      continue;
    }
    const toml::table* entry = entry_node.as_table();
    if (entry == nullptr) {
      report(path, id_key.source(), "expected a table, got " + describe(entry_node), hint);
      continue;
    }
    ComingSoonConfig placeholder;
    placeholder.id = id;
    placeholder.where = locate(path, entry_node.source());
    // Shown in the console and the API: short, valid UTF-8 text.
    auto text = [&](const toml::key& k, const toml::node& value, size_t max, std::string& out) {
      const std::string key_path = path + "." + std::string(k.str());
      if (!value.is_string()) {
        report(key_path, k.source(), "expected a string, got " + describe(value),
               "Write " + std::string(k.str()) + " = \"...\".");
        return;
      }
      const std::string& v = value.as_string()->get();
      if (v.empty() && &out == &placeholder.name) {
        report(key_path, k.source(), "must not be empty",
               "Write the provider's name, e.g. name = \"PayPal\".");
        return;
      }
      if (!isValidUtf8(v) || v.size() > max) {
        report(key_path, k.source(), "must be valid UTF-8 of at most " + std::to_string(max) + " bytes",
               "Shorten the text.");
        return;
      }
      out = v;
    };
    bool has_name = false;
    for (auto&& [k, value] : *entry) {
      const std::string name(k.str());
      if (name == "name") {
        has_name = true;
        text(k, value, 80, placeholder.name);
      } else if (name == "description") {
        text(k, value, 300, placeholder.description);
      } else {
        report(path + "." + name, k.source(), unknownKeyText(name, {"name", "description"}), "");
      }
    }
    if (!has_name) {
      report(path, entry_node.source(), "missing required key \"name\"",
             "Add name = \"<provider name>\" (shown on the tile).");
      continue;
    }
    if (placeholder.name.empty()) continue;  // reported above
    config_.coming_soon.push_back(std::move(placeholder));
  }
  std::stable_sort(
      config_.coming_soon.begin(), config_.coming_soon.end(),
      [](const ComingSoonConfig& a, const ComingSoonConfig& b) { return a.where.line < b.where.line; });
}

void Loader::readJobs(IntegrationConfig& integration, const toml::key& jobs_key, const toml::node& node) {
  const std::string jobs_path = "integrations." + integration.id + ".jobs";
  const toml::table* jobs = node.as_table();
  if (jobs == nullptr) {
    report(jobs_path, jobs_key.source(), "expected a table of jobs, got " + describe(node),
           "Write [integrations." + integration.id + ".jobs.<job name>] with every = \"15m\".");
    return;
  }
  for (auto&& [name_key, job_node] : *jobs) {
    const std::string name(name_key.str());
    const std::string job_path = jobs_path + "." + name;
    const toml::table* job_table = job_node.as_table();
    if (job_table == nullptr) {
      report(job_path, name_key.source(), "expected a table, got " + describe(job_node),
             "Write [integrations." + integration.id + ".jobs." + name + "] with every = \"15m\".");
      continue;
    }
    JobConfig job;
    job.where = locate(job_path, job_node.source());
    for (auto&& [key, value] : *job_table) {
      const std::string key_name(key.str());
      const std::string key_path = job_path + "." + key_name;
      if (key_name == "every") {
        if (!value.is_string()) {
          report(key_path, key.source(), "expected a duration string, got " + describe(value),
                 "Write e.g. every = \"15m\" (units s, m, h, d).");
          continue;
        }
        Result<int64_t> seconds = parseDuration(value.as_string()->get());
        if (!seconds.isOk()) {
          reportAt(locate(key_path, key.source()), key_path, seconds.status().message(), "");
          continue;
        }
        job.every_seconds = *seconds;
      } else if (key_name == "enabled") {
        if (!value.is_boolean()) {
          report(key_path, key.source(), "expected a boolean, got " + describe(value),
                 "Write enabled = true or enabled = false.");
          continue;
        }
        job.enabled = value.as_boolean()->get();
      } else if (key_name == "timeout") {
        if (!value.is_string()) {
          report(key_path, key.source(), "expected a duration string, got " + describe(value),
                 "Write e.g. timeout = \"2h\" (units s, m, h, d; at most 1d).");
          continue;
        }
        Result<int64_t> seconds = parseDuration(value.as_string()->get());
        if (!seconds.isOk()) {
          reportAt(locate(key_path, key.source()), key_path, seconds.status().message(), "");
          continue;
        }
        if (*seconds < 1 || *seconds > 86400) {
          report(key_path, key.source(), "must be between 1s and 1d", "Write e.g. timeout = \"2h\".");
          continue;
        }
        job.timeout_seconds = *seconds;
      } else {
        report(key_path, key.source(), unknownKeyText(key_name, {"every", "enabled", "timeout"}), "");
      }
    }
    integration.jobs[name] = std::move(job);
  }
}

nlohmann::json Loader::settingToJson(const toml::node& node, const std::string& integration_path,
                                     const std::string& relative, IntegrationConfig& integration, int depth) {
  if (depth >= kMaxSettingDepth && (node.is_table() || node.is_array())) {
    report(integration_path + "." + relative, node.source(),
           "nested deeper than " + std::to_string(kMaxSettingDepth) + " levels",
           "Flatten this setting (no plugin schema nests this deep).");
    return nullptr;
  }
  switch (node.type()) {
    case toml::node_type::table: {
      nlohmann::json object = nlohmann::json::object();
      for (auto&& [key, value] : *node.as_table()) {
        std::string child = relative + "." + std::string(key.str());
        integration.setting_locations[child] = locate(integration_path + "." + child, key.source());
        object[std::string(key.str())] =
            settingToJson(value, integration_path, child, integration, depth + 1);
      }
      return object;
    }
    case toml::node_type::array: {
      nlohmann::json array = nlohmann::json::array();
      const toml::array& elements = *node.as_array();
      for (size_t i = 0; i < elements.size(); ++i) {
        std::string child = relative + "[" + std::to_string(i) + "]";
        const toml::node& element = *elements.get(i);
        if (element.source().begin.line != 0) {
          integration.setting_locations[child] = locate(integration_path + "." + child, element.source());
        }
        array.push_back(settingToJson(element, integration_path, child, integration, depth + 1));
      }
      return array;
    }
    case toml::node_type::string:
      return node.as_string()->get();
    case toml::node_type::integer:
      return node.as_integer()->get();
    case toml::node_type::floating_point:
      return node.as_floating_point()->get();
    case toml::node_type::boolean:
      return node.as_boolean()->get();
    case toml::node_type::date: {
      std::ostringstream out;
      out << *node.as_date();
      return out.str();
    }
    case toml::node_type::time: {
      std::ostringstream out;
      out << *node.as_time();
      return out.str();
    }
    case toml::node_type::date_time: {
      std::ostringstream out;
      out << *node.as_date_time();
      return out.str();
    }
    default:
      return nullptr;
  }
}

}  // namespace ih::config
