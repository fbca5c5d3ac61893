// Loading: TOML text -> environment overrides applied to the parsed tree -> every host key read and checked
// against a key table -> integration tables split into plugin/enabled/jobs and settings (JSON) -> paths
// resolved. Problems are collected, sorted by position and returned together.
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
#include "log/log.h"

extern char** environ;

namespace ih::config {

using internal::closestMatch;
using internal::lower;
using internal::parseBool;
using internal::parseFloat;
using internal::parseInteger;
using internal::quoteForMessage;
using internal::sentence;
using internal::unknownKeyText;
using internal::upper;

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

namespace {

// ---- host key table --------------------------------------------------------------------------------------

enum class Kind { kString, kInteger, kBoolean, kIntegerList, kStringList, kStringTable };

// A host key's value once its TOML type is right.
struct Value {
  std::string text;
  int64_t integer = 0;
  bool boolean = false;
  std::vector<int> list;
  std::vector<std::string> strings;
  std::map<std::string, std::string> table;
};

struct KeySpec {
  std::string_view name;
  Kind kind;
  int64_t min;  // integers and list elements
  int64_t max;
  std::string_view fix;  // how to write a correct value, shown after any problem with this key
  void (*assign)(Config&, const Value&);
  std::string (*check)(const Value&);  // extra semantic check; returns the problem or ""; may be null
};

struct SectionSpec {
  std::string_view name;
  std::vector<KeySpec> keys;
};

std::string checkHostPort(const Value& v) {
  const std::string& text = v.text;
  size_t colon = text.rfind(':');
  bool ok = colon != std::string::npos && colon > 0 && colon + 1 < text.size() && colon + 6 >= text.size();
  if (ok) {
    int port = 0;
    auto [ptr, ec] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), port);
    ok = ec == std::errc() && ptr == text.data() + text.size() && port >= 0 && port <= 65535;
  }
  return ok ? "" : "expected host:port, got " + quoteForMessage(text);
}

std::string checkUrl(const Value& v) {
  if (v.text.empty() || v.text.rfind("http://", 0) == 0 || v.text.rfind("https://", 0) == 0) return "";
  return "expected an http:// or https:// URL, got " + quoteForMessage(v.text);
}

std::string checkNotEmpty(const Value& v) {
  return v.text.empty() ? "must not be empty" : "";
}

bool isAsciiLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool isAsciiDigit(char c) {
  return c >= '0' && c <= '9';
}

std::string checkEnvName(const Value& v) {
  const std::string& name = v.text;
  const bool valid = !name.empty() && (isAsciiLetter(name[0]) || name[0] == '_') &&
                     std::all_of(name.begin(), name.end(),
                                 [](char c) { return isAsciiLetter(c) || isAsciiDigit(c) || c == '_'; });
  if (name.empty() || valid) return "";
  return "expected an environment variable name, got " + quoteForMessage(v.text);
}

std::string checkNetworks(const Value& v) {
  for (const std::string& entry : v.strings) {
    auto network = Network::parse(entry);
    if (!network.isOk()) return network.status().message();
  }
  return "";
}

std::string checkLevel(const Value& v) {
  static const std::vector<std::string> kLevels = {"debug", "info", "warn", "error"};
  if (std::find(kLevels.begin(), kLevels.end(), v.text) != kLevels.end()) return "";
  std::string problem =
      "must be one of \"debug\", \"info\", \"warn\", \"error\", got " + quoteForMessage(v.text);
  if (auto match = closestMatch(v.text, kLevels)) problem += "; did you mean \"" + *match + "\"?";
  return problem;
}

const std::vector<SectionSpec>& hostSections() {
  static const std::vector<SectionSpec> kSections = {
      {"server",
       {
           {"listen", Kind::kString, 0, 0, "Write a host:port, e.g. listen = \"127.0.0.1:8080\".",
            [](Config& c, const Value& v) { c.server.listen = v.text; }, checkHostPort},
           {"public_url", Kind::kString, 0, 0,
            "Write the URL clients and providers use to reach this server, e.g. public_url = "
            "\"https://ihost.example.com\".",
            [](Config& c, const Value& v) { c.server.public_url = v.text; }, checkUrl},
           {"max_body_bytes", Kind::kInteger, 1, int64_t{1} << 30, "Write a number of bytes, e.g. 1048576.",
            [](Config& c, const Value& v) { c.server.max_body_bytes = static_cast<size_t>(v.integer); },
            nullptr},
           {"header_timeout_ms", Kind::kInteger, 100, 600000,
            "Write a number of milliseconds, e.g. 10000 (the whole request head must arrive within it).",
            [](Config& c, const Value& v) { c.server.header_timeout_ms = static_cast<int>(v.integer); },
            nullptr},
           {"read_timeout_ms", Kind::kInteger, 1, 86400000, "Write a number of milliseconds, e.g. 10000.",
            [](Config& c, const Value& v) { c.server.read_timeout_ms = static_cast<int>(v.integer); },
            nullptr},
           {"write_timeout_ms", Kind::kInteger, 1, 86400000, "Write a number of milliseconds, e.g. 10000.",
            [](Config& c, const Value& v) { c.server.write_timeout_ms = static_cast<int>(v.integer); },
            nullptr},
           {"idle_timeout_ms", Kind::kInteger, 1, 86400000, "Write a number of milliseconds, e.g. 60000.",
            [](Config& c, const Value& v) { c.server.idle_timeout_ms = static_cast<int>(v.integer); },
            nullptr},
           {"worker_threads", Kind::kInteger, 1, 1024, "Write a number of threads, e.g. 32.",
            [](Config& c, const Value& v) { c.server.worker_threads = static_cast<int>(v.integer); },
            nullptr},
           {"keep_alive_max_requests", Kind::kInteger, 1, 1000000000,
            "Write a number of requests, e.g. 10000.",
            [](Config& c, const Value& v) { c.server.keep_alive_max_requests = static_cast<int>(v.integer); },
            nullptr},
           {"max_connections", Kind::kInteger, 1, 1000000,
            "Write a number of connections, e.g. 10000 (each costs a file descriptor; see ulimit -n).",
            [](Config& c, const Value& v) { c.server.max_connections = static_cast<int>(v.integer); },
            nullptr},
           {"max_connections_per_ip", Kind::kInteger, 0, 1000000,
            "Write a number of connections per client address, e.g. 256 (0 = no per-address cap; behind a "
            "reverse proxy every client has the proxy's address).",
            [](Config& c, const Value& v) { c.server.max_connections_per_ip = static_cast<int>(v.integer); },
            nullptr},
       }},
      {"events",
       {
           {"stream_reauth_ms", Kind::kInteger, 100, 30000,
            "Write a number of milliseconds, e.g. 5000 (a revoked key's open event streams end within it).",
            [](Config& c, const Value& v) { c.events.stream_reauth_ms = static_cast<int>(v.integer); },
            nullptr},
           {"max_streams", Kind::kInteger, 1, 1000000, "Write a number of open event streams, e.g. 10000.",
            [](Config& c, const Value& v) { c.events.max_streams = static_cast<int>(v.integer); }, nullptr},
           {"max_streams_per_tenant", Kind::kInteger, 1, 1000000,
            "Write a number of open event streams per tenant, e.g. 100.",
            [](Config& c, const Value& v) { c.events.max_streams_per_tenant = static_cast<int>(v.integer); },
            nullptr},
       }},
      {"storage",
       {
           {"path", Kind::kString, 0, 0,
            "Write a database file path relative to this file, e.g. path = \"../ihost-data/ihost.db\", or "
            "\":memory:\".",
            [](Config& c, const Value& v) { c.storage.path = v.text; }, checkNotEmpty},
           {"synchronous", Kind::kString, 0, 0,
            "Write synchronous = \"full\" (every acknowledged write survives power loss) or \"normal\".",
            [](Config& c, const Value& v) { c.storage.synchronous = v.text; },
            [](const Value& v) -> std::string {
              return v.text == "full" || v.text == "normal" ? "" : "expected \"full\" or \"normal\"";
            }},
       }},
      {"vault",
       {
           {"key_file", Kind::kString, 0, 0,
            "Write a key file path relative to this file, e.g. key_file = \"../ihost-data/vault.keys\".",
            [](Config& c, const Value& v) { c.vault.key_file = v.text; }, nullptr},
           {"key_env", Kind::kString, 0, 0,
            "Write the name of the environment variable holding the keys, e.g. key_env = "
            "\"IHOST_VAULT_KEYS\".",
            [](Config& c, const Value& v) { c.vault.key_env = v.text; }, checkEnvName},
       }},
      {"plugins",
       {
           {"dir", Kind::kString, 0, 0,
            "Write a directory relative to this file, e.g. dir = \"../build/plugins\".",
            [](Config& c, const Value& v) { c.plugins.dir = v.text; }, checkNotEmpty},
           {"sha256_allow", Kind::kStringTable, 0, 0,
            "Write a table of plugin file name = SHA-256 hex, e.g. [plugins.sha256_allow] "
            "\"libexample.so\" = \"<64 hex digits from sha256sum>\".",
            [](Config& c, const Value& v) { c.plugins.sha256_allow = v.table; }, nullptr},
       }},
      {"admin",
       {
           {"console", Kind::kBoolean, 0, 0, "Write console = true or console = false.",
            [](Config& c, const Value& v) { c.admin.console = v.boolean; }, nullptr},
           {"token_env", Kind::kString, 0, 0,
            "Write the name of the environment variable holding the admin token, e.g. token_env = "
            "\"IHOST_ADMIN_TOKEN\".",
            [](Config& c, const Value& v) { c.admin.token_env = v.text; }, checkEnvName},
       }},
      {"log",
       {
           {"level", Kind::kString, 0, 0, "Write level = \"info\" (or \"debug\", \"warn\", \"error\").",
            [](Config& c, const Value& v) { c.log.level = v.text; }, checkLevel},
       }},
      {"inbox",
       {
           {"retry_schedule_s", Kind::kIntegerList, 1, 604800,
            "Write a list of delays in seconds, e.g. retry_schedule_s = [10, 60, 300, 1800, 7200].",
            [](Config& c, const Value& v) { c.inbox.retry_schedule_s = v.list; }, nullptr},
           {"workers", Kind::kInteger, 0, 256,
            "Write a number of workers, e.g. 2 (0 = intake only, no dispatch).",
            [](Config& c, const Value& v) { c.inbox.workers = static_cast<int>(v.integer); }, nullptr},
           {"retention_days", Kind::kInteger, 1, 3650, "Write a number of days, e.g. 30.",
            [](Config& c, const Value& v) { c.inbox.retention_days = static_cast<int>(v.integer); }, nullptr},
       }},
      {"outbound",
       {
           {"allow_networks", Kind::kStringList, 0, 0,
            "Write a list of networks, e.g. allow_networks = [\"127.0.0.1/32\", \"10.20.0.0/16\"].",
            [](Config& c, const Value& v) { c.outbound.allow_networks = v.strings; }, checkNetworks},
           {"max_response_bytes", Kind::kInteger, 1024, int64_t{1} << 30,
            "Write a number of bytes, e.g. 16777216.",
            [](Config& c, const Value& v) { c.outbound.max_response_bytes = static_cast<size_t>(v.integer); },
            nullptr},
           {"deadline_ms", Kind::kInteger, 100, 3600000, "Write milliseconds, e.g. 120000.",
            [](Config& c, const Value& v) { c.outbound.deadline_ms = static_cast<int>(v.integer); }, nullptr},
           {"ca_file", Kind::kString, 0, 0,
            "Write a PEM file path relative to this file, e.g. ca_file = \"../certs/internal-ca.pem\".",
            [](Config& c, const Value& v) { c.outbound.ca_file = v.text; }, nullptr},
       }},
      {"endpoints",
       {
           {"retry_schedule_s", Kind::kIntegerList, 1, 604800,
            "Write a list of delays in seconds, e.g. retry_schedule_s = [5, 300, 1800, 7200, 18000, 36000].",
            [](Config& c, const Value& v) { c.endpoints.retry_schedule_s = v.list; }, nullptr},
           {"workers", Kind::kInteger, 0, 256,
            "Write a number of delivery workers, e.g. 4 (0 = deliver nothing).",
            [](Config& c, const Value& v) { c.endpoints.workers = static_cast<int>(v.integer); }, nullptr},
           {"request_timeout_ms", Kind::kInteger, 100, 120000, "Write milliseconds, e.g. 15000.",
            [](Config& c, const Value& v) { c.endpoints.request_timeout_ms = static_cast<int>(v.integer); },
            nullptr},
           {"disable_after_failed_events", Kind::kInteger, 0, 100000,
            "Write a number of events, e.g. 10 (0 = never disable).",
            [](Config& c, const Value& v) {
              c.endpoints.disable_after_failed_events = static_cast<int>(v.integer);
            },
            nullptr},
           {"retention_days", Kind::kInteger, 0, 3650,
            "Write a number of days, e.g. 30 (0 = keep delivery history forever).",
            [](Config& c, const Value& v) { c.endpoints.retention_days = static_cast<int>(v.integer); },
            nullptr},
       }},
  };
  return kSections;
}

const SectionSpec* findSection(std::string_view name) {
  for (const SectionSpec& section : hostSections()) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

const KeySpec* findKey(const SectionSpec& section, std::string_view name) {
  for (const KeySpec& key : section.keys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::vector<std::string> keyNames(const SectionSpec& section) {
  std::vector<std::string> names;
  for (const KeySpec& key : section.keys)
    names.emplace_back(key.name);
  return names;
}

std::vector<std::string> topLevelNames() {
  std::vector<std::string> names;
  for (const SectionSpec& section : hostSections())
    names.emplace_back(section.name);
  names.emplace_back("integrations");
  return names;
}

std::string_view kindText(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "a string";
    case Kind::kInteger:
      return "an integer";
    case Kind::kBoolean:
      return "a boolean";
    case Kind::kIntegerList:
      return "an array of integers";
    case Kind::kStringList:
      return "an array of strings";
    case Kind::kStringTable:
      return "a table";
  }
  return "a value";
}

// "a string ("x")", "an integer (5)", "a table", ...
std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string (" + quoteForMessage(node.as_string()->get()) + ")";
    case toml::node_type::integer:
      return "an integer (" + std::to_string(node.as_integer()->get()) + ")";
    case toml::node_type::floating_point: {
      std::ostringstream out;
      out << node.as_floating_point()->get();
      return "a floating-point number (" + out.str() + ")";
    }
    case toml::node_type::boolean:
      return node.as_boolean()->get() ? "a boolean (true)" : "a boolean (false)";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// ^[a-z][a-z0-9_]{0,39}$
bool isIntegrationId(std::string_view id) {
  return !id.empty() && id.size() <= 40 && id[0] >= 'a' && id[0] <= 'z' &&
         std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || isAsciiDigit(c) || c == '_'; });
}

bool isSha256Hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return isAsciiDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// A valid id close to `id`, for the fix text.
std::string suggestId(std::string_view id) {
  std::string out;
  for (char c : lower(id)) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && !(out.front() >= 'a' && out.front() <= 'z'))
    out.erase(out.begin());
  if (out.size() > 40) out.resize(40);
  while (!out.empty() && out.back() == '_')
    out.pop_back();
  return out.empty() ? "my_integration" : out;
}

std::string joinPath(const std::string& base, std::string_view key) {
  return base.empty() ? std::string(key) : base + "." + std::string(key);
}

// ---- the loader
// --------------------------------------------------------------------------------------------

class Loader {
 public:
  Loader(std::string path, const Environment& env) : path_(std::move(path)), env_(env) {}

  Result<Config> load(std::string_view text) {
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

 private:
  struct Problem {
    bool from_env = false;
    int line = 0;
    int column = 0;
    std::string text;
  };

  SourceLocation locate(const std::string& key_path, const toml::source_region& region) const {
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

  void reportAt(const SourceLocation& where, const std::string& key_path, std::string_view problem,
                std::string_view fix) {
    Problem p;
    p.from_env = !where.env_var.empty();
    p.line = where.line;
    p.column = where.column;
    p.text = where.toString() + ": " + key_path + ": " + sentence(problem, fix);
    problems_.push_back(std::move(p));
  }

  void report(const std::string& key_path, const toml::source_region& region, std::string_view problem,
              std::string_view fix) {
    reportAt(locate(key_path, region), key_path, problem, fix);
  }

  void reportEnv(const std::string& var, const std::string& key_path, std::string_view problem,
                 std::string_view fix) {
    SourceLocation where;
    where.env_var = var;
    reportAt(where, key_path, problem, fix);
  }

  // ---- environment overrides: written into the parsed tree so one code path validates both sources.

  void applyOverrides(toml::table& root) {
    std::set<std::string> ignored = {"IHOST_VAULT_KEYS", "IHOST_ADMIN_TOKEN", "IHOST_CONFIG", "IHOST_LOG"};
    if (auto name = root["vault"]["key_env"].value<std::string>()) ignored.insert(upper(*name));
    if (auto name = root["admin"]["token_env"].value<std::string>()) ignored.insert(upper(*name));
    for (const auto& [var, raw] : env_) {
      std::string upper_var = upper(var);
      if (upper_var.rfind("IHOST_", 0) != 0 || ignored.count(upper_var) != 0) continue;
      std::string rest = lower(std::string_view(var).substr(6));
      if (rest.find("__") == std::string::npos) continue;
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

  void applyOverride(toml::table& root, const std::string& var, const std::string& raw,
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
        if (!list.empty() && list.front() == '[' && list.back() == ']')
          list = list.substr(1, list.size() - 2);
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
        if (!list.empty() && list.front() == '[' && list.back() == ']')
          list = list.substr(1, list.size() - 2);
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

  // Records that `key_path` was set (or its table created) by the environment variable `var`.
  void markOverride(const std::string& key_path, const std::string& var) {
    config_.overrides.insert_or_assign(key_path, var);
  }

  void applyIntegrationOverride(toml::table& root, const std::string& var, const std::string& raw,
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
      std::string fix =
          "Add an [integrations." + id + "] table to " + path_ + " or correct the variable name.";
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

  // The table `name` inside `parent`, created (and marked as set by `var`) when missing; nullptr when a
  // non-table value is in the way (reported).
  toml::table* ensureTable(toml::table& parent, const std::string& name, const std::string& key_path,
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

  // ---- host sections

  void readSection(const SectionSpec& section, const toml::key& section_key, const toml::node& node) {
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

  bool readValue(const KeySpec& spec, const std::string& key_path, const toml::key& key,
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

  // ---- integrations

  void readIntegrations(const toml::key& key, const toml::node& node) {
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

  void readIntegration(const toml::key& id_key, const toml::node& node) {
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

  void readJobs(IntegrationConfig& integration, const toml::key& jobs_key, const toml::node& node) {
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
        } else {
          report(key_path, key.source(), unknownKeyText(key_name, {"every", "enabled"}), "");
        }
      }
      integration.jobs[name] = std::move(job);
    }
  }

  // Settings nest as deep as the plugin's schema; a file nested deeper than kMaxSettingDepth is refused
  // (the recursion stays shallow and the key paths recorded for messages stay short).
  static constexpr int kMaxSettingDepth = 16;
  nlohmann::json settingToJson(const toml::node& node, const std::string& integration_path,
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

  // ---- after reading

  void finish() {
    if (config_.server.public_url.empty()) config_.server.public_url = "http://" + config_.server.listen;
    if (config_.vault.key_file.empty() && config_.vault.key_env.empty()) {
      SourceLocation where;
      where.file = path_;
      reportAt(where, "vault", "no key source (key_file and key_env are both empty)",
               "Set key_file = \"../ihost-data/vault.keys\" or key_env = \"IHOST_VAULT_KEYS\".");
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
    resolve(config_.vault.key_file);
    resolve(config_.outbound.ca_file);
  }

  std::string path_;
  const Environment& env_;
  Config config_;
  std::map<std::string, std::map<std::string, std::string>> env_settings_;  // id -> setting path -> raw
  std::vector<Problem> problems_;
};

}  // namespace

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
