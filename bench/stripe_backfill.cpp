// bench_stripe_backfill: the Stripe `transactions` sync job end to end.
//
// A child process runs the Stripe double (so the host's peak RSS below is the host's alone) seeded with N
// balance transactions for one key; this process runs the host in-process (App: real SQLite file, real
// libstripe_byok.so through the loader, real HTTP to the double), connects a tenant and backfills through the
// scheduler exactly as `ihost sync run` does. Prints rows, seconds, rows/s and peak RSS, checks that the
// records table holds exactly N distinct transactions, then adds M rows to the double and runs the
// incremental job, printing what it fetched.
//   bench_stripe_backfill [--rows N] [--new-rows M] [--rate R] [--no-expand] [--no-verify]
//                         [--postgres URL [--replicas N]]
//     --rate R      the plugin's rate_limit_per_s (default 100000: the double is not rate limited; 0 = the
//                   host default, Stripe's documented 25 req/s for test keys)
//     --no-expand   sync_expand_sources = false (no expand[]=data.source)
//     --dir DIR     parent of the host's temporary data directory (default /tmp; /dev/shm takes the disk out)
//     --postgres URL  the host on PostgreSQL ([storage] backend = "postgres"; an empty database or schema)
//     --replicas N  N hosts (replicas) in this process on the --postgres database, N tenants with one key:
//                   the double holds rows/N transactions, and each replica backfills one tenant at
//                   the same time (N x rows/N records in all)
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/app.h"
#include "bench_host.h"
#include "events/events.h"
#include "log/log.h"
#include "records/records.h"
#include "scheduler/scheduler.h"
#include "store/record_store.h"
#include "stripe_double/stripe_double.h"
#include "tenancy/tenancy.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr char kKey[] = "sk_test_ihostbenchbackfill000001";
constexpr char kPk[] = "pk_test_ihostbenchbackfill000001";

struct Args {
  int64_t rows = 1000000;
  int64_t new_rows = 1000;
  double rate = 100000;
  bool expand = true;
  bool verify = true;
  std::string dir = "/tmp";  // where the host's data directory (SQLite file) is created
  std::string postgres;      // --postgres URL
  int replicas = 1;
};

[[noreturn]] void usage() {
  std::fprintf(
      stderr,
      "usage: bench_stripe_backfill [--rows N] [--new-rows M] [--rate R] [--no-expand] [--no-verify]\n"
      "       [--dir DIR] [--postgres URL [--replicas N]]\n");
  std::exit(2);
}

Args parseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (arg == "--rows") {
      a.rows = ih::bench::intFlag(arg, next(), 1, int64_t{1} << 40);
    } else if (arg == "--new-rows") {
      a.new_rows = ih::bench::intFlag(arg, next(), 0, int64_t{1} << 40);
    } else if (arg == "--rate") {
      a.rate = ih::bench::numberFlag(arg, next(), 0, 1e9);
    } else if (arg == "--no-expand") {
      a.expand = false;
    } else if (arg == "--dir") {
      a.dir = next();
    } else if (arg == "--no-verify") {
      a.verify = false;
    } else if (arg == "--postgres") {
      a.postgres = next();
    } else if (arg == "--replicas") {
      a.replicas = static_cast<int>(ih::bench::intFlag(arg, next(), 1, 16));
    } else {
      usage();
    }
  }
  if (a.replicas > 1 && a.postgres.empty()) {
    std::fprintf(stderr, "--replicas needs --postgres (replicas share a PostgreSQL database)\n");
    std::exit(2);
  }
  return a;
}

double peakRssMb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

double cpuSeconds(int who) {
  struct rusage ru {};
  getrusage(who, &ru);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// Child: serves the double until the parent closes the pipe. Writes the port to `port_fd`.
[[noreturn]] void runDouble(int port_fd, int wait_fd) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  ih::stripe_double::Options o;
  o.api_keys = {kKey};
  o.threads = 2;
  auto d = ih::stripe_double::StripeDouble::start(o);
  int port = d.isOk() ? (*d)->port() : -1;
  if (write(port_fd, &port, sizeof port) != sizeof port) std::_Exit(1);
  close(port_fd);
  char c;
  while (read(wait_fd, &c, 1) > 0) {
  }
  if (d.isOk()) (*d)->stop();
  std::_Exit(0);
}

bool seed(httplib::Client& stripe, int64_t count, int64_t start, double* seconds) {
  const auto t0 = Clock::now();
  std::string body = "count=" + std::to_string(count) + "&spacing_s=1&amount=2000";
  if (start > 0) body += "&start=" + std::to_string(start);
  auto res = stripe.Post("/_double/seed/balance_transactions", body, "application/x-www-form-urlencoded");
  *seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!res || res->status != 200) {
    std::fprintf(stderr, "seeding the double failed: %s\n", res ? res->body.c_str() : "no answer");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parseArgs(argc, argv);

  // The double lives in a child forked before any thread exists.
  int port_pipe[2], wait_pipe[2];
  if (pipe(port_pipe) != 0 || pipe(wait_pipe) != 0) return 1;
  const pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    close(port_pipe[0]);
    close(wait_pipe[1]);
    runDouble(port_pipe[1], wait_pipe[0]);
  }
  close(port_pipe[1]);
  close(wait_pipe[0]);
  int port = -1;
  if (read(port_pipe[0], &port, sizeof port) != sizeof port || port <= 0) {
    std::fprintf(stderr, "the Stripe double did not start\n");
    return 1;
  }
  const std::string double_url = "http://127.0.0.1:" + std::to_string(port);
  httplib::Client stripe(double_url);
  stripe.set_read_timeout(std::chrono::seconds(120));
  double seed_s = 0;
  const int n = args.replicas;
  const int64_t per_tenant = args.rows / n;  // each tenant backfills the whole (one) account
  if (!seed(stripe, per_tenant, 0, &seed_s)) return 1;
  std::printf("double: %lld balance transactions seeded in %.2f s (child process %d)\n",
              static_cast<long long>(per_tenant), seed_s, static_cast<int>(child));

  // The hosts, as `ihost serve` would run them: one, or N replicas on one PostgreSQL database sharing the
  // first one's vault key ring.
  std::vector<std::filesystem::path> dirs;
  std::vector<std::unique_ptr<ih::app::App>> apps;
  for (int k = 0; k < n; ++k) {
    std::string tmpl = args.dir + "/ih_bench_backfill_XXXXXX";
    const char* made_dir = mkdtemp(tmpl.data());
    if (made_dir == nullptr) {
      std::fprintf(stderr, "cannot create a directory under %s\n", args.dir.c_str());
      return 1;
    }
    dirs.emplace_back(made_dir);
    if (k > 0) std::filesystem::copy_file(dirs[0] / "vault.keys", dirs[k] / "vault.keys");
    std::ostringstream toml;
    toml << "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\n"
         << (args.postgres.empty() ? std::string("path = \"ihost.db\"\n")
                                   : "backend = \"postgres\"\nurl = \"" + args.postgres +
                                         "\"\nreplica_id = \"bench-" + std::to_string(k) + "\"\n")
         << "\n[vault]\nkey_file = \"vault.keys\"\n\n[plugins]\ndir = \"" << IH_BENCH_PLUGIN_DIR << "\"\n\n"
         << "[log]\nlevel = \"warn\"\n\n[outbound]\nallow_networks = "
            "[\"127.0.0.0/8\"]\n\n[integrations.stripe]\nplugin = \"stripe_byok\"\napi_base_url = \""
         << double_url << "\"\nrate_limit_per_s = " << args.rate
         << "\nsync_expand_sources = " << (args.expand ? "true" : "false")
         << "\n\n[integrations.stripe.jobs.transactions]\nevery = \"365d\"\n"
         << "[integrations.stripe.jobs.catalog]\nevery = \"365d\"\n"
         << "[integrations.stripe.jobs.reconcile_events]\nevery = \"365d\"\n";
    apps.push_back(ih::bench::startHost(dirs[k], toml.str()));
    if (!apps.back()) return 1;
  }
  ih::log::setLevel(ih::log::Level::kWarn);
  std::vector<std::string> tenants;  // tenant k is backfilled by replica k
  for (int k = 0; k < n; ++k) {
    auto tenant = apps[0]->tenancy().createTenant("bench-" + std::to_string(k));
    if (!tenant.isOk()) return 1;
    tenants.push_back(tenant->tenant.id);
    httplib::Client host(apps[k]->baseUrl());
    json body = {{"secret_key", kKey}, {"publishable_key", kPk}};
    auto res = host.Post("/api/integrations/stripe/connect",
                         {{"Authorization", "Bearer " + tenant->first_key.plaintext}}, body.dump(),
                         "application/json");
    if (!res || res->status != 200) {
      std::fprintf(stderr, "connect failed: %s\n", res ? res->body.c_str() : "no answer");
      return 1;
    }
  }
  const std::string& tenant_id = tenants[0];
  // The App's scheduler, as `ihost sync run` uses it.
  ih::scheduler::Scheduler* scheduler = &apps[0]->scheduler();
  std::printf("host: peak RSS before the backfill %.1f MB (%d host%s, %s)\n", peakRssMb(), n,
              n > 1 ? "s" : "", args.postgres.empty() ? "SQLite" : "PostgreSQL");
  std::fflush(stdout);

  const double cpu0 = cpuSeconds(RUSAGE_SELF);
  const auto t0 = Clock::now();
  std::vector<ih::Result<ih::store::JobRun>> runs(n, ih::Status::internal("not run"));
  {
    std::vector<std::thread> threads;
    for (int k = 0; k < n; ++k) {
      threads.emplace_back([&, k] {
        runs[k] = apps[k]->scheduler().runNow(tenants[k], "stripe", "transactions",
                                              ih::scheduler::Trigger::kCli, true);
      });
    }
    for (auto& t : threads)
      t.join();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpuSeconds(RUSAGE_SELF) - cpu0;
  int64_t rows = 0, pages = 0;
  for (auto& run : runs) {
    if (!run.isOk() || run->status != "succeeded") {
      std::fprintf(stderr, "backfill failed: %s\n",
                   run.isOk() ? run->error.c_str() : run.status().message().c_str());
      return 1;
    }
    rows += run->rows;
    pages += run->pages;
  }
  std::printf(
      "backfill: %lld rows, %lld pages in %.2f s = %.0f rows/s (host CPU %.1f s); peak RSS %.1f MB "
      "(expand=%s, rate=%g/s)\n",
      static_cast<long long>(rows), static_cast<long long>(pages), seconds,
      static_cast<double>(rows) / seconds, cpu, peakRssMb(), args.expand ? "data.source" : "none", args.rate);
  std::fflush(stdout);

  int exit_code = 0;
  if (args.verify) {
    for (int k = 0; k < n; ++k) {
      std::unordered_set<std::string> ids;
      ids.reserve(static_cast<size_t>(per_tenant));
      int64_t after = 0, changes = 0;
      for (;;) {
        auto page =
            apps[0]->records().recordStore().listChanges(tenants[k], "stripe", "transaction", after, 100000);
        if (!page.isOk()) return 1;
        if (page->empty()) break;
        for (const auto& r : *page)
          ids.insert(r.id);
        changes += static_cast<int64_t>(page->size());
        after = page->back().seq;
      }
      const bool exact = changes == per_tenant && static_cast<int64_t>(ids.size()) == per_tenant;
      std::printf("verify (tenant %d): %lld records, %zu distinct ids: %s\n", k,
                  static_cast<long long>(changes), ids.size(), exact ? "exact" : "MISMATCH");
      if (!exact) exit_code = 1;
    }
  }

  if (args.new_rows > 0) {
    // New activity after the backfill, one second after the newest row.
    auto now = stripe.Post("/_double/clock", "", "application/x-www-form-urlencoded");
    int64_t start = now && now->status == 200 ? json::parse(now->body).value("now", int64_t{0}) + 1 : 0;
    if (!seed(stripe, args.new_rows, start, &seed_s)) return 1;
    const auto t1 = Clock::now();
    auto inc = scheduler->runNow(tenant_id, "stripe", "transactions", ih::scheduler::Trigger::kCli, false);
    const double inc_s = std::chrono::duration<double>(Clock::now() - t1).count();
    if (!inc.isOk() || inc->status != "succeeded") {
      std::fprintf(stderr, "incremental run failed: %s\n",
                   inc.isOk() ? inc->error.c_str() : inc.status().message().c_str());
      return 1;
    }
    std::printf(
        "incremental: %lld new rows in the double -> fetched %lld rows in %lld pages in %.2f s "
        "(created >= high watermark; the watermark second's rows are re-read without a change)\n",
        static_cast<long long>(args.new_rows), static_cast<long long>(inc->rows),
        static_cast<long long>(inc->pages), inc_s);
  }
  std::printf("peak RSS of this process after the checks (incl. the verify pass): %.1f MB\n", peakRssMb());
  for (auto& app : apps) {
    app->scheduler().stop();
    app->stop();
  }
  apps.clear();
  close(wait_pipe[1]);
  waitpid(child, nullptr, 0);
  std::error_code ec;
  for (const auto& d : dirs)
    std::filesystem::remove_all(d, ec);
  return exit_code;
}
