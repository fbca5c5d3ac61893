// Allowed request parameters per route of the Stripe double, checked before any handler runs.
//
// Real Stripe (and stripe-mock, which validates against the OpenAPI spec) refuses every parameter an
// endpoint does not document: 400 invalid_request_error / parameter_unknown, `param` = the name,
// message "Received unknown parameter: <name>". An unknown key inside a documented hash is reported with
// its bracketed path (`recurring[foo]`, `items[0][foo]`). `metadata` accepts any keys.
//
// The lists below are the documented top-level parameters of each endpoint (Stripe API reference, union of
// the double's default version 2024-06-20 and current versions, so a parameter valid in either passes),
// except the few whose documentation depends on the API version (`versioned`, judged on the request's
// Stripe-Version or the account default).
// Documented parameters the double ignores are accepted on purpose. Sub-keys are checked only for the
// hashes the double itself reads (see `hashes`); other hashes are checked at top level only.
// Pure functions over static tables: thread-safe, no state.
#include <string_view>
#include <vector>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

using Names = std::vector<std::string_view>;

// A documented hash parameter whose sub-keys are checked. `array` = list of hashes (items[0][price]).
struct Hash {
  std::string_view name;
  Names keys;
  bool array = false;
};

// A parameter documented only for some API versions: since <= version < until ("" = unbounded), compared
// on the date part of Stripe-Version (or the account default when the header is absent).
struct Versioned {
  std::string_view name;
  std::string_view since;
  std::string_view until;
};

struct DocumentedRoute {
  std::string_view method;
  std::string_view path;  // segments after /v1, '*' matches one id segment
  Names params;
  std::vector<Hash> hashes = {};
  std::vector<Versioned> versioned = {};
};

// ---- shared nested key sets
const Names kAddress = {"city", "country", "line1", "line2", "postal_code", "state"};
const Names kCustomerInvoiceSettings = {"custom_fields", "default_payment_method", "footer",
                                        "rendering_options"};
const Names kCancellationDetails = {"comment", "feedback"};
const Names kSubItemCreate = {"billing_thresholds", "discounts", "metadata", "plan", "price",
                              "price_data",         "quantity",  "tax_rates"};
const Names kSubItemUpdate = {"billing_thresholds", "clear_usage", "deleted", "discounts",  "id",
                              "metadata",           "plan",        "price",   "price_data", "quantity",
                              "tax_rates"};
// 2025-03-31.basil replaced invoice item `price` / `unit_amount` with `pricing` (changelog "Replaces
// top-level price fields with improved price modeling on Invoice Items").
// 2025-03-31.basil removed the legacy `coupon` / `promotion_code` of customers and subscriptions (use
// `discounts`); documented before it, e.g. for the 2024-06-20 default.
const std::vector<Versioned> kLegacyDiscounts = {{"coupon", "", "2025-03-31"},
                                                 {"promotion_code", "", "2025-03-31"}};
const std::vector<Versioned> kInvoiceItemPricing = {
    {"price", "", "2025-03-31"}, {"unit_amount", "", "2025-03-31"}, {"pricing", "2025-03-31", ""}};
const Names kSearch = {"expand", "limit", "page", "query"};
const Names kExpand = {"expand"};
const Names kNone = {};

// clang-format off
const DocumentedRoute kRoutes[] = {
    // ---- balance, balance transactions, account(s)
    {"GET", "balance", kExpand},
    {"GET", "balance_transactions",
     {"created", "currency", "ending_before", "expand", "limit", "payout", "source", "starting_after", "type"}},
    {"GET", "balance_transactions/*", kExpand},
    {"GET", "account", kExpand},
    {"GET", "accounts", {"created", "ending_before", "expand", "limit", "starting_after"}},
    // Create: no `bank_account` (legacy alias of external_account, not in the 2024-06-20 or later reference).
    {"POST", "accounts",
     {"account_token", "business_profile", "business_type", "capabilities", "company", "controller",
      "country", "default_currency", "documents", "email", "expand", "external_account", "groups",
      "individual", "metadata", "settings", "tos_acceptance", "type"}},
    {"GET", "accounts/*", kExpand},

    // ---- products
    {"GET", "products/search", kSearch},
    {"GET", "products",
     {"active", "created", "ending_before", "expand", "ids", "limit", "shippable", "starting_after", "type",
      "url"}},
    {"POST", "products",
     {"active", "default_price_data", "description", "expand", "id", "images", "marketing_features", "metadata",
      "name", "package_dimensions", "shippable", "statement_descriptor", "tax_code", "tax_details", "type",
      "unit_label", "url"}},
    {"GET", "products/*", kExpand},
    {"POST", "products/*",
     {"active", "default_price", "description", "expand", "images", "marketing_features", "metadata", "name",
      "package_dimensions", "shippable", "statement_descriptor", "tax_code", "tax_details", "unit_label",
      "url"}},
    {"DELETE", "products/*", kNone},  // its DeleteParams are empty in Stripe's SDKs: not even expand

    // ---- prices
    {"GET", "prices/search", kSearch},
    {"GET", "prices",
     {"active", "created", "currency", "ending_before", "expand", "limit", "lookup_keys", "product",
      "recurring", "starting_after", "type"},
     {{"recurring", {"interval", "meter", "usage_type"}}}},
    {"POST", "prices",
     {"active", "billing_scheme", "currency", "currency_options", "custom_unit_amount", "expand", "lookup_key",
      "metadata", "nickname", "product", "product_data", "recurring", "tax_behavior", "tiers", "tiers_mode",
      "transfer_lookup_key", "transform_quantity", "unit_amount", "unit_amount_decimal"},
     {{"recurring", {"aggregate_usage", "interval", "interval_count", "meter", "trial_period_days",
                     "usage_type"}},
      {"product_data", {"active", "id", "metadata", "name", "statement_descriptor", "tax_code", "tax_details",
                        "unit_label"}}}},
    {"GET", "prices/*", kExpand},
    {"POST", "prices/*",
     {"active", "currency_options", "expand", "lookup_key", "metadata", "migrate_to", "nickname",
      "tax_behavior", "transfer_lookup_key"}},

    // ---- customers
    {"GET", "customers/search", kSearch},
    {"GET", "customers",
     {"created", "email", "ending_before", "expand", "limit", "starting_after", "test_clock"}},
    {"POST", "customers",
     {"address", "balance", "business_name", "cash_balance", "coupon", "description", "email", "expand",
      "individual_name", "invoice_prefix", "invoice_settings", "metadata", "name", "next_invoice_sequence",
      "payment_method", "phone", "preferred_locales", "promotion_code", "shipping", "source", "tax",
      "tax_exempt", "tax_id_data", "test_clock", "validate"},
     {{"address", kAddress}, {"invoice_settings", kCustomerInvoiceSettings}},
     kLegacyDiscounts},
    {"GET", "customers/*", kExpand},
    // Update: `coupon` and `promotion_code` are documented up to 2025-02-24.acacia (kLegacyDiscounts).
    {"POST", "customers/*",
     {"address", "balance", "business_name", "cash_balance", "coupon", "default_source", "description", "email",
      "expand", "individual_name", "invoice_prefix", "invoice_settings", "metadata", "name",
      "next_invoice_sequence", "phone", "preferred_locales", "promotion_code", "shipping", "source", "tax",
      "tax_exempt", "validate"},
     {{"address", kAddress}, {"invoice_settings", kCustomerInvoiceSettings}},
     kLegacyDiscounts},
    {"DELETE", "customers/*", kNone},  // its DeleteParams are empty in Stripe's SDKs: not even expand

    // ---- invoice items (price / unit_amount: API versions before 2025-03-31)
    {"GET", "invoiceitems",
     {"created", "customer", "customer_account", "ending_before", "expand", "invoice", "limit", "pending",
      "starting_after"}},
    {"POST", "invoiceitems",
     {"amount", "currency", "customer", "customer_account", "description", "discountable", "discounts",
      "expand", "invoice", "metadata", "period", "price", "price_data", "pricing", "quantity", "subscription",
      "tax_behavior", "tax_code", "tax_rates", "unit_amount", "unit_amount_decimal"},
     {{"pricing", {"price"}}},
     kInvoiceItemPricing},
    {"GET", "invoiceitems/*", kExpand},
    {"POST", "invoiceitems/*",
     {"amount", "description", "discountable", "discounts", "expand", "metadata", "period", "price",
      "price_data", "pricing", "quantity", "tax_behavior", "tax_code", "tax_rates", "unit_amount",
      "unit_amount_decimal"},
     {{"pricing", {"price"}}},
     kInvoiceItemPricing},
    {"DELETE", "invoiceitems/*", kNone},  // its DeleteParams are empty in Stripe's SDKs: not even expand

    // ---- invoices
    {"GET", "invoices/search", kSearch},
    {"GET", "invoices",
     {"collection_method", "created", "customer", "customer_account", "due_date", "ending_before", "expand",
      "limit", "starting_after", "status", "subscription"}},
    {"POST", "invoices",
     {"account_tax_ids", "application_fee_amount", "auto_advance", "automatic_tax",
      "automatically_finalizes_at", "collection_method", "currency", "custom_fields", "customer",
      "customer_account", "days_until_due", "default_payment_method", "default_source", "default_tax_rates",
      "description", "discounts", "due_date", "effective_at", "expand", "footer", "from_invoice", "issuer",
      "metadata", "number", "on_behalf_of", "payment_settings", "pending_invoice_items_behavior", "rendering",
      "shipping_cost", "shipping_details", "statement_descriptor", "subscription",
      "transfer_data"}},
    {"GET", "invoices/*", kExpand},
    {"GET", "invoices/*/lines", {"ending_before", "expand", "limit", "starting_after"}},
    // Create and update: no `amounts_due` (preview-only, absent from the GA reference), no
    // `rendering_options` (removed in 2024-04-10, replaced by `rendering`): unknown for 2024-06-20 and later.
    {"POST", "invoices/*",
     {"account_tax_ids", "application_fee_amount", "auto_advance", "automatic_tax",
      "automatically_finalizes_at", "collection_method", "custom_fields", "days_until_due",
      "default_payment_method", "default_source", "default_tax_rates", "description", "discounts", "due_date",
      "effective_at", "expand", "footer", "issuer", "metadata", "number", "on_behalf_of", "payment_settings",
      "rendering", "shipping_cost", "shipping_details", "statement_descriptor", "transfer_data"}},
    {"DELETE", "invoices/*", kNone},  // its DeleteParams are empty in Stripe's SDKs: not even expand
    {"POST", "invoices/*/finalize", {"auto_advance", "expand"}},
    {"POST", "invoices/*/pay",
     {"expand", "forgive", "mandate", "off_session", "paid_out_of_band", "payment_method", "source"}},
    {"POST", "invoices/*/void", kExpand},
    {"POST", "invoices/*/mark_uncollectible", kExpand},
    {"POST", "invoices/*/send", kExpand},

    // ---- payment intents
    {"GET", "payment_intents/search", kSearch},
    {"GET", "payment_intents",
     {"created", "customer", "customer_account", "ending_before", "expand", "limit", "starting_after"}},
    {"POST", "payment_intents",
     {"amount", "amount_details", "application_fee_amount", "automatic_payment_methods", "capture_method",
      "confirm", "confirmation_method", "confirmation_token", "currency", "customer", "customer_account",
      "description", "error_on_requires_action", "excluded_payment_method_types", "expand", "hooks", "mandate",
      "mandate_data", "metadata", "off_session", "on_behalf_of", "payment_details", "payment_method",
      "payment_method_configuration", "payment_method_data", "payment_method_options", "payment_method_types",
      "radar_options", "receipt_email", "return_url", "setup_future_usage", "shipping", "statement_descriptor",
      "statement_descriptor_suffix", "transfer_data", "transfer_group", "use_stripe_sdk"}},
    {"GET", "payment_intents/*", {"client_secret", "expand"}},
    {"POST", "payment_intents/*",
     {"amount", "amount_details", "application_fee_amount", "capture_method", "currency", "customer",
      "customer_account", "description", "excluded_payment_method_types", "expand", "hooks", "metadata",
      "payment_details", "payment_method", "payment_method_configuration", "payment_method_data",
      "payment_method_options", "payment_method_types", "receipt_email", "setup_future_usage", "shipping",
      "statement_descriptor", "statement_descriptor_suffix", "transfer_data", "transfer_group"}},
    // Confirm: `client_secret` is sent by Stripe.js with publishable keys but is not a documented parameter.
    {"POST", "payment_intents/*/confirm",
     {"amount_details", "capture_method", "confirmation_token", "error_on_requires_action",
      "excluded_payment_method_types", "expand", "hooks", "mandate", "mandate_data", "off_session",
      "payment_details", "payment_method", "payment_method_data", "payment_method_options",
      "payment_method_types", "radar_options", "receipt_email", "return_url", "setup_future_usage", "shipping",
      "use_stripe_sdk"}},
    {"POST", "payment_intents/*/cancel", {"cancellation_reason", "expand"}},

    // ---- charges
    {"GET", "charges/search", kSearch},
    {"GET", "charges",
     {"created", "customer", "ending_before", "expand", "limit", "payment_intent", "starting_after",
      "transfer_group"}},
    {"GET", "charges/*", kExpand},
    {"POST", "charges/*",
     {"customer", "description", "expand", "fraud_details", "metadata", "receipt_email", "shipping",
      "transfer_group"}},

    // ---- refunds
    {"GET", "refunds",
     {"charge", "created", "ending_before", "expand", "limit", "payment_intent", "starting_after"}},
    {"POST", "refunds",
     {"amount", "charge", "currency", "customer", "expand", "instructions_email", "metadata", "origin",
      "payment_intent", "reason", "refund_application_fee", "reverse_transfer"}},
    {"GET", "refunds/*", kExpand},
    {"POST", "refunds/*", {"expand", "metadata"}},

    // ---- checkout sessions
    {"POST", "checkout/sessions",
     {"adaptive_pricing", "after_expiration", "allow_promotion_codes", "automatic_tax",
      "billing_address_collection", "cancel_url", "client_reference_id", "consent_collection", "currency",
      "custom_fields", "custom_text", "customer", "customer_creation", "customer_email", "customer_update",
      "discounts", "expand", "expires_at", "invoice_creation", "line_items", "locale", "metadata", "mode",
      "optional_items", "payment_intent_data", "payment_method_collection", "payment_method_configuration",
      "payment_method_data", "payment_method_options", "payment_method_types", "permissions",
      "phone_number_collection", "redirect_on_completion", "return_url", "saved_payment_method_options",
      "setup_intent_data", "shipping_address_collection", "shipping_options", "submit_type",
      "subscription_data", "success_url", "tax_id_collection", "ui_mode"},
     {{"line_items", {"adjustable_quantity", "dynamic_tax_rates", "price", "price_data", "quantity", "tax_rates"},
       true},
      {"subscription_data",
       {"application_fee_percent", "billing_cycle_anchor", "billing_mode", "default_tax_rates", "description",
        "invoice_settings", "metadata", "on_behalf_of", "proration_behavior", "transfer_data", "trial_end",
        "trial_period_days", "trial_settings"}}}},
    {"GET", "checkout/sessions",
     {"created", "customer", "customer_details", "ending_before", "expand", "limit", "payment_intent",
      "payment_link", "starting_after", "status", "subscription"}},
    {"GET", "checkout/sessions/*", kExpand},
    {"POST", "checkout/sessions/*/expire", kExpand},

    // ---- billing meter events
    {"POST", "billing/meter_events", {"event_name", "expand", "identifier", "payload", "timestamp"}},

    // ---- billing portal sessions
    {"POST", "billing_portal/sessions",
     {"configuration", "customer", "expand", "flow_data", "locale", "on_behalf_of", "return_url"}},

    // ---- subscriptions
    {"GET", "subscriptions/search", kSearch},
    {"GET", "subscriptions",
     {"automatic_tax", "collection_method", "created", "current_period_end", "current_period_start",
      "customer", "customer_account", "ending_before", "expand", "limit", "plan", "price", "starting_after",
      "status", "test_clock"}},
    {"POST", "subscriptions",
     {"add_invoice_items", "application_fee_percent", "automatic_tax", "backdate_start_date",
      "billing_cycle_anchor", "billing_cycle_anchor_config", "billing_mode", "billing_thresholds", "cancel_at",
      "cancel_at_period_end", "collection_method", "coupon", "currency", "customer", "customer_account",
      "days_until_due", "default_payment_method", "default_source", "default_tax_rates", "description",
      "discounts", "expand", "invoice_settings", "items", "metadata", "off_session", "on_behalf_of",
      "payment_behavior", "payment_settings", "pending_invoice_item_interval", "promotion_code",
      "proration_behavior", "transfer_data", "trial_end", "trial_from_plan", "trial_period_days",
      "trial_settings"},
     {{"items", kSubItemCreate, true}},
     kLegacyDiscounts},
    {"GET", "subscriptions/*", kExpand},
    {"POST", "subscriptions/*",
     {"add_invoice_items", "application_fee_percent", "automatic_tax", "billing_cycle_anchor",
      "billing_thresholds", "cancel_at", "cancel_at_period_end", "cancellation_details", "collection_method",
      "coupon", "days_until_due", "default_payment_method", "default_source", "default_tax_rates",
      "description", "discounts", "expand", "invoice_settings", "items", "metadata", "off_session",
      "on_behalf_of", "pause_collection", "payment_behavior", "payment_settings",
      "pending_invoice_item_interval", "promotion_code", "proration_behavior", "proration_date",
      "transfer_data", "trial_end", "trial_from_plan", "trial_settings"},
     {{"items", kSubItemUpdate, true}, {"cancellation_details", kCancellationDetails}},
     kLegacyDiscounts},
    {"DELETE", "subscriptions/*",
     {"cancellation_details", "expand", "invoice_now", "prorate"},
     {{"cancellation_details", kCancellationDetails}}},
    // Not a public Stripe route (cancel is DELETE); the double serves it with the DELETE parameters.
    {"POST", "subscriptions/*/cancel",
     {"cancellation_details", "expand", "invoice_now", "prorate"},
     {{"cancellation_details", kCancellationDetails}}},

    // ---- events
    {"GET", "events",
     {"created", "delivery_success", "ending_before", "expand", "limit", "starting_after", "type", "types"}},
    {"GET", "events/*", kExpand},

    // ---- webhook endpoints
    {"GET", "webhook_endpoints", {"ending_before", "expand", "limit", "starting_after"}},
    {"POST", "webhook_endpoints",
     {"api_version", "connect", "description", "enabled_events", "expand", "metadata", "url"}},
    {"GET", "webhook_endpoints/*", kExpand},
    {"POST", "webhook_endpoints/*",
     {"description", "disabled", "enabled_events", "expand", "metadata", "url"}},
    {"DELETE", "webhook_endpoints/*", kNone},  // WebhookEndpointDeleteParams is empty: not even expand
};
// clang-format on

// Connect OAuth (connect.stripe.com). client_secret: the secret key may be sent as a form parameter.
const DocumentedRoute kOAuthRoutes[] = {
    {"POST",
     "token",
     {"assert_capabilities", "client_secret", "code", "grant_type", "refresh_token", "scope"}},
    {"POST", "deauthorize", {"client_id", "client_secret", "stripe_user_id"}},
};

bool contains(const Names& names, std::string_view key) {
  for (auto n : names)
    if (n == key) return true;
  return false;
}

bool matches(const DocumentedRoute& r, const std::string& method, const std::vector<std::string>& seg) {
  return r.method == method && pathMatches(r.path, seg);
}

const DocumentedRoute* findRoute(const DocumentedRoute* begin, const DocumentedRoute* end,
                                 const std::string& method, const std::vector<std::string>& seg) {
  for (const DocumentedRoute* r = begin; r != end; ++r)
    if (matches(*r, method, seg)) return r;
  return nullptr;
}

// First unknown parameter (bracketed path) or "" when all are documented.
std::string firstUnknown(const DocumentedRoute& route, const json& params, std::string_view version) {
  if (!params.is_object()) return "";
  version = version.substr(0, 10);  // "2025-03-31.basil" -> "2025-03-31"
  for (auto& [key, value] : params.items()) {
    if (!contains(route.params, key)) return key;
    for (const Versioned& v : route.versioned)
      if (v.name == key &&
          ((!v.since.empty() && version < v.since) || (!v.until.empty() && version >= v.until)))
        return key;
    for (const Hash& h : route.hashes) {
      if (h.name != key) continue;
      auto checkHash = [&](const json& obj, const std::string& prefix) -> std::string {
        if (!obj.is_object()) return "";
        for (auto& [sub, v] : obj.items()) {
          (void)v;
          if (!contains(h.keys, sub)) return prefix + "[" + sub + "]";
        }
        return "";
      };
      if (h.array && value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i)
          if (auto u = checkHash(value[i], key + "[" + std::to_string(i) + "]"); !u.empty()) return u;
      } else if (h.array && value.is_object()) {  // items[a][price]: non-numeric index
        for (auto& [idx, item] : value.items())
          if (auto u = checkHash(item, key + "[" + idx + "]"); !u.empty()) return u;
      } else if (!h.array) {
        if (auto u = checkHash(value, key); !u.empty()) return u;
      }
    }
  }
  return "";
}

}  // namespace

std::optional<Reply> checkParams(const std::string& method, const std::vector<std::string>& seg,
                                 const json& params, const std::string& api_version) {
  const DocumentedRoute* route = findRoute(std::begin(kRoutes), std::end(kRoutes), method, seg);
  if (!route) return std::nullopt;  // unknown route: the handler answers 404
  std::string unknown = firstUnknown(*route, params, api_version);
  if (unknown.empty()) return std::nullopt;
  return stripeError(400, "invalid_request_error", "parameter_unknown",
                     "Received unknown parameter: " + unknown, unknown);
}

std::optional<Reply> checkOAuthParams(const std::string& method, const std::string& path,
                                      const json& params) {
  const std::string prefix = "/oauth/";
  if (path.rfind(prefix, 0) != 0) return std::nullopt;
  const DocumentedRoute* route =
      findRoute(std::begin(kOAuthRoutes), std::end(kOAuthRoutes), method, {path.substr(prefix.size())});
  if (!route) return std::nullopt;
  std::string unknown = firstUnknown(*route, params, "");
  if (unknown.empty()) return std::nullopt;
  Reply r;
  r.status = 400;
  r.body = {{"error", "invalid_request"}, {"error_description", "Received unknown parameter: " + unknown}};
  return r;
}

std::vector<std::pair<std::string_view, std::string_view>> documentedV1Routes() {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (const DocumentedRoute& r : kRoutes)
    out.emplace_back(r.method, r.path);
  return out;
}

}  // namespace ih::stripe_double
