// POST /webhooks/{integration}[/{tenant}]: verify with the plugin, store durably (dedupe), then acknowledge.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <vector>

#include "common/digest.h"
#include "common/json_parse.h"
#include "common/text.h"
#include "http/params.h"
#include "inbox/internal.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "store/store.h"

namespace ih::inbox {
namespace {

using nlohmann::json;

bool isCallerCredential(std::string_view name) {
  return equalsIgnoreCase(name, "Authorization") || equalsIgnoreCase(name, "Cookie") ||
         equalsIgnoreCase(name, "Proxy-Authorization");
}

// True when `body` is JSON (starts with '{' or '[' after spaces) nested deeper than kMaxJsonDepth: such a
// payload would overflow the stack of whatever prints it later, so it is refused before it is verified or
// stored. Bodies that are not JSON (form-encoded providers) are left to the plugin.
bool tooDeep(std::string_view body) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (body[first] != '{' && body[first] != '[')) return false;
  return jsonNestingDepth(body) > kMaxJsonDepth;
}

// Headers worth keeping (and showing the plugin): all but credentials of the caller. Repeated names are
// joined with ", "; names sorted (the order nlohmann::json gives an object).
json headersObject(const http::Request& req) {
  json headers = json::object();
  for (const auto& [name, value] : req.headers) {
    if (isCallerCredential(name)) continue;
    auto it = headers.find(name);
    if (it == headers.end()) {
      headers[name] = value;
    } else {
      *it = it->get<std::string>() + ", " + value;
    }
  }
  return headers;
}

bool isPlainAscii(std::string_view text) {
  for (unsigned char c : text)
    if (c >= 0x80) return false;
  return true;
}

// The same JSON text as headersObject(req).dump(), without building a DOM (this runs on every webhook).
// nullopt when a header is not plain ASCII: then nlohmann validates the UTF-8 (headersObject).
std::optional<std::string> headersJson(const http::Request& req) {
  std::vector<std::pair<std::string_view, std::string>> kept;  // sorted by name, values joined
  kept.reserve(req.headers.size());
  size_t bytes = 2;
  for (const auto& [name, value] : req.headers) {
    if (isCallerCredential(name)) continue;
    if (!isPlainAscii(name) || !isPlainAscii(value)) return std::nullopt;
    auto it = std::lower_bound(kept.begin(), kept.end(), std::string_view(name),
                               [](const auto& entry, std::string_view n) { return entry.first < n; });
    if (it != kept.end() && it->first == name) {
      it->second += ", ";
      it->second += value;
    } else {
      kept.emplace(it, name, value);
    }
    bytes += name.size() + value.size() + 8;
  }
  std::string out;
  out.reserve(bytes + 16);
  out += '{';
  for (const auto& [name, value] : kept) {
    if (out.size() > 1) out += ',';
    out += http::jsonQuote(name);
    out += ':';
    out += http::jsonQuote(value);
  }
  out += '}';
  return out;
}

std::string stringField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::optional<store::InboxEvent> Inbox::Impl::verifyIntake(const http::Request& req, http::Response& res,
                                                           bool platform) {
  const std::string integration_id = req.param("integration");
  runtime::Integration* integration = runtime.find(integration_id);
  const IntegrationMetrics& m =
      metricsFor(integration ? std::string_view(integration_id) : std::string_view());
  auto count = [&m](Received r) { m.received[static_cast<size_t>(r)]->inc(); };

  if (integration == nullptr) {
    // Configured but not running (its plugin missing, refused, or its file removed at a reload): a 5xx, so
    // the provider keeps the delivery and retries, instead of a 404 that some senders treat as final.
    for (const runtime::UnavailableIntegration& u : runtime.unavailable()) {
      if (u.id != integration_id) continue;
      count(Received::kNotFound);
      http::setError(res, 503, "integration_unavailable",
                     "integration \"" + integration_id +
                         "\" is configured but not running; the delivery was not stored, retry later");
      res.setHeader("Retry-After", "60");
      return std::nullopt;
    }
  }
  if (integration == nullptr || !integration->enabled()) {
    count(Received::kNotFound);
    http::setError(res, 404, "unknown_integration",
                   "no integration \"" + integration_id + "\" is configured" +
                       (integration ? std::string(" (it is disabled in the configuration)") : std::string()));
    return std::nullopt;
  }
  const bool accepts =
      platform ? integration->manifest().platform_webhooks : integration->manifest().tenant_webhooks;
  if (!accepts) {
    count(Received::kNotFound);
    http::setError(res, 404, "not_found",
                   "integration \"" + integration_id + "\" has no " + (platform ? "platform" : "per-tenant") +
                       " webhook endpoint" +
                       (platform ? "; use /webhooks/" + integration_id + "/<tenant id>"
                                 : "; use /webhooks/" + integration_id));
    return std::nullopt;
  }
  std::string tenant_id;
  if (!platform) {
    tenant_id = req.param("tenant");
    if (!tenantExists(tenant_id)) {
      count(Received::kNotFound);
      http::setError(res, 404, "unknown_tenant", "no tenant with id \"" + tenant_id.substr(0, 100) + "\"");
      return std::nullopt;
    }
  }
  // Text that is not UTF-8 cannot become the JSON the plugin and the store receive.
  if (!http::requireUtf8(req, res)) return std::nullopt;
  if (tooDeep(req.body)) {
    http::setError(res, 400, "invalid_payload",
                   "webhook payload is JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return std::nullopt;
  }

  // 1. The plugin checks the signature over the exact bytes. The request JSON is built by hand: the same text
  // nlohmann would give ({"headers","method","path","query","tenant"}), a few microseconds cheaper.
  std::string headers_json;
  if (auto fast = headersJson(req)) {
    headers_json = std::move(*fast);
  } else {
    headers_json = dumpJson(headersObject(req));
  }
  std::string request_json;
  request_json.reserve(headers_json.size() + req.path.size() + 96);
  request_json += "{\"headers\":";
  request_json += headers_json;
  request_json += ",\"method\":";
  request_json += http::jsonQuote(req.method);
  request_json += ",\"path\":";
  request_json += http::jsonQuote(req.path);
  request_json += ",\"query\":";
  if (req.query.empty()) {
    request_json += "{}";
  } else {
    json query = json::object();
    for (const auto& [k, v] : req.query)
      query[k] = v;
    request_json += dumpJson(query);
  }
  request_json += ",\"tenant\":";
  request_json += http::jsonQuote(tenant_id);
  request_json += '}';
  runtime::CallResult verified = runtime.verifyWebhook(*integration, tenant_id, request_json, req.body);
  if (!verified.status.isOk()) {
    switch (verified.status.code()) {
      case StatusCode::kSignature:
        count(Received::kInvalidSignature);
        http::setError(res, 400, "invalid_signature", verified.status.message());
        return std::nullopt;
      case StatusCode::kInvalidArgument:
        http::setError(res, 400, "invalid_payload", verified.status.message());
        return std::nullopt;
      case StatusCode::kTooLarge:
        http::setError(res, 413, "payload_too_large", verified.status.message());
        return std::nullopt;
      case StatusCode::kNotFound:  // the plugin has no connection of this tenant to verify or store for
        http::setError(
            res, 404, "not_connected",
            "tenant \"" + tenant_id + "\" has not connected integration \"" + integration_id + "\"");
        return std::nullopt;
      default:
        // Not the sender's fault: answer 5xx so that the provider retries later.
        log::error("webhook verification failed",
                   {{"integration", integration_id}, {"error", verified.status.toString()}});
        http::setError(res,
                       verified.status.code() == StatusCode::kUnavailable ||
                               verified.status.code() == StatusCode::kPluginUnavailable
                           ? 503
                           : 500,
                       "verification_failed", verified.status.message());
        return std::nullopt;
    }
  }
  auto parsed_result = parseJson(verified.result_json);
  const json result = parsed_result.isOk() ? std::move(*parsed_result) : json();
  store::InboxEvent event;
  if (result.is_object()) {
    event.event_id = stringField(result, "event_id");
    event.type = stringField(result, "type");
    event.object_id = stringField(result, "object_id");
    event.account = stringField(result, "account");
    auto occurred = result.find("occurred_at");
    if (occurred != result.end() && occurred->is_number_integer())
      event.occurred_at = occurred->get<int64_t>();
  }
  if (event.event_id.empty()) {
    log::error("plugin verify_webhook result lacks event_id", {{"integration", integration_id}});
    http::setError(res, 500, "plugin_error", "the plugin accepted the webhook but reported no event_id");
    return std::nullopt;
  }

  // 2. Platform endpoint: find the tenant (explicit "tenant", else the account's route).
  event.status = store::InboxStatus::kPending;
  if (platform) {
    const std::string explicit_tenant = result.is_object() ? stringField(result, "tenant") : std::string();
    if (!explicit_tenant.empty() && tenantExists(explicit_tenant)) {
      tenant_id = explicit_tenant;
    } else if (!event.account.empty()) {
      auto routed = events.routeTenant(integration_id, event.account);
      if (!routed.isOk()) {
        http::setError(res, 503, "unavailable", "webhook routing lookup failed; retry later");
        return std::nullopt;
      }
      if (routed->has_value()) tenant_id = **routed;
    }
    if (tenant_id.empty()) event.status = store::InboxStatus::kUnroutable;
  }

  const int64_t now = nowMs();
  event.integration_id = integration_id;
  event.tenant_id = tenant_id;
  event.payload = req.body;
  event.payload_sha256 = sha256(req.body);
  event.headers_json = std::move(headers_json);
  event.received_at = now;
  event.next_attempt_at = now;
  return event;
}

void Inbox::Impl::intake(const http::Request& req, const http::Respond& respond, bool platform) {
  http::Response res;
  std::optional<store::InboxEvent> event = verifyIntake(req, res, platform);
  if (!event) return respond(std::move(res));
  // 3. One transaction (group-committed with concurrent intakes); acknowledge only after it committed. No
  // thread waits for the commit: the writer completes the answer.
  struct Ids {
    std::string integration_id, tenant_id, event_id, account;
    bool unroutable;
  };
  auto ids =
      std::make_shared<const Ids>(Ids{event->integration_id, event->tenant_id, event->event_id,
                                      event->account, event->status == store::InboxStatus::kUnroutable});
  const IntegrationMetrics* m = &metricsFor(event->integration_id);
  events.insertAsync(std::move(*event), [this, m, ids, respond](Result<store::IntakeResult> stored) {
    auto count = [m](Received r) { m->received[static_cast<size_t>(r)]->inc(); };
    http::Response res;
    res.tenant_id = ids->tenant_id;  // verified (or routed) by now: the access log may name it
    if (!stored.isOk()) {
      log::error("webhook intake: storing failed",
                 {{"integration", ids->integration_id}, {"error", stored.status().toString()}});
      http::setError(res, 503, "unavailable", "the webhook could not be stored; retry later");
      return respond(std::move(res));
    }
    switch (stored->outcome) {
      case store::IntakeOutcome::kAccepted:
        if (ids->unroutable) {
          count(Received::kUnroutable);
          log::warn(
              "webhook for an unmapped account stored as unroutable",
              {{"integration", ids->integration_id}, {"account", ids->account}, {"event_id", ids->event_id}});
          res.json(200, R"({"received":true,"duplicate":false,"routed":false})");
        } else {
          count(Received::kAccepted);
          res.json(200, R"({"received":true,"duplicate":false})");
          wake();
        }
        break;
      case store::IntakeOutcome::kDuplicate:
        count(Received::kDuplicate);
        res.json(200, R"({"received":true,"duplicate":true})");
        break;
      case store::IntakeOutcome::kConflict:
        count(Received::kConflict);
        log::warn(
            "webhook event id repeated with a different payload",
            {{"integration", ids->integration_id}, {"tenant", ids->tenant_id}, {"event_id", ids->event_id}});
        res.json(200, R"({"received":true,"duplicate":true,"conflict":true})");
        break;
    }
    respond(std::move(res));
  });
}

}  // namespace ih::inbox
