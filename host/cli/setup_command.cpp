#include "cli/setup_command.h"

#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "app/app.h"
#include "cli/cli.h"
#include "config/config.h"
#include "runtime/runtime.h"
#include "tenancy/tenancy.h"

namespace ih::cli {
namespace {

using nlohmann::json;

constexpr char kSetupUsage[] =
    "ihost setup <integration> --tenant T [--non-interactive] [--set key=value]... [--config FILE]\n"
    "  Runs the integration's setup workflow (e.g. Stripe: check the key, create products and prices, "
    "create\n"
    "  the webhook endpoint and store its signing secret). --set answers a prompt by key (public_url=...,\n"
    "  catalog=all|none|starter,pro, confirm_key=yes); --non-interactive fails instead of asking.\n";

struct SetupArgs {
  std::string integration;
  std::string tenant;
  std::string config;
  bool non_interactive = false;
  bool help = false;
  std::map<std::string, std::string> answers;
};

Result<SetupArgs> parseSetupArgs(const std::vector<std::string>& raw) {
  SetupArgs out;
  for (size_t i = 1; i < raw.size(); ++i) {
    std::string a = raw[i];
    std::string value;
    bool inline_value = false;
    if (a.rfind("--", 0) == 0) {
      if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--set", 0) != 0) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        inline_value = true;
      } else if (a.rfind("--set=", 0) == 0) {
        value = a.substr(6);
        a = "--set";
        inline_value = true;
      }
    }
    auto take = [&](const std::string& flag) -> Result<std::string> {
      if (inline_value) return value;
      if (i + 1 >= raw.size()) return Status::invalidArgument("flag " + flag + " needs a value");
      return raw[++i];
    };
    if (a == "--help" || a == "-h") {
      out.help = true;
    } else if (a == "--non-interactive") {
      out.non_interactive = true;
    } else if (a == "--tenant" || a == "--config") {
      auto v = take(a);
      if (!v.isOk()) return v.status();
      (a == "--tenant" ? out.tenant : out.config) = *v;
    } else if (a == "--set") {
      auto v = take(a);
      if (!v.isOk()) return v.status();
      auto eq = v->find('=');
      if (eq == std::string::npos || eq == 0) return Status::invalidArgument("--set needs key=value");
      out.answers[v->substr(0, eq)] = v->substr(eq + 1);
    } else if (a.rfind("--", 0) == 0) {
      return Status::invalidArgument("unknown flag " + a);
    } else if (out.integration.empty()) {
      out.integration = a;
    } else {
      return Status::invalidArgument("unexpected argument \"" + a + "\"");
    }
  }
  return out;
}

// Reads one line; without echo when `secret` and `in` is the terminal.
std::string readLine(std::istream& in, bool secret) {
  termios saved{};
  const bool hide =
      secret && &in == &std::cin && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
  if (hide) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  std::getline(in, line);
  if (hide) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  return line;
}

}  // namespace

int runSetupCommand(const std::vector<std::string>& raw, std::istream& in, std::ostream& out,
                    std::ostream& err) {
  auto parsed = parseSetupArgs(raw);
  if (!parsed.isOk()) {
    err << "ihost setup: " << parsed.status().message() << "\n" << kSetupUsage;
    return kExitUsage;
  }
  const SetupArgs& args = *parsed;
  if (args.help) {
    out << kSetupUsage;
    return kExitOk;
  }
  if (args.integration.empty() || args.tenant.empty()) {
    err << kSetupUsage;
    return kExitUsage;
  }
  config::Environment env = config::processEnvironment();
  std::string path = args.config;
  if (path.empty()) {
    auto it = env.find("IHOST_CONFIG");
    path = it != env.end() && !it->second.empty() ? it->second : "config/ihost.toml";
  }
  auto cfg = config::loadFile(path, env);
  if (!cfg.isOk()) {
    err << "ihost: invalid configuration:\n" << cfg.status().message() << "\n";
    return kExitConfig;
  }
  auto app = app::App::create(std::move(*cfg), env);
  if (!app.isOk()) {
    err << "ihost setup: cannot open the host: " << app.status().message() << "\n";
    return kExitFailure;
  }
  auto tenant = (*app)->tenancy().resolveTenant(args.tenant);
  if (!tenant.isOk()) {
    err << "ihost setup: " << tenant.status().message() << "\n";
    return kExitFailure;
  }
  runtime::Integration* integration = (*app)->runtime().find(args.integration);
  if (integration == nullptr) {
    err << "ihost setup: integration \"" << args.integration << "\" is not configured or unavailable\n";
    return kExitFailure;
  }
  if (integration->manifest().findAction("setup") == nullptr) {
    err << "ihost setup: integration \"" << args.integration << "\" has no setup workflow\n";
    return kExitFailure;
  }

  const std::map<std::string, std::string>& answers = args.answers;
  const bool interactive = !args.non_interactive;
  runtime::PromptFn prompt = [&](std::string_view prompt_json) -> Result<std::string> {
    const json p = json::parse(prompt_json, nullptr, false);
    const std::string key = p.is_object() ? p.value("key", "") : "";
    if (auto it = answers.find(key); it != answers.end()) return it->second;
    const std::string def = p.is_object() && p.contains("default") && p["default"].is_string()
                                ? p["default"].get<std::string>()
                                : std::string();
    if (!interactive) {
      if (!def.empty()) return def;
      return Status(StatusCode::kUnsupported, "no answer for \"" + key + "\": pass --set " + key + "=...");
    }
    out << p.value("message", key);
    if (p.contains("choices") && p["choices"].is_array()) out << " " << p["choices"].dump();
    if (!def.empty()) out << " [" << def << "]";
    out << ": " << std::flush;
    const bool secret = p.value("kind", "") == "secret";
    std::string line = readLine(in, secret);
    if (secret) out << "\n";
    if (line.empty()) line = def;
    if (line.empty()) return Status(StatusCode::kUnsupported, "no answer for \"" + key + "\"");
    return line;
  };

  json input = {{"tenant", tenant->id}, {"answers", json::object()}};
  for (const auto& [k, v] : answers)
    input["answers"][k] = v;
  runtime::CallResult result =
      (*app)->runtime().runAction(*integration, tenant->id, "setup", input.dump(), &prompt);
  if (!result.status.isOk()) {
    err << "ihost setup: " << result.status.message() << "\n";
    return kExitFailure;
  }
  const json summary = json::parse(result.result_json, nullptr, false);
  out << "setup of " << args.integration << " for tenant " << tenant->id << " finished\n";
  if (summary.is_object()) {
    for (const auto& step : summary.value("steps", json::array()))
      out << "  done: " << step.get<std::string>() << "\n";
    for (const auto& step : summary.value("next_steps", json::array()))
      out << "  next: " << step.get<std::string>() << "\n";
    out << summary.dump(2) << "\n";
  } else {
    out << result.result_json << "\n";
  }
  return kExitOk;
}

}  // namespace ih::cli
