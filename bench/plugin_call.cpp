// bench_plugin_call: the cost of one plugin call through the call gate: host -> plugin -> host (the plugin
// answers with the `respond` host service) -> host, for a handler that does nothing else. The plugin is the
// call gate's test fixture (tests/fixtures/fixture_gate.cpp, fixture_gate_parallel), loaded through the real
// loader and ABI checks: in process, or with --isolated in an `ihost plugin-runner` child (host/isolation),
// where the call and the respond service each cross the socket pair.
//   bench_plugin_call [--calls N] [--threads T] [--isolated]
// Prints nanoseconds per call (wall clock per thread, and CPU per call: the host's plus the runner's).
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "loader/registry.h"
#include "log/log.h"
#include "runtime/runtime.h"

namespace {

double cpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// User + system CPU seconds of another process (an isolated plugin's runner), from /proc; 0 when unknown.
double cpuSecondsOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (pid <= 0 || !std::getline(in, line)) return 0;
  const size_t close = line.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; fields >> field && i <= 15; ++i)
    if (i == 14 || i == 15) ticks += std::strtod(field.c_str(), nullptr);  // utime, stime
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  long calls = 1000000;
  int threads = 1;
  bool isolated = false;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--isolated") isolated = true;
    if (i + 1 >= argc) continue;
    if (k == "--calls") calls = std::max(1L, std::strtol(argv[i + 1], nullptr, 10));
    if (k == "--threads") threads = std::max(1, static_cast<int>(std::strtol(argv[i + 1], nullptr, 10)));
  }
  ih::log::setLevel(ih::log::Level::kError);
  ih::runtime::Dependencies deps;
  deps.isolation.runner_path = IH_BENCH_IHOST;
  ih::runtime::Runtime runtime(deps);
  auto plugin =
      ih::loader::Registry::loadFile(std::string(IH_BENCH_FIXTURE_DIR) + "/libfixture_gate_parallel.so", "");
  if (!plugin.isOk()) {
    std::fprintf(stderr, "cannot load the fixture plugin: %s\n", plugin.status().message().c_str());
    return 1;
  }
  ih::config::Config config;
  ih::config::IntegrationConfig integration_config;
  integration_config.id = "bench";
  integration_config.plugin = (*plugin)->manifest().name;
  integration_config.settings_json = "{}";
  if (isolated) integration_config.isolation = "process";
  if (auto st = runtime.addIntegration(config, integration_config, *plugin); !st.isOk()) {
    std::fprintf(stderr, "cannot add the integration: %s\n", st.message().c_str());
    return 1;
  }
  ih::runtime::Integration* integration = runtime.find("bench");
  const std::string request = R"({"method":"POST","path":"/work"})";
  auto run = [&](long n, long* failures) {
    for (long i = 0; i < n; ++i) {
      ih::runtime::CallResult r = runtime.route(*integration, "t1", request, "");
      if (!r.status.isOk() || r.http_status != 200) ++*failures;
    }
  };
  long warm_failures = 0;
  run(10000, &warm_failures);

  std::vector<long> failures(static_cast<size_t>(threads), 0);
  std::vector<std::thread> pool;
  const int runner_pid = integration->runner() ? integration->runner()->pid : 0;
  const double cpu0 = cpuSeconds() + cpuSecondsOf(runner_pid);
  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back(run, calls, &failures[static_cast<size_t>(t)]);
  for (auto& th : pool)
    th.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpuSeconds() + cpuSecondsOf(runner_pid) - cpu0;
  long failed = warm_failures;
  for (long f : failures)
    failed += f;
  const double total = static_cast<double>(calls) * threads;
  const std::string where =
      isolated ? "isolated (runner pid " + std::to_string(runner_pid) + ")" : "in process";
  std::printf("plugin call (route -> respond), %s, %d thread(s) x %ld calls\n", where.c_str(), threads,
              calls);
  std::printf("  %.0f ns per call per thread (wall), %.0f ns CPU per call, %.2f M calls/s in all\n",
              1e9 * wall / static_cast<double>(calls), 1e9 * cpu / total, total / wall / 1e6);
  std::printf("  failed calls: %ld\n", failed);
  runtime.shutdown();
  return failed == 0 ? 0 : 1;
}
