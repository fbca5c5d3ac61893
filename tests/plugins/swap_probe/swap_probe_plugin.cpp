// swap_probe: a test plugin whose answers name the version that served them (SWAP_PROBE_VERSION, set by its
// CMakeLists: one build per version). Action "version" answers at once; action "slow" {"ms"} waits first (a
// call still running on the old version while a reload switches to the new one).
#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "ih/plugin.hpp"

#ifndef SWAP_PROBE_VERSION
#error "build with -DSWAP_PROBE_VERSION=\"x.y.z\""
#endif

namespace swap_probe {
namespace {

using ih::sdk::Call;
using ih::sdk::Status;

constexpr char kManifestJson[] = R"json({
  "name": "swap_probe",
  "version": ")json" SWAP_PROBE_VERSION R"json(",
  "description": "Test-only plugin: answers with its version.",
  "config_schema": {"type": "object", "properties": {}},
  "actions": [{"name": "version", "description": "Answers {\"version\"}."},
              {"name": "slow", "description": "Waits {\"ms\"} (at most 5000), then answers {\"version\"}."}]
})json";

class SwapProbe final : public ih::sdk::Plugin {
 public:
  SwapProbe(const ih_host_api*, std::string_view, std::string_view) {}

  Status runAction(Call& call, std::string_view action, std::string_view input_json) override {
    if (action == "slow") {
      int ms = 1000;
      if (auto at = input_json.find("\"ms\":"); at != std::string_view::npos) {
        ms = 0;
        for (size_t i = at + 5;
             i < input_json.size() && i < at + 10 && input_json[i] >= '0' && input_json[i] <= '9'; ++i)
          ms = ms * 10 + (input_json[i] - '0');
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 5000)));
    } else if (action != "version") {
      return Status::notFound("no such action: " + std::string(action));
    }
    return call.setResult(R"({"version":")" SWAP_PROBE_VERSION R"("})");
  }
};

}  // namespace
}  // namespace swap_probe

IH_SDK_EXPORT_PLUGIN(swap_probe::SwapProbe, swap_probe::kManifestJson, IH_CAP_ACTIONS, 0)
