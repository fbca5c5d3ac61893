// Runtime::reloadPlugins while calls run (built and run under ThreadSanitizer in CI, scripts/sanitize.sh): four
// threads call the real swap_probe plugin without pause while the main thread swaps v1 and v2 in and out of the
// plugins directory and reloads. Every call succeeds and is answered by v1 or v2; retired instances are
// destroyed by their last call, never under one.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "loader/registry.h"
#include "runtime/runtime.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;

void install(const std::string& from, const fs::path& to) {
  const fs::path tmp = to.string() + ".new";
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, to);
}

}  // namespace

TEST_CASE("reloadPlugins under concurrent calls: every call answered by exactly one version",
          "[runtime][hot_swap]") {
  const std::string v1 = std::string(IH_TEST_PLUGIN_DIR) + "/swap_probe/v1/libswap_probe.so";
  const std::string v2 = std::string(IH_TEST_PLUGIN_DIR) + "/swap_probe/v2/libswap_probe.so";
  ih::test::TempDir dir;
  const fs::path so = fs::path(dir.path()) / "libswap_probe.so";
  install(v1, so);

  ih::config::Config config;
  config.plugins.dir = dir.path().string();
  ih::config::IntegrationConfig cfg;
  cfg.id = "probe";
  cfg.plugin = "swap_probe";
  cfg.settings_json = R"({"webhook_secret":"swap-probe-secret"})";
  config.integrations.push_back(cfg);

  ih::runtime::Runtime runtime(ih::runtime::Dependencies{});
  auto plugin = ih::loader::Registry::loadFile(so.string(), "");
  REQUIRE(plugin.isOk());
  REQUIRE(runtime.addIntegration(config, cfg, *plugin).isOk());
  ih::runtime::Integration* in = runtime.find("probe");
  REQUIRE(in != nullptr);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      while (!stop.load()) {
        auto r = runtime.runAction(*in, "t1", "version", "{}");
        if (r.status.isOk() &&
            (r.result_json == R"({"version":"1.0.0"})" || r.result_json == R"({"version":"2.0.0"})")) {
          ++ok;
        } else {
          ++bad;
        }
      }
    });
  }
  int reloaded = 0;
  for (int round = 0; round < 12; ++round) {
    install(round % 2 == 0 ? v2 : v1, so);
    for (const auto& o : runtime.reloadPlugins(config))
      if (o.status == "reloaded") ++reloaded;
  }
  stop = true;
  for (auto& t : callers)
    t.join();
  CHECK(reloaded == 12);
  CHECK(bad.load() == 0);
  CHECK(ok.load() > 0);
  CHECK(in->manifest().version == "1.0.0");  // the last round installed v1
  CHECK(in->reloads() == 12);
  CHECK(in->previousVersion() == "2.0.0");
  runtime.shutdown();
}
