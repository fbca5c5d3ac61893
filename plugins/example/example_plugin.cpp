// The example ihost plugin: the template a third party copies. It shows every handler group of ABI v1.0:
//   - route  GET /hello (tenant auth)      -> {"message":"<greeting>, <tenant>!","integration":"<id>"}
//   - tenant webhooks signed with HMAC-SHA256 over "<timestamp>.<tenant id>.<body>" (X-Example-Timestamp,
//     X-Example-Signature: v1=<hex>), accepted only for tenants that connected
// Two rules every plugin with a shared (config-level) webhook secret must follow, shown here: the signature
// covers the tenant the URL names (a delivery signed for tenant A cannot be replayed to tenant B's URL), and
// a tenant that never connected gets nothing stored for it.
//   - job    sync (every 15m)              -> GET <api_base_url>/items?after=<cursor>, records + cursor
//   - action ping                          -> emits example.pinged, returns {"pong":true}
//   - connect / test_connection / disconnect with an API key checked live against GET <api_base_url>/ping
// Private dependencies (nlohmann/json, OpenSSL) are fine inside a plugin: only C types cross the ABI.
#include <charconv>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ih/hmac.hpp"
#include "ih/plugin.hpp"

namespace example {
namespace {

using ih::sdk::Call;
using ih::sdk::Status;
using nlohmann::json;

constexpr char kManifestJson[] = R"json({
  "name": "example",
  "version": "1.0.0",
  "display_name": "Example",
  "description": "Template plugin: a route, signed webhooks, a sync job, an action and API-key connect.",
  "config_schema": {
    "type": "object",
    "properties": {
      "api_base_url": {"type": "string", "default": "https://api.example.com", "pattern": "^https?://",
                       "description": "Base URL of the provider API."},
      "greeting": {"type": "string", "default": "Hello", "description": "Greeting used by GET /hello."},
      "webhook_secret": {"type": "string", "secret": true, "minLength": 24,
                         "description": "Secret that signs webhooks (at least 24 random characters)."},
      "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 120000, "default": 10000,
                     "description": "Timeout of provider calls."}
    },
    "required": ["webhook_secret"]
  },
  "connect_schema": {
    "type": "object",
    "properties": {
      "api_key": {"type": "string", "secret": true, "pattern": "^ex_[A-Za-z0-9]{8,}$",
                  "description": "API key of the tenant's provider account."}
    },
    "required": ["api_key"]
  },
  "routes": [{"method": "GET", "path": "/hello", "auth": "tenant"}],
  "webhooks": {"tenant": true, "platform": false},
  "jobs": [{"name": "sync", "every": "15m", "description": "Pulls changed items since the stored cursor."}],
  "actions": [{"name": "ping", "description": "Emits example.pinged and answers {\"pong\":true}."}],
  "events": ["example.item_changed", "example.pinged"]
})json";

constexpr int64_t kWebhookToleranceSeconds = 300;
constexpr int kMaxPagesPerRun = 100;

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses JSON text without throwing; a discarded value on failure.
json parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, false);
}

std::string stringOr(const json& object, const char* key, std::string fallback) {
  if (object.is_object() && object.contains(key) && object[key].is_string())
    return object[key].get<std::string>();
  return fallback;
}

// ^ex_[A-Za-z0-9]{8,}$ without <regex>.
bool isWellFormedApiKey(std::string_view key) {
  if (key.size() < 11 || key.substr(0, 3) != "ex_") return false;
  for (char c : key.substr(3)) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

// A provider answer that is not 2xx, as the status the host maps to HTTP for API callers.
Status providerFailure(int32_t http_status, std::string_view what) {
  const std::string prefix(what);
  if (http_status == 401) return Status::unauthenticated(prefix + ": the provider rejected the API key");
  if (http_status == 403) return Status::permissionDenied(prefix + ": the API key lacks permission");
  if (http_status == 429) return Status::rateLimited(prefix + ": rate limited by the provider");
  if (http_status >= 500)
    return Status::unavailable(prefix + ": provider error " + std::to_string(http_status));
  return Status::provider(prefix + ": provider answered " + std::to_string(http_status));
}

class ExamplePlugin final : public ih::sdk::Plugin {
 public:
  // Throws std::invalid_argument on a bad configuration (the SDK maps it to IH_ERR_INVALID_ARGUMENT).
  ExamplePlugin(const ih_host_api* /*host*/, std::string_view integration_id, std::string_view config_json)
      : integration_id_(integration_id) {
    const json config = parse(config_json);
    if (!config.is_object()) throw std::invalid_argument("configuration must be a JSON object");
    api_base_url_ = stringOr(config, "api_base_url", "https://api.example.com");
    while (!api_base_url_.empty() && api_base_url_.back() == '/')
      api_base_url_.pop_back();
    greeting_ = stringOr(config, "greeting", "Hello");
    webhook_secret_ = stringOr(config, "webhook_secret", "");
    if (webhook_secret_.empty()) throw std::invalid_argument("webhook_secret is required");
    if (config.contains("timeout_ms") && config["timeout_ms"].is_number_integer()) {
      timeout_ms_ = config["timeout_ms"].get<int64_t>();
    }
  }

  Status onRoute(Call& call, std::string_view request_json, std::string_view /*body*/) override {
    const json request = parse(request_json);
    const std::string method = stringOr(request, "method", "");
    const std::string route = stringOr(request, "route", stringOr(request, "path", ""));
    if (method != "GET" || route != "/hello")
      return Status::notFound("no such route: " + method + " " + route);
    const json answer = {{"message", greeting_ + ", " + stringOr(request, "tenant", "") + "!"},
                         {"integration", integration_id_}};
    return call.respond(200, answer.dump(), R"({"Content-Type":"application/json"})");
  }

  Status verifyWebhook(Call& call, std::string_view request_json, std::string_view body) override {
    const json request = parse(request_json);
    const json headers =
        request.is_object() && request.contains("headers") ? request["headers"] : json::object();
    const std::string headers_text = headers.dump();
    const auto timestamp = ih::sdk::json::headerField(headers_text, "X-Example-Timestamp");
    const auto signature = ih::sdk::json::headerField(headers_text, "X-Example-Signature");
    if (!timestamp || !signature)
      return Status::signature("missing X-Example-Timestamp or X-Example-Signature");
    int64_t sent_at = 0;
    const char* end = timestamp->data() + timestamp->size();
    if (auto [at, error] = std::from_chars(timestamp->data(), end, sent_at);
        error != std::errc() || at != end || sent_at < 0) {
      return Status::signature("malformed X-Example-Timestamp");
    }
    const int64_t skew = nowSeconds() - sent_at;
    if (skew > kWebhookToleranceSeconds || skew < -kWebhookToleranceSeconds) {
      return Status::signature("timestamp outside the 300 s tolerance");
    }
    const std::string tenant = stringOr(request, "tenant", "");
    std::string signed_payload = *timestamp + "." + tenant + ".";
    signed_payload.append(body.data(), body.size());
    const std::string expected = "v1=" + ih::sdk::hmacSha256Hex(webhook_secret_, signed_payload);
    if (!ih::sdk::constantTimeEquals(expected, *signature)) return Status::signature("signature mismatch");
    // Only a tenant that connected has data here; the host answers 404 not_connected for the others.
    if (auto connected = call.credentials(); !connected.isOk()) return connected.status();

    const json event = parse(body);
    const std::string event_id = stringOr(event, "id", "");
    const std::string type = stringOr(event, "type", "");
    if (event_id.empty() || type.empty())
      return Status::invalidArgument("webhook body needs \"id\" and \"type\"");
    json result = {{"event_id", event_id}, {"type", type}, {"occurred_at", sent_at}};
    if (event.contains("data") && event["data"].is_object()) {
      const std::string object_id = stringOr(event["data"], "id", "");
      if (!object_id.empty()) result["object_id"] = object_id;
    }
    return call.setResult(result.dump());
  }

  Status handleWebhook(Call& call, std::string_view /*event_json*/, std::string_view body) override {
    const json event = parse(body);
    if (!event.is_object() || !event.contains("data") || !event["data"].is_object()) {
      return Status::invalidArgument("webhook body needs a \"data\" object");
    }
    const json& item = event["data"];
    const std::string id = stringOr(item, "id", "");
    if (id.empty()) return Status::invalidArgument("webhook item has no id");
    const int64_t updated_at = item.value("updated_at", int64_t{0});
    const std::string type = stringOr(event, "type", "");
    Status stored =
        type == "item.deleted"
            ? call.deleteRecord("item", id, updated_at)
            : call.upsertRecords(
                  "item", json::array({{{"id", id}, {"data", item}, {"updated_at", updated_at}}}).dump());
    if (!stored.isOk()) return stored;
    return call.emit("example.item_changed", json{{"id", id}, {"change", type}}.dump());
  }

  Status runJob(Call& call, std::string_view job, std::string_view params_json) override {
    if (job != "sync") return Status::notFound("no such job: " + std::string(job));
    auto api_key = apiKey(call);
    if (!api_key) return api_key.status();
    const json params = parse(params_json);
    const bool full = params.is_object() && params.value("full", false);

    auto stored_cursor = call.state("cursor");
    if (!stored_cursor) return stored_cursor.status();
    std::string cursor = full ? std::string() : stored_cursor->value_or("");
    int64_t synced = 0;
    for (int page = 0; page < kMaxPagesPerRun; ++page) {
      ih::sdk::HttpRequest request;
      request.url = api_base_url_ + "/items?after=" + ih::sdk::urlEncode(cursor);
      request.headers = {{"Authorization", "Bearer " + *api_key}, {"Accept", "application/json"}};
      request.timeout_ms = timeout_ms_;
      request.endpoint = "/items";
      auto response = call.http(request);
      if (!response) return response.status();
      if (!response->isSuccess()) return providerFailure(response->status, "sync");
      const json answer = parse(response->body);
      if (!answer.is_object() || !answer.contains("items") || !answer["items"].is_array()) {
        return Status::provider("sync: the provider answered an unexpected body");
      }
      json records = json::array();
      for (const json& item : answer["items"]) {
        const std::string id = stringOr(item, "id", "");
        if (id.empty()) continue;
        records.push_back({{"id", id}, {"data", item}, {"updated_at", item.value("updated_at", int64_t{0})}});
      }
      if (!records.empty()) {
        Status upserted = call.upsertRecords("item", records.dump());
        if (!upserted.isOk()) return upserted;
        synced += static_cast<int64_t>(records.size());
      }
      // Commit the cursor per page so that a crash resumes at the last stored page.
      const std::string next = stringOr(answer, "next_cursor", cursor);
      if (next != cursor) {
        Status saved = call.putState("cursor", next);
        if (!saved.isOk()) return saved;
        cursor = next;
      }
      if (!answer.value("has_more", false)) break;
    }
    call.info("example sync finished", json{{"synced", synced}}.dump());
    return call.setResult(json{{"synced", synced}, {"cursor", cursor}}.dump());
  }

  Status runAction(Call& call, std::string_view action, std::string_view /*input_json*/) override {
    if (action != "ping") return Status::notFound("no such action: " + std::string(action));
    Status emitted = call.emit("example.pinged", json{{"integration", integration_id_}}.dump());
    if (!emitted.isOk()) return emitted;
    return call.setResult(R"({"pong":true})");
  }

  Status connect(Call& call, std::string_view input_json) override {
    const json input = parse(input_json);
    const std::string api_key = stringOr(input, "api_key", "");
    if (!isWellFormedApiKey(api_key)) {
      return Status::invalidArgument("api_key must look like ex_ followed by at least 8 letters or digits");
    }
    auto response = ping(call, api_key);
    if (!response) return response.status();
    if (!response->isSuccess()) return providerFailure(response->status, "connect");
    Status stored = call.putCredentials(json{{"api_key", api_key}}.dump());
    if (!stored.isOk()) return stored;
    call.info("example connected");
    return call.setResult(
        json{{"connected", true}, {"account", stringOr(parse(response->body), "account", "")}}.dump());
  }

  Status testConnection(Call& call) override {
    auto api_key = apiKey(call);
    if (!api_key) return api_key.status();
    auto response = ping(call, *api_key);
    if (!response) return call.setResult(json{{"ok", false}, {"detail", response.status().message()}}.dump());
    const bool ok = response->isSuccess();
    return call.setResult(json{
        {"ok", ok}, {"detail", ok ? "ping answered" : "ping answered " + std::to_string(response->status)}}
                              .dump());
  }

  Status disconnect(Call& call) override {
    // Nothing to revoke at this provider; the host wipes the stored credentials afterwards.
    call.info("example disconnected");
    return Status::ok();
  }

 private:
  ih::sdk::Result<std::string> apiKey(Call& call) const {
    auto credentials = call.credentials();
    if (!credentials) {
      if (credentials.status().code() == IH_ERR_NOT_FOUND) return Status::unauthenticated("not connected");
      return credentials.status();
    }
    const std::string key = stringOr(parse(*credentials), "api_key", "");
    if (key.empty()) return Status::unauthenticated("stored credentials have no api_key; connect again");
    return key;
  }

  ih::sdk::Result<ih::sdk::HttpResponse> ping(Call& call, const std::string& api_key) const {
    ih::sdk::HttpRequest request;
    request.url = api_base_url_ + "/ping";
    request.headers = {{"Authorization", "Bearer " + api_key}};
    request.timeout_ms = timeout_ms_;
    request.endpoint = "/ping";
    return call.http(request);
  }

  const std::string integration_id_;
  std::string api_base_url_;
  std::string greeting_;
  std::string webhook_secret_;
  int64_t timeout_ms_ = 10000;
};

}  // namespace
}  // namespace example

IH_SDK_EXPORT_PLUGIN(example::ExamplePlugin, example::kManifestJson,
                     IH_CAP_ROUTES | IH_CAP_WEBHOOKS | IH_CAP_JOBS | IH_CAP_ACTIONS | IH_CAP_CONNECT, 0)
