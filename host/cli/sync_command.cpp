#include "cli/sync_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <ostream>

#include "app/app.h"
#include "cli/cli.h"
#include "config/config.h"
#include "events/events.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

namespace ih::cli {

namespace {

constexpr const char* kSyncHelp =
    "ihost sync run <integration> <job> [--tenant T] [--full | --since TIME] [--config FILE]\n"
    "  Runs the job now for tenant T (id or name), or for every connected tenant, and prints progress "
    "(pages,\n"
    "  rows, rows/s, elapsed: one live line on a terminal, a line every 10 s otherwise) and the final "
    "figures.\n"
    "  --full ignores the stored cursor (backfill). --since (unix seconds, 2024-05-01 or\n"
    "  2024-05-01T12:00:00Z) re-reads what was created since then, for jobs that take it (Stripe\n"
    "  transactions), leaving the cursor as it is. A run already going for a tenant\n"
    "  (e.g. in a running server) is reported as a conflict. Exit 1 when any run fails.\n";

struct SyncArgs {
  std::vector<std::string> positional;
  std::string config;
  std::string tenant;
  bool full = false;
  std::string since;
  bool help = false;
};

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace

int runSyncCommand(const std::vector<std::string>& raw, std::ostream& out, std::ostream& err) {
  SyncArgs args;
  for (size_t i = 1; i < raw.size(); ++i) {
    const std::string& a = raw[i];
    auto value = [&](std::string& into) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        into = a.substr(eq + 1);
        return true;
      }
      if (i + 1 >= raw.size()) return false;
      into = raw[++i];
      return true;
    };
    if (a == "--full") {
      args.full = true;
    } else if (a == "--help" || a == "-h") {
      args.help = true;
    } else if (a.rfind("--tenant", 0) == 0 && (a.size() == 8 || a[8] == '=')) {
      if (!value(args.tenant)) return err << "ihost: flag --tenant needs a value\n", kExitUsage;
    } else if (a.rfind("--config", 0) == 0 && (a.size() == 8 || a[8] == '=')) {
      if (!value(args.config)) return err << "ihost: flag --config needs a value\n", kExitUsage;
    } else if (a.rfind("--since", 0) == 0 && (a.size() == 7 || a[7] == '=')) {
      if (!value(args.since)) return err << "ihost: flag --since needs a value\n", kExitUsage;
    } else if (a.rfind("--", 0) == 0) {
      err << "ihost: unknown flag " << a << " for sync\n" << kSyncHelp;
      return kExitUsage;
    } else {
      args.positional.push_back(a);
    }
  }
  if (args.help) {
    out << kSyncHelp;
    return kExitOk;
  }
  if (args.positional.size() != 3 || args.positional[0] != "run") {
    err << kSyncHelp;
    return kExitUsage;
  }
  const std::string& integration_id = args.positional[1];
  const std::string& job = args.positional[2];
  scheduler::RunRequest request(args.full);
  if (!args.since.empty()) {
    auto since = scheduler::parseSince(args.since);
    if (!since.isOk()) return err << "ihost: --since: " << since.status().message() << "\n", kExitUsage;
    request.since = *since;
  }

  config::Environment env = config::processEnvironment();
  if (args.config.empty()) {
    auto it = env.find("IHOST_CONFIG");
    args.config = it != env.end() && !it->second.empty() ? it->second : "config/ihost.toml";
  }
  auto cfg = config::loadFile(args.config, env);
  if (!cfg.isOk()) {
    err << "ihost: invalid configuration:\n" << cfg.status().message() << "\n";
    return kExitConfig;
  }
  log::setLevel(log::Level::kWarn);
  auto created = app::App::create(std::move(*cfg), env);
  if (!created.isOk()) {
    err << "ihost: cannot start: " << created.status().message() << "\n";
    return created.status().code() == StatusCode::kInvalidArgument ? kExitConfig : kExitFailure;
  }
  std::unique_ptr<app::App> host = std::move(*created);
  log::setLevel(log::Level::kWarn);  // App::create applies [log] level; keep the CLI output readable

  // The App's own scheduler, not started: no schedule runs, only the runs asked for here.
  scheduler::Scheduler* sched = &host->scheduler();
  if (!sched->knowsIntegration(integration_id)) {
    err << "ihost: no available integration \"" << integration_id << "\" (see `ihost config check`)\n";
    return kExitFailure;
  }

  // Tenants: the one named, or every connected one.
  std::vector<store::Tenant> tenants;
  if (!args.tenant.empty()) {
    auto t = host->store().getTenant(args.tenant);
    if (!t.isOk()) t = host->store().findTenantByName(args.tenant);
    if (!t.isOk()) {
      err << "ihost: no tenant with id or name \"" << args.tenant << "\"\n";
      return kExitFailure;
    }
    tenants.push_back(*t);
  } else {
    auto ids = host->store().listActiveTenants(integration_id);
    if (!ids.isOk()) {
      err << "ihost: " << ids.status().message() << "\n";
      return kExitFailure;
    }
    for (const auto& id : *ids) {
      auto t = host->store().getTenant(id);
      if (t.isOk()) tenants.push_back(*t);
    }
    if (tenants.empty()) {
      err << "ihost: no tenant is connected to \"" << integration_id << "\"\n";
      return kExitFailure;
    }
  }

  // Live progress only when writing to a terminal.
  const bool terminal = &out == &std::cout && ::isatty(STDOUT_FILENO) == 1;
  int failures = 0;
  for (const auto& tenant : tenants) {
    const std::string who = tenant.name + " (" + tenant.id + ")";
    out << integration_id << "/" << job << " for " << who << (args.full ? " [full]" : "")
        << (request.since ? " [since " + std::to_string(*request.since) + "]" : "") << " …" << std::endl;
    // On a terminal one line rewritten in place every second; otherwise (a log, a pipe) a plain line every
    // kPlainEvery seconds.
    constexpr double kPlainEvery = 10;
    double printed_at = 0;
    bool line_open = false;
    auto progress = [&](const scheduler::Progress& p) {
      const std::string line = "  " + fixed(p.seconds, 1) + " s: " + std::to_string(p.pages) + " pages, " +
                               std::to_string(p.rows) + " rows, " +
                               (p.seconds > 0 ? fixed(static_cast<double>(p.rows) / p.seconds, 0) : "0") +
                               " rows/s";
      if (terminal) {
        out << "\r" << line << "\x1b[K" << std::flush;  // erase what a longer earlier line left
        line_open = true;
      } else if (p.seconds - printed_at >= kPlainEvery) {
        printed_at = p.seconds;
        out << line << std::endl;
      }
    };
    auto run = sched->runNow(tenant.id, integration_id, job, scheduler::Trigger::kCli, request, progress);
    if (!run.isOk()) {
      ++failures;
      err << "  cannot run: " << run.status().message() << "\n";
      continue;
    }
    if (line_open) out << "\r\x1b[K";  // the final line replaces the live one
    const double seconds =
        run->finished_at ? static_cast<double>(*run->finished_at - run->started_at) / 1000 : 0;
    const std::string rate = seconds > 0 ? fixed(static_cast<double>(run->rows) / seconds, 0) : "-";
    out << "  run " << run->id << " " << run->status << ": " << run->pages << " pages, " << run->rows
        << " rows in " << fixed(seconds, 2) << " s (" << rate << " rows/s)" << std::endl;
    if (run->status != "succeeded") {
      ++failures;
      err << "  error: " << run->error << "\n";
    }
  }
  host->stop();
  return failures == 0 ? kExitOk : kExitFailure;
}

}  // namespace ih::cli
