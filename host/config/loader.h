// Private to host/config: the loader that turns TOML text into a Config. Its work is split by subject:
//   config.cpp         parse, read the host sections (keys.h's table), resolve paths, collect the problems
//   env_overrides.cpp  IHOST_* variables written into the parsed tree, so one path validates both sources
//   integrations.cpp   [integrations.<id>] tables: plugin, enabled, jobs, settings as JSON
// One Loader per load; not thread-safe (loadString/loadFile make their own).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "config/config.h"
#include "config/internal.h"
#include "config/keys.h"

namespace ih::config {

using keys::KeySpec;
// The message helpers every loader file uses (internal.h).
using internal::closestMatch;
using internal::lower;
using internal::parseBool;
using internal::parseFloat;
using internal::parseInteger;
using internal::quoteForMessage;
using internal::sentence;
using internal::unknownKeyText;
using internal::upper;

using keys::Kind;
using keys::SectionSpec;
using keys::Value;

class Loader {
 public:
  Loader(std::string path, const Environment& env) : path_(std::move(path)), env_(env) {}

  Result<Config> load(std::string_view text);

 private:
  struct Problem {
    bool from_env = false;
    int line = 0;
    int column = 0;
    std::string text;
  };

  SourceLocation locate(const std::string& key_path, const toml::source_region& region) const;

  void reportAt(const SourceLocation& where, const std::string& key_path, std::string_view problem,
                std::string_view fix);

  void report(const std::string& key_path, const toml::source_region& region, std::string_view problem,
              std::string_view fix);

  void reportEnv(const std::string& var, const std::string& key_path, std::string_view problem,
                 std::string_view fix);

  // ---- environment overrides: written into the parsed tree so one code path validates both sources.

  void applyOverrides(toml::table& root);

  void applyOverride(toml::table& root, const std::string& var, const std::string& raw,
                     const std::vector<std::string>& segments);

  // Records that `key_path` was set (or its table created) by the environment variable `var`.
  void markOverride(const std::string& key_path, const std::string& var);

  void applyIntegrationOverride(toml::table& root, const std::string& var, const std::string& raw,
                                const std::vector<std::string>& segments, const std::string& dotted);

  // The table `name` inside `parent`, created (and marked as set by `var`) when missing; nullptr when a
  // non-table value is in the way (reported).
  toml::table* ensureTable(toml::table& parent, const std::string& name, const std::string& key_path,
                           const std::string& var);

  // ---- host sections

  void readSection(const SectionSpec& section, const toml::key& section_key, const toml::node& node);

  bool readValue(const KeySpec& spec, const std::string& key_path, const toml::key& key,
                 const toml::node& node, Value& out);

  // ---- integrations

  void readIntegrations(const toml::key& key, const toml::node& node);

  void readIntegration(const toml::key& id_key, const toml::node& node);

  void readComingSoon(const toml::key& key, const toml::node& node);

  void readJobs(IntegrationConfig& integration, const toml::key& jobs_key, const toml::node& node);

  // Settings nest as deep as the plugin's schema; a file nested deeper than kMaxSettingDepth is refused
  // (the recursion stays shallow and the key paths recorded for messages stay short).
  static constexpr int kMaxSettingDepth = 16;
  nlohmann::json settingToJson(const toml::node& node, const std::string& integration_path,
                               const std::string& relative, IntegrationConfig& integration, int depth);

  // ---- after reading

  void finish();

  std::string path_;
  const Environment& env_;
  Config config_;
  std::map<std::string, std::map<std::string, std::string>> env_settings_;  // id -> setting path -> raw
  std::vector<Problem> problems_;
};

}  // namespace ih::config
