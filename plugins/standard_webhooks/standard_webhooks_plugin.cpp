// standard_webhooks: inbound webhooks from any provider that signs them the Standard Webhooks way
// (standardwebhooks.com; Svix-based providers send the same with svix-* headers). Written against sdk/ alone.
//   - connect: the tenant gives its endpoint's signing secret ("whsec_<base64>"), checked for form and stored
//     encrypted by the host.
//   - tenant webhooks (POST /webhooks/<id>/<tenant>): webhook-id, webhook-timestamp (tolerance, default
//     300 s) and webhook-signature ("v1,<base64>" entries, several during a secret rotation) are verified over
//     "<id>.<timestamp>.<body>" with HMAC-SHA256; the host dedupes by webhook-id.
//   - handling: the payload ({"type","timestamp","data"}) is emitted as a normalized event
//     "<event_prefix><type>", and becomes a record when the integration's `models` mapping names its type:
//       models = [{type_prefix = "invoice.", model = "invoice", id = "data.id", delete_suffix = ".deleted"}]
#include <charconv>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ih/hmac.hpp"
#include "ih/plugin.hpp"

namespace standard_webhooks {
namespace {

using ih::sdk::Call;
using ih::sdk::Status;
using nlohmann::json;

constexpr char kManifestJson[] = R"json({
  "name": "standard_webhooks",
  "version": "1.0.0",
  "display_name": "Standard Webhooks",
  "description": "Inbound webhooks signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature; svix-* too): verified per tenant, emitted as events, mapped to records.",
  "config_schema": {
    "type": "object",
    "properties": {
      "tolerance_s": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 300,
                      "description": "How far webhook-timestamp may be from now, either way (seconds)."},
      "event_prefix": {"type": "string", "maxLength": 64, "default": "",
                       "description": "Prefix of the normalized event types, e.g. \"acme.\" gives acme.invoice.paid."},
      "models": {"type": "array", "items": {"type": "object"},
                 "description": "Records from events: [{type_prefix, model, id (dotted path, default data.id), delete_suffix?}]; the first match wins."}
    }
  },
  "connect_schema": {
    "type": "object",
    "properties": {
      "signing_secret": {"type": "string", "secret": true, "maxLength": 200,
                         "description": "The endpoint's signing secret, whsec_ followed by base64."}
    },
    "required": ["signing_secret"]
  },
  "webhooks": {"tenant": true, "platform": false},
  "events": []
})json";

constexpr size_t kMaxMessageId = 255;
constexpr size_t kMaxType = 200;

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json parse(std::string_view text) {
  return json::parse(text.begin(), text.end(), nullptr, false);
}

std::string stringOr(const json& object, const char* key, std::string fallback) {
  if (object.is_object() && object.contains(key) && object[key].is_string())
    return object[key].get<std::string>();
  return fallback;
}

bool printable(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

struct Mapping {
  std::string type_prefix;
  std::string model;
  std::vector<std::string> id_path;  // "data.id" -> {"data","id"}
  std::string delete_suffix;
};

// Member names 1-64 of [A-Za-z0-9_-]; a model name also allows '.'.
bool isName(std::string_view s, bool dots) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || (dots && c == '.');
    if (!ok) return false;
  }
  return true;
}

// The value at a dotted path as a string (strings as they are, integers in decimal); empty when absent.
std::string valueAt(const json& root, const std::vector<std::string>& path) {
  const json* v = &root;
  for (const std::string& key : path) {
    if (!v->is_object()) return {};
    auto it = v->find(key);
    if (it == v->end()) return {};
    v = &*it;
  }
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return std::to_string(v->get<int64_t>());
  return {};
}

class StandardWebhooksPlugin final : public ih::sdk::Plugin {
 public:
  // Throws std::invalid_argument on a bad configuration (the SDK maps it to IH_ERR_INVALID_ARGUMENT).
  StandardWebhooksPlugin(const ih_host_api* /*host*/, std::string_view /*integration_id*/,
                         std::string_view config_json) {
    const json config = parse(config_json);
    if (!config.is_object()) throw std::invalid_argument("configuration must be a JSON object");
    if (config.contains("tolerance_s") && config["tolerance_s"].is_number_integer())
      tolerance_s_ = config["tolerance_s"].get<int64_t>();
    event_prefix_ = stringOr(config, "event_prefix", "");
    if (!event_prefix_.empty() && !isName(event_prefix_, true))
      throw std::invalid_argument("event_prefix must be letters, digits, '.', '_' or '-'");
    if (config.contains("models")) {
      const json& models = config["models"];
      if (!models.is_array() || models.size() > 64)
        throw std::invalid_argument("models must be an array of at most 64 tables");
      for (size_t i = 0; i < models.size(); ++i) {
        const std::string where = "models[" + std::to_string(i) + "]";
        const json& m = models[i];
        Mapping mapping;
        mapping.type_prefix = stringOr(m, "type_prefix", "");
        mapping.model = stringOr(m, "model", "");
        mapping.delete_suffix = stringOr(m, "delete_suffix", "");
        if (mapping.type_prefix.size() > kMaxType)
          throw std::invalid_argument(where + ".type_prefix is longer than 200 bytes");
        if (!isName(mapping.model, true))
          throw std::invalid_argument(where + ".model must be 1-64 of letters, digits, '.', '_' or '-'");
        const std::string id_text = stringOr(m, "id", "data.id");
        std::string_view path = id_text;
        while (!path.empty()) {
          const size_t dot = path.find('.');
          const std::string_view key = path.substr(0, dot);
          if (!isName(key, false) || mapping.id_path.size() >= 8)
            throw std::invalid_argument(where + ".id must be a dotted path of at most 8 member names");
          mapping.id_path.emplace_back(key);
          if (dot == std::string_view::npos) break;
          path.remove_prefix(dot + 1);
        }
        if (mapping.id_path.empty()) throw std::invalid_argument(where + ".id must not be empty");
        mappings_.push_back(std::move(mapping));
      }
    }
  }

  Status connect(Call& call, std::string_view input_json) override {
    const json input = parse(input_json);
    const std::string secret = stringOr(input, "signing_secret", "");
    auto key = ih::sdk::standardWebhookKey(secret);
    if (secret.rfind("whsec_", 0) != 0 || !key || key->size() < 16 || key->size() > 64)
      return Status::invalidArgument(
          "signing_secret must be whsec_ followed by the base64 of 16-64 random bytes (as the provider shows "
          "it)");
    if (Status s = call.putCredentials(json{{"signing_secret", secret}}.dump()); !s.isOk()) return s;
    return call.setResult(json{{"connected", true}, {"key_bytes", key->size()}}.dump());
  }

  Status testConnection(Call& call) override {
    auto key = signingKey(call);
    return call.setResult(
        json{{"ok", key.isOk()}, {"detail", key.isOk() ? "signing secret stored" : key.status().message()}}
            .dump());
  }

  Status disconnect(Call&) override { return Status::ok(); }  // nothing to revoke; the host wipes the secret

  Status verifyWebhook(Call& call, std::string_view request_json, std::string_view body) override {
    const json request = parse(request_json);
    const std::string headers =
        request.is_object() && request.contains("headers") ? request["headers"].dump() : "{}";
    auto header = [&](std::string_view name) {
      auto v = ih::sdk::json::headerField(headers, "webhook-" + std::string(name));
      if (!v) v = ih::sdk::json::headerField(headers, "svix-" + std::string(name));
      return v;
    };
    const auto id = header("id");
    const auto timestamp = header("timestamp");
    const auto signature = header("signature");
    if (!id || !timestamp || !signature)
      return Status::signature("missing webhook-id, webhook-timestamp or webhook-signature");
    if (!printable(*id, kMaxMessageId))
      return Status::signature("webhook-id must be 1-255 printable characters");
    int64_t sent_at = 0;
    const char* end = timestamp->data() + timestamp->size();
    if (auto [at, error] = std::from_chars(timestamp->data(), end, sent_at);
        error != std::errc() || at != end || sent_at <= 0)
      return Status::signature("malformed webhook-timestamp");
    const int64_t skew = nowSeconds() - sent_at;
    if (skew > tolerance_s_ || skew < -tolerance_s_)
      return Status::signature("webhook-timestamp outside the " + std::to_string(tolerance_s_) +
                               " s tolerance");
    // Only a tenant that connected has a secret: the host answers 404 not_connected for the others.
    auto credentials = call.credentials();
    if (!credentials) return credentials.status();
    auto key = ih::sdk::standardWebhookKey(stringOr(parse(*credentials), "signing_secret", ""));
    if (!key) return Status::unauthenticated("the stored signing secret is malformed; connect again");
    if (!ih::sdk::standardWebhookSignatureMatches(*key, *id, sent_at, body, *signature))
      return Status::signature("no webhook-signature entry matches");

    const json payload = parse(body);
    if (!payload.is_object()) return Status::invalidArgument("webhook body must be a JSON object");
    const std::string type = stringOr(payload, "type", "");
    if (!printable(type, kMaxType))
      return Status::invalidArgument("webhook body needs a \"type\" of 1-200 characters");
    json result = {{"event_id", *id}, {"type", type}, {"occurred_at", sent_at}};
    if (const Mapping* m = mappingFor(type)) {
      const std::string object_id = valueAt(payload, m->id_path);
      if (!object_id.empty()) result["object_id"] = object_id;
    }
    return call.setResult(result.dump());
  }

  Status handleWebhook(Call& call, std::string_view event_json, std::string_view body) override {
    const json event = parse(event_json);
    const json payload = parse(body);
    if (!payload.is_object()) return Status::invalidArgument("stored webhook body is not a JSON object");
    const std::string type = stringOr(payload, "type", "");
    const int64_t occurred_at =
        event.is_object() && event.contains("occurred_at") && event["occurred_at"].is_number_integer()
            ? event["occurred_at"].get<int64_t>()
            : nowSeconds();
    const bool stale = event.is_object() && event.value("stale", false);
    const json data = payload.contains("data") ? payload["data"] : json::object();
    json normalized = {{"type", type}, {"webhook_id", stringOr(event, "event_id", "")}, {"data", data}};
    if (const Mapping* m = mappingFor(type); m != nullptr && !stale) {
      const std::string id = valueAt(payload, m->id_path);
      if (id.empty()) {
        call.warn("standard_webhooks: the mapped id is missing, no record stored",
                  json{{"type", type}, {"model", m->model}}.dump());
      } else {
        const bool deleted =
            !m->delete_suffix.empty() && type.size() >= m->delete_suffix.size() &&
            type.compare(type.size() - m->delete_suffix.size(), std::string::npos, m->delete_suffix) == 0;
        Status stored =
            deleted ? call.deleteRecord(m->model, id, occurred_at)
                    : call.upsertRecords(m->model, json::array({{{"id", id},
                                                                 {"data", data.is_object() ? data : payload},
                                                                 {"updated_at", occurred_at}}})
                                                       .dump());
        if (!stored.isOk()) return stored;
        normalized["model"] = m->model;
        normalized["id"] = id;
      }
    }
    return call.emit(event_prefix_ + type, normalized.dump());
  }

 private:
  const Mapping* mappingFor(const std::string& type) const {
    for (const Mapping& m : mappings_)
      if (type.compare(0, m.type_prefix.size(), m.type_prefix) == 0) return &m;
    return nullptr;
  }

  ih::sdk::Result<std::string> signingKey(Call& call) const {
    auto credentials = call.credentials();
    if (!credentials) {
      if (credentials.status().code() == IH_ERR_NOT_FOUND) return Status::unauthenticated("not connected");
      return credentials.status();
    }
    auto key = ih::sdk::standardWebhookKey(stringOr(parse(*credentials), "signing_secret", ""));
    if (!key) return Status::unauthenticated("the stored signing secret is malformed; connect again");
    return *key;
  }

  int64_t tolerance_s_ = 300;
  std::string event_prefix_;
  std::vector<Mapping> mappings_;
};

}  // namespace
}  // namespace standard_webhooks

IH_SDK_EXPORT_PLUGIN(standard_webhooks::StandardWebhooksPlugin, standard_webhooks::kManifestJson,
                     IH_CAP_WEBHOOKS | IH_CAP_CONNECT, 0)
