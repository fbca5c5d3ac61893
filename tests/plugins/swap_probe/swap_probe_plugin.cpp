// swap_probe: a test plugin whose answers name the version that served them (SWAP_PROBE_VERSION, set by its
// CMakeLists: one build per version).
//   - action "version" answers {"version"} at once; "slow" {"ms"} waits first (a call still running on the old
//     version while a reload switches to the new one); "seen" {"id"} answers {"version"} of the version that
//     handled webhook event `id` (null when none did yet).
//   - tenant webhooks signed with header "X-Probe-Signature: <hex HMAC-SHA256(webhook_secret, body)>", body
//     {"id": "..."}; handling records which version handled the event (plugin state "seen/<id>").
#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "ih/hmac.hpp"
#include "ih/plugin.hpp"

#ifndef SWAP_PROBE_VERSION
#error "build with -DSWAP_PROBE_VERSION=\"x.y.z\""
#endif

namespace swap_probe {
namespace {

using ih::sdk::Call;
using ih::sdk::Status;
using nlohmann::json;

constexpr char kVersion[] = SWAP_PROBE_VERSION;

constexpr char kManifestJson[] = R"json({
  "name": "swap_probe",
  "version": ")json" SWAP_PROBE_VERSION R"json(",
  "description": "Test-only plugin: answers with its version.",
  "config_schema": {"type": "object",
                    "properties": {"webhook_secret": {"type": "string", "secret": true,
                                                      "description": "Signs webhooks."}},
                    "required": ["webhook_secret"]},
  "webhooks": {"tenant": true},
  "actions": [{"name": "version", "description": "Answers {\"version\"}."},
              {"name": "slow", "description": "Waits {\"ms\"} (at most 5000), then answers {\"version\"}."},
              {"name": "seen", "description": "Which version handled webhook event {\"id\"}."}]
})json";

json parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, false);
}

class SwapProbe final : public ih::sdk::Plugin {
 public:
  SwapProbe(const ih_host_api*, std::string_view, std::string_view config_json) {
    const json config = parse(config_json);
    if (config.is_object() && config.contains("webhook_secret") && config["webhook_secret"].is_string())
      secret_ = config["webhook_secret"].get<std::string>();
  }

  Status verifyWebhook(Call& call, std::string_view request_json, std::string_view body) override {
    const json request = parse(request_json);
    std::string signature;
    if (request.is_object() && request.contains("headers") && request["headers"].is_object()) {
      for (const auto& [name, value] : request["headers"].items()) {
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (lower == "x-probe-signature" && value.is_string()) signature = value.get<std::string>();
      }
    }
    if (secret_.empty() || !ih::sdk::constantTimeEquals(signature, ih::sdk::hmacSha256Hex(secret_, body)))
      return Status::signature("bad X-Probe-Signature");
    const json event = parse(body);
    if (!event.is_object() || !event.contains("id") || !event["id"].is_string())
      return Status::invalidArgument("body must be {\"id\": \"...\"}");
    const int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    return call.setResult(
        json{{"event_id", event["id"]}, {"type", "probe.event"}, {"occurred_at", now}}.dump());
  }

  Status handleWebhook(Call& call, std::string_view event_json, std::string_view /*body*/) override {
    const json event = parse(event_json);
    if (!event.is_object() || !event.contains("event_id") || !event["event_id"].is_string())
      return Status::invalidArgument("event without event_id");
    return call.putState("seen/" + event["event_id"].get<std::string>(), kVersion);
  }

  Status runAction(Call& call, std::string_view action, std::string_view input_json) override {
    const json input = parse(input_json);
    if (action == "seen") {
      const std::string id = input.is_object() && input.contains("id") && input["id"].is_string()
                                 ? input["id"].get<std::string>()
                                 : std::string();
      auto seen = call.state("seen/" + id);
      if (!seen) return seen.status();
      return call.setResult(json{{"version", seen->has_value() ? json(**seen) : json(nullptr)}}.dump());
    }
    if (action == "slow") {
      const int64_t ms = input.is_object() && input.contains("ms") && input["ms"].is_number_integer()
                             ? input["ms"].get<int64_t>()
                             : 1000;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp<int64_t>(ms, 0, 5000)));
    } else if (action != "version") {
      return Status::notFound("no such action: " + std::string(action));
    }
    return call.setResult(json{{"version", kVersion}}.dump());
  }

 private:
  std::string secret_;
};

}  // namespace
}  // namespace swap_probe

IH_SDK_EXPORT_PLUGIN(swap_probe::SwapProbe, swap_probe::kManifestJson, IH_CAP_ACTIONS | IH_CAP_WEBHOOKS, 0)
