// Checkout Sessions and customer portal sessions of the Stripe double.
//   POST /v1/checkout/sessions, GET /v1/checkout/sessions[/{id}], POST /v1/checkout/sessions/{id}/expire
//   POST /v1/billing_portal/sessions
// A session's `url` is the double's own hosted page (/hosted/checkout/{id}); its Pay button stands for the
// customer completing Stripe's page: the customer is created when the session has none, the subscription
// is created (trial included) and checkout.session.completed is sent, then the browser goes to success_url.
// Only subscription-mode sessions can be completed that way (payment mode answers a page saying so).
#include <string>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// Line items from line_items[n][price|quantity] (a list or a hash keyed by index, as the form arrives).
json lineItems(const json& params) {
  json items = params.value("line_items", json());
  if (items.is_object()) {
    json arr = json::array();
    for (auto& [k, v] : items.items())
      arr.push_back(v);
    items = arr;
  }
  return items.is_array() ? items : json::array();
}

// POST /v1/checkout/sessions
Reply createSession(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  const std::string mode = str(P, "mode");
  if (mode.empty()) return missingParam("mode");
  if (mode != "payment" && mode != "subscription" && mode != "setup")
    return invalidParam("mode", "Invalid mode: must be one of payment, setup, or subscription");
  const std::string ui_mode = P.contains("ui_mode") ? str(P, "ui_mode") : "hosted";
  if (ui_mode != "hosted" && ui_mode != "embedded")
    return invalidParam("ui_mode", "Invalid ui_mode: must be one of embedded or hosted");
  const std::string success_url = str(P, "success_url");
  if (ui_mode == "hosted" && success_url.empty()) return missingParam("success_url");
  const std::string client_reference_id = str(P, "client_reference_id");
  if (client_reference_id.size() > 200)
    return invalidParam("client_reference_id", "Invalid string: must be at most 200 characters");

  json customer = nullptr;
  if (const std::string id = str(P, "customer"); !id.empty()) {
    if (!existingCustomer(d, c.acct, id)) return noSuch("customer", id, "customer");
    customer = id;
  }
  const json items = lineItems(P);
  if (mode != "setup" && items.empty()) return missingParam("line_items");
  int64_t subtotal = 0;
  std::string currency;
  bool any_recurring = false;
  json stored_items = json::array();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = "line_items[" + std::to_string(i) + "]";
    if (!items[i].is_object()) return invalidParam(where, "Invalid hash");
    const std::string price = items[i].value("price", "");
    if (price.empty()) return missingParam(where + "[price]");
    Stored* pr = d.find(c.acct, "prices", price);
    if (!pr) return noSuch("price", price, where + "[price]");
    std::optional<int64_t> quantity;
    if (auto e = intParam(items[i], "quantity", quantity)) return *e;
    const int64_t qty = quantity.value_or(1);
    if (qty < 1) return invalidParam(where + "[quantity]", "This value must be greater than or equal to 1.");
    if (qty > 999999)
      return invalidParam(where + "[quantity]", "This value must be less than or equal to 999999.");
    const bool recurring = pr->obj["type"] == "recurring";
    any_recurring |= recurring;
    if (mode == "payment" && recurring) {
      return invalidParam(where + "[price]",
                          "You specified `payment` mode but passed a recurring price. Either switch to "
                          "`subscription` mode or use only one-time prices.");
    }
    subtotal += pr->obj.value("unit_amount", int64_t{0}) * qty;
    currency = pr->obj.value("currency", "usd");
    stored_items.push_back({{"price", price}, {"quantity", qty}});
  }
  if (mode == "subscription" && !any_recurring) {
    return invalidParam(
        "line_items",
        "You must provide at least one recurring price in `subscription` mode when using prices.");
  }
  const json sub_data = P.value("subscription_data", json::object());
  std::optional<int64_t> trial_days;
  if (sub_data.is_object()) {
    if (auto e = intParam(sub_data, "trial_period_days", trial_days)) return *e;
    if (trial_days && *trial_days < 1)
      return invalidParam("subscription_data[trial_period_days]",
                          "This value must be greater than or equal to 1.");
  }
  std::optional<int64_t> expires_at;
  if (auto e = intParam(P, "expires_at", expires_at)) return *e;

  const std::string id = detail::newId(c.livemode ? "cs_live" : "cs_test", 58);
  json o = {
      {"id", id},
      {"object", "checkout.session"},
      {"after_expiration", nullptr},
      {"allow_promotion_codes", nullptr},
      {"amount_subtotal", mode == "setup" ? json(nullptr) : json(subtotal)},
      {"amount_total", mode == "setup" ? json(nullptr) : json(subtotal)},
      {"automatic_tax", {{"enabled", false}, {"liability", nullptr}, {"status", nullptr}}},
      {"billing_address_collection", nullptr},
      {"cancel_url", P.contains("cancel_url") ? json(str(P, "cancel_url")) : json(nullptr)},
      {"client_reference_id", client_reference_id.empty() ? json(nullptr) : json(client_reference_id)},
      {"client_secret", nullptr},
      {"consent", nullptr},
      {"consent_collection", nullptr},
      {"created", c.now},
      {"currency", currency.empty() ? json(nullptr) : json(currency)},
      {"custom_fields", json::array()},
      {"custom_text",
       {{"after_submit", nullptr},
        {"shipping_address", nullptr},
        {"submit", nullptr},
        {"terms_of_service_acceptance", nullptr}}},
      {"customer", customer},
      {"customer_creation", customer.is_null() && mode == "payment" ? json("if_required") : json(nullptr)},
      {"customer_details", nullptr},
      {"customer_email", P.contains("customer_email") ? json(str(P, "customer_email")) : json(nullptr)},
      {"expires_at", expires_at.value_or(c.now + 86400)},
      {"invoice", nullptr},
      {"invoice_creation", nullptr},
      {"livemode", c.livemode},
      {"locale", nullptr},
      {"metadata", json::object()},
      {"mode", mode},
      {"payment_intent", nullptr},
      {"payment_link", nullptr},
      {"payment_method_collection", mode == "subscription" ? json("always") : json(nullptr)},
      {"payment_method_options", json::object()},
      {"payment_method_types", json::array({"card"})},
      {"payment_status", mode == "setup" ? "no_payment_required" : "unpaid"},
      {"phone_number_collection", {{"enabled", false}}},
      {"recovered_from", nullptr},
      {"setup_intent", nullptr},
      {"shipping_address_collection", nullptr},
      {"shipping_cost", nullptr},
      {"shipping_details", nullptr},
      {"shipping_options", json::array()},
      {"status", "open"},
      {"submit_type", nullptr},
      {"subscription", nullptr},
      {"success_url", success_url.empty() ? json(nullptr) : json(success_url)},
      {"total_details", {{"amount_discount", 0}, {"amount_shipping", 0}, {"amount_tax", 0}}},
      {"ui_mode", ui_mode},
      {"url", ui_mode == "hosted" ? json(d.base_url + "/hosted/checkout/" + id) : json(nullptr)}};
  applyMetadata(o, P);
  d.insert(c.acct, "checkout_sessions", o);
  // What completing the session needs and the object does not show.
  d.checkout_private[id] = {
      {"line_items", stored_items},
      {"trial_period_days", trial_days ? json(*trial_days) : json(nullptr)},
      {"subscription_metadata",
       sub_data.is_object() ? sub_data.value("metadata", json::object()) : json::object()}};
  d.checkout_owner[id] = c.acct.id;
  return d.withExpand(c, o);
}

// GET /v1/checkout/sessions/{id}
Reply retrieveSession(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "checkout_sessions", c.seg[2]);
  if (!st) return noSuch("checkout.session", c.seg[2]);
  return d.withExpand(c, st->obj);
}

// GET /v1/checkout/sessions
Reply listSessions(StripeDouble::Impl& d, Ctx& c) {
  const std::string status = str(c.params, "status"), customer = str(c.params, "customer"),
                    subscription = str(c.params, "subscription");
  return d.list(c, "checkout_sessions", "/v1/checkout/sessions", [&](const json& o) {
    return (status.empty() || o["status"] == status) && (customer.empty() || o["customer"] == customer) &&
           (subscription.empty() || o["subscription"] == subscription);
  });
}

// POST /v1/checkout/sessions/{id}/expire
Reply expireSession(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "checkout_sessions", c.seg[2]);
  if (!st) return noSuch("checkout.session", c.seg[2]);
  if (st->obj["status"] != "open") {
    return stripeError(
        400, "invalid_request_error", "",
        "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has "
        "a status of \"" +
            st->obj["status"].get<std::string>() + "\".");
  }
  st->obj["status"] = "expired";
  st->obj["url"] = nullptr;
  d.emitEvent(c, "checkout.session.expired", st->obj);
  return d.withExpand(c, st->obj);
}

// POST /v1/billing_portal/sessions
Reply createPortalSession(StripeDouble::Impl& d, Ctx& c) {
  const std::string customer = str(c.params, "customer");
  if (customer.empty()) return missingParam("customer");
  if (!existingCustomer(d, c.acct, customer)) return noSuch("customer", customer, "customer");
  const std::string id = detail::newId("bps", 24);
  json o = {
      {"id", id},
      {"object", "billing_portal.session"},
      {"configuration", "bpc_" + detail::randomTail(24)},
      {"created", c.now},
      {"customer", customer},
      {"flow", nullptr},
      {"livemode", c.livemode},
      {"locale", nullptr},
      {"on_behalf_of", nullptr},
      {"return_url", c.params.contains("return_url") ? json(str(c.params, "return_url")) : json(nullptr)},
      {"url", d.base_url + "/hosted/billing_portal/" + id}};
  d.insert(c.acct, "billing_portal_sessions", o);
  d.checkout_owner[id] = c.acct.id;
  return ok(o);
}

Reply page(int status, const std::string& html) {
  Reply r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.raw = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Stripe double</title></head><body>" +
          html + "</body></html>";
  return r;
}

// clang-format off
constexpr Route kCheckoutRoutes[] = {
    {"POST", "checkout/sessions", createSession},
    {"GET", "checkout/sessions", listSessions},
    {"GET", "checkout/sessions/*", retrieveSession},
    {"POST", "checkout/sessions/*/expire", expireSession},
};
constexpr Route kPortalRoutes[] = {
    {"POST", "billing_portal/sessions", createPortalSession},
};
// clang-format on

}  // namespace

Reply StripeDouble::Impl::hostedCheckout(const httplib::Request& req, const std::vector<std::string>& seg) {
  if (seg.size() < 3) return page(404, "<p>Not found.</p>");
  auto owner = checkout_owner.find(seg[2]);
  Account* a = owner == checkout_owner.end() ? nullptr : account(owner->second);
  if (seg[1] == "billing_portal") {
    Stored* ps = a ? find(*a, "billing_portal_sessions", seg[2]) : nullptr;
    if (!ps) return page(404, "<p>Portal session not found.</p>");
    const json& o = ps->obj;
    std::string html =
        "<h1>Customer portal</h1><p id=\"customer\">" + htmlEscape(o["customer"].get<std::string>()) + "</p>";
    if (o["return_url"].is_string())
      html += "<a href=\"" + htmlEscape(o["return_url"].get<std::string>()) + "\">Return</a>";
    return page(200, html);
  }
  Stored* st = a ? find(*a, "checkout_sessions", seg[2]) : nullptr;
  if (!st) return page(404, "<p>Checkout session not found.</p>");
  json& o = st->obj;
  const bool pay = seg.size() == 4 && seg[3] == "pay" && req.method == "POST";
  if (!pay) {
    std::string html = "<h1>Checkout</h1><p id=\"status\">Status: " + o["status"].get<std::string>() + "</p>";
    if (o["amount_total"].is_number())
      html += "<p>Total: " + std::to_string(o["amount_total"].get<int64_t>()) + " " +
              htmlEscape(o.value("currency", "")) + "</p>";
    if (o["status"] == "open")
      html +=
          "<form method=\"post\" action=\"/hosted/checkout/" + seg[2] + "/pay\"><button>Pay</button></form>";
    return page(200, html);
  }
  if (o["status"] != "open")
    return page(400, "<p>This Checkout Session is " + o["status"].get<std::string>() + ".</p>");
  if (o["mode"] != "subscription")
    return page(400, "<p>The Stripe double completes subscription-mode Checkout Sessions only.</p>");
  const auto found = checkout_private.find(seg[2]);
  const json priv = found == checkout_private.end() ? json::object() : found->second;
  Ctx c{*a,
        json::object(),
        "POST",
        {},
        "req_" + detail::randomTail(14),
        std::nullopt,
        o.value("livemode", false),
        clock()};
  std::string customer = o["customer"].is_string() ? o["customer"].get<std::string>() : "";
  if (customer.empty()) {
    if (o["customer_email"].is_string()) c.params["email"] = o["customer_email"];
    Reply created = createCustomerFor(*this, c);
    if (created.status != 200) return page(created.status, "<p>" + htmlEscape(created.body.dump()) + "</p>");
    customer = created.body["id"];
  }
  c.params = {{"customer", customer}, {"items", json::array()}};
  for (const json& item : priv.value("line_items", json::array()))
    c.params["items"].push_back(
        {{"price", item["price"]}, {"quantity", std::to_string(item["quantity"].get<int64_t>())}});
  if (priv.value("trial_period_days", json()).is_number())
    c.params["trial_period_days"] = std::to_string(priv.at("trial_period_days").get<int64_t>());
  if (const json meta = priv.value("subscription_metadata", json()); meta.is_object() && !meta.empty())
    c.params["metadata"] = meta;
  Reply sub = createSubscriptionFor(*this, c);
  if (sub.status != 200) return page(sub.status, "<p>" + htmlEscape(sub.body.dump()) + "</p>");
  o["status"] = "complete";
  o["payment_status"] = sub.body["status"] == "trialing" ? "no_payment_required" : "paid";
  o["customer"] = customer;
  o["subscription"] = sub.body["id"];
  o["customer_details"] = {{"address", nullptr}, {"email", o["customer_email"]}, {"name", nullptr},
                           {"phone", nullptr},   {"tax_exempt", "none"},         {"tax_ids", json::array()}};
  o["url"] = nullptr;
  emitEvent(c, "checkout.session.completed", o);
  Reply r = page(303, "<p>Paid.</p>");
  std::string next = o["success_url"].is_string() ? o["success_url"].get<std::string>() : "/";
  if (auto at = next.find("{CHECKOUT_SESSION_ID}"); at != std::string::npos)
    next.replace(at, std::string("{CHECKOUT_SESSION_ID}").size(), seg[2]);
  r.headers.emplace_back("Location", next);
  return r;
}

RouteTable checkoutRoutes() {
  return routeTable(kCheckoutRoutes);
}

RouteTable billingPortalRoutes() {
  return routeTable(kPortalRoutes);
}

}  // namespace ih::stripe_double
