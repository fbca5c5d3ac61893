// Environment overrides (IHOST_<SECTION>__<KEY>, IHOST_INTEGRATIONS__<ID>__<SETTING>): written into the parsed
// TOML tree before it is read, and marked, so a bad value names the variable instead of a file line.
#include <algorithm>
#include <set>

#include "common/text.h"
#include "config/internal.h"
#include "config/keys.h"
#include "config/loader.h"
#include "log/log.h"

namespace ih::config {

using namespace keys;

void Loader::applyOverrides(toml::table& root) {
  std::set<std::string> ignored = {"IHOST_VAULT_KEYS", "IHOST_ADMIN_TOKEN", "IHOST_CONFIG", "IHOST_LOG"};
  if (auto name = root["vault"]["key_env"].value<std::string>()) ignored.insert(upper(*name));
  if (auto name = root["admin"]["token_env"].value<std::string>()) ignored.insert(upper(*name));
  for (const auto& [var, raw] : env_) {
    std::string upper_var = upper(var);
    if (upper_var.rfind("IHOST_", 0) != 0 || ignored.count(upper_var) != 0) continue;
    std::string rest = lower(std::string_view(var).substr(6));
    if (rest.find("__") == std::string::npos) continue;
    // An override names keys: ASCII letters, digits, '_' and '-' (integration ids) only. Anything else (a
    // byte that is not UTF-8 included) names no key a config could hold.
    if (!std::all_of(rest.begin(), rest.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        })) {
      reportEnv(toValidUtf8(var), "", "the variable name has characters other than A-Z, 0-9, _ and -",
                "Rename or remove the variable.");
      continue;
    }
    std::vector<std::string> segments;
    size_t start = 0;
    while (true) {
      size_t next = rest.find("__", start);
      segments.push_back(rest.substr(start, next == std::string::npos ? std::string::npos : next - start));
      if (next == std::string::npos) break;
      start = next + 2;
    }
    if (!isValidUtf8(raw)) {
      reportEnv(var, "", "the value is not valid UTF-8", "Set the variable to UTF-8 text.");
      continue;
    }
    applyOverride(root, var, raw, segments);
  }
}

void Loader::applyOverride(toml::table& root, const std::string& var, const std::string& raw,
                           const std::vector<std::string>& segments) {
  std::string dotted;
  for (const std::string& segment : segments)
    dotted = joinPath(dotted, segment);
  for (const std::string& segment : segments) {
    if (segment.empty() || segment.front() == '_' || segment.back() == '_') {
      reportEnv(var, dotted, "malformed override name",
                "Separate levels with exactly two underscores, e.g. IHOST_SERVER__LISTEN.");
      return;
    }
  }
  const std::string& section_name = segments[0];
  if (section_name == "integrations") {
    applyIntegrationOverride(root, var, raw, segments, dotted);
    return;
  }
  const SectionSpec* section = findSection(section_name);
  if (section == nullptr) {
    reportEnv(var, dotted, "unknown section " + quoteForMessage(section_name) + " in the variable name",
              closestMatch(section_name, topLevelNames())
                  ? "Did you mean IHOST_" + upper(*closestMatch(section_name, topLevelNames())) +
                        "__…? Rename or remove the variable."
                  : "Rename or remove the variable.");
    return;
  }
  const KeySpec* key = findKey(*section, segments[1]);
  if (key == nullptr) {
    reportEnv(var, dotted, unknownKeyText(segments[1], keyNames(*section)), "");
    return;
  }
  if (segments.size() > 2 || key->kind == Kind::kStringTable) {
    reportEnv(var, dotted, "cannot be set from the environment",
              "Set " + std::string(section->name) + "." + std::string(key->name) + " in the config file.");
    return;
  }
  toml::node* existing = root.get(section_name);
  if (existing == nullptr) {
    root.insert_or_assign(section_name, toml::table{});
    existing = root.get(section_name);
    markOverride(section_name, var);
  }
  if (!existing->is_table()) return;  // the file's own type error is reported when the section is read
  toml::table& table = *existing->as_table();
  switch (key->kind) {
    case Kind::kInteger:
      if (auto value = parseInteger(raw)) {
        table.insert_or_assign(key->name, *value);
      } else {
        table.insert_or_assign(key->name, raw);
      }
      break;
    case Kind::kBoolean:
      if (auto value = parseBool(raw)) {
        table.insert_or_assign(key->name, *value);
      } else {
        table.insert_or_assign(key->name, raw);
      }
      break;
    case Kind::kIntegerList: {
      std::string_view list(raw);
      if (!list.empty() && list.front() == '[' && list.back() == ']') list = list.substr(1, list.size() - 2);
      toml::array array;
      bool ok = true;
      size_t start = 0;
      while (ok && start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string item(
            list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        auto value = parseInteger(item);
        ok = value.has_value();
        if (ok) array.push_back(*value);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      if (ok) {
        table.insert_or_assign(key->name, std::move(array));
      } else {
        table.insert_or_assign(key->name, raw);
      }
      break;
    }
    case Kind::kStringList: {
      // "a, b" (or "[a, b]"): comma-separated, spaces trimmed, empty items dropped.
      std::string_view list(raw);
      if (!list.empty() && list.front() == '[' && list.back() == ']') list = list.substr(1, list.size() - 2);
      toml::array array;
      size_t start = 0;
      while (start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string_view item = trimAscii(
            list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (!item.empty()) array.push_back(std::string(item));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      table.insert_or_assign(key->name, std::move(array));
      break;
    }
    default:
      table.insert_or_assign(key->name, raw);
      break;
  }
  markOverride(dotted, var);
}

void Loader::markOverride(const std::string& key_path, const std::string& var) {
  config_.overrides.insert_or_assign(key_path, var);
}

void Loader::applyIntegrationOverride(toml::table& root, const std::string& var, const std::string& raw,
                                      const std::vector<std::string>& segments, const std::string& dotted) {
  toml::table* integrations = root["integrations"].as_table();
  std::vector<std::string> ids;
  if (integrations != nullptr) {
    for (auto&& [key, node] : *integrations)
      ids.emplace_back(key.str());
  }
  if (segments.size() < 3) {
    reportEnv(var, dotted, "names an integration, not one of its keys",
              "Use IHOST_INTEGRATIONS__<ID>__<KEY>, e.g. IHOST_INTEGRATIONS__EXAMPLE__GREETING.");
    return;
  }
  const std::string& id = segments[1];
  toml::table* integration = integrations ? (*integrations)[id].as_table() : nullptr;
  if (integration == nullptr) {
    std::string fix = "Add an [integrations." + id + "] table to " + path_ + " or correct the variable name.";
    std::string problem = "no integration " + quoteForMessage(id) + " is configured";
    if (auto match = closestMatch(id, ids)) problem += "; did you mean \"" + *match + "\"?";
    reportEnv(var, dotted, problem, fix);
    return;
  }
  const std::string& key = segments[2];
  std::string integration_path = "integrations." + id;
  if (key == "plugin" || key == "enabled") {
    if (segments.size() > 3) {
      reportEnv(var, dotted, "\"" + key + "\" is not a table",
                "Use IHOST_INTEGRATIONS__" + upper(id) + "__" + upper(key) + ".");
      return;
    }
    if (key == "enabled") {
      if (auto value = parseBool(raw)) {
        integration->insert_or_assign(key, *value);
      } else {
        integration->insert_or_assign(key, raw);
      }
    } else {
      integration->insert_or_assign(key, raw);
    }
    markOverride(dotted, var);
    return;
  }
  if (key == "jobs") {
    if (segments.size() != 5) {
      reportEnv(var, dotted, "a job override needs a job name and a key",
                "Use IHOST_INTEGRATIONS__" + upper(id) + "__JOBS__<JOB>__EVERY or __ENABLED.");
      return;
    }
    const std::string& field = segments[4];
    if (field != "every" && field != "enabled") {
      reportEnv(var, dotted, unknownKeyText(field, {"every", "enabled"}), "");
      return;
    }
    toml::table* jobs = ensureTable(*integration, "jobs", integration_path + ".jobs", var);
    toml::table* job =
        jobs ? ensureTable(*jobs, segments[3], integration_path + ".jobs." + segments[3], var) : nullptr;
    if (job == nullptr) return;
    if (field == "enabled") {
      if (auto value = parseBool(raw)) {
        job->insert_or_assign(field, *value);
      } else {
        job->insert_or_assign(field, raw);
      }
    } else {
      job->insert_or_assign(field, raw);
    }
    markOverride(dotted, var);
    return;
  }
  // A plugin setting, possibly nested. Its type is unknown until the schema is seen: guess from the text
  // now, keep the raw text for validateIntegration to re-type.
  toml::table* table = integration;
  std::string path = integration_path;
  for (size_t i = 2; i + 1 < segments.size(); ++i) {
    path += "." + segments[i];
    table = ensureTable(*table, segments[i], path, var);
    if (table == nullptr) return;
  }
  const std::string& leaf = segments.back();
  if (auto b = raw == "true" || raw == "false" ? parseBool(raw) : std::nullopt) {
    table->insert_or_assign(leaf, *b);
  } else if (auto i = parseInteger(raw)) {
    table->insert_or_assign(leaf, *i);
  } else if (auto f = parseFloat(raw)) {
    table->insert_or_assign(leaf, *f);
  } else {
    table->insert_or_assign(leaf, raw);
  }
  markOverride(dotted, var);
  std::string relative;
  for (size_t i = 2; i < segments.size(); ++i)
    relative = joinPath(relative, segments[i]);
  env_settings_[id][relative] = raw;
}

toml::table* Loader::ensureTable(toml::table& parent, const std::string& name, const std::string& key_path,
                                 const std::string& var) {
  toml::node* node = parent.get(name);
  if (node == nullptr) {
    parent.insert_or_assign(name, toml::table{});
    node = parent.get(name);
    markOverride(key_path, var);
  }
  if (!node->is_table()) {
    reportEnv(var, key_path, "cannot set a key inside " + describe(*node),
              "Remove the variable or make " + key_path + " a table in the config file.");
    return nullptr;
  }
  return node->as_table();
}

}  // namespace ih::config
