// Isolated integrations in the runtime (built and run under ThreadSanitizer in CI, scripts/sanitize.sh): calls
// from four threads into a plugin running in an `ihost plugin-runner` child while its runner is killed twice
// (each call answers or fails as plugin_unavailable, never hangs; the runner comes back), and a hot reload of an
// isolated integration (the new version gets a new runner, the old one is stopped); and the framed protocol
// against a hostile peer's bytes.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "isolation/protocol.h"
#include "isolation/runner.h"
#include "runtime/runtime.h"
#include "support/eventually.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;

ih::runtime::Dependencies isolatedDeps() {
  ih::runtime::Dependencies deps;
  deps.isolation.runner_path = IH_IHOST_BIN;
  return deps;
}

}  // namespace

TEST_CASE("isolated runtime: concurrent calls while the runner is killed", "[runtime][isolation]") {
  const std::string so = std::string(IH_TEST_PLUGIN_DIR) + "/fault_inject/libfault_inject.so";
  ih::runtime::Runtime runtime(isolatedDeps());
  ih::config::Config config;
  ih::config::IntegrationConfig cfg;
  cfg.id = "faults";
  cfg.plugin = "fault_inject";
  cfg.isolation = "process";
  auto plugin = ih::isolation::probe(so, "", isolatedDeps().isolation);
  REQUIRE(plugin.isOk());
  CHECK((*plugin)->remote());
  CHECK((*plugin)->manifest().name == "fault_inject");
  REQUIRE(runtime.addIntegration(config, cfg, *plugin).isOk());
  ih::runtime::Integration* in = runtime.find("faults");
  REQUIRE(in != nullptr);
  REQUIRE(in->runner());
  const int first_pid = in->runner()->pid;
  CHECK(first_pid > 0);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      while (!stop.load()) {
        auto r = runtime.runAction(*in, "t1", "ok", "{}");
        if (r.status.isOk()) {
          ++ok;
        } else if (r.status.code() == ih::StatusCode::kPluginUnavailable) {
          ++unavailable;
        } else {
          ++other;
        }
      }
    });
  }
  for (int kill = 0; kill < 2; ++kill) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto status = in->runner();
    if (status && status->up) ::kill(status->pid, SIGKILL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (auto& t : callers)
    t.join();
  INFO("ok " << ok << " unavailable " << unavailable << " other " << other);
  CHECK(other.load() == 0);
  CHECK(ok.load() > 0);
  CHECK(ih::test::eventually([&] { return runtime.runAction(*in, "t1", "ok", "{}").status.isOk(); },
                             std::chrono::seconds(10), std::chrono::milliseconds(50)));
  auto status = in->runner();
  REQUIRE(status);
  CHECK(status->up);
  CHECK(status->pid != first_pid);
  CHECK(status->restarts >= 1);
  CHECK(status->last_exit.find("SIGKILL") != std::string::npos);
  runtime.shutdown();
}

TEST_CASE("isolated runtime: a hot reload starts the new version in a new runner", "[runtime][isolation]") {
  const std::string v1 = std::string(IH_TEST_PLUGIN_DIR) + "/swap_probe/v1/libswap_probe.so";
  const std::string v2 = std::string(IH_TEST_PLUGIN_DIR) + "/swap_probe/v2/libswap_probe.so";
  ih::test::TempDir dir;
  const fs::path so = fs::path(dir.path()) / "libswap_probe.so";
  fs::copy_file(v1, so);

  ih::config::Config config;
  config.plugins.dir = dir.path().string();
  config.plugins.isolation = "process";
  ih::config::IntegrationConfig cfg;
  cfg.id = "probe";
  cfg.plugin = "swap_probe";
  cfg.settings_json = R"({"webhook_secret":"swap-probe-secret"})";
  config.integrations.push_back(cfg);

  ih::runtime::Runtime runtime(isolatedDeps());
  auto plugin = ih::isolation::probe(so.string(), "", isolatedDeps().isolation);
  REQUIRE(plugin.isOk());
  REQUIRE(runtime.addIntegration(config, cfg, *plugin).isOk());
  ih::runtime::Integration* in = runtime.find("probe");
  REQUIRE(in != nullptr);
  CHECK(in->isolated());
  CHECK(runtime.runAction(*in, "t1", "version", "{}").result_json == R"({"version":"1.0.0"})");
  const int v1_pid = in->runner()->pid;

  const fs::path tmp = so.string() + ".new";
  fs::copy_file(v2, tmp);
  fs::rename(tmp, so);
  int reloaded = 0;
  for (const auto& o : runtime.reloadPlugins(config))
    if (o.status == "reloaded") ++reloaded;
  CHECK(reloaded == 1);
  CHECK(runtime.runAction(*in, "t1", "version", "{}").result_json == R"({"version":"2.0.0"})");
  REQUIRE(in->runner());
  CHECK(in->runner()->pid != v1_pid);
  // The v1 runner was asked to stop once its last call ended.
  CHECK(ih::test::eventually([&] { return ::kill(v1_pid, 0) != 0; }, std::chrono::seconds(5)));
  runtime.shutdown();
}

TEST_CASE("isolation protocol: frames round-trip, and a hostile peer's bytes are refused before allocation",
          "[runtime][isolation]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  ih::isolation::Channel a(sv[0]);
  ih::isolation::Channel b(sv[1]);

  ih::isolation::Frame sent;
  sent.kind = ih::isolation::Kind::kService;
  sent.op = 7;
  sent.call = 0x0102030405060708ULL;
  sent.req = 42;
  sent.num = -5;
  sent.parts = {"", std::string("\0binary\xff", 8), std::string(100000, 'x')};
  std::thread writer([&] { CHECK(a.send(sent)); });
  auto got = b.receive();
  writer.join();
  REQUIRE(got.isOk());
  CHECK(got->kind == sent.kind);
  CHECK(got->op == 7);
  CHECK(got->call == sent.call);
  CHECK(got->req == 42);
  CHECK(got->num == -5);
  CHECK(got->parts == sent.parts);

  // Too many parts never leave the sender.
  ih::isolation::Frame crowded;
  crowded.parts.assign(ih::isolation::kMaxParts + 1, "p");
  CHECK_FALSE(a.send(crowded));

  auto raw = [&](const std::string& bytes) {
    REQUIRE(::write(sv[0], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    return b.receive();
  };
  auto le32 = [](uint32_t v) {
    return std::string{static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff),
                       static_cast<char>((v >> 16) & 0xff), static_cast<char>(v >> 24)};
  };
  // A 4 GiB length is refused from the header alone.
  auto huge = raw(le32(0xffffffffu));
  CHECK(huge.status().code() == ih::StatusCode::kInvalidArgument);
  // An unknown kind; a part longer than its frame; trailing bytes.
  const std::string header_rest = std::string(4 + 8 + 8 + 8, '\0');
  auto unknown = raw(le32(33) + std::string(1, '\x63') + header_rest + le32(0));
  CHECK(unknown.status().code() == ih::StatusCode::kInvalidArgument);
  auto overrun = raw(le32(33 + 4) + std::string(1, '\x05') + header_rest + le32(1) + le32(1000));
  CHECK(overrun.status().code() == ih::StatusCode::kInvalidArgument);
  auto trailing = raw(le32(33 + 2) + std::string(1, '\x05') + header_rest + le32(0) + "zz");
  CHECK(trailing.status().code() == ih::StatusCode::kInvalidArgument);
  // The peer going away mid-frame is the end of the stream, not a crash.
  REQUIRE(::write(sv[0], "\x30\x00", 2) == 2);
  ::shutdown(sv[0], SHUT_WR);
  CHECK(b.receive().status().code() == ih::StatusCode::kUnavailable);
}
