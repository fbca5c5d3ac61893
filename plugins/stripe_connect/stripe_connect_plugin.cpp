// stripe_connect: Stripe Connect (Standard accounts through OAuth) for a platform. One set of platform
// settings in the TOML (client_id, platform secret key, Connect webhook secret); each tenant connects its own
// Stripe account through the host's OAuth routes (ABI 1.2):
//   - oauth_authorize: https://connect.stripe.com/oauth/authorize?response_type=code&client_id&scope=
//     read_write&state&redirect_uri; oauth_complete: POST /oauth/token (grant_type=authorization_code,
//     platform key), credentials (stripe_user_id, tokens, livemode, scope) stored by the host, account bound
//     to the tenant for platform webhooks (one account ↔ one tenant).
//   - every Stripe call for a tenant: the PLATFORM key plus `Stripe-Account: <stripe_user_id>`.
//   - platform webhook /webhooks/<integration>: Stripe-Signature with the Connect endpoint secret; the host
//     routes by event.account. Invoice/payment/subscription events → records + events (stripe_common);
//     account.application.deauthorized → credentials wiped, account unbound.
//   - disconnect: POST /oauth/deauthorize (client_id, stripe_user_id), then unbind.
//   - jobs catalog / transactions / reconcile_events per connected account (stripe_common/sync_jobs.h);
//     actions create_product / create_price on the connected account.
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ih/plugin.hpp"
#include "stripe_common/client.h"
#include "stripe_common/event_handlers.h"
#include "stripe_common/json_util.h"
#include "stripe_common/keys.h"
#include "stripe_common/sync_jobs.h"
#include "stripe_common/usage.h"
#include "stripe_common/validate.h"
#include "stripe_common/webhook_signature.h"

namespace stripe_connect {
namespace {

using ih::sdk::Call;
using ih::sdk::Form;
using ih::sdk::Result;
using ih::sdk::Status;
using ih::stripe::Client;
using ih::stripe::integer;
using ih::stripe::nowSeconds;
using ih::stripe::parseJson;
using ih::stripe::str;
using nlohmann::json;

constexpr char kManifestHead[] = R"json({
  "name": "stripe_connect",
  "version": "1.0.0",
  "display_name": "Stripe Connect",
  "description": "Stripe Connect for a platform: tenants connect their own Stripe account through OAuth; webhooks, syncs and actions run per connected account with the platform key and the Stripe-Account header.",
  "config_schema": {
    "type": "object",
    "properties": {
      "client_id": {"type": "string", "pattern": "^ca_", "description": "Connect client id (ca_...) from Dashboard > Settings > Connect > Onboarding options > OAuth."},
      "secret_key": {"type": "string", "secret": true, "pattern": "^(sk|rk)_(test|live)_", "description": "The PLATFORM secret key (prefer IHOST_INTEGRATIONS__<ID>__SECRET_KEY over the file)."},
      "webhook_secret": {"type": "string", "secret": true, "pattern": "^whsec_", "description": "Signing secret of the Connect webhook endpoint (events on connected accounts)."},
      "redirect_url": {"type": "string", "pattern": "^https?://", "description": "OAuth redirect URI registered at Stripe; default: <server.public_url>/oauth/<id>/callback."},
      "connect_base_url": {"type": "string", "default": "https://connect.stripe.com", "pattern": "^https?://", "description": "Stripe OAuth base URL (a test double in tests)."},
      "api_base_url": {"type": "string", "default": "https://api.stripe.com", "pattern": "^https?://", "description": "Stripe API base URL (a test double in tests)."},
      "stripe_version": {"type": "string", "default": "2024-06-20", "description": "Stripe-Version sent on every API call."},
      "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 120000, "default": 20000, "description": "Timeout of one Stripe call."},
      "success_url": {"type": "string", "pattern": "^https?://", "description": "Where the browser goes after a successful connection (?integration=<id>&status=connected is appended)."},
      "webhook_tolerance_s": {"type": "integer", "minimum": 0, "maximum": 86400, "default": 300, "description": "Maximum age of a webhook signature timestamp; 0 skips the check."},)json";
// Then the sync settings (ih::stripe::kSyncSettingsSchemaJson), shared with stripe_byok.
constexpr char kManifestMiddle[] = R"json(
    },
    "required": ["client_id", "secret_key"]
  },
  "webhooks": {"tenant": false, "platform": true},
  "jobs": )json";

constexpr char kManifestTail[] = R"json(,
  "actions": [
    {"name": "create_product", "description": "Creates a product on the tenant's connected account.",
     "input_schema": {"type": "object", "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                      "active": {"type": "boolean"}, "metadata": {"type": "object"}, "idempotency_key": {"type": "string"}},
                      "required": ["name"]}},
    {"name": "create_price", "description": "Creates a price (one-off or recurring) on the tenant's connected account.",
     "input_schema": {"type": "object", "properties": {"product": {"type": "string"}, "unit_amount": {"type": "integer", "minimum": 0},
                      "currency": {"type": "string"}, "interval": {"type": "string", "enum": ["day", "week", "month", "year"]},
                      "lookup_key": {"type": "string"}, "nickname": {"type": "string"}, "metadata": {"type": "object"},
                      "idempotency_key": {"type": "string"}},
                      "required": ["product", "unit_amount", "currency"]}},
    )json" IH_STRIPE_REPORT_USAGE_ACTION_JSON R"json(
  ],
  "events": ["invoice.updated", "payment.succeeded", "payment.failed", "subscription.updated",
             "stripe.sync.started", "stripe.webhook.received", "transaction.created"],
  "entitlements": )json";

// The manifest with the shared jobs array spliced in; static storage for the descriptor.
const char* manifestJson() {
  static const std::string manifest = std::string(kManifestHead) + ih::stripe::kSyncSettingsSchemaJson +
                                      kManifestMiddle + ih::stripe::kSyncJobsManifestJson + kManifestTail +
                                      ih::stripe::kEntitlementsManifestJson +
                                      ",\n  \"mappings\": " + ih::stripe::kMappingsManifestJson + "\n}";
  return manifest.c_str();
}

std::string trimSlash(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

// What the host stores (encrypted) for a connected tenant.
struct Connection {
  std::string stripe_user_id;
  bool livemode = false;
};

class StripeConnectPlugin final : public ih::sdk::Plugin {
 public:
  StripeConnectPlugin(const ih_host_api* /*host*/, std::string_view integration_id,
                      std::string_view config_json)
      : integration_id_(integration_id) {
    const json config = parseJson(config_json);
    if (!config.is_object()) throw std::invalid_argument("configuration must be a JSON object");
    client_id_ = str(config, "client_id");
    if (client_id_.rfind("ca_", 0) != 0) throw std::invalid_argument("client_id must start with ca_");
    secret_key_ = str(config, "secret_key");
    auto mode = ih::stripe::secretKeyMode(secret_key_, "secret_key");
    if (!mode) throw std::invalid_argument(mode.status().message());
    platform_livemode_ = *mode == ih::stripe::KeyMode::kLive;
    webhook_secret_ = str(config, "webhook_secret");
    if (!webhook_secret_.empty() && webhook_secret_.rfind("whsec_", 0) != 0)
      throw std::invalid_argument("webhook_secret must start with whsec_");
    redirect_url_ = str(config, "redirect_url");
    connect_base_url_ = trimSlash(str(config, "connect_base_url", "https://connect.stripe.com"));
    options_.api_base_url = trimSlash(str(config, "api_base_url", "https://api.stripe.com"));
    for (const std::string* url : {&connect_base_url_, &options_.api_base_url}) {
      if (url->rfind("http://", 0) != 0 && url->rfind("https://", 0) != 0)
        throw std::invalid_argument("connect_base_url and api_base_url must start with http:// or https://");
    }
    options_.stripe_version = str(config, "stripe_version", "2024-06-20");
    options_.timeout_ms = integer(config, "timeout_ms", 20000);
    tolerance_s_ = integer(config, "webhook_tolerance_s", ih::stripe::kDefaultWebhookToleranceSeconds);
    sync_options_ = ih::stripe::SyncOptions::fromConfig(config);
  }

  // ---- OAuth (ABI 1.2) ----------------------------------------------------------------------------------
  Status oauthAuthorize(Call& call, std::string_view params_json) override {
    const json params = parseJson(params_json);
    const std::string state = str(params, "state");
    if (state.empty()) return Status::invalidArgument("oauth_authorize needs a state");
    const std::string redirect = redirect_url_.empty() ? str(params, "redirect_uri") : redirect_url_;
    Form query;
    query.add("response_type", "code").add("client_id", client_id_).add("scope", "read_write");
    query.add("state", state);
    if (!redirect.empty()) query.add("redirect_uri", redirect);
    return call.setResult(json({{"url", connect_base_url_ + "/oauth/authorize?" + query.encode()}}).dump());
  }

  Status oauthComplete(Call& call, std::string_view params_json) override {
    const json query = parseJson(params_json).value("query", json::object());
    const std::string code = str(query, "code");
    if (code.empty()) return Status::invalidArgument("the callback carries no authorization code");
    if (!ih::stripe::isStripeId(code, "ac_"))
      return Status::invalidArgument("the callback's code is not a Stripe authorization code (ac_...)");

    Form form;
    form.add("grant_type", "authorization_code").add("code", code);
    auto token = oauthPost(call, "/oauth/token", form);
    if (!token) return token.status();
    const std::string account = str(*token, "stripe_user_id");
    if (account.rfind("acct_", 0) != 0)
      return Status::provider("Stripe's token answer has no stripe_user_id");
    const bool livemode = token->value("livemode", false);
    if (livemode != platform_livemode_)
      return Status::invalidArgument(std::string("the connected account was authorized in ") +
                                     (livemode ? "live" : "test") + " mode but the platform key is a " +
                                     (platform_livemode_ ? "live" : "test") + " key");

    // A tenant switching accounts releases the old one; one account maps to one tenant (CONFLICT otherwise).
    if (auto previous = loadConnection(call); previous && previous->stripe_user_id != account)
      (void)call.bindAccount(previous->stripe_user_id, false);
    if (Status s = call.bindAccount(account, true); !s.isOk()) {
      if (s.code() == IH_ERR_CONFLICT)
        return Status::conflict("Stripe account " + account + " is already connected to another tenant");
      return s;
    }
    json stored = {{"stripe_user_id", account},
                   {"access_token", str(*token, "access_token")},
                   {"refresh_token", str(*token, "refresh_token")},
                   {"stripe_publishable_key", str(*token, "stripe_publishable_key")},
                   {"token_type", str(*token, "token_type")},
                   {"scope", str(*token, "scope")},
                   {"livemode", livemode}};
    if (Status s = call.putCredentials(stored.dump()); !s.isOk()) {
      (void)call.bindAccount(account, false);
      return s;
    }
    json info = {{"account", account}, {"livemode", livemode}, {"scope", str(*token, "scope")}};
    Client client(call, options_, secret_key_, account);
    if (auto details = client.get("/v1/account")) {
      info["email"] = details->value("email", json(nullptr));
      info["country"] = details->value("country", json(nullptr));
    } else {
      call.warn("could not read the connected account", json({{"error", details.status().message()}}).dump());
    }
    call.info("stripe account connected", json({{"account", account}}).dump());
    return call.setResult(info.dump());
  }

  // ---- connect / test / disconnect --------------------------------------------------------------------
  Status connect(Call&, std::string_view) override {
    return Status::invalidArgument("stripe_connect connects through Stripe OAuth: GET /api/integrations/" +
                                   integration_id_ +
                                   "/oauth/start and send the account owner to the returned url");
  }

  Status testConnection(Call& call) override {
    auto conn = requireConnection(call);
    if (!conn) return conn.status();
    Client client(call, options_, secret_key_, conn->stripe_user_id);
    auto account = client.get("/v1/account");
    if (!account) {
      if (account.status().code() == IH_ERR_PERMISSION_DENIED ||
          account.status().code() == IH_ERR_UNAUTHENTICATED)
        return call.setResult(json({{"ok", false},
                                    {"detail", "the platform has no access to " + conn->stripe_user_id +
                                                   " any more: " + account.status().message()}})
                                  .dump());
      return account.status();
    }
    return call.setResult(json({{"ok", true},
                                {"detail",
                                 {{"account", conn->stripe_user_id},
                                  {"livemode", conn->livemode},
                                  {"charges_enabled", account->value("charges_enabled", json(nullptr))}}}})
                              .dump());
  }

  // Revokes the platform's access at Stripe, then releases the account; the host wipes the credentials.
  Status disconnect(Call& call) override {
    auto conn = loadConnection(call);
    if (!conn) return call.setResult(R"({"revoked":false})");
    Form form;
    form.add("client_id", client_id_).add("stripe_user_id", conn->stripe_user_id);
    auto revoked = oauthPost(call, "/oauth/deauthorize", form);
    (void)call.bindAccount(conn->stripe_user_id, false);
    if (!revoked) {
      // Already disconnected at Stripe (e.g. by the account owner): nothing left to revoke.
      if (revoked.status().code() == IH_ERR_INVALID_ARGUMENT &&
          revoked.status().message().find("not connected") != std::string::npos)
        return call.setResult(json({{"revoked", false}, {"account", conn->stripe_user_id}}).dump());
      return revoked.status();
    }
    return call.setResult(json({{"revoked", true}, {"account", conn->stripe_user_id}}).dump());
  }

  // ---- platform webhooks ---------------------------------------------------------------------------------
  Status verifyWebhook(Call& call, std::string_view request_json, std::string_view body) override {
    if (webhook_secret_.empty())
      return Status::signature("no webhook_secret configured for " + integration_id_ +
                               ": set the Connect endpoint's signing secret (whsec_...)");
    // Runs for every delivery, on the host's network thread: no JSON DOM, one scan of the body (as BYOK).
    namespace sj = ih::sdk::json;
    const auto headers = sj::rawField(request_json, "headers");
    const auto header = headers ? sj::headerField(*headers, "Stripe-Signature") : std::nullopt;
    if (!header) return Status::signature("missing Stripe-Signature header");
    auto verified = ih::stripe::verifySignature(*header, body, webhook_secret_, tolerance_s_, nowSeconds());
    if (!verified) return verified.status();
    // event.account names the connected account; the host maps it to the tenant (unknown: unroutable).
    auto meta = ih::stripe::verifiedEventMeta(body, *verified, true);
    if (!meta) return meta.status();
    return call.setResult(*meta);
  }

  Status handleWebhook(Call& call, std::string_view event_json, std::string_view body) override {
    const json event = parseJson(body);
    if (!event.is_object()) return Status::invalidArgument("stored webhook body is not JSON");
    const std::string account = str(event, "account");
    const std::string type = str(event, "type");
    if (event.value("livemode", false) != platform_livemode_) {
      call.info("stripe event of the other mode ignored", json({{"event_id", str(event, "id")}}).dump());
      return Status::ok();
    }
    auto conn = loadConnection(call);
    if (type == "account.application.deauthorized") {
      const json application = event.contains("data") ? event["data"].value("object", json()) : json();
      if (application.is_object() && !str(application, "id").empty() && str(application, "id") != client_id_)
        return Status::ok();  // another application of that account
      if (conn && conn->stripe_user_id == account) {
        Status wiped = call.deleteCredentials("Stripe: account.application.deauthorized for " + account);
        if (!wiped.isOk() && wiped.code() != IH_ERR_NOT_FOUND) return wiped;
      }
      if (!account.empty()) (void)call.bindAccount(account, false);
      return Status::ok();
    }
    // Never apply another account's data to this tenant (a stale route, a switched account).
    if (!conn || conn->stripe_user_id != account) {
      call.warn("stripe event for an account this tenant is not connected to; skipped",
                json({{"event_id", str(event, "id")}, {"account", account}}).dump());
      return Status::ok();
    }
    return ih::stripe::handleEvent(call, event_json, body, sync_options_.emit_webhook_received);
  }

  // ---- jobs -----------------------------------------------------------------------------------------------
  Status runJob(Call& call, std::string_view job, std::string_view params_json) override {
    if (!ih::stripe::isSyncJob(job)) return Status::notFound("no such job: " + std::string(job));
    auto conn = requireConnection(call);
    if (!conn) return conn.status();
    Client client(call, options_, secret_key_, conn->stripe_user_id);
    return ih::stripe::runSyncJob(call, client, job, params_json, sync_options_);
  }

  // ---- actions
  // ----------------------------------------------------------------------------------------------
  Status runAction(Call& call, std::string_view action, std::string_view input_json) override {
    const json input = parseJson(input_json.empty() ? std::string_view("{}") : input_json);
    if (!input.is_object()) return Status::invalidArgument("action input must be a JSON object");
    // Input Stripe would refuse is refused here, before a single request is sent.
    if (Status valid = checkInput(action, input); !valid.isOk()) return valid;
    auto conn = requireConnection(call);
    if (!conn) return conn.status();
    Client client(call, options_, secret_key_, conn->stripe_user_id);
    // A caller-given idempotency_key makes a retry return the same object; otherwise the host generates a key
    // per request and reuses it across its own retries.
    const std::string caller_key = str(input, "idempotency_key");
    auto key = [&](const char* what) {
      return caller_key.empty() ? std::string()
                                : ih::stripe::stableIdempotencyKey(
                                      {what, integration_id_, conn->stripe_user_id, caller_key});
    };
    auto addMetadata = [&](Form& form) {
      if (input.contains("metadata") && input["metadata"].is_object()) {
        for (const auto& [k, v] : input["metadata"].items())
          form.addMember("metadata", k, v.is_string() ? v.get<std::string>() : v.dump());
      }
    };
    if (action == "report_usage") return ih::stripe::reportUsage(call, client, input);
    if (action == "create_product") {
      Form form;
      form.add("name", str(input, "name"));
      if (!str(input, "description").empty()) form.add("description", str(input, "description"));
      if (input.contains("active") && input["active"].is_boolean())
        form.add("active", input["active"].get<bool>());
      addMetadata(form);
      auto product = client.post("/v1/products", form, key("create_product"));
      if (!product) return product.status();
      return call.setResult(json({{"account", conn->stripe_user_id},
                                  {"product",
                                   {{"id", str(*product, "id")},
                                    {"name", product->value("name", json(nullptr))},
                                    {"active", product->value("active", json(nullptr))}}}})
                                .dump());
    }
    if (action == "create_price") {
      Form form;
      form.add("product", str(input, "product"))
          .add("unit_amount", integer(input, "unit_amount"))
          .add("currency", str(input, "currency"));
      if (!str(input, "interval").empty()) form.add("recurring[interval]", str(input, "interval"));
      if (!str(input, "lookup_key").empty()) form.add("lookup_key", str(input, "lookup_key"));
      if (!str(input, "nickname").empty()) form.add("nickname", str(input, "nickname"));
      addMetadata(form);
      auto price = client.post("/v1/prices", form, key("create_price"));
      if (!price) return price.status();
      return call.setResult(json({{"account", conn->stripe_user_id},
                                  {"price",
                                   {{"id", str(*price, "id")},
                                    {"product", price->value("product", json(nullptr))},
                                    {"unit_amount", price->value("unit_amount", json(nullptr))},
                                    {"currency", price->value("currency", json(nullptr))},
                                    {"recurring", price->value("recurring", json(nullptr))}}}})
                                .dump());
    }
    return Status::notFound("unknown action " + std::string(action));
  }

 private:
  static Status checkInput(std::string_view action, const json& input) {
    using ih::stripe::checkText;
    if (action == "report_usage") return ih::stripe::checkReportUsage(input);
    std::vector<Status> checks = {checkText(input, "idempotency_key", ih::stripe::kMaxStripeId),
                                  ih::stripe::checkMetadata(input)};
    if (action == "create_product") {
      checks.push_back(checkText(input, "name", ih::stripe::kMaxStripeText, /*required=*/true));
      checks.push_back(checkText(input, "description"));
      if (input.contains("active") && !input["active"].is_boolean())
        checks.push_back(Status::invalidArgument("active must be true or false"));
    } else if (action == "create_price") {
      checks.push_back(ih::stripe::checkId(input, "product", "prod_", /*required=*/true));
      checks.push_back(ih::stripe::checkInteger(input, "unit_amount", 0, ih::stripe::kMaxStripeAmount, true));
      checks.push_back(ih::stripe::checkCurrency(input, "currency", /*required=*/true));
      checks.push_back(checkText(input, "lookup_key", 200));
      checks.push_back(checkText(input, "nickname"));
      const json& interval = ih::stripe::member(input, "interval");
      if (!interval.is_null() && interval != "day" && interval != "week" && interval != "month" &&
          interval != "year")
        checks.push_back(Status::invalidArgument("interval must be day, week, month or year"));
    }
    for (const Status& s : checks)
      if (!s.isOk()) return s;
    return Status::ok();
  }

  std::optional<Connection> loadConnection(Call& call) const {
    auto stored = call.credentials();
    if (!stored) return std::nullopt;
    const json j = parseJson(*stored);
    Connection conn;
    conn.stripe_user_id = str(j, "stripe_user_id");
    conn.livemode = j.value("livemode", false);
    if (conn.stripe_user_id.empty()) return std::nullopt;
    return conn;
  }

  Result<Connection> requireConnection(Call& call) const {
    auto stored = call.credentials();
    if (!stored) {
      if (stored.status().code() == IH_ERR_NOT_FOUND)
        return Status::unauthenticated(
            "no Stripe account is connected for this tenant: GET /api/integrations/" + integration_id_ +
            "/oauth/start first");
      return stored.status();
    }
    auto conn = loadConnection(call);
    if (!conn) return Status::unauthenticated("stored Stripe Connect credentials have no stripe_user_id");
    return *conn;
  }

  // POST to connect.stripe.com with the platform key. OAuth errors are {"error","error_description"}.
  Result<json> oauthPost(Call& call, const char* path, const Form& form) const {
    ih::sdk::HttpRequest request;
    request.method = "POST";
    request.url = connect_base_url_ + path;
    request.headers = {{"Authorization", "Bearer " + secret_key_},
                       {"Content-Type", "application/x-www-form-urlencoded"}};
    request.body = form.encode();
    request.endpoint = path;
    request.timeout_ms = options_.timeout_ms;
    request.max_attempts = 1;  // an authorization code is single-use: never replay the exchange
    auto response = call.http(request);
    if (!response) return response.status();
    const json body = parseJson(response->body);
    if (response->isSuccess() && body.is_object()) return body;
    const std::string error = str(body, "error", "http_" + std::to_string(response->status));
    const std::string description = ih::stripe::maskSecrets(str(body, "error_description"));
    const std::string message = "Stripe OAuth " + error + (description.empty() ? "" : ": " + description);
    if (response->status >= 500) return Status::unavailable("Stripe is unreachable: " + message);
    if (response->status == 429) return Status::rateLimited(message);
    if (error == "invalid_client" && response->status == 401)
      return Status::unauthenticated("Stripe rejected the platform secret key (" + message + ")");
    if (error == "invalid_client" && description.find("not connected") != std::string::npos)
      return Status::invalidArgument("account not connected: " + message);
    return Status::invalidArgument(message);
  }

  const std::string integration_id_;
  std::string client_id_;
  std::string secret_key_;  // the platform key; only ever sent in Authorization
  bool platform_livemode_ = false;
  std::string webhook_secret_;
  std::string redirect_url_;
  std::string connect_base_url_;
  ih::stripe::ClientOptions options_;
  int64_t tolerance_s_ = ih::stripe::kDefaultWebhookToleranceSeconds;
  ih::stripe::SyncOptions sync_options_;
};

}  // namespace
}  // namespace stripe_connect

IH_SDK_EXPORT_PLUGIN(stripe_connect::StripeConnectPlugin, stripe_connect::manifestJson(),
                     IH_CAP_OAUTH | IH_CAP_WEBHOOKS | IH_CAP_JOBS | IH_CAP_ACTIONS | IH_CAP_CONNECT, 0)
