// The host key table (see keys.h): every [section] key the host reads, with its checks.
#include "config/keys.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

#include "common/ip_network.h"
#include "common/text.h"
#include "config/internal.h"

namespace ih::config::keys {

using internal::closestMatch;
using internal::lower;
using internal::quoteForMessage;

namespace {

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

std::string checkIsolation(const Value& v) {
  return v.text == "in_process" || v.text == "process" ? "" : "expected \"in_process\" or \"process\"";
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
           {"shutdown_timeout_ms", Kind::kInteger, 1000, 600000,
            "Write a number of milliseconds, e.g. shutdown_timeout_ms = 20000 (the longest a graceful "
            "shutdown "
            "may take).",
            [](Config& c, const Value& v) { c.server.shutdown_timeout_ms = static_cast<int>(v.integer); },
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
           {"backend", Kind::kString, 0, 0,
            "Write backend = \"sqlite\" (one file, the default) or \"postgres\" (with url = ...).",
            [](Config& c, const Value& v) { c.storage.backend = v.text; },
            [](const Value& v) -> std::string {
              return v.text == "sqlite" || v.text == "postgres" ? "" : "expected \"sqlite\" or \"postgres\"";
            }},
           {"url", Kind::kString, 0, 0,
            "Write url = \"postgresql://ihost@db.internal:5432/ihost\" (put a password in the environment: "
            "IHOST_STORAGE__URL).",
            [](Config& c, const Value& v) { c.storage.url = v.text; },
            [](const Value& v) -> std::string {
              const bool uri = v.text.rfind("postgresql://", 0) == 0 || v.text.rfind("postgres://", 0) == 0;
              const bool keywords = v.text.find('=') != std::string::npos;
              return uri || keywords ? "" : "expected a postgresql:// URI or libpq key=value settings";
            }},
           {"pool_size", Kind::kInteger, 1, 64, "Write a number of read connections, e.g. pool_size = 4.",
            [](Config& c, const Value& v) { c.storage.pool_size = static_cast<int>(v.integer); }, nullptr},
           {"statement_timeout_ms", Kind::kInteger, 100, 3600000,
            "Write a number of milliseconds, e.g. statement_timeout_ms = 30000.",
            [](Config& c, const Value& v) { c.storage.statement_timeout_ms = static_cast<int>(v.integer); },
            nullptr},
           {"replica_id", Kind::kString, 0, 0,
            "Write a stable name for this replica, e.g. replica_id = \"ihost-1\" (unique among the replicas "
            "sharing the database).",
            [](Config& c, const Value& v) { c.storage.replica_id = v.text; },
            [](const Value& v) -> std::string {
              if (v.text.empty() || v.text.size() > 128) return "expected 1 to 128 characters";
              for (char ch : v.text) {
                if (static_cast<unsigned char>(ch) < 0x21 || ch == 0x7f)
                  return "expected no spaces or control characters";
              }
              return "";
            }},
           {"claim_lease_ms", Kind::kInteger, 1000, 86400000,
            "Write a number of milliseconds, e.g. claim_lease_ms = 300000 (well above every plugin call's "
            "deadline).",
            [](Config& c, const Value& v) { c.storage.claim_lease_ms = v.integer; }, nullptr},
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
           {"call_timeout_ms", Kind::kInteger, 100, 3600000,
            "Write a number of milliseconds, e.g. call_timeout_ms = 30000 (a plugin call's deadline).",
            [](Config& c, const Value& v) { c.plugins.call_timeout_ms = v.integer; }, nullptr},
           {"watch", Kind::kBoolean, 0, 0,
            "Write watch = true to hot-reload changed plugin files automatically, or watch = false.",
            [](Config& c, const Value& v) { c.plugins.watch = v.boolean; }, nullptr},
           {"job_timeout_ms", Kind::kInteger, 1000, 86400000,
            "Write a number of milliseconds, e.g. job_timeout_ms = 3600000 (a sync run's deadline).",
            [](Config& c, const Value& v) { c.plugins.job_timeout_ms = v.integer; }, nullptr},
           {"isolation", Kind::kString, 0, 0,
            "Write isolation = \"in_process\" (plugins run inside ihost: trusted code) or \"process\" (each "
            "integration's plugin runs in its own capped runner process).",
            [](Config& c, const Value& v) { c.plugins.isolation = v.text; }, checkIsolation},
           {"runner", Kind::kString, 0, 0,
            "Write the path of the ihost executable that runs isolated plugins, e.g. runner = "
            "\"/usr/bin/ihost\" (default: this ihost).",
            [](Config& c, const Value& v) { c.plugins.runner = v.text; }, checkNotEmpty},
           {"runner_memory_mb", Kind::kInteger, 0, 1048576,
            "Write a number of MiB, e.g. runner_memory_mb = 1024 (an isolated runner's address-space cap; 0: "
            "none).",
            [](Config& c, const Value& v) { c.plugins.runner_memory_mb = v.integer; }, nullptr},
           {"runner_max_files", Kind::kInteger, 16, 65536,
            "Write a number, e.g. runner_max_files = 64 (open files an isolated runner may hold).",
            [](Config& c, const Value& v) { c.plugins.runner_max_files = v.integer; }, nullptr},
           {"seccomp", Kind::kBoolean, 0, 0,
            "Write seccomp = true (isolated runners may not open sockets, run programs or write files) or "
            "seccomp = false.",
            [](Config& c, const Value& v) { c.plugins.seccomp = v.boolean; }, nullptr},
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
           {"access", Kind::kBoolean, 0, 0, "Write access = true or access = false.",
            [](Config& c, const Value& v) { c.log.access = v.boolean; }, nullptr},
       }},
      {"inbox",
       {
           {"retry_schedule_s", Kind::kIntegerList, 1, 604800,
            "Write a list of delays in seconds, e.g. retry_schedule_s = [10, 60, 300, 1800, 7200].",
            [](Config& c, const Value& v) { c.inbox.retry_schedule_s = v.list; }, nullptr},
           {"workers", Kind::kInteger, 0, 256,
            "Write a number of workers, e.g. 4 (0 = intake only, no dispatch).",
            [](Config& c, const Value& v) { c.inbox.workers = static_cast<int>(v.integer); }, nullptr},
           {"claim_batch", Kind::kInteger, 1, 1024, "Write a number of events, e.g. 128.",
            [](Config& c, const Value& v) { c.inbox.claim_batch = static_cast<int>(v.integer); }, nullptr},
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

}  // namespace

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
  names.emplace_back("coming_soon");
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

}  // namespace ih::config::keys
