// Stripe events → records + normalized events. See event_handlers.h.
#include "stripe_common/event_handlers.h"
#include "stripe_common/json_util.h"

#include <chrono>

namespace ih::stripe {
namespace {

using ih::sdk::Status;

}  // namespace

const std::vector<std::string>& handledEventTypes() {
  static const std::vector<std::string> kTypes = {"invoice.finalized",
                                                  "invoice.paid",
                                                  "invoice.payment_failed",
                                                  "invoice.voided",
                                                  "invoice.marked_uncollectible",
                                                  "payment_intent.succeeded",
                                                  "payment_intent.payment_failed",
                                                  "customer.subscription.created",
                                                  "customer.subscription.updated",
                                                  "customer.subscription.deleted"};
  return kTypes;
}

// The invoice's line items as Stripe embeds them in the invoice (its first page: up to 10 by default):
// item reference (metadata.ihost_line, set by create_invoices), title, quantity, amount.
Json invoiceLines(const Json& invoice) {
  Json out = Json::array();
  for (const Json& line : member(member(invoice, "lines"), "data")) {
    if (!line.is_object()) continue;
    out.push_back({{"ref", member(member(line, "metadata"), "ihost_line")},
                   {"title", member(line, "description")},
                   {"quantity", member(line, "quantity")},
                   {"amount", member(line, "amount")},
                   {"currency", member(line, "currency")}});
  }
  return out;
}

Json invoiceRecord(const Json& invoice) {
  const Json transitions = member(invoice, "status_transitions");
  const Json metadata = member(invoice, "metadata");
  return {{"id", str(invoice, "id")},
          {"lines", invoiceLines(invoice)},
          {"lines_complete",
           !(member(invoice, "lines").is_object() && member(invoice, "lines").value("has_more", false))},
          {"status", member(invoice, "status")},
          {"amount_due", integer(invoice, "amount_due")},
          {"amount_paid", integer(invoice, "amount_paid")},
          {"amount_remaining", integer(invoice, "amount_remaining")},
          {"currency", member(invoice, "currency")},
          {"customer", idOrNull(member(invoice, "customer"))},
          {"number", member(invoice, "number")},
          {"hosted_invoice_url", member(invoice, "hosted_invoice_url")},
          {"invoice_pdf", member(invoice, "invoice_pdf")},
          {"paid_at", member(transitions, "paid_at")},
          {"finalized_at", member(transitions, "finalized_at")},
          {"reference", member(metadata, "ihost_ref")},
          {"buyer", member(metadata, "ihost_buyer")},
          {"livemode", invoice.value("livemode", false)}};
}

const char* const kEntitlementsManifestJson = R"json([
    {"model": "subscription", "customer": "buyer", "key": "plan", "status": "status",
     "active": ["active", "trialing"], "expires": "current_period_end"},
    {"model": "payment", "customer": "buyer", "key": "plan", "status": "status", "active": ["succeeded"]}
  ])json";

Json paymentRecord(const Json& intent) {
  const Json error = member(intent, "last_payment_error");
  return {{"id", str(intent, "id")},
          {"status", member(intent, "status")},
          {"amount", integer(intent, "amount")},
          {"amount_received", integer(intent, "amount_received")},
          {"currency", member(intent, "currency")},
          {"customer", idOrNull(member(intent, "customer"))},
          {"latest_charge", idOrNull(member(intent, "latest_charge"))},
          {"reference", member(member(intent, "metadata"), "ihost_ref")},
          {"plan", member(member(intent, "metadata"), "ihost_plan")},
          {"buyer", member(member(intent, "metadata"), "ihost_buyer")},
          {"failure_code", member(error, "code")},
          {"failure_message", member(error, "message")},
          {"livemode", intent.value("livemode", false)}};
}

Json subscriptionRecord(const Json& sub) {
  const Json items = member(member(sub, "items"), "data");
  const Json first = items.is_array() && !items.empty() ? items[0] : Json::object();
  const Json price = member(first, "price");
  auto period = [&](const char* key) {
    Json v = member(first, key);  // 2025+ versions: on the item
    return v.is_number_integer() ? v : member(sub, key);
  };
  return {{"id", str(sub, "id")},
          {"status", member(sub, "status")},
          {"customer", idOrNull(member(sub, "customer"))},
          {"price", idOrNull(price)},
          {"lookup_key", member(price, "lookup_key")},
          {"quantity", member(first, "quantity")},
          {"current_period_start", period("current_period_start")},
          {"current_period_end", period("current_period_end")},
          {"cancel_at_period_end", sub.value("cancel_at_period_end", false)},
          {"canceled_at", member(sub, "canceled_at")},
          {"trial_end", member(sub, "trial_end")},
          {"buyer", member(member(sub, "metadata"), "ihost_buyer")},
          {"plan", member(member(sub, "metadata"), "ihost_plan")},
          {"livemode", sub.value("livemode", false)}};
}

std::string ownershipStateKey(std::string_view plan, std::string_view buyer) {
  return "owned:" + stableIdempotencyKey({"one_time", std::string(plan), std::string(buyer)});
}

Status upsertRecord(const ih::sdk::Call& call, const char* model, const Json& record, int64_t updated_at) {
  const Json rows = Json::array({{{"id", record["id"]}, {"data", record}, {"updated_at", updated_at}}});
  return call.upsertRecords(model, rows.dump());
}

Status handleEvent(const ih::sdk::Call& call, std::string_view meta_json, std::string_view body,
                   bool emit_received) {
  const Json meta = parseJson(meta_json);
  const bool stale = meta.is_object() && meta.value("stale", false);
  // Parsed once, for the received event and the handling (the body is the largest thing a handling reads).
  const Json event = emit_received || !stale ? parseJson(body) : Json();
  if (emit_received && event.is_object()) {
    const Json& object = member(member(event, "data"), "object");
    const Json data = {{"id", member(event, "id")},
                       {"type", member(event, "type")},
                       {"account", member(event, "account")},
                       {"livemode", event.value("livemode", false)},
                       {"created", member(event, "created")},
                       {"object_id", member(object, "id")},
                       {"stale", stale}};
    if (Status s = call.emit("stripe.webhook.received", data.dump()); !s.isOk()) return s;
  }
  if (stale) {
    call.debug("stripe event skipped: a newer event for the object was already applied",
               Json({{"event_id", str(meta, "event_id")}, {"type", str(meta, "type")}}).dump());
    return Status::ok();
  }
  if (!event.is_object()) return Status::invalidArgument("stored webhook body is not JSON");
  const std::string type = str(event, "type");
  const Json& object = member(member(event, "data"), "object");
  const int64_t created = integer(event, "created", nowSeconds());
  if (!object.is_object()) return Status::ok();

  auto apply = [&](const char* model, const Json& record, const char* normalized) {
    if (Status s = upsertRecord(call, model, record, created); !s.isOk()) return s;
    Json data = record;
    data["stripe_event"] = type;
    data["event_id"] = str(event, "id");
    if (!str(event, "account").empty()) data["account"] = str(event, "account");
    return call.emit(normalized, data.dump());
  };
  if (type == "invoice.finalized" || type == "invoice.paid" || type == "invoice.payment_failed" ||
      type == "invoice.voided" || type == "invoice.marked_uncollectible") {
    return apply("invoice", invoiceRecord(object), "invoice.updated");
  }
  if (type == "payment_intent.succeeded" || type == "payment_intent.payment_failed") {
    const Json metadata = member(object, "metadata");
    const std::string plan = str(metadata, "ihost_plan"), buyer = str(metadata, "ihost_buyer");
    if (type == "payment_intent.succeeded" && str(metadata, "ihost_one_time") == "true" && !plan.empty() &&
        !buyer.empty()) {
      if (Status s = call.putState(ownershipStateKey(plan, buyer), str(object, "id")); !s.isOk()) return s;
    }
    return apply("payment", paymentRecord(object),
                 type == "payment_intent.succeeded" ? "payment.succeeded" : "payment.failed");
  }
  if (type == "customer.subscription.created" || type == "customer.subscription.updated" ||
      type == "customer.subscription.deleted") {
    return apply("subscription", subscriptionRecord(object), "subscription.updated");
  }
  return Status::ok();  // acknowledged, not used
}

}  // namespace ih::stripe
