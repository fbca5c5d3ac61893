// webhook_test: the plugin the inbox tests and the intake benchmark run against.
//   - tenant AND platform webhooks, signed like Stripe: header "X-Test-Signature: t=<unix>,v1=<hex>" with
//     hex = HMAC-SHA256(webhook_secret, "<t>." + body); timestamps older/newer than tolerance_s are refused.
//   - the body is JSON {"id","type","created"?,"account"?,"data":{"object":{"id"}}?,"fail"?:N,"leak"?:true}:
//     event_id = id, occurred_at = created (else t), object_id = data.object.id, account = account.
//   - handle_webhook fails (IH_ERR_UNAVAILABLE) while attempt <= fail and plugin state "fixed" is unset; with
//   "leak" the failure message carries
//     a Stripe-shaped secret (to test that the host redacts it). On success it writes plugin state
//     "seen/<event_id>" = {"attempt":k,"stale":bool,"order":n} unless record_state = false.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "ih/hmac.hpp"
#include "ih/plugin.hpp"

namespace webhook_test {
namespace {

using ih::sdk::Call;
using ih::sdk::Status;
using nlohmann::json;

constexpr char kManifestJson[] = R"json({
  "name": "webhook_test",
  "version": "1.0.0",
  "display_name": "Webhook test",
  "description": "Test-only plugin: signed tenant and platform webhooks with planned failures.",
  "config_schema": {
    "type": "object",
    "properties": {
      "webhook_secret": {"type": "string", "secret": true, "description": "Secret that signs webhooks."},
      "tolerance_s": {"type": "integer", "minimum": 1, "maximum": 86400, "default": 300,
                      "description": "Accepted clock skew of the signature timestamp."},
      "record_state": {"type": "boolean", "default": true,
                       "description": "Write seen/<event_id> plugin state for every processed event."},
      "handle_delay_ms": {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0,
                          "description": "Sleep in handle_webhook (to test shutdown and slow handlers)."}
    },
    "required": ["webhook_secret"]
  },
  "webhooks": {"tenant": true, "platform": true},
  "events": []
})json";

json parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, false);
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class WebhookTestPlugin final : public ih::sdk::Plugin {
 public:
  WebhookTestPlugin(const ih_host_api* /*host*/, std::string_view /*integration_id*/,
                    std::string_view config_json) {
    const json config = parse(config_json);
    if (!config.is_object()) throw std::invalid_argument("configuration must be a JSON object");
    secret_ = config.value("webhook_secret", std::string());
    if (secret_.empty()) throw std::invalid_argument("webhook_secret is required");
    tolerance_s_ = config.value("tolerance_s", int64_t{300});
    record_state_ = config.value("record_state", true);
    handle_delay_ms_ = config.value("handle_delay_ms", int64_t{0});
  }

  Status verifyWebhook(Call& call, std::string_view request_json, std::string_view body) override {
    const json request = parse(request_json);
    if (!request.is_object() || !request.contains("headers")) return Status::signature("no headers");
    const auto header = ih::sdk::json::headerField(request["headers"].dump(), "X-Test-Signature");
    if (!header) return Status::signature("missing X-Test-Signature");
    // t=<unix>,v1=<hex>
    std::string t, v1;
    std::string_view rest = *header;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view part = rest.substr(0, comma);
      if (part.substr(0, 2) == "t=") t = std::string(part.substr(2));
      if (part.substr(0, 3) == "v1=") v1 = std::string(part.substr(3));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (t.empty() || v1.empty()) return Status::signature("malformed X-Test-Signature");
    int64_t sent_at = 0;
    try {
      size_t used = 0;
      sent_at = std::stoll(t, &used);
      if (used != t.size()) return Status::signature("malformed timestamp");
    } catch (const std::exception&) {
      return Status::signature("malformed timestamp");
    }
    const int64_t skew = nowSeconds() - sent_at;
    if (skew > tolerance_s_ || skew < -tolerance_s_)
      return Status::signature("timestamp outside the tolerance");
    std::string signed_payload = t + ".";
    signed_payload.append(body.data(), body.size());
    if (!ih::sdk::constantTimeEquals(ih::sdk::hmacSha256Hex(secret_, signed_payload), v1)) {
      return Status::signature("signature mismatch");
    }
    const json event = parse(body);
    if (!event.is_object() || !event.contains("id") || !event["id"].is_string() || !event.contains("type") ||
        !event["type"].is_string()) {
      return Status::invalidArgument("webhook body must be a JSON object with string \"id\" and \"type\"");
    }
    json result = {{"event_id", event["id"]}, {"type", event["type"]}, {"occurred_at", sent_at}};
    if (event.contains("created") && event["created"].is_number_integer())
      result["occurred_at"] = event["created"];
    if (event.contains("account") && event["account"].is_string()) result["account"] = event["account"];
    if (event.contains("data") && event["data"].is_object() && event["data"].contains("object") &&
        event["data"]["object"].is_object() && event["data"]["object"].contains("id") &&
        event["data"]["object"]["id"].is_string()) {
      result["object_id"] = event["data"]["object"]["id"];
    }
    return call.setResult(result.dump());
  }

  Status handleWebhook(Call& call, std::string_view event_json, std::string_view body) override {
    if (handle_delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(handle_delay_ms_));
    const json info = parse(event_json);
    const json event = parse(body);
    if (!info.is_object() || !event.is_object()) return Status::invalidArgument("event or body is not JSON");
    const int64_t attempt = info.value("attempt", int64_t{0});
    const int64_t fail = event.value("fail", int64_t{0});
    bool fixed = false;  // the test's stand-in for "the plugin's code was fixed": plugin state "fixed" is set
    if (fail > 0) {
      auto flag = call.state("fixed");
      fixed = flag && flag->has_value();
    }
    if (attempt <= fail && !fixed) {
      std::string message = "planned failure " + std::to_string(attempt) + " of " + std::to_string(fail);
      if (event.value("leak", false))
        message += " (provider said: key sk_live_51HqLyjWDarjtT1zdp7dc4eC3 rejected)";
      return Status::unavailable(message);
    }
    if (!record_state_) return Status::ok();
    const json seen = {{"attempt", attempt},
                       {"stale", info.value("stale", false)},
                       {"order", order_.fetch_add(1) + 1},
                       {"id", info.value("id", int64_t{0})}};
    return call.putState("seen/" + info.value("event_id", std::string()), seen.dump());
  }

 private:
  std::string secret_;
  int64_t tolerance_s_ = 300;
  bool record_state_ = true;
  int64_t handle_delay_ms_ = 0;
  std::atomic<int64_t> order_{0};
};

}  // namespace
}  // namespace webhook_test

IH_SDK_EXPORT_PLUGIN(webhook_test::WebhookTestPlugin, webhook_test::kManifestJson, IH_CAP_WEBHOOKS, 0)
