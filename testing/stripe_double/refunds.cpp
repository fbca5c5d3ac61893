// Fakes Stripe's Refund resource: POST /v1/refunds (by charge or payment intent, full or partial),
// GET /v1/refunds (list), GET and POST /v1/refunds/{id}. A refund adds a negative balance transaction.
// REQUIRES Impl::mu held.
#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// GET /v1/refunds
Reply listRefunds(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string charge = str(P, "charge"), pi = str(P, "payment_intent");
  return d.list(c, "refunds", "/v1/refunds", [&](const json& o) {
    if (!charge.empty() && o["charge"] != charge) return false;
    if (!pi.empty() && o["payment_intent"] != pi) return false;
    return true;
  });
}

// POST /v1/refunds
Reply createRefund(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string charge = str(P, "charge");
  std::string pi = str(P, "payment_intent");
  if (charge.empty() && pi.empty()) return missingParam("charge");
  if (charge.empty()) {
    Stored* pis = d.find(c.acct, "payment_intents", pi);
    if (!pis) return noSuch("payment_intent", pi, "payment_intent");
    if (!pis->obj["latest_charge"].is_string() || pis->obj["status"] != "succeeded")
      return stripeError(400, "invalid_request_error", "payment_intent_unexpected_state",
                         "This PaymentIntent does not have a successful charge to refund.", "payment_intent");
    charge = pis->obj["latest_charge"];
  }
  Stored* ch = d.find(c.acct, "charges", charge);
  if (!ch) return noSuch("charge", charge, "charge");
  if (ch->obj["status"] != "succeeded")
    return invalidParam("charge", "This charge cannot be refunded because it has not succeeded.");
  const int64_t remaining = ch->obj["amount"].get<int64_t>() - ch->obj["amount_refunded"].get<int64_t>();
  if (remaining <= 0)
    return stripeError(400, "invalid_request_error", "charge_already_refunded",
                       "Charge " + charge + " has already been refunded.", "charge");
  std::optional<int64_t> amount;
  if (auto e = intParam(P, "amount", amount)) return *e;
  int64_t amt = amount.value_or(remaining);
  if (amt <= 0) return invalidParam("amount", "Refund amount must be positive.");
  if (amt > remaining)
    return stripeError(400, "invalid_request_error", "amount_too_large",
                       "Refund amount (" + std::to_string(amt) +
                           ") is greater than unrefunded amount on charge (" + std::to_string(remaining) +
                           ")",
                       "amount");
  const std::string id = detail::newId("re");
  const std::string currency = ch->obj["currency"];
  std::string txn = c.acct.txns.add(c.now, -amt, 0, kTxnRefund, currency, id, "REFUND FOR CHARGE");
  json o = {{"id", id},
            {"object", "refund"},
            {"amount", amt},
            {"balance_transaction", txn},
            {"charge", charge},
            {"created", c.now},
            {"currency", currency},
            {"destination_details", {{"card", {{"type", "refund"}}}, {"type", "card"}}},
            {"metadata", json::object()},
            {"payment_intent", ch->obj["payment_intent"]},
            {"reason", P.contains("reason") ? P["reason"] : json(nullptr)},
            {"receipt_number", nullptr},
            {"source_transfer_reversal", nullptr},
            {"status", "succeeded"},
            {"transfer_reversal", nullptr}};
  applyMetadata(o, P);
  d.insert(c.acct, "refunds", o);
  json before = ch->obj;
  ch->obj["amount_refunded"] = ch->obj["amount_refunded"].get<int64_t>() + amt;
  ch->obj["refunded"] = ch->obj["amount_refunded"] == ch->obj["amount"];
  json prev = diff(before, ch->obj);
  d.emitEvent(c, "refund.created", o);
  d.emitEvent(c, "charge.refunded", ch->obj, &prev);
  return d.withExpand(c, o);
}

// GET /v1/refunds/{id}
Reply retrieveRefund(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "refunds", c.seg[1]);
  if (!st) return noSuch("refund", c.seg[1]);
  return d.withExpand(c, st->obj);
}

// POST /v1/refunds/{id}: metadata only.
Reply updateRefund(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "refunds", c.seg[1]);
  if (!st) return noSuch("refund", c.seg[1]);
  json before = st->obj;
  applyMetadata(st->obj, P);
  json prev = diff(before, st->obj);
  if (!prev.empty()) d.emitEvent(c, "refund.updated", st->obj, &prev);
  return ok(st->obj);
}

// Any other method on /v1/refunds/{id}.
Reply otherRefundRequest(StripeDouble::Impl& d, Ctx& c) {
  return d.missingOrUnrecognized(c, "refunds", "refund");
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "refunds", listRefunds},
    {"POST", "refunds", createRefund},
    {"GET", "refunds/*", retrieveRefund},
    {"POST", "refunds/*", updateRefund},
    {"*", "refunds/*", otherRefundRequest},
};
// clang-format on

}  // namespace

RouteTable refundRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
