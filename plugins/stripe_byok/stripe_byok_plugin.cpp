// stripe_byok: Stripe with the tenant's own keys (Bring Your Own Keys).
//   - connect / test / disconnect: key format checks, then GET /v1/balance; credentials stored by the host.
//   - tenant webhooks /webhooks/<integration>/<tenant>: Stripe-Signature checked with the tenant's endpoint
//     secret; invoice, payment_intent and subscription events become records + normalized events.
//   - actions: ensure_products, create_invoices, create_payment_intent, simulate_payment (test mode), setup.
// Every Stripe call goes through the host's outbound HTTP at the configured api_base_url (stripe_common).
#include <charconv>
#include <chrono>
#include <cstdint>
#include <set>
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

namespace stripe_byok {
namespace {

using ih::sdk::Call;
using ih::sdk::Form;
using ih::sdk::Result;
using ih::sdk::Status;
using ih::stripe::Client;
using ih::stripe::idOrNull;
using ih::stripe::integer;
using ih::stripe::member;
using ih::stripe::nowSeconds;
using ih::stripe::parseJson;
using ih::stripe::stableIdempotencyKey;
using ih::stripe::str;
using nlohmann::json;

constexpr char kManifestHead[] = R"json({
  "name": "stripe_byok",
  "version": "1.0.0",
  "display_name": "Stripe (your own keys)",
  "description": "Stripe with the tenant's own secret and publishable keys: invoices, products, payment intents and webhook status updates.",
  "config_schema": {
    "type": "object",
    "properties": {
      "api_base_url": {"type": "string", "default": "https://api.stripe.com", "pattern": "^https?://",
                       "description": "Stripe API base URL (a test double in tests)."},
      "stripe_version": {"type": "string", "default": "2024-06-20",
                         "description": "Stripe-Version sent on every call (and set on webhook endpoints setup creates)."},
      "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 120000, "default": 20000,
                     "description": "Timeout of one Stripe call."},
      "webhook_tolerance_s": {"type": "integer", "minimum": 0, "maximum": 86400, "default": 300,
                              "description": "Maximum age of a webhook signature timestamp; 0 skips the check."},
      "catalog": {"type": "array", "description": "Plans ensure_products provisions (price lookup_key = key).",
                  "items": {"type": "object",
                            "properties": {"key": {"type": "string", "secret": false, "description": "The plan's price lookup_key (not a secret)."},
                                           "name": {"type": "string"},
                                           "amount": {"type": "integer", "minimum": 0},
                                           "currency": {"type": "string"},
                                           "interval": {"type": "string", "enum": ["day", "week", "month", "year", "one_time"],
                                                        "description": "Billing interval; one_time: a single purchase (create_payment_intent with price = key and buyer)."},
                                           "trial_days": {"type": "integer", "minimum": 0}},
                            "required": ["key", "name", "amount", "currency"]},
                  "default": [
                    {"key": "starter", "name": "Starter", "amount": 900, "currency": "usd", "interval": "month", "trial_days": 7},
                    {"key": "pro", "name": "Pro", "amount": 2900, "currency": "usd", "interval": "month", "trial_days": 7}]},
      "success_url": {"type": "string", "description": "Where a payment page returns after success (optional)."},
      "rate_limit_per_s": {"type": "number", "minimum": 0, "default": 0,
                           "description": "Stripe requests per second per tenant; 0 = Stripe's documented limits (25 test, 100 live). Raise only if Stripe raised your limits."},)json";
// Then the sync settings (ih::stripe::kSyncSettingsSchemaJson), shared with stripe_connect.
constexpr char kManifestMiddle[] = R"json(
    }
  },
  "connect_schema": {
    "type": "object",
    "properties": {
      "secret_key": {"type": "string", "secret": true, "maxLength": 255, "description": "sk_test_/sk_live_ or restricted rk_test_/rk_live_ key."},
      "publishable_key": {"type": "string", "maxLength": 255, "description": "pk_test_/pk_live_ key of the same mode."},
      "webhook_secret": {"type": "string", "secret": true, "maxLength": 255, "description": "whsec_ signing secret of the Stripe webhook endpoint (optional; setup can create one)."}
    },
    "required": ["secret_key", "publishable_key"]
  },
  "webhooks": {"tenant": true, "platform": false},
  "jobs": )json";
// The jobs come from the shared Stripe library, so BYOK and Connect declare the same jobs and cursor keys.
constexpr char kManifestTail[] = R"json(,
  "actions": [
    {"name": "ensure_products", "description": "Retrieves or creates the catalog's products and prices, recurring or one-time (idempotent)."},
    {"name": "create_invoices", "description": "Creates and finalizes one invoice per buyer; reruns create nothing new."},
    {"name": "create_payment_intent", "description": "Creates a PaymentIntent (amount + currency, or price: a price_ id or catalog key); a one-time catalog item takes buyer and is refused (409) when that buyer owns it already. Returns client_secret and publishable_key."},
    {"name": "create_checkout_session", "description": "A Stripe Checkout page for a catalog plan (plan, buyer, success_url/cancel_url): subscription mode with the plan's trial_days, or payment mode for a one-time item (409 when the buyer owns it). Returns url."},
    {"name": "create_billing_portal_session", "description": "A Stripe customer portal link (customer, return_url) where the customer manages subscriptions, payment methods and invoices. Returns url."},
    {"name": "send_invoice", "description": "Emails an open invoice's hosted link through Stripe (invoice, email: true) or just returns the link to copy (email: false)."},
    )json" IH_STRIPE_REPORT_USAGE_ACTION_JSON R"json(,
    {"name": "simulate_payment", "description": "Test mode only: confirms a PaymentIntent with pm_card_visa or pays an invoice."},
    {"name": "setup", "description": "Interactive setup: checks the key, provisions the catalog, creates the webhook endpoint."}
  ],
  "events": ["invoice.updated", "payment.succeeded", "payment.failed", "subscription.updated",
             "stripe.sync.started", "stripe.webhook.received", "transaction.created"],
  "entitlements": )json";

const char* manifestJson() {
  static const std::string manifest = std::string(kManifestHead) + ih::stripe::kSyncSettingsSchemaJson +
                                      kManifestMiddle + ih::stripe::kSyncJobsManifestJson + kManifestTail +
                                      ih::stripe::kEntitlementsManifestJson +
                                      ",\n  \"mappings\": " + ih::stripe::kMappingsManifestJson + "\n}";
  return manifest.c_str();
}

// Catalog interval of an item bought once (a Stripe price without `recurring`).
constexpr std::string_view kOneTime = "one_time";

struct Plan {
  std::string key;
  std::string name;
  int64_t amount = 0;
  std::string currency = "usd";
  std::string interval = "month";
  int64_t trial_days = 0;
};

struct Credentials {
  std::string secret_key;
  std::string publishable_key;
  std::string webhook_secret;
  bool livemode = false;
};

// Stripe search query string literal: single quotes, with ' and \ escaped.
std::string searchLiteral(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

Status withContext(const Status& status, const std::string& what) {
  return Status(status.code(), what + ": " + status.message());
}

class StripeByokPlugin final : public ih::sdk::Plugin {
 public:
  StripeByokPlugin(const ih_host_api* /*host*/, std::string_view integration_id, std::string_view config_json)
      : integration_id_(integration_id) {
    const json config = parseJson(config_json);
    if (!config.is_object()) throw std::invalid_argument("configuration must be a JSON object");
    options_.api_base_url = str(config, "api_base_url", "https://api.stripe.com");
    while (!options_.api_base_url.empty() && options_.api_base_url.back() == '/')
      options_.api_base_url.pop_back();
    if (options_.api_base_url.rfind("http://", 0) != 0 && options_.api_base_url.rfind("https://", 0) != 0)
      throw std::invalid_argument("api_base_url must start with http:// or https://");
    options_.stripe_version = str(config, "stripe_version", "2024-06-20");
    options_.timeout_ms = integer(config, "timeout_ms", 20000);
    tolerance_s_ = integer(config, "webhook_tolerance_s", ih::stripe::kDefaultWebhookToleranceSeconds);
    success_url_ = str(config, "success_url");
    if (config.contains("rate_limit_per_s")) {
      if (!config["rate_limit_per_s"].is_number() || config["rate_limit_per_s"].get<double>() < 0)
        throw std::invalid_argument("rate_limit_per_s must be a number >= 0");
      options_.rate_limit_per_s = config["rate_limit_per_s"].get<double>();
    }
    sync_options_ = ih::stripe::SyncOptions::fromConfig(config);
    const json catalog = config.contains("catalog") ? config["catalog"] : defaultCatalog();
    if (!catalog.is_array()) throw std::invalid_argument("catalog must be an array of plans");
    std::set<std::string> seen;
    for (const json& entry : catalog) {
      Plan plan;
      plan.key = str(entry, "key");
      plan.name = str(entry, "name", plan.key);
      plan.amount = integer(entry, "amount", -1);
      plan.currency = str(entry, "currency", "usd");
      plan.interval = str(entry, "interval", "month");
      plan.trial_days = integer(entry, "trial_days", 0);
      if (plan.key.empty() || plan.amount < 0)
        throw std::invalid_argument("each catalog plan needs a key and a non-negative integer amount");
      if (!seen.insert(plan.key).second) throw std::invalid_argument("duplicate catalog key " + plan.key);
      catalog_.push_back(plan);
    }
  }

  // ---- connect / test / disconnect --------------------------------------------------------------------
  Status connect(Call& call, std::string_view input_json) override {
    const json input = parseJson(input_json);
    if (!input.is_object()) return Status::invalidArgument("connect body must be a JSON object");
    Credentials creds;
    creds.secret_key = str(input, "secret_key");
    creds.publishable_key = str(input, "publishable_key");
    creds.webhook_secret = str(input, "webhook_secret");
    auto mode = ih::stripe::checkKeyPair(creds.secret_key, creds.publishable_key);
    if (!mode) return mode.status();
    if (!creds.webhook_secret.empty() && !ih::stripe::isStripeId(creds.webhook_secret, "whsec_"))
      return Status::invalidArgument(
          "webhook_secret must be whsec_ followed by letters and digits (at most 255)");

    Client client(call, options_, creds.secret_key);
    auto balance = client.get("/v1/balance");
    if (!balance) return balance.status();
    creds.livemode = balance->value("livemode", *mode == ih::stripe::KeyMode::kLive);
    json info = {{"livemode", creds.livemode},
                 {"secret_key", ih::stripe::maskKey(creds.secret_key)},
                 {"publishable_key", ih::stripe::maskKey(creds.publishable_key)},
                 {"webhook_secret_set", !creds.webhook_secret.empty()}};
    // The account id is informative only: restricted keys may lack the permission.
    if (auto account = client.get("/v1/account")) info["account_id"] = idOrNull(member(*account, "id"));

    json stored = {{"secret_key", creds.secret_key},
                   {"publishable_key", creds.publishable_key},
                   {"livemode", creds.livemode}};
    if (!creds.webhook_secret.empty()) stored["webhook_secret"] = creds.webhook_secret;
    if (Status s = call.putCredentials(stored.dump()); !s.isOk()) return s;
    return call.setResult(info.dump());
  }

  Status testConnection(Call& call) override {
    auto creds = loadCredentials(call);
    if (!creds) return creds.status();
    Client client(call, options_, creds->secret_key);
    auto balance = client.get("/v1/balance");
    if (!balance) return balance.status();
    json available = json::array();
    for (const json& entry : member(*balance, "available")) {
      available.push_back({{"amount", integer(entry, "amount")}, {"currency", str(entry, "currency")}});
    }
    const json result = {
        {"ok", true},
        {"detail", {{"livemode", balance->value("livemode", creds->livemode)}, {"available", available}}}};
    return call.setResult(result.dump());
  }

  // BYOK: nothing to revoke at Stripe (the keys belong to the tenant); the host wipes what it stored.
  Status disconnect(Call& call) override { return call.setResult(R"({"revoked":false})"); }

  // ---- webhooks ---------------------------------------------------------------------------------------
  // Runs for every delivery, on the host's network thread: no JSON DOM (the body and the request are
  // scanned for the few members needed), and the second secret is opened only when the first does not match.
  Status verifyWebhook(Call& call, std::string_view request_json, std::string_view body) override {
    namespace sj = ih::sdk::json;
    const auto headers = sj::rawField(request_json, "headers");
    const auto header = headers ? sj::headerField(*headers, "Stripe-Signature") : std::nullopt;
    if (!header) return Status::signature("missing Stripe-Signature header");

    // The secret from `setup` (plugin secret), else the one given at connect (credentials).
    bool tried = false;
    Result<int64_t> verified = Status::signature("no signature checked");
    auto matches = [&](const std::string& secret) {
      tried = true;
      verified = ih::stripe::verifySignature(*header, body, secret, tolerance_s_, nowSeconds());
      return static_cast<bool>(verified);
    };
    bool ok = false;
    if (auto stored = call.secret("webhook_secret"); stored && stored->has_value()) ok = matches(**stored);
    if (!ok) {
      if (auto creds = call.credentials()) {
        const std::string secret = sj::stringField(*creds, "webhook_secret").value_or(std::string());
        if (!secret.empty()) ok = matches(secret);
      }
    }
    if (!tried)
      return Status::signature(
          "no webhook signing secret for this tenant: connect with webhook_secret or run setup");
    if (!ok) return verified.status();

    auto meta = ih::stripe::verifiedEventMeta(body, *verified, false);
    if (!meta) return meta.status();
    return call.setResult(*meta);
  }

  // The event mapping is shared with the Connect plugin (stripe_common/event_handlers.h).
  Status handleWebhook(Call& call, std::string_view event_json, std::string_view body) override {
    return ih::stripe::handleEvent(call, event_json, body, sync_options_.emit_webhook_received);
  }

  // ---- sync jobs (stripe_common/sync_jobs.h; the manifest's "jobs" = ih::stripe::kSyncJobsManifestJson)
  // ----
  Status runJob(Call& call, std::string_view job, std::string_view params_json) override {
    if (!ih::stripe::isSyncJob(job)) return Status::notFound("no such job: " + std::string(job));
    auto creds = loadCredentials(call);
    if (!creds) return creds.status();
    Client client(call, options_, creds->secret_key);
    return ih::stripe::runSyncJob(call, client, job, params_json, sync_options_);
  }

  // ---- actions ------------------------------------------------------------------------------------------
  Status runAction(Call& call, std::string_view action, std::string_view input_json) override {
    json input = parseJson(input_json.empty() ? std::string_view("{}") : input_json);
    if (!input.is_object()) return Status::invalidArgument("action input must be a JSON object");
    // Input Stripe would refuse is refused here, before a single request is sent.
    if (Status valid = checkInput(action, input); !valid.isOk()) return valid;
    auto creds = loadCredentials(call);
    if (!creds) return creds.status();
    Client client(call, options_, creds->secret_key);
    if (action == "ensure_products") {
      auto plans = ensureProducts(client, selectPlans(input));
      if (!plans) return plans.status();
      return call.setResult(plans->dump());
    }
    if (action == "create_invoices") return createInvoices(call, client, input);
    if (action == "create_payment_intent") return createPaymentIntent(call, client, *creds, input);
    if (action == "create_checkout_session") return createCheckoutSession(call, client, input);
    if (action == "create_billing_portal_session") return createBillingPortalSession(call, client, input);
    if (action == "send_invoice") return sendInvoice(call, client, input);
    if (action == "report_usage") return ih::stripe::reportUsage(call, client, input);
    if (action == "simulate_payment") return simulatePayment(call, client, *creds, input);
    if (action == "setup") return setup(call, client, *creds, input);
    return Status::notFound("unknown action " + std::string(action));
  }

 private:
  // ---- input checks ----------------------------------------------------------------------------------
  static Status inBuyer(size_t index, const Status& status) {
    if (status.isOk()) return status;
    return Status::invalidArgument("buyers[" + std::to_string(index) + "]." + status.message());
  }

  static Status checkInput(std::string_view action, const json& input) {
    using ih::stripe::checkCurrency;
    using ih::stripe::checkId;
    using ih::stripe::checkInteger;
    using ih::stripe::checkText;
    using ih::stripe::kMaxStripeAmount;
    if (action == "ensure_products") {
      const json& plans = member(input, "plans");
      if (plans.is_null()) return Status::ok();
      if (!plans.is_array()) return Status::invalidArgument("plans must be an array of catalog keys");
      for (const json& key : plans)
        if (!key.is_string() || !ih::stripe::isPlainText(key.get_ref<const std::string&>(), 200))
          return Status::invalidArgument(
              "plans must be an array of catalog keys (strings of at most 200 bytes)");
      return Status::ok();
    }
    if (action == "create_payment_intent") {
      for (Status s : {checkInteger(input, "amount", 1, kMaxStripeAmount), checkCurrency(input),
                       checkInteger(input, "quantity", 1, 10000), checkText(input, "description", 1000),
                       checkId(input, "customer", "cus_"), checkText(input, "reference", 200),
                       checkText(input, "buyer", 200)}) {
        if (!s.isOk()) return s;
      }
      const json& price = member(input, "price");
      if (!price.is_null()) {
        const bool ok = price.is_string() &&
                        (price.get_ref<const std::string&>().rfind("price_", 0) == 0
                             ? ih::stripe::isStripeId(price.get_ref<const std::string&>(), "price_")
                             : !price.get_ref<const std::string&>().empty() &&
                                   ih::stripe::isPlainText(price.get_ref<const std::string&>(), 200));
        if (!ok)
          return Status::invalidArgument("price must be a price_ id or a catalog key (at most 200 bytes)");
      }
      return Status::ok();
    }
    if (action == "create_checkout_session") {
      for (Status s : {checkText(input, "plan", 200, true), checkText(input, "buyer", 200, true),
                       checkId(input, "customer", "cus_"), checkText(input, "customer_email", 512),
                       checkText(input, "success_url", 2048), checkText(input, "cancel_url", 2048)}) {
        if (!s.isOk()) return s;
      }
      return Status::ok();
    }
    if (action == "create_billing_portal_session") {
      for (Status s : {checkId(input, "customer", "cus_", true), checkText(input, "return_url", 2048)}) {
        if (!s.isOk()) return s;
      }
      return Status::ok();
    }
    if (action == "report_usage") return ih::stripe::checkReportUsage(input);
    if (action == "send_invoice") {
      if (Status s = checkId(input, "invoice", "in_", true); !s.isOk()) return s;
      if (input.contains("email") && !input["email"].is_boolean())
        return Status::invalidArgument(
            "email must be true (Stripe emails the link) or false (only return it)");
      return Status::ok();
    }
    if (action == "simulate_payment") {
      for (Status s : {checkId(input, "payment_intent", "pi_"), checkId(input, "invoice", "in_"),
                       checkId(input, "payment_method", "pm_")}) {
        if (!s.isOk()) return s;
      }
      if (member(input, "payment_intent").is_null() && member(input, "invoice").is_null())
        return Status::invalidArgument("give payment_intent (pi_...) or invoice (in_...)");
      return Status::ok();
    }
    if (action == "create_invoices") {
      if (Status s = checkText(input, "reference", 200); !s.isOk()) return s;
      const json& buyers = member(input, "buyers");
      if (!buyers.is_array() || buyers.empty() || buyers.size() > 100)
        return Status::invalidArgument("buyers must be a non-empty array of at most 100 buyers");
      for (size_t i = 0; i < buyers.size(); ++i) {
        const json& buyer = buyers[i];
        if (!buyer.is_object())
          return Status::invalidArgument("buyers[" + std::to_string(i) + "] must be an object");
        for (Status s : {checkText(buyer, "reference", 200, true), checkText(buyer, "email", 512),
                         checkText(buyer, "name", 256), checkCurrency(buyer)}) {
          if (!s.isOk()) return inBuyer(i, s);
        }
        const json& items = member(buyer, "items");
        if (!items.is_array() || items.empty() || items.size() > 100)
          return inBuyer(i, Status::invalidArgument("items must be a non-empty array of at most 100 items"));
        for (size_t k = 0; k < items.size(); ++k) {
          const json& item = items[k];
          const std::string where = "items[" + std::to_string(k) + "]";
          if (!item.is_object()) return inBuyer(i, Status::invalidArgument(where + " must be an object"));
          for (Status s :
               {checkText(item, "title", 500), checkInteger(item, "quantity", 1, 10000),
                checkInteger(item, "amount", -kMaxStripeAmount, kMaxStripeAmount), checkCurrency(item)}) {
            if (!s.isOk()) return inBuyer(i, Status::invalidArgument(where + "." + s.message()));
          }
          const json& price = member(item, "price");
          const bool price_ok =
              price.is_null() ||
              (price.is_number_integer() && checkInteger(item, "price", 0, kMaxStripeAmount).isOk()) ||
              (price.is_string() && ih::stripe::isStripeId(price.get_ref<const std::string&>(), "price_"));
          if (!price_ok)
            return inBuyer(
                i, Status::invalidArgument(where + ".price must be a price_ id or an amount in minor units"));
        }
      }
      return Status::ok();
    }
    return Status::ok();
  }

  static json defaultCatalog() {
    return json::array({{{"key", "starter"},
                         {"name", "Starter"},
                         {"amount", 900},
                         {"currency", "usd"},
                         {"interval", "month"},
                         {"trial_days", 7}},
                        {{"key", "pro"},
                         {"name", "Pro"},
                         {"amount", 2900},
                         {"currency", "usd"},
                         {"interval", "month"},
                         {"trial_days", 7}}});
  }

  Result<Credentials> loadCredentials(Call& call) const {
    auto stored = call.credentials();
    if (!stored) {
      if (stored.status().code() == IH_ERR_NOT_FOUND)
        return Status::unauthenticated("Stripe is not connected for this tenant: POST /api/integrations/" +
                                       integration_id_ + "/connect first");
      return stored.status();
    }
    const json j = parseJson(*stored);
    Credentials creds;
    creds.secret_key = str(j, "secret_key");
    creds.publishable_key = str(j, "publishable_key");
    creds.webhook_secret = str(j, "webhook_secret");
    creds.livemode = j.value("livemode", creds.secret_key.find("_live_") != std::string::npos);
    if (creds.secret_key.empty())
      return Status::unauthenticated("stored Stripe credentials have no secret_key");
    return creds;
  }

  static Status upsert(Call& call, const char* model, const json& record, int64_t updated_at) {
    const json rows = json::array({{{"id", record["id"]}, {"data", record}, {"updated_at", updated_at}}});
    return call.upsertRecords(model, rows.dump());
  }

  // Record shapes are shared with the Connect plugin (stripe_common/event_handlers.h).
  static json invoiceRecord(const json& invoice) { return ih::stripe::invoiceRecord(invoice); }

  // ---- ensure_products ------------------------------------------------------------------------------
  std::vector<Plan> selectPlans(const json& input) const {
    const json wanted = member(input, "plans");
    if (!wanted.is_array()) return catalog_;
    std::vector<Plan> out;
    for (const Plan& plan : catalog_) {
      for (const json& key : wanted)
        if (key.is_string() && key.get<std::string>() == plan.key) out.push_back(plan);
    }
    return out;
  }

  // Retrieve-or-create by price lookup_key (= plan key). A price whose amount, currency or interval no
  // longer matches the plan is replaced by a new one that takes over the lookup key (prices are immutable).
  Result<json> ensureProducts(const Client& client, const std::vector<Plan>& plans) const {
    json result = {{"plans", json::object()}, {"created", json::array()}, {"existing", json::array()}};
    if (plans.empty()) return result;
    Form query;
    for (const Plan& plan : plans)
      query.add("lookup_keys[]", plan.key);
    query.add("limit", 100);
    auto found = client.get("/v1/prices", query);
    if (!found) return withContext(found.status(), "listing prices");
    for (const Plan& plan : plans) {
      json existing;
      for (const json& price : member(*found, "data")) {
        if (str(price, "lookup_key") == plan.key && price.value("active", true)) existing = price;
      }
      const bool one_time = plan.interval == kOneTime;
      const bool matches = existing.is_object() && integer(existing, "unit_amount", -1) == plan.amount &&
                           str(existing, "currency") == plan.currency &&
                           (one_time ? member(existing, "recurring").is_null()
                                     : str(member(existing, "recurring"), "interval") == plan.interval);
      if (matches) {
        result["plans"][plan.key] = existing["id"];
        result["existing"].push_back(plan.key);
        continue;
      }
      const json existing_product = existing.is_object() ? idOrNull(member(existing, "product")) : json();
      std::string product_id = existing_product.is_string() ? existing_product.get<std::string>() : "";
      if (product_id.empty()) {
        Form product;
        product.add("name", plan.name).addMember("metadata", "ihost_plan", plan.key);
        auto created = client.post("/v1/products", product,
                                   stableIdempotencyKey({"product", integration_id_, plan.key, plan.name}));
        if (!created) return withContext(created.status(), "creating product " + plan.key);
        product_id = str(*created, "id");
      }
      Form price;
      price.add("product", product_id).add("unit_amount", plan.amount).add("currency", plan.currency);
      if (!one_time) price.add("recurring[interval]", plan.interval);
      price.add("lookup_key", plan.key)
          .add("nickname", plan.name)
          .addMember("metadata", "ihost_plan", plan.key);
      if (!one_time) price.addMember("metadata", "trial_days", std::to_string(plan.trial_days));
      if (existing.is_object()) price.add("transfer_lookup_key", true);
      auto created =
          client.post("/v1/prices", price,
                      stableIdempotencyKey({"price", integration_id_, plan.key, product_id,
                                            std::to_string(plan.amount), plan.currency, plan.interval}));
      if (!created) return withContext(created.status(), "creating price " + plan.key);
      result["plans"][plan.key] = (*created)["id"];
      result["created"].push_back(plan.key);
    }
    return result;
  }

  // ---- create_invoices --------------------------------------------------------------------------------
  Status createInvoices(Call& call, const Client& client, const json& input) const {
    const json buyers = member(input, "buyers");
    if (!buyers.is_array() || buyers.empty())
      return Status::invalidArgument("buyers must be a non-empty array");
    const std::string reference = str(input, "reference");
    json results = json::array();
    int created = 0, existing = 0, failed = 0;
    for (const json& buyer : buyers) {
      json outcome = {{"reference", str(buyer, "reference")}};
      auto invoice = invoiceForBuyer(call, client, buyer, reference);
      if (invoice) {
        outcome.update(*invoice);
        outcome["ok"] = true;
        (invoice->value("created", false) ? created : existing)++;
      } else {
        outcome["ok"] = false;
        outcome["error"] = {{"code", invoice.status().code()}, {"message", invoice.status().message()}};
        ++failed;
        call.warn("stripe invoice creation failed for a buyer",
                  json({{"buyer", outcome["reference"]}, {"error", invoice.status().message()}}).dump());
      }
      results.push_back(outcome);
    }
    const json result = {{"reference", reference},
                         {"results", results},
                         {"created", created},
                         {"existing", existing},
                         {"failed", failed}};
    return call.setResult(result.dump());
  }

  Result<std::string> findOrCreateCustomer(const Client& client, const json& buyer) const {
    const std::string ref = str(buyer, "reference");
    const std::string email = str(buyer, "email");
    const std::string name = str(buyer, "name");
    Form search;
    search.add("query", "metadata['ihost_ref']:" + searchLiteral(ref)).add("limit", 1);
    auto found = client.get("/v1/customers/search", search);
    if (found && !member(*found, "data").empty()) return str((*found)["data"][0], "id");
    if (!email.empty()) {  // search is not read-after-write consistent: lists are
      Form list;
      list.add("email", email).add("limit", 100);
      if (auto listed = client.get("/v1/customers", list)) {
        for (const json& customer : member(*listed, "data"))
          if (str(member(customer, "metadata"), "ihost_ref") == ref) return str(customer, "id");
      }
    }
    Form create;
    if (!email.empty()) create.add("email", email);
    if (!name.empty()) create.add("name", name);
    create.addMember("metadata", "ihost_ref", ref);
    // Stable key: a rerun within Stripe's key window replays the creation instead of duplicating it.
    auto created = client.post("/v1/customers", create,
                               stableIdempotencyKey({"customer", integration_id_, ref, email, name}));
    if (!created) return withContext(created.status(), "creating customer");
    return str(*created, "id");
  }

  Result<json> invoiceForBuyer(Call& call, const Client& client, const json& buyer,
                               const std::string& reference) const {
    const std::string ref = str(buyer, "reference");
    if (ref.empty()) return Status::invalidArgument("buyer.reference is required");
    const json items = member(buyer, "items");
    if (!items.is_array() || items.empty())
      return Status::invalidArgument("buyer.items must be a non-empty array");
    std::string currency = str(buyer, "currency");
    for (const json& item : items)
      if (currency.empty()) currency = str(item, "currency");
    if (currency.empty()) currency = "usd";

    auto customer = findOrCreateCustomer(client, buyer);
    if (!customer) return customer.status();

    // An invoice for this buyer + reference already? Lists are consistent right after writes.
    json invoice;
    Form list;
    list.add("customer", *customer).add("limit", 100);
    auto listed = client.listAll("/v1/invoices", list, 1000);
    if (!listed) return withContext(listed.status(), "listing invoices");
    for (const json& candidate : *listed) {
      const json md = member(candidate, "metadata");
      if (str(md, "ihost_ref") == reference && str(md, "ihost_buyer") == ref) {
        invoice = candidate;
        break;
      }
    }
    bool created = false;
    if (!invoice.is_object()) {
      Form create;
      create.add("customer", *customer)
          .add("collection_method", "send_invoice")
          .add("days_until_due", 30)
          .add("auto_advance", false)
          .add("currency", currency)
          .addMember("metadata", "ihost_ref", reference)
          .addMember("metadata", "ihost_buyer", ref);
      auto made = client.post("/v1/invoices", create,
                              stableIdempotencyKey({"invoice", integration_id_, reference, ref, *customer}));
      if (!made) return withContext(made.status(), "creating invoice");
      invoice = *made;
      created = true;
    }
    const std::string invoice_id = str(invoice, "id");
    if (str(invoice, "status") == "draft") {
      std::set<std::string> present;  // lines added by an earlier, interrupted run
      for (const json& line : member(member(invoice, "lines"), "data"))
        present.insert(str(member(line, "metadata"), "ihost_line"));
      if (member(member(invoice, "lines"), "has_more").is_boolean() &&
          invoice["lines"]["has_more"].get<bool>()) {
        auto lines =
            client.listAll("/v1/invoices/" + invoice_id + "/lines", Form(), 10000, "/v1/invoices/{id}/lines");
        if (!lines) return lines.status();
        for (const json& line : *lines)
          present.insert(str(member(line, "metadata"), "ihost_line"));
      }
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string line_key = std::to_string(i);
        if (present.count(line_key)) continue;
        const json& item = items[i];
        Form add;
        add.add("customer", *customer).add("invoice", invoice_id);
        const std::string title = str(item, "title", "Item " + std::to_string(i + 1));
        const int64_t quantity = std::max<int64_t>(1, integer(item, "quantity", 1));
        const json price = member(item, "price");
        if (price.is_string() && price.get<std::string>().rfind("price_", 0) == 0) {
          add.add("price", price.get<std::string>()).add("quantity", quantity);
        } else if (price.is_number_integer()) {
          add.add("unit_amount", price.get<int64_t>()).add("quantity", quantity).add("currency", currency);
        } else {
          add.add("amount", integer(item, "amount", 0)).add("currency", currency);
        }
        add.add("description", title).addMember("metadata", "ihost_line", line_key);
        auto made =
            client.post("/v1/invoiceitems", add, stableIdempotencyKey({"invoiceitem", invoice_id, line_key}));
        if (!made) return withContext(made.status(), "adding item \"" + title + "\"");
      }
      auto finalized =
          client.post("/v1/invoices/" + invoice_id + "/finalize", Form(),
                      stableIdempotencyKey({"finalize", invoice_id}), "/v1/invoices/{id}/finalize");
      if (!finalized) return withContext(finalized.status(), "finalizing invoice " + invoice_id);
      invoice = *finalized;
    }
    const json record = invoiceRecord(invoice);
    const int64_t at =
        integer(member(invoice, "status_transitions"), "finalized_at", integer(invoice, "created"));
    if (Status s = upsert(call, "invoice", record, at); !s.isOk())
      call.warn("could not store the invoice record", json({{"error", s.message()}}).dump());
    return json{{"invoice_id", invoice_id},
                {"customer_id", *customer},
                {"status", member(invoice, "status")},
                {"number", member(invoice, "number")},
                {"hosted_invoice_url", member(invoice, "hosted_invoice_url")},
                {"amount_due", integer(invoice, "amount_due")},
                {"currency", member(invoice, "currency")},
                {"created", created}};
  }

  // ---- payment intents ----------------------------------------------------------------------------------
  Status createPaymentIntent(Call& call, const Client& client, const Credentials& creds,
                             const json& input) const {
    int64_t amount = integer(input, "amount", -1);
    std::string currency = str(input, "currency");
    const std::string price = str(input, "price");
    const std::string buyer = str(input, "buyer");
    // A one-time catalog item: bought once per buyer (the app's own reference of who pays).
    const Plan* one_time = nullptr;
    for (const Plan& plan : catalog_) {
      if (plan.key == price && plan.interval == kOneTime) one_time = &plan;
    }
    if (one_time != nullptr) {
      if (buyer.empty()) {
        return Status::invalidArgument("buyer is required for the one-time item " + price +
                                       " (your app's reference of who buys it, at most 200 bytes)");
      }
      if (integer(input, "quantity", 1) != 1)
        return Status::invalidArgument("quantity must be 1 for the one-time item " + price);
      auto owned = call.state(ih::stripe::ownershipStateKey(price, buyer));
      if (!owned) return owned.status();
      if (owned->has_value()) {
        return Status::conflict("buyer " + buyer + " already owns " + price + " (payment " + **owned +
                                "); a one-time item is bought once");
      }
    }
    json found;  // the catalog price, when one was named
    if (!price.empty()) {
      if (price.rfind("price_", 0) == 0) {
        auto got = client.get("/v1/prices/" + price, Form(), "/v1/prices/{id}");
        if (!got) return got.status();
        found = *got;
      } else {  // a catalog key = lookup_key
        Form query;
        query.add("lookup_keys[]", price).add("limit", 1);
        auto got = client.get("/v1/prices", query);
        if (!got) return got.status();
        if (member(*got, "data").empty()) return Status::notFound("no Stripe price with lookup_key " + price);
        found = (*got)["data"][0];
      }
      amount = integer(found, "unit_amount", -1) * std::max<int64_t>(1, integer(input, "quantity", 1));
      currency = str(found, "currency");
    }
    if (amount <= 0 || currency.empty())
      return Status::invalidArgument("give amount (> 0, minor units) and currency, or price");
    const std::string reference = str(input, "reference");
    Form form;
    form.add("amount", amount).add("currency", currency).add("automatic_payment_methods[enabled]", true);
    if (!reference.empty()) form.addMember("metadata", "ihost_ref", reference);
    if (!buyer.empty()) form.addMember("metadata", "ihost_buyer", buyer);
    if (one_time != nullptr) {
      form.addMember("metadata", "ihost_plan", one_time->key).addMember("metadata", "ihost_one_time", "true");
    }
    // The price and product the payment is for: the transactions sync reads them from here (the charge itself
    // carries no line items), so the payment's transaction maps to the tenant's own ids (mappings).
    if (!str(found, "id").empty()) {
      form.addMember("metadata", "price", str(found, "id"));
      const std::string product = ih::stripe::idOf(member(found, "product"));
      if (!product.empty()) form.addMember("metadata", "product", product);
    }
    if (!str(input, "description").empty()) form.add("description", str(input, "description"));
    if (!str(input, "customer").empty()) form.add("customer", str(input, "customer"));
    // With a reference, or for a one-time item (one open purchase per buyer: asking again returns the same
    // PaymentIntent until it is paid), the same request never creates a second PaymentIntent.
    std::string key;
    if (!reference.empty()) {
      key = stableIdempotencyKey(
          {"payment_intent", integration_id_, reference, std::to_string(amount), currency});
    } else if (one_time != nullptr) {
      key = stableIdempotencyKey({"payment_intent", integration_id_, "one_time", one_time->key, buyer,
                                  std::to_string(amount), currency});
    }
    auto intent = client.post("/v1/payment_intents", form, key);
    if (!intent) return intent.status();
    call.info(
        "stripe payment intent created",
        json({{"payment_intent", str(*intent, "id")}, {"amount", amount}, {"currency", currency}}).dump());
    const json result = {{"payment_intent_id", str(*intent, "id")},
                         {"client_secret", str(*intent, "client_secret")},
                         {"publishable_key", creds.publishable_key},
                         {"amount", amount},
                         {"currency", currency},
                         {"status", member(*intent, "status")},
                         {"livemode", intent->value("livemode", creds.livemode)}};
    return call.setResult(result.dump());
  }

  // The catalog plan with this key, or null.
  const Plan* findPlan(std::string_view key) const {
    for (const Plan& plan : catalog_) {
      if (plan.key == key) return &plan;
    }
    return nullptr;
  }

  // ---- checkout and the customer portal -------------------------------------------------------------------
  Status createCheckoutSession(Call& call, const Client& client, const json& input) const {
    const std::string plan_key = str(input, "plan"), buyer = str(input, "buyer");
    const Plan* plan = findPlan(plan_key);
    if (plan == nullptr)
      return Status::notFound("no catalog plan " + plan_key + " in this integration's catalog");
    const bool one_time = plan->interval == kOneTime;
    if (one_time) {
      auto owned = call.state(ih::stripe::ownershipStateKey(plan->key, buyer));
      if (!owned) return owned.status();
      if (owned->has_value()) {
        return Status::conflict("buyer " + buyer + " already owns " + plan->key + " (payment " + **owned +
                                "); a one-time item is bought once");
      }
    }
    const std::string success_url = str(input, "success_url", success_url_);
    if (success_url.empty()) {
      return Status::invalidArgument(
          "success_url is required: give it in the input or set the integration's success_url setting");
    }
    Form query;
    query.add("lookup_keys[]", plan->key).add("limit", 1);
    auto prices = client.get("/v1/prices", query);
    if (!prices) return withContext(prices.status(), "finding the price of " + plan->key);
    if (member(*prices, "data").empty())
      return Status::notFound("no Stripe price for plan " + plan->key + " yet: run ensure_products first");
    Form form;
    form.add("mode", one_time ? "payment" : "subscription")
        .add("line_items[0][price]", str((*prices)["data"][0], "id"))
        .add("line_items[0][quantity]", 1)
        .add("success_url", success_url)
        .add("client_reference_id", buyer)
        .addMember("metadata", "ihost_buyer", buyer)
        .addMember("metadata", "ihost_plan", plan->key);
    if (!str(input, "cancel_url").empty()) form.add("cancel_url", str(input, "cancel_url"));
    if (!str(input, "customer").empty()) {
      form.add("customer", str(input, "customer"));
    } else if (!str(input, "customer_email").empty()) {
      form.add("customer_email", str(input, "customer_email"));
    }
    if (one_time) {
      form.add("payment_intent_data[metadata][ihost_buyer]", buyer)
          .add("payment_intent_data[metadata][ihost_plan]", plan->key)
          .add("payment_intent_data[metadata][ihost_one_time]", "true");
    } else {
      if (plan->trial_days > 0) form.add("subscription_data[trial_period_days]", plan->trial_days);
      form.add("subscription_data[metadata][ihost_buyer]", buyer)
          .add("subscription_data[metadata][ihost_plan]", plan->key);
    }
    auto session = client.post("/v1/checkout/sessions", form);
    if (!session) return withContext(session.status(), "creating the Checkout Session");
    call.info("stripe checkout session created",
              json({{"session", str(*session, "id")}, {"plan", plan->key}, {"mode", str(*session, "mode")}})
                  .dump());
    return call.setResult(json({{"checkout_session_id", str(*session, "id")},
                                {"url", member(*session, "url")},
                                {"mode", member(*session, "mode")},
                                {"plan", plan->key},
                                {"trial_days", one_time ? json(nullptr) : json(plan->trial_days)},
                                {"expires_at", member(*session, "expires_at")}})
                              .dump());
  }

  // Stripe emails the hosted invoice link (POST /v1/invoices/{id}/send: an open invoice whose collection
  // method is send_invoice, as create_invoices makes them), or the link is only returned, for the app to copy.
  Status sendInvoice(Call& call, const Client& client, const json& input) const {
    const std::string id = str(input, "invoice");
    const bool email = input.value("email", true);
    auto invoice = email ? client.post("/v1/invoices/" + id + "/send", Form(), {}, "/v1/invoices/{id}/send")
                         : client.get("/v1/invoices/" + id, Form(), "/v1/invoices/{id}");
    if (!invoice)
      return withContext(invoice.status(), email ? "sending invoice " + id : "reading invoice " + id);
    if (member(*invoice, "hosted_invoice_url").is_null())
      return Status::conflict("invoice " + id + " has no hosted link yet: finalize it first");
    return call.setResult(json({{"invoice_id", id},
                                {"status", member(*invoice, "status")},
                                {"sent", email},
                                {"hosted_invoice_url", member(*invoice, "hosted_invoice_url")},
                                {"invoice_pdf", member(*invoice, "invoice_pdf")},
                                {"reference", member(member(*invoice, "metadata"), "ihost_ref")},
                                {"buyer", member(member(*invoice, "metadata"), "ihost_buyer")}})
                              .dump());
  }

  Status createBillingPortalSession(Call& call, const Client& client, const json& input) const {
    Form form;
    form.add("customer", str(input, "customer"));
    const std::string return_url = str(input, "return_url", success_url_);
    if (!return_url.empty()) form.add("return_url", return_url);
    auto session = client.post("/v1/billing_portal/sessions", form);
    if (!session) return withContext(session.status(), "creating the customer portal session");
    return call.setResult(json({{"portal_session_id", str(*session, "id")},
                                {"url", member(*session, "url")},
                                {"customer", member(*session, "customer")},
                                {"return_url", member(*session, "return_url")}})
                              .dump());
  }

  // Test mode only: the same observable effect as a customer paying (Stripe then sends the webhook).
  Status simulatePayment(Call& call, const Client& client, const Credentials& creds,
                         const json& input) const {
    if (creds.livemode || creds.secret_key.find("_live_") != std::string::npos)
      return Status::notFound("simulate_payment is only available with test-mode keys");
    const std::string intent = str(input, "payment_intent");
    const std::string invoice = str(input, "invoice");
    if (!intent.empty()) {
      Form form;
      form.add("payment_method", str(input, "payment_method", "pm_card_visa"));
      if (!success_url_.empty()) form.add("return_url", success_url_);
      auto confirmed = client.post("/v1/payment_intents/" + intent + "/confirm", form, {},
                                   "/v1/payment_intents/{id}/confirm");
      if (!confirmed) return confirmed.status();
      return call.setResult(
          json({{"payment_intent_id", intent}, {"status", member(*confirmed, "status")}}).dump());
    }
    if (!invoice.empty()) {
      Form form;
      form.add("paid_out_of_band", true);
      auto paid = client.post("/v1/invoices/" + invoice + "/pay", form,
                              stableIdempotencyKey({"pay", invoice}), "/v1/invoices/{id}/pay");
      if (!paid) return paid.status();
      return call.setResult(json({{"invoice_id", invoice}, {"status", member(*paid, "status")}}).dump());
    }
    return Status::invalidArgument("give payment_intent (pi_...) or invoice (in_...)");
  }

  // ---- setup workflow -------------------------------------------------------------------------------------
  // An answer from input.answers, else from the operator (call.prompt), else the default.
  Result<std::string> ask(Call& call, const json& input, const json& prompt) const {
    const std::string key = prompt["key"];
    const json answers = member(input, "answers");
    if (answers.is_object() && answers.contains(key)) {
      const json& v = answers[key];
      return v.is_string() ? v.get<std::string>() : v.dump();
    }
    auto answered = call.prompt(prompt.dump());
    if (answered) return *answered;
    // Only "nobody can answer" (a non-interactive run) falls back to the default; a cancelled workflow or
    // any other failure stops the setup where it is.
    if (answered.status().code() != IH_ERR_UNSUPPORTED) return answered.status();
    if (prompt.contains("default")) return prompt["default"].get<std::string>();
    return Status::invalidArgument("setup needs an answer for \"" + key + "\" (" +
                                   prompt.value("message", "") + "): pass it as answers." + key +
                                   " or --set " + key + "=...");
  }

  static bool yes(const std::string& answer) {
    return answer == "y" || answer == "Y" || answer == "yes" || answer == "true" || answer == "1";
  }

  Status setup(Call& call, const Client& client, const Credentials& creds, const json& input) const {
    json steps = json::array();
    auto balance = client.get("/v1/balance");
    if (!balance) return withContext(balance.status(), "checking the Stripe key");
    const bool livemode = balance->value("livemode", creds.livemode);
    auto proceed = ask(call, input,
                       {{"key", "confirm_key"},
                        {"kind", "confirm"},
                        {"message", "Stripe accepted key " + ih::stripe::maskKey(creds.secret_key) + " (" +
                                        (livemode ? "LIVE" : "test") + " mode). Continue?"},
                        {"default", "yes"}});
    if (!proceed) return proceed.status();
    if (!yes(*proceed)) return Status::invalidArgument("setup cancelled by the operator");
    steps.push_back("key checked (" + std::string(livemode ? "live" : "test") + " mode)");

    std::string keys;
    for (const Plan& plan : catalog_)
      keys += (keys.empty() ? "" : ",") + plan.key;
    json choices = json::array({"all", "none"});
    for (const Plan& plan : catalog_)
      choices.push_back(plan.key);
    auto catalog =
        ask(call, input,
            {{"key", "catalog"},
             {"kind", "choice"},
             {"message", "Which catalog plans should exist in Stripe? (all, none, or keys: " + keys + ")"},
             {"choices", choices},
             {"default", "all"}});
    if (!catalog) return catalog.status();
    json plans = json::object();
    if (*catalog != "none") {
      std::vector<Plan> selected;
      if (*catalog == "all") {
        selected = catalog_;
      } else {
        json wanted = json::array();
        size_t start = 0;
        while (start <= catalog->size()) {
          size_t comma = catalog->find(',', start);
          if (comma == std::string::npos) comma = catalog->size();
          if (comma > start) wanted.push_back(catalog->substr(start, comma - start));
          start = comma + 1;
        }
        selected = selectPlans(json{{"plans", wanted}});
        if (selected.empty()) return Status::invalidArgument("no catalog plan matches \"" + *catalog + "\"");
      }
      auto ensured = ensureProducts(client, selected);
      if (!ensured) return ensured.status();
      plans = (*ensured)["plans"];
      steps.push_back("catalog provisioned: " + plans.dump());
    }

    // The tenant and the host's public URL come from the host (call_info), never from the caller's input:
    // the endpoint must point at the calling tenant's webhook route.
    json info = json::object();
    if (auto described = call.callInfo()) info = parseJson(*described);
    const std::string tenant = str(info, "tenant");
    if (tenant.empty()) return Status::internal("setup: the host did not say which tenant this call serves");
    if (const std::string claimed = str(input, "tenant"); !claimed.empty() && claimed != tenant)
      return Status::invalidArgument("setup runs for the tenant of the API key (" + tenant + "), not " +
                                     claimed);
    std::string webhook_url = str(member(input, "answers"), "webhook_url");
    if (webhook_url.empty()) {
      json question = {{"key", "public_url"},
                       {"kind", "text"},
                       {"message",
                        "Public base URL of this ihost (Stripe sends webhooks there), e.g. "
                        "https://ihost.example.com"}};
      if (const std::string configured = str(info, "public_url"); !configured.empty())
        question["default"] = configured;
      auto public_url = ask(call, input, question);
      if (!public_url) return public_url.status();
      std::string base = *public_url;
      while (!base.empty() && base.back() == '/')
        base.pop_back();
      if (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0)
        return Status::invalidArgument("public_url must start with http:// or https://");
      webhook_url = base + "/webhooks/" + integration_id_ + "/" + tenant;
    }

    // Reuse an endpoint for this URL when its secret is already stored; otherwise create one (Stripe shows a
    // secret only at creation) and remove stale endpoints for the same URL.
    auto stored_secret = call.secret("webhook_secret");
    const bool have_secret = stored_secret && stored_secret->has_value();
    auto endpoints = client.listAll("/v1/webhook_endpoints", Form(), 1000);
    if (!endpoints) return withContext(endpoints.status(), "listing webhook endpoints");
    json endpoint;
    std::vector<std::string> stale;
    for (const json& e : *endpoints) {
      if (str(e, "url") != webhook_url) continue;
      if (have_secret && !endpoint.is_object())
        endpoint = e;
      else
        stale.push_back(str(e, "id"));
    }
    bool created = false;
    if (!endpoint.is_object()) {
      Form form;
      form.add("url", webhook_url).add("description", "ihost " + integration_id_);
      for (const std::string& type : ih::stripe::handledEventTypes())
        form.add("enabled_events[]", type);
      if (!options_.stripe_version.empty()) form.add("api_version", options_.stripe_version);
      form.addMember("metadata", "ihost_integration", integration_id_);
      auto made = client.post("/v1/webhook_endpoints", form);
      if (!made) return withContext(made.status(), "creating the webhook endpoint");
      const std::string secret = str(*made, "secret");
      if (secret.empty())
        return Status::provider("Stripe returned no signing secret for the new webhook endpoint");
      if (Status s = call.putSecret("webhook_secret", secret); !s.isOk())
        return withContext(s, "storing the webhook signing secret");
      endpoint = *made;
      endpoint.erase("secret");
      created = true;
      for (const std::string& id : stale) {
        if (auto removed = client.del("/v1/webhook_endpoints/" + id, "/v1/webhook_endpoints/{id}"); !removed)
          call.warn("could not delete an old webhook endpoint", json({{"id", id}}).dump());
      }
    }
    steps.push_back(std::string(created ? "webhook endpoint created: " : "webhook endpoint kept: ") +
                    webhook_url);

    const json result = {
        {"livemode", livemode},
        {"plans", plans},
        {"webhook_endpoint",
         {{"id", member(endpoint, "id")},
          {"url", webhook_url},
          {"enabled_events", member(endpoint, "enabled_events")},
          {"created", created}}},
        {"webhook_secret_stored", true},
        {"steps", steps},
        {"next_steps",
         json::array(
             {"Make sure " + webhook_url + " is reachable from Stripe (HTTPS in live mode).",
              "Create invoices: POST /api/integrations/" + integration_id_ + "/actions/create_invoices",
              "Watch status updates: GET /api/events"})}};
    return call.setResult(result.dump());
  }

  const std::string integration_id_;
  ih::stripe::ClientOptions options_;
  int64_t tolerance_s_ = ih::stripe::kDefaultWebhookToleranceSeconds;
  std::string success_url_;
  std::vector<Plan> catalog_;
  ih::stripe::SyncOptions sync_options_;
};

}  // namespace
}  // namespace stripe_byok

IH_SDK_EXPORT_PLUGIN(stripe_byok::StripeByokPlugin, stripe_byok::manifestJson(),
                     IH_CAP_WEBHOOKS | IH_CAP_JOBS | IH_CAP_ACTIONS | IH_CAP_CONNECT, 0)
