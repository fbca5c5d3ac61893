// Fakes Stripe's PaymentIntent resource: POST /v1/payment_intents (optionally confirm=true),
// GET /v1/payment_intents (list), GET /v1/payment_intents/search, GET and POST /v1/payment_intents/{id},
// POST /v1/payment_intents/{id}/confirm and /cancel. Test payment methods (pm_card_visa,
// pm_card_chargeDeclined…) decide the outcome: a succeeded charge, or a failed one and a 402 card_error.
// The test token is kept in the private "_test_token" field and never shown. REQUIRES Impl::mu held.
#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

json strip(json pi) {
  pi.erase("_test_token");
  return pi;
}

// Confirms pi with its payment method: a charge and payment_intent.succeeded, or 402 on a decline.
Reply confirm(StripeDouble::Impl& d, Ctx& c, json& pi) {
  const std::string st = pi["status"];
  if (st != "requires_payment_method" && st != "requires_confirmation")
    return stripeError(400, "invalid_request_error", "payment_intent_unexpected_state",
                       "You cannot confirm this PaymentIntent because it has a status of " + st +
                           ". Only a PaymentIntent with one of the following statuses may be confirmed: "
                           "requires_confirmation, requires_payment_method, requires_action.");
  std::string token = pi.value("_test_token", "");
  if (pi["payment_method"].is_null() || token.empty())
    return stripeError(
        400, "invalid_request_error", "payment_intent_unexpected_state",
        "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm "
        "the PaymentIntent with " +
            pi["customer"].dump() +
            ", specify a payment method attached "
            "to this customer along with the customer ID.");
  const int64_t amount = pi["amount"];
  const std::string decline = declineCodeFor(token);
  if (!decline.empty()) {
    std::string ch_id = detail::newId("ch");
    json ch = chargeObject(ch_id, amount, pi["currency"], c.now, "", c.livemode);
    ch["status"] = "failed";
    ch["paid"] = false;
    ch["captured"] = false;
    ch["amount_captured"] = 0;
    ch["failure_code"] = "card_declined";
    ch["failure_message"] = "Your card was declined.";
    ch["outcome"] = {{"network_status", "declined_by_network"},
                     {"reason", decline},
                     {"risk_level", "normal"},
                     {"seller_message", "The bank did not return any further details with this decline."},
                     {"type", "issuer_declined"}};
    ch["customer"] = pi["customer"];
    ch["payment_intent"] = pi["id"];
    ch["payment_method"] = pi["payment_method"];
    d.insert(c.acct, "charges", ch);
    d.emitEvent(c, "charge.failed", ch);
    json err = {
        {"type", "card_error"},
        {"code", "card_declined"},
        {"decline_code", decline},
        {"charge", ch_id},
        {"doc_url", "https://stripe.com/docs/error-codes/card-declined"},
        {"message", "Your card was declined."},
        {"payment_method", {{"id", pi["payment_method"]}, {"object", "payment_method"}, {"type", "card"}}}};
    pi["status"] = "requires_payment_method";
    pi["last_payment_error"] = err;
    pi["latest_charge"] = ch_id;
    pi["payment_method"] = nullptr;
    d.emitEvent(c, "payment_intent.payment_failed", pi);
    json e = err;
    json pi_out = pi;
    pi_out.erase("_test_token");
    e["payment_intent"] = pi_out;
    Reply rr;
    rr.status = 402;
    rr.body = {{"error", e}};
    return rr;
  }
  json ch = d.createCharge(c, amount, pi["currency"], pi["customer"], pi["id"], nullptr,
                           pi["description"].is_string() ? pi["description"].get<std::string>() : "");
  Stored* chs = d.find(c.acct, "charges", ch["id"]);
  chs->obj["payment_method"] = pi["payment_method"];
  chs->obj["metadata"] = pi["metadata"];
  pi["status"] = "succeeded";
  pi["amount_received"] = amount;
  pi["latest_charge"] = ch["id"];
  pi["last_payment_error"] = nullptr;
  json out = pi;
  out.erase("_test_token");
  d.emitEvent(c, "payment_intent.succeeded", out);
  return ok(out);
}

// payment_method=…: a test token (pm_card_…, tok_…) becomes a fresh pm_ id; the token decides the outcome.
void setPaymentMethod(const json& P, json& pi) {
  std::string pm = str(P, "payment_method");
  if (pm.empty()) return;
  pi["_test_token"] = pm;
  pi["payment_method"] =
      pm.rfind("pm_card_", 0) == 0 || pm.rfind("tok_", 0) == 0 ? "pm_" + detail::randomTail(24) : pm;
  if (pi["status"] == "requires_payment_method") pi["status"] = "requires_confirmation";
}

// GET /v1/payment_intents/search
Reply searchPaymentIntents(StripeDouble::Impl& d, Ctx& c) {
  Reply rr = d.search(c, "payment_intents", "/v1/payment_intents/search");
  if (rr.status == 200 && rr.body.contains("data"))
    for (auto& e : rr.body["data"])
      e.erase("_test_token");  // private to the double, as in the list and retrieve answers
  return rr;
}

// GET /v1/payment_intents
Reply listPaymentIntents(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string customer = str(P, "customer");
  Reply rr = d.list(c, "payment_intents", "/v1/payment_intents",
                    [&](const json& o) { return customer.empty() || o["customer"] == customer; });
  if (rr.status == 200)
    for (auto& e : rr.body["data"])
      e.erase("_test_token");
  return rr;
}

// POST /v1/payment_intents
Reply createPaymentIntent(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::optional<int64_t> amount;
  if (auto e = intParam(P, "amount", amount)) return *e;
  if (!amount) return missingParam("amount");
  std::string currency = str(P, "currency");
  if (currency.empty()) return missingParam("currency");
  if (currency == "usd" && *amount < 50)
    return stripeError(400, "invalid_request_error", "amount_too_small", "Amount must be at least $0.50 usd",
                       "amount");
  std::string customer = str(P, "customer");
  if (!customer.empty() && !existingCustomer(d, c.acct, customer))
    return noSuch("customer", customer, "customer");
  bool do_confirm = false;
  if (auto e = boolParam(P, "confirm", false, do_confirm)) return *e;
  const std::string id = detail::newId("pi");
  json o = {{"id", id},
            {"object", "payment_intent"},
            {"amount", *amount},
            {"amount_capturable", 0},
            {"amount_details", {{"tip", json::object()}}},
            {"amount_received", 0},
            {"application", nullptr},
            {"application_fee_amount", nullptr},
            {"automatic_payment_methods", nullptr},
            {"canceled_at", nullptr},
            {"cancellation_reason", nullptr},
            {"capture_method", "automatic"},
            {"client_secret", id + "_secret_" + detail::randomTail(25)},
            {"confirmation_method", "automatic"},
            {"created", c.now},
            {"currency", currency},
            {"customer", customer.empty() ? json(nullptr) : json(customer)},
            {"description", nullptr},
            {"last_payment_error", nullptr},
            {"latest_charge", nullptr},
            {"livemode", c.livemode},
            {"metadata", json::object()},
            {"next_action", nullptr},
            {"on_behalf_of", nullptr},
            {"payment_method", nullptr},
            {"payment_method_configuration_details", nullptr},
            {"payment_method_options", {{"card", {{"request_three_d_secure", "automatic"}}}}},
            {"payment_method_types", json::array({"card"})},
            {"processing", nullptr},
            {"receipt_email", nullptr},
            {"review", nullptr},
            {"setup_future_usage", nullptr},
            {"shipping", nullptr},
            {"source", nullptr},
            {"statement_descriptor", nullptr},
            {"statement_descriptor_suffix", nullptr},
            {"status", "requires_payment_method"},
            {"transfer_data", nullptr},
            {"transfer_group", nullptr}};
  setString(o, P, "description");
  setString(o, P, "receipt_email");
  applyMetadata(o, P);
  setPaymentMethod(P, o);
  Stored& st = d.insert(c.acct, "payment_intents", o);
  d.emitEvent(c, "payment_intent.created", strip(st.obj));
  if (do_confirm) return confirm(d, c, st.obj);
  return ok(strip(st.obj));
}

// GET /v1/payment_intents/{id}
Reply retrievePaymentIntent(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "payment_intents", c.seg[1]);
  if (!st) return noSuch("payment_intent", c.seg[1]);
  return d.withExpand(c, strip(st->obj));
}

// POST /v1/payment_intents/{id}
Reply updatePaymentIntent(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "payment_intents", c.seg[1]);
  if (!st) return noSuch("payment_intent", c.seg[1]);
  std::optional<int64_t> amount;
  if (auto e = intParam(P, "amount", amount)) return *e;
  if (amount) st->obj["amount"] = *amount;
  setString(st->obj, P, "description");
  if (P.contains("customer")) st->obj["customer"] = P["customer"];
  applyMetadata(st->obj, P);
  setPaymentMethod(P, st->obj);
  return ok(strip(st->obj));
}

// POST /v1/payment_intents/{id}/confirm
Reply confirmPaymentIntent(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "payment_intents", c.seg[1]);
  if (!st) return noSuch("payment_intent", c.seg[1]);
  setPaymentMethod(c.params, st->obj);
  return confirm(d, c, st->obj);
}

// POST /v1/payment_intents/{id}/cancel
Reply cancelPaymentIntent(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "payment_intents", c.seg[1]);
  if (!st) return noSuch("payment_intent", c.seg[1]);
  std::string stt = st->obj["status"];
  if (stt == "succeeded" || stt == "canceled")
    return stripeError(400, "invalid_request_error", "payment_intent_unexpected_state",
                       "You cannot cancel this PaymentIntent because it has a status of " + stt + ".");
  st->obj["status"] = "canceled";
  st->obj["canceled_at"] = c.now;
  std::string reason = str(P, "cancellation_reason");
  st->obj["cancellation_reason"] = reason.empty() ? json(nullptr) : json(reason);
  d.emitEvent(c, "payment_intent.canceled", strip(st->obj));
  return ok(strip(st->obj));
}

// Any other request under /v1/payment_intents/{id}.
Reply otherPaymentIntentRequest(StripeDouble::Impl& d, Ctx& c) {
  return d.missingOrUnrecognized(c, "payment_intents", "payment_intent");
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "payment_intents/search", searchPaymentIntents},
    {"GET", "payment_intents", listPaymentIntents},
    {"POST", "payment_intents", createPaymentIntent},
    {"GET", "payment_intents/*", retrievePaymentIntent},
    {"POST", "payment_intents/*", updatePaymentIntent},
    {"POST", "payment_intents/*/confirm", confirmPaymentIntent},
    {"POST", "payment_intents/*/cancel", cancelPaymentIntent},
    {"*", "payment_intents/*/**", otherPaymentIntentRequest},
};
// clang-format on

}  // namespace

RouteTable paymentIntentRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
