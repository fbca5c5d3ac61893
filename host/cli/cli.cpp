#include "cli/cli.h"
#include "cli/check_command.h"

#include "cli/demo_command.h"
#include "cli/integrations_command.h"
#include "cli/reload_command.h"
#include "cli/storage_command.h"
#include "cli/sync_command.h"

#include "cli/setup_command.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "app/app.h"
#include "app/vault_rotation.h"
#include "common/text.h"
#include "common/time_text.h"
#include "config/config.h"
#include "inbox/inbox.h"
#include "loader/registry.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "store/inbox_store.h"
#include "store/store.h"
#include "tenancy/tenancy.h"
#include "vault/vault.h"

#ifndef IH_VERSION
#define IH_VERSION "0.0.0"
#endif

namespace ih::cli {
namespace {

using nlohmann::json;

constexpr const char* kDefaultConfig = "config/ihost.toml";

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // --flag value (repeatable)
  std::set<std::string> switches;                          // --flag
  bool has(const std::string& s) const { return switches.count(s) > 0; }
  std::string value(const std::string& name, const std::string& fallback = "") const {
    auto it = values.find(name);
    return it == values.end() || it->second.empty() ? fallback : it->second.back();
  }
};

// Flags that take a value; everything else starting with "--" is a switch.
const std::set<std::string> kValueFlags = {"config",      "scope",  "dir", "id",   "status", "since",
                                           "integration", "tenant", "url", "from", "to"};
const std::set<std::string> kSwitches = {"help", "json", "version", "running", "isolated"};

// The flags each command accepts (besides --help) and how many positional words it takes at most (the
// command's own words included). Anything else is a usage error (exit 2), never silently ignored.
struct CommandShape {
  std::set<std::string> flags;
  size_t max_positional;
};
// Keyed "noun verb" where the verb changes what is accepted, else "noun".
const std::map<std::string, CommandShape> kCommandShapes = {
    {"version", {{}, 1}},
    {"serve", {{"config"}, 1}},
    {"config", {{"config"}, 2}},
    {"plugins", {{"config", "dir", "json", "running", "url"}, 2}},
    {"plugins check", {{"config", "connect", "isolated"}, 3}},
    {"plugins reload", {{"config", "url", "json"}, 2}},
    {"vault", {{"config"}, 2}},
    {"vault remove-key", {{"config"}, 3}},
    {"tenants create", {{"config"}, 3}},
    {"tenants list", {{"config", "json"}, 2}},
    {"keys create", {{"config", "scope"}, 3}},
    {"keys list", {{"config", "json"}, 3}},
    {"keys revoke", {{"config"}, 4}},
    {"webhooks", {{"config", "id", "status", "since", "integration", "tenant"}, 2}},
    {"integrations", {{"config", "tenant", "json"}, 2}},
    {"integrations show", {{"config", "tenant", "json"}, 3}},
    {"storage copy", {{"from", "to"}, 2}},
};

// Exit-2 message when `args` does not fit its command's shape; empty when it does (or the command is unknown:
// reported later).
std::string shapeError(const Args& args) {
  auto it = args.positional.size() > 1 ? kCommandShapes.find(args.positional[0] + " " + args.positional[1])
                                       : kCommandShapes.end();
  if (it == kCommandShapes.end()) it = kCommandShapes.find(args.positional[0]);
  if (it == kCommandShapes.end()) return {};
  const std::string& command = it->first;
  const CommandShape& shape = it->second;
  for (const auto& [name, values] : args.values) {
    if (!shape.flags.count(name)) return "flag --" + name + " does not belong to \"ihost " + command + "\"";
  }
  for (const std::string& name : args.switches) {
    if (name != "help" && !shape.flags.count(name))
      return "flag --" + name + " does not belong to \"ihost " + command + "\"";
  }
  if (args.positional.size() > shape.max_positional) {
    return "unexpected argument \"" + args.positional[shape.max_positional] + "\" for \"ihost " + command +
           "\"";
  }
  return {};
}

Result<Args> parseArgs(const std::vector<std::string>& raw) {
  Args args;
  for (size_t i = 0; i < raw.size(); ++i) {
    const std::string& a = raw[i];
    if (a == "-h") {
      args.switches.insert("help");
    } else if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      std::string value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      if (kValueFlags.count(name)) {
        if (!inline_value) {
          if (i + 1 >= raw.size()) return Status::invalidArgument("flag --" + name + " needs a value");
          value = raw[++i];
        }
        args.values[name].push_back(value);
      } else if (kSwitches.count(name)) {
        args.switches.insert(name);
      } else {
        return Status::invalidArgument("unknown flag --" + name);
      }
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

const char* kUsage = R"(ihost — integrations host runtime

Usage: ihost <command> [flags]

Commands:
  demo [--data-dir D] [--port N] [--double-port N]
                             everything locally with the built-in Stripe test double: a tenant, a paid
                             test invoice, then serves until Ctrl-C (see: ihost demo --help)
  serve                      run the server (HTTP API, webhooks, plugins)
  config check               validate the configuration and every integration's settings
  plugins list               list loaded plugins (ABI, capabilities) and refused files with the reason
  plugins check FILE.so      conformance checks for a plugin, in a throwaway host
  vault init                 create the vault key file (0600); prints the admin token once
  vault rotate               add a new key and re-encrypt every stored credential with it (online)
  vault status               key ids and how many credentials each one encrypts
  vault remove-key <id>      drop an old key once no credential uses it
  tenants create <name>      create a tenant; prints its id and first API key once
  tenants list               list tenants
  integrations list|show <id> [--tenant T]
                             configured integrations: plugin version, jobs, webhook URL, a tenant's connection
  keys create <tenant> [--scope read|write|*]...   create an API key (shown once)
  keys list <tenant>         list a tenant's keys (prefix, scopes, last use, revocation)
  keys revoke <tenant> <key-id>
  setup <integration> --tenant T [--non-interactive] [--set key=value]...
                             run a plugin's setup workflow (e.g. Stripe products + webhook endpoint)
  sync run <integration> <job> [--tenant T] [--full]
                             run a sync job now, with progress (pages, rows, rows/s)
  storage copy --from FROM.toml --to TO.toml
                             copy everything from FROM's SQLite store into TO's empty one (PostgreSQL)
  webhooks replay --id ID | --status failed|dead [--since T] [--integration X] [--tenant T]
                             send stored webhook events through their plugin again
  version                    print the version and plugin ABI

Flags:
  --config <file>   configuration file (default: $IHOST_CONFIG, else config/ihost.toml)
  --json            machine-readable output (plugins list, tenants list, keys list)
  --help, -h        help for a command
  --version         the same as "ihost version"

Exit codes: 0 success, 1 failure at run time, 2 usage error, 3 invalid configuration.
)";

const std::map<std::string, std::string> kCommandHelp = {
    {"serve",
     "ihost serve [--config FILE]\n  Runs the host until SIGINT/SIGTERM, then shuts down gracefully:\n"
     "  stops intake, drains in-flight plugin calls, destroys plugin instances, unloads plugins.\n"},
    {"config",
     "ihost config check [--config FILE]\n  Validates the file, environment overrides and each integration's "
     "settings against its plugin's schema.\n  Prints a masked summary. Exit 3 when anything is wrong.\n"},
    {"plugins",
     "ihost plugins list [--config FILE | --dir DIR] [--json]\n  Scans the plugins directory and shows what "
     "loads (name, version, ABI, capabilities) and what is refused, with the reason.\n"
     "ihost plugins check FILE.so [--config SETTINGS.toml] [--connect CONNECT.json] [--isolated]\n  "
     "Conformance "
     "checks "
     "for a "
     "plugin author: loads FILE.so alone into a throwaway host and checks\n  its exports, manifest, routes, "
     "connect, webhooks, actions, jobs and parallel calls with hostile input.\n  SETTINGS.toml holds the "
     "keys of "
     "its [integrations.<id>] table; CONNECT.json a connect body that works\n  (for the actions). Exit 1 "
     "when a "
     "check fails. --isolated runs it in a plugin runner (isolation = \"process\"): a plugin\n  that crashes "
     "or hangs fails its checks instead of ending the command.\n"
     "ihost plugins list --running [--config FILE] [--url URL] [--json]\n  Asks the running server which "
     "version each integration runs, since when, the one before and the reloads.\n"
     "ihost plugins reload [--config FILE] [--url URL] [--json]\n  Asks the running server to hot-reload "
     "every changed .so of its plugins directory\n  (admin token from [admin] token_env or the key file). "
     "In-flight calls finish on the old version.\n  Exit 1 when a file is refused (the old version keeps "
     "serving).\n"},
    {"vault",
     "ihost vault init|rotate|status|remove-key <id> [--config FILE]\n  init: writes a new key ring file "
     "(mode 0600) at [vault] key_file; refuses to overwrite.\n  rotate: adds a key and re-encrypts every "
     "credential with it while the server keeps running.\n  status: each key id and how many sealed items "
     "(credentials, endpoint secrets, canary) it still encrypts.\n  remove-key <id>: drops an old key from "
     "the "
     "file; refused while anything still uses it.\n"},
    {"tenants", "ihost tenants create <name> | list [--json] [--config FILE]\n"},
    {"keys",
     "ihost keys create <tenant> [--scope S]... | list <tenant> [--json] | revoke <tenant> <key-id>\n"
     "  <tenant> is a tenant id or name. Scopes: * (default), read, write.\n"},
    {"webhooks",
     "ihost webhooks replay --id ID | --status failed|dead [--since T] [--integration X] [--tenant T]\n"
     "  Marks the events pending again; a running server dispatches them within a second.\n"
     "  T is unix seconds or an ISO date (2026-11-23 or 2026-11-23T10:00:00Z). --status may repeat.\n"},
    {"integrations",
     "ihost integrations list [--tenant T] [--json] | show <id> [--tenant T] [--json] [--config FILE]\n"
     "  What is configured: plugin and version, enabled, jobs and schedules, webhook URL; with --tenant (id "
     "or\n"
     "  name) also that tenant's connection: status, connected at, last health check.\n"},
    {"storage",
     "ihost storage copy --from FROM.toml --to TO.toml\n"
     "  Copies every table of FROM's [storage] (a SQLite file) into TO's (PostgreSQL; must be empty): "
     "tenants,\n"
     "  keys, sealed credentials (the vault key ring stays the same), inbox, records, events, endpoints, "
     "jobs.\n"
     "  Stop the servers first. Row counts are verified per table. IHOST_STORAGE__URL applies to --to "
     "only.\n"},
    {"version", "ihost version\n"},
};

std::string configPath(const Args& args, const config::Environment& env) {
  std::string path = args.value("config");
  if (path.empty()) {
    auto it = env.find("IHOST_CONFIG");
    path = it != env.end() && !it->second.empty() ? it->second : kDefaultConfig;
  }
  return path;
}

// Loads the config or prints why not (exit code 3 returned through `code`).
std::optional<config::Config> loadConfig(const Args& args, const config::Environment& env,
                                         std::ostream& err) {
  auto cfg = config::loadFile(configPath(args, env), env);
  if (!cfg.isOk()) {
    err << "ihost: invalid configuration:\n" << cfg.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(*cfg);
}

struct StoreAndVault {
  std::unique_ptr<vault::Vault> vault;
  std::unique_ptr<store::Store> store;
};

Result<StoreAndVault> openStoreAndVault(const config::Config& cfg, const config::Environment& env) {
  StoreAndVault out;
  auto vault = app::openVault(cfg, env);
  if (!vault.isOk()) return vault.status();
  out.vault = std::move(*vault);
  auto store = store::Store::open(app::storeOptions(cfg.storage));
  if (!store.isOk()) return store.status();
  out.store = std::move(*store);
  return out;
}

// "2024-05-01 12:00:00" (UTC), for the CLI's tables.
std::string humanTime(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

int cmdServe(const Args& args, const config::Environment& env, std::ostream& out, std::ostream& err) {
  auto cfg = loadConfig(args, env, err);
  if (!cfg) return kExitConfig;
  // Block the shutdown signals before any thread starts, so every thread inherits the mask and sigwait()
  // below is the only place they are delivered.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t before;
  pthread_sigmask(SIG_BLOCK, &signals, &before);
  // Whatever the way out, the calling thread gets its mask back: `run` is also called in-process (tests), and
  // a mask left blocked would pass on to every process it forks later (exec keeps it).
  struct RestoreMask {
    const sigset_t& mask;
    ~RestoreMask() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{before};

  const int shutdown_timeout_ms = cfg->server.shutdown_timeout_ms;
  auto host = app::App::create(std::move(*cfg), env);
  if (!host.isOk()) {
    err << "ihost: cannot start: " << host.status().message() << "\n";
    return host.status().code() == StatusCode::kInvalidArgument ? kExitConfig : kExitFailure;
  }
  if (Status s = (*host)->start(); !s.isOk()) {
    err << "ihost: cannot start: " << s.message() << "\n";
    return kExitFailure;
  }
  out << "ihost " << IH_VERSION << " listening on " << (*host)->baseUrl() << " (Ctrl-C to stop)" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  log::info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  // A bounded drain: a plugin call that never returns (or anything else stuck) must not hold the process.
  // Past [server] shutdown_timeout_ms, or on a second signal, exit without waiting: what was acknowledged is
  // already committed, and unfinished work (inbox deliveries, job runs) is picked up again at the next start.
  std::atomic<bool> stopped{false};
  std::thread watchdog([&signals, &stopped, shutdown_timeout_ms] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(shutdown_timeout_ms);
    while (!stopped.load()) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        log::error(
            "shutdown did not finish in time; exiting with work still running (it resumes at the next "
            "start)",
            {{"shutdown_timeout_ms", static_cast<int64_t>(shutdown_timeout_ms)}});
        std::fflush(stderr);
        std::_Exit(kExitFailure);
      }
      const timespec wait{0, 50 * 1000 * 1000};
      const int again = sigtimedwait(&signals, nullptr, &wait);
      if (again == SIGINT || again == SIGTERM) {
        log::warn("second signal during shutdown; exiting now", {});
        std::fflush(stderr);
        std::_Exit(kExitFailure);
      }
    }
  });
  (*host)->stop();
  stopped.store(true);
  watchdog.join();
  return kExitOk;
}

int cmdConfigCheck(const Args& args, const config::Environment& env, std::ostream& out, std::ostream& err) {
  auto cfg = loadConfig(args, env, err);
  if (!cfg) return kExitConfig;
  log::setLevel(log::Level::kError);
  auto registry = loader::Registry::scan(runtime::scanOptions(*cfg));
  std::vector<std::string> problems;
  std::map<std::string, std::string> schemas;
  for (const auto& p : registry->loaded())
    schemas[p->manifest().name] = p->manifest().config_schema_json;
  for (const auto& integration : cfg->integrations) {
    auto plugin = registry->find(integration.plugin);
    if (!plugin) {
      problems.push_back(integration.where.toString() + ": integrations." + integration.id +
                         ".plugin: plugin \"" + integration.plugin + "\" is not installed in " +
                         cfg->plugins.dir + ". Build it or drop its .so there (see: ihost plugins list).");
      continue;
    }
    auto settings = config::validateIntegration(*cfg, integration, plugin->manifest().config_schema_json);
    if (!settings.isOk()) problems.push_back(settings.status().message());
  }
  auto ring = vault::loadKeyRing(cfg->vault.key_file,
                                 env.count(cfg->vault.key_env) ? env.at(cfg->vault.key_env) : "");
  out << config::maskedSummary(*cfg, schemas) << "\n";
  if (!ring.isOk()) out << "warning: " << ring.status().message() << "\n";
  for (const auto& r : registry->refused())
    out << "warning: plugin " << r.file << " refused: " << r.reason << "\n";
  if (!problems.empty()) {
    err << "ihost: invalid configuration:\n";
    for (const auto& p : problems)
      err << p << "\n";
    return kExitConfig;
  }
  out << "configuration OK: " << cfg->path << "\n";
  return kExitOk;
}

int cmdPluginsList(const Args& args, const config::Environment& env, std::ostream& out, std::ostream& err) {
  loader::ScanOptions scan;
  if (!args.value("dir").empty()) {
    scan.dir = args.value("dir");
  } else {
    auto cfg = loadConfig(args, env, err);
    if (!cfg) return kExitConfig;
    scan = runtime::scanOptions(*cfg);
  }
  log::setLevel(log::Level::kError);
  auto registry = loader::Registry::scan(scan);
  if (args.has("json")) {
    json j = {{"dir", scan.dir},
              {"host_abi", std::to_string(IH_ABI_MAJOR) + "." + std::to_string(IH_ABI_MINOR)},
              {"loaded", json::array()},
              {"refused", json::array()}};
    for (const auto& p : registry->loaded()) {
      j["loaded"].push_back({{"name", p->manifest().name},
                             {"version", p->manifest().version},
                             {"abi", std::to_string(p->abiMajor()) + "." + std::to_string(p->abiMinor())},
                             {"capabilities", loader::capabilityNames(p->capabilities())},
                             {"file", p->file()},
                             {"sha256", p->sha256()}});
    }
    for (const auto& r : registry->refused())
      j["refused"].push_back({{"file", r.file}, {"reason", r.reason}});
    out << j.dump(2) << "\n";
    return kExitOk;
  }
  out << "plugins directory: " << scan.dir << " (host ABI " << IH_ABI_MAJOR << "." << IH_ABI_MINOR << ")\n";
  out << std::left << std::setw(20) << "NAME" << std::setw(10) << "VERSION" << std::setw(6) << "ABI"
      << std::setw(40) << "CAPABILITIES"
      << "FILE\n";
  for (const auto& p : registry->loaded()) {
    std::string caps;
    for (const auto& c : loader::capabilityNames(p->capabilities()))
      caps += (caps.empty() ? "" : ",") + c;
    out << std::left << std::setw(20) << p->manifest().name << std::setw(10) << p->manifest().version
        << std::setw(6) << (std::to_string(p->abiMajor()) + "." + std::to_string(p->abiMinor()))
        << std::setw(40) << caps << p->file() << "\n";
  }
  if (registry->loaded().empty()) out << "(no plugin loaded)\n";
  for (const auto& r : registry->refused())
    out << "REFUSED " << r.file << ": " << r.reason << "\n";
  return kExitOk;
}

int cmdVault(const Args& args, const config::Environment& env, std::ostream& out, std::ostream& err) {
  if (args.positional.size() < 2) {
    err << kCommandHelp.at("vault");
    return kExitUsage;
  }
  const std::string& verb = args.positional[1];
  auto cfg = loadConfig(args, env, err);
  if (!cfg) return kExitConfig;
  if (verb == "init") {
    if (cfg->vault.key_file.empty()) {
      err << "ihost: [vault] key_file is not set in " << cfg->path
          << "; set it to where the key ring should live\n";
      return kExitConfig;
    }
    auto token = vault::initKeyFile(cfg->vault.key_file);
    if (!token.isOk()) {
      err << "ihost: " << token.status().message() << "\n";
      return kExitFailure;
    }
    out << "wrote vault key ring " << cfg->vault.key_file << " (mode 0600). Back it up: without it no stored "
        << "credential can be decrypted.\n";
    out << "admin token (shown once; use it as \"Authorization: Bearer <token>\" on /api/admin):\n"
        << token->view() << "\n";
    return kExitOk;
  }
  if (verb != "rotate" && verb != "status" && verb != "remove-key") {
    err << "ihost: unknown vault command \"" << verb << "\"\n" << kCommandHelp.at("vault");
    return kExitUsage;
  }
  if (verb == "rotate") {
    if (cfg->vault.key_file.empty()) {
      err << "ihost: vault rotate edits the key file; [vault] key_file is not set (keys from the environment "
             "must "
             "be rotated where that variable is managed)\n";
      return kExitConfig;
    }
    auto id = vault::addKeyToFile(cfg->vault.key_file);
    if (!id.isOk()) {
      err << "ihost: " << id.status().message() << "\n";
      return kExitFailure;
    }
    out << "added key " << *id << " to " << cfg->vault.key_file << "\n";
  }
  auto opened = openStoreAndVault(*cfg, env);
  if (!opened.isOk()) {
    err << "ihost: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  auto& [v, st] = *opened;
  if (verb == "rotate") {
    auto report = app::resealAll(*st, *v);
    if (!report.isOk()) {
      err << "ihost: rotation stopped: " << report.status().message() << "\n";
      return kExitFailure;
    }
    out << "re-encrypted " << report->resealed << " sealed item(s) with key " << v->newestKeyId() << "; "
        << report->changed << " changed during the pass (already current); " << report->failed
        << " could not be decrypted\n";
    return report->failed == 0 ? kExitOk : kExitFailure;
  }
  if (verb == "status") {
    const auto sealed = app::sealedData(*st, *v);
    for (const auto& id : v->keyRing()->keyIds()) {
      out << id << (id == v->newestKeyId() ? " (newest)" : "") << ":";
      const char* separator = " ";
      for (const auto& data : sealed) {
        auto n = data.count(id);
        out << separator << (n.isOk() ? std::to_string(*n) : "?") << " " << data.what;
        separator = ", ";
      }
      out << "\n";
    }
    return kExitOk;
  }
  // remove-key
  if (args.positional.size() < 3) {
    err << "ihost: vault remove-key needs a key id (see: ihost vault status)\n";
    return kExitUsage;
  }
  const std::string& key_id = args.positional[2];
  auto n = app::countSealedByKey(*st, *v, key_id);
  if (!n.isOk()) {
    err << "ihost: " << n.status().message() << "\n";
    return kExitFailure;
  }
  if (*n > 0) {
    err << "ihost: key " << key_id << " still encrypts " << *n
        << " sealed item(s) (see ihost vault status); run \"ihost vault rotate\" first\n";
    return kExitFailure;
  }
  if (Status s = vault::removeKeyFromFile(cfg->vault.key_file, key_id); !s.isOk()) {
    err << "ihost: " << s.message() << "\n";
    return kExitFailure;
  }
  out << "removed key " << key_id << " from " << cfg->vault.key_file << "\n";
  return kExitOk;
}

int cmdTenantsOrKeys(const Args& args, const config::Environment& env, std::ostream& out, std::ostream& err) {
  const std::string& noun = args.positional[0];
  if (args.positional.size() < 2) {
    err << kCommandHelp.at(noun);
    return kExitUsage;
  }
  const std::string& verb = args.positional[1];
  auto cfg = loadConfig(args, env, err);
  if (!cfg) return kExitConfig;
  log::setLevel(log::Level::kWarn);
  auto opened = openStoreAndVault(*cfg, env);
  if (!opened.isOk()) {
    err << "ihost: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  auto& [v, st] = *opened;
  std::string admin_token;
  tenancy::Tenancy tenancy(*st, *v, admin_token);
  auto fail = [&](const Status& s) {
    err << "ihost: " << s.message() << "\n";
    return s.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  };
  if (noun == "tenants" && verb == "create") {
    if (args.positional.size() != 3) {
      err << "usage: ihost tenants create <name>\n";
      return kExitUsage;
    }
    auto created = tenancy.createTenant(args.positional[2]);
    if (!created.isOk()) return fail(created.status());
    out << "tenant " << created->tenant.name << " created\n"
        << "  id:      " << created->tenant.id << "\n"
        << "  api key: " << created->first_key.plaintext << "\n"
        << "The API key is shown once; store it now. Use it as \"Authorization: Bearer <api key>\".\n";
    return kExitOk;
  }
  if (noun == "tenants" && verb == "list") {
    auto tenants = st->listTenants();
    if (!tenants.isOk()) return fail(tenants.status());
    if (args.has("json")) {
      json j = json::array();
      for (const auto& t : *tenants)
        j.push_back({{"id", t.id}, {"name", t.name}, {"created_at", t.created_at}});
      out << j.dump(2) << "\n";
      return kExitOk;
    }
    out << std::left << std::setw(24) << "ID" << std::setw(32) << "NAME"
        << "CREATED (UTC)\n";
    for (const auto& t : *tenants)
      out << std::setw(24) << t.id << std::setw(32) << t.name << humanTime(t.created_at) << "\n";
    return kExitOk;
  }
  if (noun == "keys" && (verb == "create" || verb == "list" || verb == "revoke")) {
    if (args.positional.size() < 3) {
      err << kCommandHelp.at("keys");
      return kExitUsage;
    }
    auto tenant = tenancy.resolveTenant(args.positional[2]);
    if (!tenant.isOk()) return fail(tenant.status());
    if (verb == "create") {
      std::vector<std::string> scopes;
      if (auto it = args.values.find("scope"); it != args.values.end()) scopes = it->second;
      auto key = tenancy.createKey(tenant->id, scopes);
      if (!key.isOk()) return fail(key.status());
      out << "key " << key->key.id << " created for tenant " << tenant->name
          << " (scopes: " << key->key.scopes << ")\n  api key: " << key->plaintext
          << "\nThe API key is shown once; store it now.\n";
      return kExitOk;
    }
    if (verb == "list") {
      auto keys = st->listApiKeys(tenant->id);
      if (!keys.isOk()) return fail(keys.status());
      if (args.has("json")) {
        json j = json::array();
        for (const auto& k : *keys) {
          j.push_back({{"id", k.id},
                       {"prefix", k.display_prefix},
                       {"scopes", k.scopes},
                       {"created_at", k.created_at},
                       {"last_used_at", k.last_used_at ? json(*k.last_used_at) : json(nullptr)},
                       {"revoked_at", k.revoked_at ? json(*k.revoked_at) : json(nullptr)}});
        }
        out << j.dump(2) << "\n";
        return kExitOk;
      }
      out << std::left << std::setw(24) << "ID" << std::setw(20) << "PREFIX" << std::setw(10) << "SCOPES"
          << std::setw(22) << "LAST USED (UTC)"
          << "STATE\n";
      for (const auto& k : *keys) {
        out << std::setw(24) << k.id << std::setw(20) << k.display_prefix << std::setw(10) << k.scopes
            << std::setw(22) << (k.last_used_at ? humanTime(*k.last_used_at) : "never")
            << (k.revoked_at ? "revoked" : "active") << "\n";
      }
      return kExitOk;
    }
    if (args.positional.size() != 4) {
      err << "usage: ihost keys revoke <tenant> <key-id>\n";
      return kExitUsage;
    }
    if (Status s = tenancy.revokeKey(tenant->id, args.positional[3]); !s.isOk()) return fail(s);
    out << "key " << args.positional[3] << " revoked\n";
    return kExitOk;
  }
  err << "ihost: unknown command \"" << noun << " " << verb << "\"\n" << kCommandHelp.at(noun);
  return kExitUsage;
}

// Unix milliseconds from "1700000000" or "2026-11-23[THH:MM:SS[Z]]".
std::optional<int64_t> parseTime(const std::string& text) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const auto seconds = parseInt64InRange(text, 0, int64_t{1} << 40);  // beyond year 36000: a typo
    if (!seconds) return std::nullopt;
    return *seconds * 1000;
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) {
    tm = {};
    end = strptime(text.c_str(), "%Y-%m-%d", &tm);
  }
  if (end == nullptr || (*end != '\0' && std::string_view(end) != "Z")) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

int cmdWebhooks(const Args& args, const config::Environment& env, std::ostream& out, std::ostream& err) {
  if (args.positional.size() < 2 || args.positional[1] != "replay") {
    err << kCommandHelp.at("webhooks");
    return kExitUsage;
  }
  store::ReplayFilter filter;
  if (!args.value("id").empty()) {
    const auto id = parseInt64InRange(args.value("id"), 1, std::numeric_limits<int64_t>::max());
    if (!id) {
      err << "ihost: --id must be a webhook event id (a number, see GET /api/webhooks)\n";
      return kExitUsage;
    }
    filter.id = *id;
  }
  if (auto it = args.values.find("status"); it != args.values.end()) {
    for (const auto& name : it->second) {
      auto status = store::parseInboxStatus(name);
      if (!status || (*status != store::InboxStatus::kFailed && *status != store::InboxStatus::kDead &&
                      *status != store::InboxStatus::kProcessed)) {
        err << "ihost: --status must be failed, dead or processed (got \"" << name << "\")\n";
        return kExitUsage;
      }
      filter.statuses.push_back(*status);
    }
  }
  if (!filter.id && filter.statuses.empty()) {
    err << "ihost: webhooks replay needs --id ID or --status failed|dead\n" << kCommandHelp.at("webhooks");
    return kExitUsage;
  }
  if (!args.value("since").empty()) {
    filter.since = parseTime(args.value("since"));
    if (!filter.since) {
      err << "ihost: --since \"" << args.value("since")
          << "\" is not unix seconds or a date like 2026-11-23\n";
      return kExitUsage;
    }
  }
  if (!args.value("integration").empty()) filter.integration_id = args.value("integration");
  auto cfg = loadConfig(args, env, err);
  if (!cfg) return kExitConfig;
  log::setLevel(log::Level::kWarn);
  auto opened = openStoreAndVault(*cfg, env);
  if (!opened.isOk()) {
    err << "ihost: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  auto& [v, st] = *opened;
  if (!args.value("tenant").empty()) {
    tenancy::Tenancy tenancy(*st, *v, "");
    auto tenant = tenancy.resolveTenant(args.value("tenant"));
    if (!tenant.isOk()) {
      err << "ihost: " << tenant.status().message() << "\n";
      return kExitFailure;
    }
    filter.tenant_id = tenant->id;
  }
  auto count = inbox::replay(*st, filter);
  if (!count.isOk()) {
    err << "ihost: " << count.status().message() << "\n";
    return kExitFailure;
  }
  out << "replayed " << *count << " webhook event(s); a running server dispatches them within a second\n";
  return kExitOk;
}

int cmdIntegrations(const Args& args, const config::Environment& env, std::ostream& out, std::ostream& err) {
  if (args.positional.size() < 2 || (args.positional[1] == "show" && args.positional.size() != 3) ||
      (args.positional[1] != "list" && args.positional[1] != "show")) {
    err << kCommandHelp.at("integrations");
    return kExitUsage;
  }
  auto cfg = loadConfig(args, env, err);
  if (!cfg) return kExitConfig;
  log::setLevel(log::Level::kError);
  auto registry = loader::Registry::scan(runtime::scanOptions(*cfg));
  store::Options options = app::storeOptions(cfg->storage);
  auto st = store::Store::open(options);
  if (!st.isOk()) {
    err << "ihost: " << st.status().message() << "\n";
    return kExitFailure;
  }
  std::optional<store::Tenant> tenant;
  if (const std::string wanted = args.value("tenant"); !wanted.empty()) {
    auto tenants = (*st)->listTenants();
    if (!tenants.isOk()) {
      err << "ihost: " << tenants.status().message() << "\n";
      return kExitFailure;
    }
    for (const auto& t : *tenants)
      if (t.id == wanted || t.name == wanted) tenant = t;
    if (!tenant) {
      err << "ihost: no tenant \"" << wanted << "\" (see: ihost tenants list)\n";
      return kExitUsage;
    }
  }
  IntegrationsQuery query{args.positional[1], args.positional.size() > 2 ? args.positional[2] : std::string(),
                          args.has("json")};
  return runIntegrationsCommand(query, *cfg, *registry, **st, tenant ? &*tenant : nullptr, out, err);
}

}  // namespace

int run(const std::vector<std::string>& raw, std::ostream& out, std::ostream& err) {
  if (!raw.empty() && raw[0] == "sync") return runSyncCommand(raw, out, err);  // parses its own flags
  if (!raw.empty() && raw[0] == "demo") return runDemoCommand(raw, out, err);  // parses its own flags
  // `setup` has its own flags (--set, --non-interactive) and reads answers from stdin.
  if (!raw.empty() && raw[0] == "setup") return runSetupCommand(raw, std::cin, out, err);
  auto parsed = parseArgs(raw);
  if (!parsed.isOk()) {
    err << "ihost: " << parsed.status().message() << " (see: ihost --help)\n";
    return kExitUsage;
  }
  const Args& args = *parsed;
  if (args.positional.empty() && args.has("version") && args.values.empty() && args.switches.size() == 1) {
    out << "ihost " << IH_VERSION << " (plugin ABI " << IH_ABI_MAJOR << "." << IH_ABI_MINOR << ")\n";
    return kExitOk;
  }
  if (args.positional.empty()) {
    (args.has("help") ? out : err) << kUsage;
    return args.has("help") ? kExitOk : kExitUsage;
  }
  const std::string& command = args.positional[0];
  if (std::string why = shapeError(args); !why.empty()) {
    err << "ihost: " << why << "\n";
    auto help = kCommandHelp.find(command);
    err << (help == kCommandHelp.end() ? std::string("(see: ihost --help)\n") : help->second);
    return kExitUsage;
  }
  if (args.has("help")) {
    auto it = kCommandHelp.find(command);
    out << (it == kCommandHelp.end() ? kUsage : it->second);
    return kExitOk;
  }
  config::Environment env = config::processEnvironment();
  if (command == "version") {
    out << "ihost " << IH_VERSION << " (plugin ABI " << IH_ABI_MAJOR << "." << IH_ABI_MINOR << ")\n";
    return kExitOk;
  }
  if (command == "serve") return cmdServe(args, env, out, err);
  if (command == "config") {
    if (args.positional.size() < 2 || args.positional[1] != "check") {
      err << kCommandHelp.at("config");
      return kExitUsage;
    }
    return cmdConfigCheck(args, env, out, err);
  }
  if (command == "plugins") {
    if (args.positional.size() == 3 && args.positional[1] == "check") {
      auto runner = env.find("IHOST_PLUGINS__RUNNER");
      return runPluginCheck({args.positional[2], args.value("config"), args.value("connect"),
                             args.has("isolated"), runner == env.end() ? std::string() : runner->second},
                            out, err);
    }
    if (args.positional.size() == 2 && args.positional[1] == "reload")
      return runPluginsReload({configPath(args, env), args.value("url"), args.has("json")}, env, out, err);
    if (args.positional.size() == 2 && args.positional[1] == "list" && args.has("running"))
      return runPluginsRunning({configPath(args, env), args.value("url"), args.has("json")}, env, out, err);
    if (args.positional.size() < 2 || args.positional[1] != "list") {
      err << kCommandHelp.at("plugins");
      return kExitUsage;
    }
    return cmdPluginsList(args, env, out, err);
  }
  if (command == "vault") return cmdVault(args, env, out, err);
  if (command == "tenants" || command == "keys") return cmdTenantsOrKeys(args, env, out, err);
  if (command == "webhooks") return cmdWebhooks(args, env, out, err);
  if (command == "integrations") return cmdIntegrations(args, env, out, err);
  if (command == "storage") {
    if (args.positional.size() != 2 || args.positional[1] != "copy") {
      err << kCommandHelp.at("storage");
      return kExitUsage;
    }
    return runStorageCopy({args.value("from"), args.value("to")}, env, out, err);
  }
  err << "ihost: unknown command \"" << command << "\" (see: ihost --help)\n";
  return kExitUsage;
}

}  // namespace ih::cli
