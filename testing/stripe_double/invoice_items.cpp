// Fakes Stripe's InvoiceItem resource: POST /v1/invoiceitems (pending, or on a draft invoice),
// GET /v1/invoiceitems (list), GET, POST and DELETE /v1/invoiceitems/{id}. Changing an item recomputes its
// draft invoice; items on a finalized invoice are frozen. REQUIRES Impl::mu held.
#include <algorithm>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// The item at /v1/invoiceitems/{id} about to change, and its invoice (null while pending): 404 for an unknown
// item, 400 when the invoice is no longer a draft.
std::optional<Reply> editableItem(StripeDouble::Impl& d, Ctx& c, Stored*& st, Stored*& inv) {
  st = d.find(c.acct, "invoiceitems", c.seg[1]);
  if (!st) return noSuch("invoiceitem", c.seg[1]);
  inv = st->obj["invoice"].is_string() ? d.find(c.acct, "invoices", st->obj["invoice"]) : nullptr;
  if (inv && inv->obj["status"] != "draft")
    return stripeError(400, "invalid_request_error", "invoice_not_editable",
                       "This invoice item belongs to a finalized invoice and can no longer be modified.");
  return std::nullopt;
}

// GET /v1/invoiceitems
Reply listInvoiceItems(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string invoice = str(P, "invoice"), customer = str(P, "customer");
  bool has_pending = P.contains("pending");
  bool pending = asBool(P.value("pending", json("false"))).value_or(false);
  return d.list(c, "invoiceitems", "/v1/invoiceitems", [&](const json& o) {
    if (!invoice.empty() && o["invoice"] != invoice) return false;
    if (!customer.empty() && o["customer"] != customer) return false;
    if (has_pending && o["invoice"].is_null() != pending) return false;
    return true;
  });
}

// POST /v1/invoiceitems
Reply createInvoiceItem(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string customer = str(P, "customer");
  if (customer.empty()) return missingParam("customer");
  if (!existingCustomer(d, c.acct, customer)) return noSuch("customer", customer, "customer");
  std::string invoice = str(P, "invoice");
  Stored* inv = nullptr;
  if (!invoice.empty()) {
    inv = d.find(c.acct, "invoices", invoice);
    if (!inv) return noSuch("invoice", invoice, "invoice");
    if (inv->obj["status"] != "draft")
      return stripeError(400, "invalid_request_error", "invoice_not_editable",
                         "You can only add invoice items to draft invoices.", "invoice");
    if (inv->obj["customer"] != customer)
      return invalidParam("invoice", "The invoice does not belong to customer " + customer + ".");
  }
  std::optional<int64_t> amount, quantity, unit_amount;
  if (auto e = intParam(P, "amount", amount)) return *e;
  if (auto e = intParam(P, "quantity", quantity)) return *e;
  if (auto e = intParam(P, "unit_amount", unit_amount)) return *e;
  std::string price = str(P, "price");
  if (price.empty() && P.contains("pricing") && P["pricing"].is_object())
    price = P["pricing"].value("price", "");
  std::string currency = str(P, "currency");
  std::string description = str(P, "description");
  json pricing = {{"type", "price_details"}, {"price_details", nullptr}, {"unit_amount_decimal", nullptr}};
  int64_t qty = quantity.value_or(1);
  if (!price.empty()) {
    Stored* pr = d.find(c.acct, "prices", price);
    if (!pr) return noSuch("price", price, "pricing[price]");
    int64_t ua = pr->obj["unit_amount"];
    amount = ua * qty;
    currency = pr->obj["currency"];
    pricing["price_details"] = {{"price", price}, {"product", pr->obj["product"]}};
    pricing["unit_amount_decimal"] = std::to_string(ua);
    if (description.empty())
      if (Stored* prod = d.find(c.acct, "products", pr->obj["product"])) description = prod->obj["name"];
  } else if (unit_amount) {
    amount = *unit_amount * qty;
    pricing["unit_amount_decimal"] = std::to_string(*unit_amount);
  } else if (amount) {
    if (quantity && *quantity != 1 && *amount % *quantity == 0)
      pricing["unit_amount_decimal"] = std::to_string(*amount / *quantity);
    else
      pricing["unit_amount_decimal"] = std::to_string(*amount);
  } else {
    return missingParam("amount");
  }
  if (currency.empty()) {
    if (inv)
      currency = inv->obj["currency"];
    else
      return missingParam("currency");
  }
  if (inv && inv->obj["currency"] != currency)
    return invalidParam("currency", "The currency of the invoice item must match the invoice's currency.");
  json o = {{"id", detail::newId("ii")},
            {"object", "invoiceitem"},
            {"amount", *amount},
            {"currency", currency},
            {"customer", customer},
            {"date", c.now},
            {"description", description.empty() ? json(nullptr) : json(description)},
            {"discountable", true},
            {"discounts", json::array()},
            {"invoice", invoice.empty() ? json(nullptr) : json(invoice)},
            {"livemode", c.livemode},
            {"metadata", json::object()},
            {"parent", nullptr},
            {"period", {{"end", c.now}, {"start", c.now}}},
            {"pricing", pricing},
            {"proration", false},
            {"quantity", qty},
            {"tax_rates", json::array()},
            {"test_clock", nullptr}};
  applyMetadata(o, P);
  d.insert(c.acct, "invoiceitems", o);
  d.emitEvent(c, "invoiceitem.created", o);
  if (inv) recomputeInvoice(c.acct, inv->obj);
  return d.withExpand(c, o);
}

// GET /v1/invoiceitems/{id}
Reply retrieveInvoiceItem(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "invoiceitems", c.seg[1]);
  if (!st) return noSuch("invoiceitem", c.seg[1]);
  return d.withExpand(c, st->obj);
}

// DELETE /v1/invoiceitems/{id}
Reply deleteInvoiceItem(StripeDouble::Impl& d, Ctx& c) {
  Stored *st = nullptr, *inv = nullptr;
  if (auto e = editableItem(d, c, st, inv)) return *e;
  json snapshot = st->obj;
  c.acct.collections["invoiceitems"].erase(c.seg[1]);
  d.emitEvent(c, "invoiceitem.deleted", snapshot);
  if (inv) recomputeInvoice(c.acct, inv->obj);
  return ok({{"id", c.seg[1]}, {"object", "invoiceitem"}, {"deleted", true}});
}

// POST /v1/invoiceitems/{id}
Reply updateInvoiceItem(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored *st = nullptr, *inv = nullptr;
  if (auto e = editableItem(d, c, st, inv)) return *e;
  json before = st->obj;
  std::optional<int64_t> amount, quantity;
  if (auto e = intParam(P, "amount", amount)) return *e;
  if (auto e = intParam(P, "quantity", quantity)) return *e;
  if (quantity) {
    int64_t unit =
        st->obj["amount"].get<int64_t>() / std::max<int64_t>(1, st->obj["quantity"].get<int64_t>());
    st->obj["quantity"] = *quantity;
    st->obj["amount"] = unit * *quantity;
  }
  if (amount) st->obj["amount"] = *amount;
  setString(st->obj, P, "description");
  applyMetadata(st->obj, P);
  json prev = diff(before, st->obj);
  if (!prev.empty()) d.emitEvent(c, "invoiceitem.updated", st->obj, &prev);
  if (inv) recomputeInvoice(c.acct, inv->obj);
  return d.withExpand(c, st->obj);
}

// Any other method on /v1/invoiceitems/{id}.
Reply otherInvoiceItemRequest(StripeDouble::Impl& d, Ctx& c) {
  Stored *st = nullptr, *inv = nullptr;
  if (auto e = editableItem(d, c, st, inv)) return *e;
  return unrecognized(c);
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "invoiceitems", listInvoiceItems},
    {"POST", "invoiceitems", createInvoiceItem},
    {"GET", "invoiceitems/*", retrieveInvoiceItem},
    {"POST", "invoiceitems/*", updateInvoiceItem},
    {"DELETE", "invoiceitems/*", deleteInvoiceItem},
    {"*", "invoiceitems/*", otherInvoiceItemRequest},
};
// clang-format on

}  // namespace

RouteTable invoiceItemRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
