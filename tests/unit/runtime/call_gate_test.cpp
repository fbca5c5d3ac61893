// The call gate (host/runtime/call_gate.cpp) with real plugin .so files loaded through the real loader
// (tests/fixtures/fixture_gate.cpp): capability checks, IH_FLAG_SERIALIZE, the drain on shutdown, the
// handler label plugins see, and the record write counts a call reports.
#include <catch2/catch.hpp>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "loader/registry.h"
#include "runtime/runtime.h"

namespace {

using ih::StatusCode;
using ih::runtime::CallResult;
using ih::runtime::Integration;
using ih::runtime::Runtime;
using nlohmann::json;

// Records what plugins upsert, per (tenant, integration, model).
class MemoryRecords final : public ih::sinks::RecordSink {
 public:
  ih::Status upsert(std::string_view tenant, std::string_view integration, std::string_view model,
                    std::string_view records_json, const ih::sinks::Deferred&) override {
    std::lock_guard lock(mu_);
    pages_[std::string(tenant) + "/" + std::string(integration) + "/" + std::string(model)].emplace_back(
        records_json);
    return ih::Status::ok();
  }
  ih::Status remove(std::string_view, std::string_view, std::string_view, std::string_view, int64_t,
                    const ih::sinks::Deferred&) override {
    return ih::Status::ok();
  }
  ih::Status commit(std::string_view tenant, std::string_view integration, std::string_view model,
                    std::string_view records_json, std::string_view, std::string_view) override {
    return upsert(tenant, integration, model, records_json, nullptr);
  }
  std::vector<std::string> pages(const std::string& key) {
    std::lock_guard lock(mu_);
    return pages_[key];
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::vector<std::string>> pages_;
};

struct Gate {
  MemoryRecords records;
  std::unique_ptr<Runtime> runtime;
  Integration* integration = nullptr;

  explicit Gate(const std::string& fixture) {
    ih::runtime::Dependencies deps;
    deps.records = &records;
    runtime = std::make_unique<Runtime>(deps);
    auto plugin =
        ih::loader::Registry::loadFile(std::string(IH_TEST_PLUGIN_DIR) + "/lib" + fixture + ".so", "");
    REQUIRE(plugin.isOk());
    ih::config::Config config;
    ih::config::IntegrationConfig cfg;
    cfg.id = "gate";
    cfg.plugin = (*plugin)->manifest().name;
    cfg.settings_json = "{}";
    REQUIRE(runtime->addIntegration(config, cfg, *plugin).isOk());
    integration = runtime->find("gate");
    REQUIRE(integration != nullptr);
  }

  CallResult work(const std::string& body, const std::string& tenant = "t1") {
    return runtime->route(*integration, tenant, R"({"method":"POST","path":"/work"})", body);
  }

  // Probes until another call is sleeping inside the plugin (up to 5 s).
  bool waitUntilRunning() {
    for (int i = 0; i < 1000; ++i) {
      const json body = json::parse(work("sleep 0").body, nullptr, false);
      if (body.is_object() && body.value("running", 0) >= 1) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
};

int maxConcurrent(const CallResult& r) {
  const json body = json::parse(r.body, nullptr, false);
  return body.is_object() ? body.value("max_concurrent", -1) : -1;
}

}  // namespace

TEST_CASE("call gate: a handler the plugin does not declare is unsupported, without calling it",
          "[runtime]") {
  Gate gate("fixture_gate_parallel");
  const CallResult job = gate.runtime->runJob(*gate.integration, "t1", "sync", "{}");
  CHECK(job.status.code() == StatusCode::kUnsupported);
  CHECK(job.status.message() == "plugin gate_parallel does not support jobs");
  CHECK(gate.runtime->connect(*gate.integration, "t1", "{}").status.code() == StatusCode::kUnsupported);
  CHECK(gate.runtime->oauthAuthorize(*gate.integration, "t1", "{}").status.code() ==
        StatusCode::kUnsupported);
  CHECK(gate.runtime->handleWebhook(*gate.integration, "t1", "{}", "", "").status.code() ==
        StatusCode::kUnsupported);
  const CallResult ok = gate.work("sleep 0");
  CHECK(ok.status.isOk());
  CHECK(ok.http_status == 200);
}

TEST_CASE("call gate: IH_FLAG_SERIALIZE runs one call at a time, without it calls overlap", "[runtime]") {
  for (const auto& [fixture, serialized] :
       {std::pair<std::string, bool>{"fixture_gate_serial", true}, {"fixture_gate_parallel", false}}) {
    INFO(fixture);
    Gate gate(fixture);
    std::vector<std::future<CallResult>> calls;
    for (int i = 0; i < 4; ++i)
      calls.push_back(std::async(std::launch::async, [&gate] { return gate.work("sleep 150"); }));
    int most = 0;
    for (auto& call : calls) {
      const CallResult r = call.get();
      REQUIRE(r.status.isOk());
      most = std::max(most, maxConcurrent(r));
    }
    if (serialized) {
      CHECK(most == 1);
    } else {
      CHECK(most >= 2);  // four 150 ms calls started together overlap when nothing serializes them
    }
  }
}

TEST_CASE("call gate: shutdown drains a running call, then destroys the instances", "[runtime]") {
  Gate gate("fixture_gate_parallel");
  auto running = std::async(std::launch::async, [&gate] { return gate.work("sleep 300"); });
  REQUIRE(gate.waitUntilRunning());
  gate.runtime->shutdown(std::chrono::seconds(10));
  // shutdown() returned, so the running call has finished, and finished well.
  REQUIRE(running.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  const CallResult drained = running.get();
  CHECK(drained.status.isOk());
  CHECK(drained.http_status == 200);
  CHECK(gate.runtime->find("gate") == nullptr);
}

TEST_CASE("call gate: while shutdown drains, new calls are refused as unavailable", "[runtime]") {
  Gate gate("fixture_gate_parallel");
  auto long_call = std::async(std::launch::async, [&gate] { return gate.work("sleep 1500"); });
  REQUIRE(gate.waitUntilRunning());
  std::thread stopper([&gate] { gate.runtime->shutdown(std::chrono::seconds(10)); });
  // The drain waits for the long call; meanwhile the gate refuses (the instance is still alive).
  CallResult refused;
  for (int i = 0; i < 200 && refused.status.code() != StatusCode::kUnavailable; ++i) {
    refused = gate.work("sleep 0");
    if (refused.status.code() != StatusCode::kUnavailable)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  CHECK(refused.status.code() == StatusCode::kUnavailable);
  CHECK(refused.status.message() == "the host is shutting down");
  stopper.join();
  CHECK(long_call.get().status.isOk());
}

TEST_CASE("call gate: the plugin sees which handler runs, and a call reports the records it wrote",
          "[runtime]") {
  Gate gate("fixture_gate_parallel");
  const CallResult info = gate.work("info", "t9");
  REQUIRE(info.status.isOk());
  const json seen = json::parse(info.body);
  CHECK(seen["handler"] == "handle_route");
  CHECK(seen["tenant"] == "t9");
  CHECK(seen["integration"] == "gate");

  const CallResult wrote = gate.work("records 3\nrecords 0\nrecords 1");
  REQUIRE(wrote.status.isOk());
  CHECK(wrote.record_pages == 3);
  CHECK(wrote.record_rows == 4);  // commas, brackets and quotes inside the records' strings do not count
  const auto pages = gate.records.pages("t1/gate/things");
  REQUIRE(pages.size() == 3);
  CHECK(json::parse(pages[0]).size() == 3);

  const CallResult none = gate.work("sleep 0");
  CHECK(none.record_pages == 0);
  CHECK(none.record_rows == 0);
}
