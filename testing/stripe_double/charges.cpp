// Fakes Stripe's Charge resource: GET /v1/charges (list), GET /v1/charges/search, GET and POST
// /v1/charges/{id}. Charges are created by payment intents and invoice payments (createCharge); a seeded
// balance transaction's synthetic charge is retrievable too. REQUIRES Impl::mu held.
#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

json emptyList(const std::string& url) {
  return {{"object", "list"}, {"data", json::array()}, {"has_more", false}, {"url", url}};
}

int64_t stripeFee(int64_t amount) {
  return (amount * 29 + 500) / 1000 + 30;
}

// GET /v1/charges/search
Reply searchCharges(StripeDouble::Impl& d, Ctx& c) {
  return d.search(c, "charges", "/v1/charges/search");
}

// GET /v1/charges
Reply listCharges(StripeDouble::Impl& d, Ctx& c) {
  std::string customer = str(c.params, "customer"), pi = str(c.params, "payment_intent");
  return d.list(c, "charges", "/v1/charges", [&](const json& o) {
    if (!customer.empty() && o["customer"] != customer) return false;
    if (!pi.empty() && o["payment_intent"] != pi) return false;
    return true;
  });
}

// GET /v1/charges/{id}: a stored charge, or the synthetic one behind a seeded balance transaction.
Reply retrieveCharge(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "charges", c.seg[1]);
  json obj = st ? st->obj : d.lookupAny(c.acct, c.seg[1], c.now);
  if (obj.is_null()) return noSuch("charge", c.seg[1]);
  return d.withExpand(c, obj);
}

// POST /v1/charges/{id}
Reply updateCharge(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "charges", c.seg[1]);
  if (!st) return noSuch("charge", c.seg[1]);
  json before = st->obj;
  setString(st->obj, P, "description");
  applyMetadata(st->obj, P);
  json prev = diff(before, st->obj);
  if (!prev.empty()) d.emitEvent(c, "charge.updated", st->obj, &prev);
  return d.withExpand(c, st->obj);
}

// Any other method on /v1/charges/{id}.
Reply otherChargeRequest(StripeDouble::Impl& d, Ctx& c) {
  return d.missingOrUnrecognized(c, "charges", "charge");
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "charges/search", searchCharges},
    {"GET", "charges", listCharges},
    {"GET", "charges/*", retrieveCharge},
    {"POST", "charges/*", updateCharge},
    {"*", "charges/*", otherChargeRequest},
};
// clang-format on

}  // namespace

json chargeObject(const std::string& id, int64_t amount, const std::string& currency, int64_t created,
                  const std::string& txn, bool livemode) {
  return {{"id", id},
          {"object", "charge"},
          {"amount", amount},
          {"amount_captured", amount},
          {"amount_refunded", 0},
          {"application", nullptr},
          {"application_fee", nullptr},
          {"application_fee_amount", nullptr},
          {"balance_transaction", txn.empty() ? json(nullptr) : json(txn)},
          {"billing_details",
           {{"address",
             {{"city", nullptr},
              {"country", nullptr},
              {"line1", nullptr},
              {"line2", nullptr},
              {"postal_code", nullptr},
              {"state", nullptr}}},
            {"email", nullptr},
            {"name", nullptr},
            {"phone", nullptr}}},
          {"calculated_statement_descriptor", "IHOST DOUBLE"},
          {"captured", true},
          {"created", created},
          {"currency", currency},
          {"customer", nullptr},
          {"description", nullptr},
          {"disputed", false},
          {"failure_balance_transaction", nullptr},
          {"failure_code", nullptr},
          {"failure_message", nullptr},
          {"fraud_details", json::object()},
          {"invoice", nullptr},
          {"livemode", livemode},
          {"metadata", json::object()},
          {"on_behalf_of", nullptr},
          {"outcome",
           {{"network_status", "approved_by_network"},
            {"reason", nullptr},
            {"risk_level", "normal"},
            {"seller_message", "Payment complete."},
            {"type", "authorized"}}},
          {"paid", true},
          {"payment_intent", nullptr},
          {"payment_method", nullptr},
          {"payment_method_details",
           {{"card",
             {{"brand", "visa"},
              {"country", "US"},
              {"exp_month", 8},
              {"exp_year", 2030},
              {"funding", "credit"},
              {"last4", "4242"},
              {"network", "visa"}}},
            {"type", "card"}}},
          {"receipt_email", nullptr},
          {"receipt_number", nullptr},
          {"receipt_url", nullptr},
          {"refunded", false},
          {"refunds", emptyList("/v1/charges/" + id + "/refunds")},
          {"review", nullptr},
          {"shipping", nullptr},
          {"source_transfer", nullptr},
          {"statement_descriptor", nullptr},
          {"statement_descriptor_suffix", nullptr},
          {"status", "succeeded"},
          {"transfer_data", nullptr},
          {"transfer_group", nullptr}};
}

// Decline code for a test payment method, "" when it succeeds.
std::string declineCodeFor(const std::string& pm) {
  if (pm.find("chargeDeclinedInsufficientFunds") != std::string::npos) return "insufficient_funds";
  if (pm.find("chargeDeclinedLostCard") != std::string::npos) return "lost_card";
  if (pm.find("chargeDeclinedStolenCard") != std::string::npos) return "stolen_card";
  if (pm.find("chargeDeclinedExpiredCard") != std::string::npos) return "expired_card";
  if (pm.find("chargeDeclined") != std::string::npos) return "generic_decline";
  return "";
}

json StripeDouble::Impl::createCharge(Ctx& c, int64_t amount, const std::string& currency,
                                      const json& customer, const json& payment_intent, const json& invoice,
                                      const std::string& description) {
  std::string id = detail::newId("ch");
  int64_t fee = stripeFee(amount);
  std::string txn = c.acct.txns.add(c.now, amount, fee, kTxnCharge, currency, id, description);
  json ch = chargeObject(id, amount, currency, c.now, txn, c.livemode);
  ch["customer"] = customer;
  ch["payment_intent"] = payment_intent;
  ch["invoice"] = invoice;
  ch["description"] = description.empty() ? json(nullptr) : json(description);
  ch["payment_method"] = "pm_" + detail::randomTail(24);
  ch["receipt_url"] = base_url + "/hosted/receipts/" + id;
  insert(c.acct, "charges", ch);
  emitEvent(c, "charge.succeeded", ch);
  return ch;
}

RouteTable chargeRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
