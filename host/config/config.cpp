// Loading: TOML text -> environment overrides applied to the parsed tree (env_overrides.cpp) -> every host key
// read and checked against the key table (keys.cpp) -> integration tables split into plugin/enabled/jobs and
// settings as JSON (integrations.cpp) -> paths resolved. Problems are collected, sorted and returned together.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "common/ip_network.h"
#include "common/text.h"
#include "config/config.h"
#include "config/internal.h"
#include "config/keys.h"
#include "config/loader.h"
#include "log/log.h"

extern char** environ;

namespace ih::config {

using namespace keys;

std::string SourceLocation::toString() const {
  if (!env_var.empty()) return "environment variable " + env_var;
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const IntegrationConfig* Config::findIntegration(std::string_view id) const {
  for (const IntegrationConfig& integration : integrations) {
    if (integration.id == id) return &integration;
  }
  return nullptr;
}

Environment processEnvironment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    size_t eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return env;
}

Result<int64_t> parseDuration(std::string_view text) {
  auto invalid = [&](const std::string& why) {
    return Status::invalidArgument("invalid duration " + quoteForMessage(text) + ": " + why +
                                   ". Write a number followed by a unit (s, m, h, d), e.g. \"30s\", \"15m\", "
                                   "\"1h\" or \"1h30m\".");
  };
  if (text.empty()) return invalid("it is empty");
  struct Unit {
    std::string_view name;
    int64_t seconds;
  };
  static constexpr Unit kUnits[] = {{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
  int64_t total = 0;
  size_t last_unit = 0;  // index into kUnits + 1 of the previous unit; units must strictly descend
  size_t i = 0;
  while (i < text.size()) {
    size_t digits_end = i;
    while (digits_end < text.size() && text[digits_end] >= '0' && text[digits_end] <= '9')
      ++digits_end;
    if (digits_end == i) return invalid("expected a number at " + quoteForMessage(text.substr(i)));
    int64_t amount = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + digits_end, amount);
    if (ec != std::errc() || ptr != text.data() + digits_end) return invalid("the number is too large");
    size_t unit_end = digits_end;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end])))
      ++unit_end;
    std::string_view unit = text.substr(digits_end, unit_end - digits_end);
    if (unit.empty()) {
      std::string number = quoteForMessage(text.substr(i, digits_end - i));
      if (digits_end == text.size()) return invalid("missing unit after " + number);
      return invalid("unexpected " + quoteForMessage(text.substr(digits_end, 1)) + " after " + number);
    }
    size_t index = 0;
    while (index < std::size(kUnits) && kUnits[index].name != unit)
      ++index;
    if (index == std::size(kUnits)) return invalid("unknown unit " + quoteForMessage(unit));
    if (index + 1 <= last_unit) return invalid("units must appear at most once, largest first");
    last_unit = index + 1;
    if (amount > (INT64_MAX - total) / kUnits[index].seconds) return invalid("the duration is too large");
    total += amount * kUnits[index].seconds;
    i = unit_end;
  }
  if (total <= 0) return invalid("it must be longer than zero");
  return total;
}

// ---- the loader: parse, host sections, paths, problems (env_overrides.cpp and integrations.cpp do the rest)

Result<Config> Loader::load(std::string_view text) {
  config_.path = path_;
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(path_));
  } catch (const toml::parse_error& error) {
    std::string description(error.description());
    if (!description.empty()) description[0] = static_cast<char>(std::tolower(description[0]));
    SourceLocation where{path_, static_cast<int>(error.source().begin.line),
                         static_cast<int>(error.source().begin.column), ""};
    return Status::invalidArgument(where.toString() + ": invalid TOML: " + redact(description) +
                                   ". Fix the syntax at this line and column (config/ihost.toml is a "
                                   "complete example).");
  }
  applyOverrides(root);
  for (auto&& [key, node] : root) {
    std::string name(key.str());
    if (name == "integrations") {
      readIntegrations(key, node);
    } else if (name == "coming_soon") {
      readComingSoon(key, node);
    } else if (const SectionSpec* section = findSection(name)) {
      readSection(*section, key, node);
    } else {
      report(name, key.source(), unknownKeyText(name, topLevelNames()), "");
    }
  }
  finish();
  if (!problems_.empty()) {
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      if (a.from_env != b.from_env) return !a.from_env;
      if (a.line != b.line) return a.line < b.line;
      return a.column < b.column;
    });
    std::string message;
    for (const Problem& problem : problems_) {
      if (!message.empty()) message += '\n';
      message += problem.text;
    }
    return Status::invalidArgument(message);
  }
  return std::move(config_);
}

SourceLocation Loader::locate(const std::string& key_path, const toml::source_region& region) const {
  SourceLocation where;
  if (auto it = config_.overrides.find(key_path); it != config_.overrides.end()) {
    where.env_var = it->second;
    return where;
  }
  where.file = region.path ? *region.path : path_;
  where.line = static_cast<int>(region.begin.line);
  where.column = static_cast<int>(region.begin.column);
  return where;
}

void Loader::reportAt(const SourceLocation& where, const std::string& key_path, std::string_view problem,
                      std::string_view fix) {
  Problem p;
  p.from_env = !where.env_var.empty();
  p.line = where.line;
  p.column = where.column;
  p.text = where.toString() + ": " + key_path + ": " + sentence(problem, fix);
  problems_.push_back(std::move(p));
}

void Loader::report(const std::string& key_path, const toml::source_region& region, std::string_view problem,
                    std::string_view fix) {
  reportAt(locate(key_path, region), key_path, problem, fix);
}

void Loader::reportEnv(const std::string& var, const std::string& key_path, std::string_view problem,
                       std::string_view fix) {
  SourceLocation where;
  where.env_var = var;
  reportAt(where, key_path, problem, fix);
}

void Loader::readSection(const SectionSpec& section, const toml::key& section_key, const toml::node& node) {
  const std::string section_name(section.name);
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    report(section_name, section_key.source(), "expected a table, got " + describe(node),
           "Write it as a [" + section_name + "] table.");
    return;
  }
  for (auto&& [key, value_node] : *table) {
    std::string key_path = section_name + "." + std::string(key.str());
    const KeySpec* spec = findKey(section, key.str());
    if (spec == nullptr) {
      report(key_path, key.source(), unknownKeyText(key.str(), keyNames(section)), "");
      continue;
    }
    Value value;
    if (readValue(*spec, key_path, key, value_node, value)) {
      if (spec->check != nullptr) {
        std::string problem = spec->check(value);
        if (!problem.empty()) {
          report(key_path, key.source(), problem, spec->fix);
          continue;
        }
      }
      spec->assign(config_, value);
    }
  }
}

bool Loader::readValue(const KeySpec& spec, const std::string& key_path, const toml::key& key,
                       const toml::node& node, Value& out) {
  auto typeError = [&](const toml::node& bad, const std::string& path, const toml::source_region& region,
                       std::string_view expected) {
    report(path, region, "expected " + std::string(expected) + ", got " + describe(bad), spec.fix);
    return false;
  };
  auto rangeOk = [&](int64_t value, const std::string& path, const toml::source_region& region) {
    if (value >= spec.min && value <= spec.max) return true;
    report(path, region,
           "must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max) + ", got " +
               std::to_string(value),
           spec.fix);
    return false;
  };
  switch (spec.kind) {
    case Kind::kString:
      if (!node.is_string()) return typeError(node, key_path, key.source(), kindText(spec.kind));
      out.text = node.as_string()->get();
      return true;
    case Kind::kInteger:
      if (!node.is_integer()) return typeError(node, key_path, key.source(), kindText(spec.kind));
      out.integer = node.as_integer()->get();
      return rangeOk(out.integer, key_path, key.source());
    case Kind::kBoolean:
      if (!node.is_boolean()) return typeError(node, key_path, key.source(), kindText(spec.kind));
      out.boolean = node.as_boolean()->get();
      return true;
    case Kind::kIntegerList: {
      const toml::array* array = node.as_array();
      if (array == nullptr) return typeError(node, key_path, key.source(), kindText(spec.kind));
      if (array->empty()) {
        report(key_path, key.source(), "must not be empty", spec.fix);
        return false;
      }
      bool ok = true;
      for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        std::string element_path = key_path + "[" + std::to_string(i) + "]";
        const toml::source_region& region = element.source().begin.line ? element.source() : key.source();
        if (!element.is_integer()) {
          ok = typeError(element, element_path, region, "an integer") && ok;
          continue;
        }
        int64_t value = element.as_integer()->get();
        if (rangeOk(value, element_path, region)) {
          out.list.push_back(static_cast<int>(value));
        } else {
          ok = false;
        }
      }
      return ok;
    }
    case Kind::kStringList: {
      const toml::array* array = node.as_array();
      if (array == nullptr) return typeError(node, key_path, key.source(), kindText(spec.kind));
      bool ok = true;
      for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const toml::source_region& region = element.source().begin.line ? element.source() : key.source();
        if (!element.is_string()) {
          ok = typeError(element, key_path + "[" + std::to_string(i) + "]", region, "a string") && ok;
          continue;
        }
        out.strings.push_back(element.as_string()->get());
      }
      return ok;
    }
    case Kind::kStringTable: {
      const toml::table* table = node.as_table();
      if (table == nullptr) return typeError(node, key_path, key.source(), kindText(spec.kind));
      bool ok = true;
      for (auto&& [entry_key, entry] : *table) {
        std::string entry_path = key_path + "." + std::string(entry_key.str());
        if (!entry.is_string() || !isSha256Hex(entry.as_string()->get())) {
          report(entry_path, entry_key.source(),
                 "expected a SHA-256 digest (64 hex digits), got " + describe(entry),
                 "Write the output of sha256sum for that plugin file.");
          ok = false;
          continue;
        }
        out.table[std::string(entry_key.str())] = lower(entry.as_string()->get());
      }
      return ok;
    }
  }
  return false;
}

void Loader::finish() {
  for (const ComingSoonConfig& placeholder : config_.coming_soon) {
    if (config_.findIntegration(placeholder.id) != nullptr)
      reportAt(placeholder.where, "coming_soon." + placeholder.id,
               "\"" + placeholder.id + "\" is also a configured integration",
               "Remove [coming_soon." + placeholder.id + "] now that the integration exists, or rename one.");
  }
  if (config_.server.public_url.empty()) config_.server.public_url = "http://" + config_.server.listen;
  if (config_.vault.key_file.empty() && config_.vault.key_env.empty()) {
    SourceLocation where;
    where.file = path_;
    reportAt(where, "vault", "no key source (key_file and key_env are both empty)",
             "Set key_file = \"../ihost-data/vault.keys\" or key_env = \"IHOST_VAULT_KEYS\".");
  }
  if (config_.storage.backend == "postgres" && config_.storage.url.empty()) {
    SourceLocation where;
    where.file = path_;
    reportAt(where, "storage.url", "backend = \"postgres\" needs a server URL",
             "Set url = \"postgresql://ihost@db.internal:5432/ihost\" in [storage], or IHOST_STORAGE__URL.");
  }
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path_.empty() ? "." : path_, ec);
  std::filesystem::path base = path_.empty() ? absolute : absolute.parent_path();
  auto resolve = [&](std::string& value) {
    if (value.empty() || value == ":memory:") return;
    std::filesystem::path p(value);
    value = (p.is_absolute() ? p : base / p).lexically_normal().string();
  };
  resolve(config_.storage.path);
  resolve(config_.plugins.dir);
  resolve(config_.plugins.runner);
  resolve(config_.vault.key_file);
  resolve(config_.outbound.ca_file);
}

Result<Config> loadString(std::string_view toml_text, const std::string& virtual_path,
                          const Environment& env) {
  return Loader(virtual_path, env).load(toml_text);
}

Result<Config> loadFile(const std::string& path, const Environment& env) {
  auto cannotRead = [&](const char* reason) {
    return Status::invalidArgument("cannot read config file \"" + path + "\": " + reason +
                                   ". Pass --config <file> (example: config/ihost.toml).");
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return cannotRead(std::strerror(EISDIR));
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return cannotRead(std::strerror(errno));
  std::string text;
  char buffer[8192];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0)
    text.append(buffer, n);
  bool failed = std::ferror(file) != 0;
  int error = errno;
  std::fclose(file);
  if (failed) return cannotRead(std::strerror(error));
  return loadString(text, path, env);
}

}  // namespace ih::config
