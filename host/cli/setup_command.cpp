#include "cli/setup_command.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "app/app.h"
#include "cli/cli.h"
#include "common/json_parse.h"
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
    "  catalog=all|none|starter,pro, confirm_key=yes); --non-interactive fails instead of asking.\n"
    "  Interactive prompts show their default in [brackets] (Enter accepts it); secrets are not echoed.\n"
    "  Ctrl-C stops setup with exit code 130; finished steps stay and a re-run is safe.\n";

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

// Ctrl-C handling while setup owns the terminal. The plugin's setup call cannot be unwound from a prompt (it
// is inside the plugin, across the C ABI, and a refused prompt falls back to its default), so SIGINT ends the
// process: the handler restores the terminal mode (echo) if a secret prompt turned it off, prints why and
// _exits with kExitInterrupted. Everything stored so far was committed by SQLite transactions; nothing is
// half-written. Only async-signal-safe calls in the handler.
volatile sig_atomic_t g_echo_hidden = 0;  // 1 while a secret prompt has echo off (g_saved_termios valid)
termios g_saved_termios{};
int g_guard_depth = 0;  // nesting of InterruptGuard (main thread only)
struct sigaction g_previous_sigint {};

constexpr char kInterruptedMessage[] =
    "\nihost setup: interrupted (Ctrl-C); setup stopped before finishing (exit code 130).\n"
    "  Steps already done stay done (e.g. products and prices at the provider); nothing is half-stored.\n"
    "  Run the same command again to finish: setup is safe to repeat.\n";

void onInterrupt(int) {
  if (g_echo_hidden) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
  ssize_t ignored = write(STDERR_FILENO, kInterruptedMessage, sizeof kInterruptedMessage - 1);
  (void)ignored;
  _exit(kExitInterrupted);
}

// Installs the SIGINT handler for its lifetime when stdin is a terminal (nested guards are no-ops).
class InterruptGuard {
 public:
  InterruptGuard() {
    if (!isatty(STDIN_FILENO) || g_guard_depth++ > 0) return;
    struct sigaction sa {};
    sa.sa_handler = onInterrupt;
    sigemptyset(&sa.sa_mask);
    active_ = sigaction(SIGINT, &sa, &g_previous_sigint) == 0;
  }
  ~InterruptGuard() {
    if (active_) sigaction(SIGINT, &g_previous_sigint, nullptr);
    if (isatty(STDIN_FILENO) && g_guard_depth > 0) --g_guard_depth;
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  bool active_ = false;
};

// Turns terminal echo off for its lifetime when `secret` and `in` is the terminal. Echo goes off before the
// prompt is printed, so nothing typed after the prompt appears is ever echoed.
class EchoOff {
 public:
  EchoOff(std::istream& in, bool secret) {
    if (!secret || &in != &std::cin || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
    g_saved_termios = saved_;
    g_echo_hidden = 1;
    hidden_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    if (!hidden_) g_echo_hidden = 0;
  }
  ~EchoOff() {
    if (!hidden_) return;
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    g_echo_hidden = 0;
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool hidden_ = false;
};

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

constexpr int kMaxAttempts = 3;

}  // namespace

Result<std::string> askOnTerminal(std::string_view prompt_json, std::istream& in, std::ostream& out) {
  InterruptGuard interrupt;
  const json p = ih::parseJsonOrDiscarded(prompt_json);
  if (!p.is_object()) return Status::invalidArgument("prompt is not a JSON object");
  const std::string key = p.value("key", "");
  const std::string kind = p.value("kind", "text");
  const std::string def =
      p.contains("default") && p["default"].is_string() ? p["default"].get<std::string>() : std::string();
  const bool secret = kind == "secret";
  const bool confirm = kind == "confirm";
  const bool def_yes = confirm && (lower(def) == "yes" || lower(def) == "y" || lower(def) == "true");
  const bool def_no = confirm && (lower(def) == "no" || lower(def) == "n" || lower(def) == "false");

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::string line;
    bool got = false;
    {
      EchoOff echo(in, secret);
      out << p.value("message", key);
      if (p.contains("choices") && p["choices"].is_array() && !p["choices"].empty()) {
        std::string list;
        for (const auto& c : p["choices"])
          list += (list.empty() ? "" : "/") + (c.is_string() ? c.get<std::string>() : c.dump());
        out << " (" << list << ")";
      }
      if (confirm) {
        out << (def_yes ? " [Y/n]" : def_no ? " [y/N]" : " [y/n]");
      } else if (secret) {
        out << (def.empty() ? " (input hidden)" : " (input hidden; Enter keeps the default)");
      } else if (!def.empty()) {
        out << " [" << def << "]";
      }
      out << ": " << std::flush;
      got = static_cast<bool>(std::getline(in, line));
      if (secret) out << "\n" << std::flush;  // the operator's Enter was not echoed
    }
    if (!got) {
      if (&in != &std::cin || !isatty(STDIN_FILENO))
        return Status(StatusCode::kUnsupported, "input ended before an answer for \"" + key + "\"");
      // Ctrl-D on the terminal: the operator stopped; the plugin must not go on with defaults.
      out << "\n" << std::flush;
      return Status(StatusCode::kCancelled, "input ended at prompt \"" + key +
                                                "\"; setup stopped before finishing. Run it again, or use "
                                                "--non-interactive --set " +
                                                key + "=...");
    }
    line = secret ? line : trim(line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) line = def;
    if (confirm && !line.empty()) {
      const std::string a = lower(line);
      if (a == "y" || a == "yes" || a == "true" || a == "1") return std::string("yes");
      if (a == "n" || a == "no" || a == "false" || a == "0") return std::string("no");
      out << "  please answer y or n\n" << std::flush;
      continue;
    }
    if (!line.empty()) return line;
    out << "  an answer is required\n" << std::flush;
  }
  return Status(StatusCode::kCancelled,
                "no answer for \"" + key + "\" after " + std::to_string(kMaxAttempts) + " attempts");
}

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
  // Prompts belong on the operator's terminal: with stdout redirected (`ihost setup … > setup.log`) they go
  // to stderr, as shells' `read -p` does, so the operator still sees what is asked.
  std::ostream& prompt_out = &out == &std::cout && !isatty(STDOUT_FILENO) ? err : out;
  runtime::PromptFn prompt = [&](std::string_view prompt_json) -> Result<std::string> {
    const json p = ih::parseJsonOrDiscarded(prompt_json);
    const std::string key = p.is_object() ? p.value("key", "") : "";
    if (auto it = answers.find(key); it != answers.end()) return it->second;
    const std::string def = p.is_object() && p.contains("default") && p["default"].is_string()
                                ? p["default"].get<std::string>()
                                : std::string();
    if (!interactive) {
      if (!def.empty()) return def;
      return Status(StatusCode::kUnsupported, "no answer for \"" + key + "\": pass --set " + key + "=...");
    }
    return askOnTerminal(prompt_json, in, prompt_out);
  };

  std::optional<InterruptGuard> interrupt;  // Ctrl-C: message + exit 130, also between prompts
  if (interactive) interrupt.emplace();
  json input = {{"tenant", tenant->id}, {"answers", json::object()}};
  for (const auto& [k, v] : answers)
    input["answers"][k] = v;
  runtime::CallResult result =
      (*app)->runtime().runAction(*integration, tenant->id, "setup", input.dump(), &prompt);
  if (!result.status.isOk()) {
    err << "ihost setup: " << result.status.message() << "\n";
    return kExitFailure;
  }
  const json summary = ih::parseJsonOrDiscarded(result.result_json);
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
