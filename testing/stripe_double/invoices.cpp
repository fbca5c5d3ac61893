// Fakes Stripe's Invoice resource: POST /v1/invoices, GET /v1/invoices (list), GET /v1/invoices/search,
// GET, POST and DELETE /v1/invoices/{id}, GET /v1/invoices/{id}/lines, and POST /v1/invoices/{id}/finalize,
// /pay, /void, /mark_uncollectible and /send; plus the hosted invoice page, PDF and pay button under
// /hosted/invoices/{id}. REQUIRES Impl::mu held.
#include <algorithm>
#include <cstdio>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// GET /v1/invoices/search
Reply searchInvoices(StripeDouble::Impl& d, Ctx& c) {
  return d.search(c, "invoices", "/v1/invoices/search");
}

// GET /v1/invoices
Reply listInvoices(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string customer = str(P, "customer"), status = str(P, "status"), cm = str(P, "collection_method"),
              sub = str(P, "subscription");
  return d.list(c, "invoices", "/v1/invoices", [&](const json& o) {
    if (!customer.empty() && o["customer"] != customer) return false;
    if (!status.empty() && o["status"] != status) return false;
    if (!cm.empty() && o["collection_method"] != cm) return false;
    if (!sub.empty() && o["subscription"] != sub) return false;
    return true;
  });
}

// POST /v1/invoices: a draft, optionally collecting the customer's pending items.
Reply createInvoice(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string customer = str(P, "customer");
  if (customer.empty()) return missingParam("customer");
  Stored* cu = existingCustomer(d, c.acct, customer);
  if (!cu) return noSuch("customer", customer, "customer");
  std::string cm = P.value("collection_method", "charge_automatically");
  if (cm != "charge_automatically" && cm != "send_invoice")
    return invalidParam("collection_method",
                        "Invalid collection_method: must be one of charge_automatically or send_invoice");
  std::optional<int64_t> days, due_date;
  if (auto e = intParam(P, "days_until_due", days)) return *e;
  if (auto e = intParam(P, "due_date", due_date)) return *e;
  if (cm == "send_invoice" && !days && !due_date)
    return invalidParam("days_until_due",
                        "Invoices with `collection_method=send_invoice` must have either "
                        "`days_until_due` or `due_date` set.");
  if (cm == "charge_automatically" && (days || due_date))
    return invalidParam(days ? "days_until_due" : "due_date",
                        "Invoices with `collection_method=charge_automatically` cannot have "
                        "`days_until_due` or `due_date` set.");
  bool auto_advance = false;
  if (auto e = boolParam(P, "auto_advance", false, auto_advance)) return *e;
  std::string pib = P.value("pending_invoice_items_behavior", "exclude");
  if (pib != "exclude" && pib != "include")
    return invalidParam("pending_invoice_items_behavior", "Invalid pending_invoice_items_behavior");
  std::string currency = str(P, "currency");
  if (currency.empty())
    currency = cu->obj["currency"].is_string() ? cu->obj["currency"].get<std::string>() : "usd";
  const std::string id = detail::newId("in");
  json o = {{"id", id},
            {"object", "invoice"},
            {"account_country", c.acct.obj["country"]},
            {"account_name", c.acct.obj["business_profile"]["name"]},
            {"account_tax_ids", nullptr},
            {"amount_due", 0},
            {"amount_overpaid", 0},
            {"amount_paid", 0},
            {"amount_remaining", 0},
            {"amount_shipping", 0},
            {"application", nullptr},
            {"attempt_count", 0},
            {"attempted", false},
            {"auto_advance", auto_advance},
            {"automatic_tax", {{"enabled", false}, {"liability", nullptr}, {"status", nullptr}}},
            {"automatically_finalizes_at", nullptr},
            {"billing_reason", "manual"},
            {"collection_method", cm},
            {"created", c.now},
            {"currency", currency},
            {"custom_fields", nullptr},
            {"customer", customer},
            {"customer_address", cu->obj["address"]},
            {"customer_email", cu->obj["email"]},
            {"customer_name", cu->obj["name"]},
            {"customer_phone", cu->obj["phone"]},
            {"customer_shipping", cu->obj["shipping"]},
            {"customer_tax_exempt", cu->obj["tax_exempt"]},
            {"customer_tax_ids", json::array()},
            {"default_payment_method", nullptr},
            {"default_source", nullptr},
            {"default_tax_rates", json::array()},
            {"description", nullptr},
            {"discounts", json::array()},
            {"due_date", nullptr},
            {"effective_at", nullptr},
            {"ending_balance", nullptr},
            {"footer", nullptr},
            {"from_invoice", nullptr},
            {"hosted_invoice_url", nullptr},
            {"invoice_pdf", nullptr},
            {"issuer", {{"type", "self"}}},
            {"last_finalization_error", nullptr},
            {"latest_revision", nullptr},
            {"livemode", c.livemode},
            {"metadata", json::object()},
            {"next_payment_attempt", nullptr},
            {"number", nullptr},
            {"on_behalf_of", nullptr},
            {"parent", nullptr},
            {"payment_settings",
             {{"default_mandate", nullptr},
              {"payment_method_options", nullptr},
              {"payment_method_types", nullptr}}},
            {"period_end", c.now},
            {"period_start", c.now},
            {"post_payment_credit_notes_amount", 0},
            {"pre_payment_credit_notes_amount", 0},
            {"receipt_number", nullptr},
            {"starting_balance", 0},
            {"statement_descriptor", nullptr},
            {"status", "draft"},
            {"status_transitions",
             {{"finalized_at", nullptr},
              {"marked_uncollectible_at", nullptr},
              {"paid_at", nullptr},
              {"voided_at", nullptr}}},
            {"subscription", nullptr},
            {"subtotal", 0},
            {"subtotal_excluding_tax", 0},
            {"test_clock", nullptr},
            {"total", 0},
            {"total_discount_amounts", json::array()},
            {"total_excluding_tax", 0},
            {"total_pretax_credit_amounts", json::array()},
            {"total_taxes", json::array()},
            {"webhooks_delivered_at", nullptr}};
  if (days)
    o["days_until_due"] = *days;
  else
    o["days_until_due"] = nullptr;
  if (due_date) o["due_date"] = *due_date;
  setString(o, P, "description");
  setString(o, P, "footer");
  applyMetadata(o, P);
  if (pib == "include") {
    auto& items = c.acct.collections["invoiceitems"];
    for (auto& [iid, it] : items)
      if (it.obj["customer"] == customer && it.obj["invoice"].is_null() && it.obj["currency"] == currency)
        it.obj["invoice"] = id;
  }
  recomputeInvoice(c.acct, o);
  d.insert(c.acct, "invoices", o);
  d.invoice_owner[id] = c.acct.id;
  d.emitEvent(c, "invoice.created", o);
  return d.withExpand(c, o);
}

// GET /v1/invoices/{id}
Reply retrieveInvoice(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  return d.withExpand(c, st->obj);
}

// GET /v1/invoices/{id}/lines
Reply listInvoiceLines(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  json& o = st->obj;
  int64_t limit = 0;
  if (auto e = parseLimit(P, limit)) return *e;
  json data = json::array();
  for (auto& l : o["lines"]["data"])
    if (static_cast<int64_t>(data.size()) < limit) data.push_back(l);
  return ok({{"object", "list"},
             {"data", data},
             {"has_more", static_cast<int64_t>(o["lines"]["data"].size()) > limit},
             {"url", "/v1/invoices/" + c.seg[1] + "/lines"}});
}

// DELETE /v1/invoices/{id}: drafts only, with their items.
Reply deleteInvoice(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  json& o = st->obj;
  const std::string status = o.value("status", "");
  if (status != "draft")
    return stripeError(400, "invalid_request_error", "invoice_not_editable",
                       "You can only delete draft invoices.");
  json snapshot = o;
  auto& items = c.acct.collections["invoiceitems"];
  for (auto it = items.begin(); it != items.end();)
    it = it->second.obj["invoice"] == c.seg[1] ? items.erase(it) : std::next(it);
  c.acct.collections["invoices"].erase(c.seg[1]);
  d.emitEvent(c, "invoice.deleted", snapshot);
  return ok({{"id", c.seg[1]}, {"object", "invoice"}, {"deleted", true}});
}

// POST /v1/invoices/{id}
Reply updateInvoice(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  json& o = st->obj;
  const std::string status = o.value("status", "");
  json before = o;
  if (status != "draft" && (P.contains("collection_method") || P.contains("days_until_due")))
    return stripeError(400, "invalid_request_error", "invoice_not_editable",
                       "Finalized invoices can't be updated in this way.");
  bool aa = o["auto_advance"];
  if (auto e = boolParam(P, "auto_advance", aa, aa)) return *e;
  o["auto_advance"] = aa;
  setString(o, P, "description");
  setString(o, P, "footer");
  if (P.contains("collection_method")) o["collection_method"] = P["collection_method"];
  std::optional<int64_t> days;
  if (auto e = intParam(P, "days_until_due", days)) return *e;
  if (days) o["days_until_due"] = *days;
  applyMetadata(o, P);
  json prev = diff(before, o);
  if (!prev.empty()) d.emitEvent(c, "invoice.updated", o, &prev);
  return d.withExpand(c, o);
}

// POST /v1/invoices/{id}/finalize: numbers the invoice (customer prefix + sequence) and opens it; a zero total
// is paid at once.
Reply finalizeInvoice(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  json& o = st->obj;
  const std::string status = o.value("status", "");
  json before = o;
  if (status != "draft")
    return stripeError(400, "invalid_request_error", "invoice_not_editable",
                       "This invoice is already finalized, you can't re-finalize a non-draft invoice.");
  Stored* cu = d.find(c.acct, "customers", o["customer"]);
  int64_t seqno = 1;
  std::string prefix = "INV";
  if (cu && cu->obj.contains("invoice_prefix")) {
    prefix = cu->obj["invoice_prefix"];
    seqno = cu->obj.value("next_invoice_sequence", 1);
    cu->obj["next_invoice_sequence"] = seqno + 1;
  }
  char num[32];
  std::snprintf(num, sizeof num, "-%04lld", static_cast<long long>(seqno));
  o["number"] = prefix + num;
  o["status"] = "open";
  o["hosted_invoice_url"] = d.base_url + "/hosted/invoices/" + c.seg[1];
  o["invoice_pdf"] = d.base_url + "/hosted/invoices/" + c.seg[1] + "/pdf";
  o["status_transitions"]["finalized_at"] = c.now;
  o["effective_at"] = c.now;
  if (o["collection_method"] == "send_invoice" && o["due_date"].is_null() && o["days_until_due"].is_number())
    o["due_date"] = c.now + o["days_until_due"].get<int64_t>() * 86400;
  bool aa = o["auto_advance"];
  if (auto e = boolParam(P, "auto_advance", aa, aa)) return *e;
  o["auto_advance"] = aa;
  d.emitEvent(c, "invoice.finalized", o);
  if (o["amount_due"] == 0) {
    o["status"] = "paid";
    o["status_transitions"]["paid_at"] = c.now;
    d.emitEvent(c, "invoice.paid", o);
  }
  json prev = diff(before, o);
  d.emitEvent(c, "invoice.updated", o, &prev);
  return d.withExpand(c, o);
}

// POST /v1/invoices/{id}/pay
Reply payInvoiceRequest(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  Reply rr = d.payInvoice(c, *st);
  if (rr.status == 200) return d.withExpand(c, st->obj);
  return rr;
}

// POST /v1/invoices/{id}/void
Reply voidInvoice(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  json& o = st->obj;
  const std::string status = o.value("status", "");
  json before = o;
  if (status != "open" && status != "uncollectible")
    return stripeError(
        400, "invalid_request_error", "invoice_not_editable",
        "You can only void an invoice that is open or uncollectible; this invoice is " + status + ".");
  o["status"] = "void";
  o["status_transitions"]["voided_at"] = c.now;
  o["amount_remaining"] = 0;
  d.emitEvent(c, "invoice.voided", o);
  json prev = diff(before, o);
  d.emitEvent(c, "invoice.updated", o, &prev);
  return d.withExpand(c, o);
}

// POST /v1/invoices/{id}/mark_uncollectible
Reply markInvoiceUncollectible(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  json& o = st->obj;
  const std::string status = o.value("status", "");
  json before = o;
  if (status != "open")
    return stripeError(400, "invalid_request_error", "invoice_not_editable",
                       "You can only mark an open invoice as uncollectible; this invoice is " + status + ".");
  o["status"] = "uncollectible";
  o["status_transitions"]["marked_uncollectible_at"] = c.now;
  d.emitEvent(c, "invoice.marked_uncollectible", o);
  json prev = diff(before, o);
  d.emitEvent(c, "invoice.updated", o, &prev);
  return d.withExpand(c, o);
}

// POST /v1/invoices/{id}/send
Reply sendInvoice(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "invoices", c.seg[1]);
  if (!st) return noSuch("invoice", c.seg[1]);
  json& o = st->obj;
  const std::string status = o.value("status", "");
  if (status != "open")
    return stripeError(400, "invalid_request_error", "invoice_not_editable",
                       "You can only send an open invoice.");
  if (o.value("collection_method", "") != "send_invoice")
    return stripeError(400, "invalid_request_error", "",
                       "You can only manually send an invoice if its collection method is 'send_invoice'.");
  d.emitEvent(c, "invoice.sent", o);
  return d.withExpand(c, o);
}

// Any other request under /v1/invoices/{id}.
Reply otherInvoiceRequest(StripeDouble::Impl& d, Ctx& c) {
  return d.missingOrUnrecognized(c, "invoices", "invoice");
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "invoices/search", searchInvoices},
    {"GET", "invoices", listInvoices},
    {"POST", "invoices", createInvoice},
    {"GET", "invoices/*", retrieveInvoice},
    {"POST", "invoices/*", updateInvoice},
    {"DELETE", "invoices/*", deleteInvoice},
    {"GET", "invoices/*/lines", listInvoiceLines},
    {"POST", "invoices/*/finalize", finalizeInvoice},
    {"POST", "invoices/*/pay", payInvoiceRequest},
    {"POST", "invoices/*/void", voidInvoice},
    {"POST", "invoices/*/mark_uncollectible", markInvoiceUncollectible},
    {"POST", "invoices/*/send", sendInvoice},
    {"*", "invoices/*/**", otherInvoiceRequest},
};
// clang-format on

}  // namespace

void recomputeInvoice(Account& a, json& inv) {
  json lines = json::array();
  int64_t total = 0;
  std::vector<const Stored*> items;
  auto cit = a.collections.find("invoiceitems");
  if (cit != a.collections.end())
    for (const auto& [id, s] : cit->second)
      if (s.obj["invoice"] == inv["id"]) items.push_back(&s);
  std::sort(items.begin(), items.end(), [](const Stored* x, const Stored* y) { return x->seq < y->seq; });
  for (const Stored* s : items) {
    const json& ii = s->obj;
    total += ii["amount"].get<int64_t>();
    std::string ii_id = ii["id"];
    lines.push_back({{"id", "il_" + ii_id.substr(3)},
                     {"object", "line_item"},
                     {"amount", ii["amount"]},
                     {"currency", ii["currency"]},
                     {"description", ii["description"]},
                     {"discount_amounts", json::array()},
                     {"discountable", true},
                     {"discounts", json::array()},
                     {"invoice", inv["id"]},
                     {"livemode", ii["livemode"]},
                     {"metadata", ii["metadata"]},
                     {"parent",
                      {{"type", "invoice_item_details"},
                       {"invoice_item_details",
                        {{"invoice_item", ii_id}, {"proration", false}, {"subscription", nullptr}}},
                       {"subscription_item_details", nullptr}}},
                     {"period", ii["period"]},
                     {"pricing", ii["pricing"]},
                     {"quantity", ii["quantity"]},
                     {"subtotal", ii["amount"]},
                     {"taxes", json::array()}});
  }
  inv["lines"] = {{"object", "list"},
                  {"data", lines},
                  {"has_more", false},
                  {"total_count", lines.size()},
                  {"url", "/v1/invoices/" + inv["id"].get<std::string>() + "/lines"}};
  inv["subtotal"] = total;
  inv["subtotal_excluding_tax"] = total;
  inv["total"] = total;
  inv["total_excluding_tax"] = total;
  inv["amount_due"] = total;
  inv["amount_remaining"] = total - inv["amount_paid"].get<int64_t>();
}

Reply StripeDouble::Impl::payInvoice(Ctx& c, Stored& inv) {
  json& o = inv.obj;
  const std::string status = o["status"];
  if (status == "paid")
    return stripeError(400, "invalid_request_error", "invoice_already_paid", "Invoice is already paid.");
  if (status != "open" && status != "uncollectible")
    return stripeError(
        400, "invalid_request_error", "invoice_not_editable",
        "You can only pay an invoice that is open or uncollectible; this invoice is " + status + ".");
  const json before = o;
  const bool oob = asBool(c.params.value("paid_out_of_band", json("false"))).value_or(false);
  const std::string pm = str(c.params, "payment_method");
  int64_t due = o["amount_remaining"];
  if (!oob && !declineCodeFor(pm).empty()) {
    o["attempted"] = true;
    o["attempt_count"] = o.value("attempt_count", 0) + 1;
    emitEvent(c, "invoice.payment_failed", o);
    Reply r = stripeError(402, "card_error", "card_declined", "Your card was declined.");
    r.body["error"]["decline_code"] = declineCodeFor(pm);
    return r;
  }
  if (!oob && due > 0) {
    json ch = createCharge(c, due, o["currency"], o["customer"], nullptr, o["id"], "Payment for Invoice");
    o["charge"] = ch["id"];
  }
  o["status"] = "paid";
  o["paid"] = true;
  o["paid_out_of_band"] = oob;
  o["attempted"] = true;
  o["attempt_count"] = o.value("attempt_count", 0) + (oob ? 0 : 1);
  o["amount_paid"] = o["amount_paid"].get<int64_t>() + due;
  o["amount_remaining"] = 0;
  o["status_transitions"]["paid_at"] = c.now;
  json prev = diff(before, o);
  emitEvent(c, "invoice.payment_succeeded", o);
  emitEvent(c, "invoice.paid", o);
  emitEvent(c, "invoice.updated", o, &prev);
  return ok(o);
}

Reply StripeDouble::Impl::hostedInvoice(const httplib::Request& req, const std::vector<std::string>& seg) {
  // /hosted/invoices/{id}[/pay|/pdf]; the owning account is found through invoice_owner.
  Reply r;
  if (seg.size() < 3 || seg[1] != "invoices") {
    r.status = 404;
    r.content_type = "text/plain";
    r.raw = "not found";
    return r;
  }
  auto owner = invoice_owner.find(seg[2]);
  Account* a = owner == invoice_owner.end() ? nullptr : account(owner->second);
  Stored* inv = a ? find(*a, "invoices", seg[2]) : nullptr;
  if (!inv || inv->obj["status"] == "draft") {
    r.status = 404;
    r.content_type = "text/html; charset=utf-8";
    r.raw = "<!doctype html><title>Invoice not found</title><p>Invoice not found.</p>";
    return r;
  }
  const json& o = inv->obj;
  if (seg.size() == 4 && seg[3] == "pdf") {
    r.content_type = "application/pdf";
    r.raw = "%PDF-1.4\n% Stripe double invoice " + seg[2] + " " + o.value("number", "") + " total " +
            std::to_string(o["total"].get<int64_t>()) + " " + o["currency"].get<std::string>() + "\n%%EOF\n";
    return r;
  }
  if (seg.size() == 4 && seg[3] == "pay" && req.method == "POST") {
    Ctx c{*a,
          json::object(),
          "POST",
          {},
          "req_" + detail::randomTail(14),
          std::nullopt,
          o.value("livemode", false),
          clock()};
    Reply paid = payInvoice(c, *inv);
    r.status = paid.status == 200 ? 303 : paid.status;
    r.headers.emplace_back("Location", "/hosted/invoices/" + seg[2]);
    r.content_type = "text/html; charset=utf-8";
    r.raw = paid.status == 200 ? "<!doctype html><p>Paid.</p>"
                               : "<!doctype html><p>Payment failed: " + paid.body.dump() + "</p>";
    return r;
  }
  r.content_type = "text/html; charset=utf-8";
  std::string status = o["status"];
  r.raw = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Invoice " + o.value("number", "") +
          "</title></head><body><h1>Invoice " + o.value("number", "") +
          "</h1><p id=\"status\">Status: " + status +
          "</p><p>Amount due: " + std::to_string(o["amount_remaining"].get<int64_t>()) + " " +
          o["currency"].get<std::string>() + "</p>";
  if (status == "open" || status == "uncollectible")
    r.raw += "<form method=\"post\" action=\"/hosted/invoices/" + seg[2] +
             "/pay\"><button type=\"submit\">Pay</button></form>";
  r.raw += "</body></html>";
  return r;
}

RouteTable invoiceRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
