// v1 resources of the Stripe double: products, prices, customers, invoice items, invoices, payment intents,
// charges, refunds, subscriptions, accounts; generic list/search/expand. All functions REQUIRE Impl::mu held.
#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

const char* kindForId(const std::string& id) {
  static const std::pair<const char*, const char*> prefixes[] = {
      {"prod_", "products"}, {"price_", "prices"},         {"cus_", "customers"},
      {"in_", "invoices"},   {"ii_", "invoiceitems"},      {"pi_", "payment_intents"},
      {"ch_", "charges"},    {"re_", "refunds"},           {"sub_", "subscriptions"},
      {"evt_", "events"},    {"we_", "webhook_endpoints"}, {"pm_", "payment_methods"}};
  for (const auto& [p, k] : prefixes)
    if (id.rfind(p, 0) == 0) return k;
  return nullptr;
}

int64_t addInterval(int64_t ts, const std::string& interval, int64_t count) {
  if (interval == "day") return ts + 86400 * count;
  if (interval == "week") return ts + 7 * 86400 * count;
  time_t t = static_cast<time_t>(ts);
  std::tm tm{};
  gmtime_r(&t, &tm);
  if (interval == "month") tm.tm_mon += static_cast<int>(count);
  if (interval == "year") tm.tm_year += static_cast<int>(count);
  return static_cast<int64_t>(timegm(&tm));
}

struct CreatedRange {
  int64_t lo = INT64_MIN;
  int64_t hi = INT64_MAX;
};

// Parses created / created[gt|gte|lt|lte]. Returns an error reply for non-integers.
std::optional<Reply> parseRange(const json& params, const std::string& key, CreatedRange& range) {
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  auto bad = [&](const std::string& p) {
    return stripeError(400, "invalid_request_error", "parameter_invalid_integer", "Invalid integer: " + p,
                       key);
  };
  if (it->is_string()) {
    auto v = asInt(*it);
    if (!v) return bad(it->get<std::string>());
    range.lo = range.hi = *v;
    return std::nullopt;
  }
  if (!it->is_object()) return bad("");
  for (auto& [op, val] : it->items()) {
    auto v = asInt(val);
    if (!v) return bad(val.is_string() ? val.get<std::string>() : val.dump());
    if (op == "gt")
      range.lo = std::max(range.lo, *v + 1);
    else if (op == "gte")
      range.lo = std::max(range.lo, *v);
    else if (op == "lt")
      range.hi = std::min(range.hi, *v - 1);
    else if (op == "lte")
      range.hi = std::min(range.hi, *v);
    else
      return stripeError(400, "invalid_request_error", "parameter_unknown",
                         "Received unknown parameter: " + key + "[" + op + "]", key + "[" + op + "]");
  }
  return std::nullopt;
}

}  // namespace

Stored* StripeDouble::Impl::find(Account& a, const std::string& kind, const std::string& id) {
  auto cit = a.collections.find(kind);
  if (cit == a.collections.end()) return nullptr;
  auto it = cit->second.find(id);
  return it == cit->second.end() ? nullptr : &it->second;
}

Stored& StripeDouble::Impl::insert(Account& a, const std::string& kind, json obj) {
  std::string id = obj["id"];
  Stored& s = a.collections[kind][id];
  s.obj = std::move(obj);
  s.seq = nextSeq();
  return s;
}

json StripeDouble::Impl::lookupAny(Account& a, const std::string& id, int64_t now) {
  if (id.rfind("txn_", 0) == 0) {
    const TxnRow* row = a.txns.find(id.substr(4));
    return row ? a.txns.render(*row, now) : json(nullptr);
  }
  if (id.rfind("acct_", 0) == 0) {
    Account* other = account(id);
    return other && (other->id == a.id || other->platform_id == a.id) ? other->obj : json(nullptr);
  }
  const char* kind = kindForId(id);
  if (!kind) return nullptr;
  if (Stored* s = find(a, kind, id)) return s->obj;
  if (id.rfind("ch_", 0) == 0) {
    // Synthetic charge behind a seeded balance transaction.
    if (const TxnRow* row = a.txns.find(id.substr(3)); row && row->extra == UINT32_MAX)
      return chargeObject(id, row->amount, a.txns.currency(*row), row->created, a.txns.id(*row), false);
  }
  return nullptr;
}

void StripeDouble::Impl::expand(Ctx& c, json& obj, const json& expand_params, bool in_list) {
  for (const std::string& path : stringList(expand_params)) {
    std::string p = path;
    if (in_list) {
      if (p.rfind("data.", 0) != 0) continue;
      p = p.substr(5);
    }
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= p.size() && parts.size() < 4) {
      size_t dot = p.find('.', start);
      if (dot == std::string::npos) dot = p.size();
      parts.push_back(p.substr(start, dot - start));
      start = dot + 1;
    }
    json* node = &obj;
    for (const auto& part : parts) {
      if (!node->is_object() || !node->contains(part)) break;
      json& field = (*node)[part];
      if (field.is_string()) {
        json found = lookupAny(c.acct, field.get<std::string>(), c.now);
        if (!found.is_null()) field = found;
      }
      node = &field;
    }
  }
}

Reply StripeDouble::Impl::withExpand(Ctx& c, json obj) {
  const json expand_params = c.params.value("expand", json());
  if (!expand_params.is_null()) expand(c, obj, expand_params, false);
  return ok(std::move(obj));
}

Reply StripeDouble::Impl::missingOrUnrecognized(Ctx& c, const std::string& kind, const std::string& object) {
  if (!find(c.acct, kind, c.seg[1])) return noSuch(object, c.seg[1]);
  return unrecognized(c);
}

Reply StripeDouble::Impl::list(Ctx& c, const std::string& kind, const std::string& url,
                               const std::function<bool(const json&)>& filter) {
  int64_t limit = 0;
  if (auto e = parseLimit(c.params, limit)) return *e;
  CreatedRange range;
  if (auto e = parseRange(c.params, "created", range)) return *e;
  std::vector<const Stored*> all;
  auto cit = c.acct.collections.find(kind);
  if (cit != c.acct.collections.end())
    for (const auto& [id, s] : cit->second)
      all.push_back(&s);
  std::sort(all.begin(), all.end(), [](const Stored* a, const Stored* b) {
    int64_t ca = a->obj.value("created", int64_t{0}), cb = b->obj.value("created", int64_t{0});
    return ca != cb ? ca > cb : a->seq > b->seq;
  });
  auto matches = [&](const Stored* s) {
    if (s->obj.value("deleted", false)) return false;
    int64_t created = s->obj.value("created", int64_t{0});
    return created >= range.lo && created <= range.hi && (!filter || filter(s->obj));
  };
  const std::string after = str(c.params, "starting_after");
  const std::string before = str(c.params, "ending_before");
  auto position = [&](const std::string& id, const char* param) -> std::optional<size_t> {
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i]->obj["id"] == id) return i;
    (void)param;
    return std::nullopt;
  };
  std::vector<const Stored*> page;
  bool has_more = false;
  if (!before.empty()) {
    auto pos = position(before, "ending_before");
    if (!pos) {
      Reply r = noSuch(kind.substr(0, kind.size() - 1), before, "ending_before");
      r.status = 400;
      return r;
    }
    for (size_t i = *pos; i-- > 0;) {
      if (!matches(all[i])) continue;
      if (static_cast<int64_t>(page.size()) == limit) {
        has_more = true;
        break;
      }
      page.push_back(all[i]);
    }
    std::reverse(page.begin(), page.end());
  } else {
    size_t from = 0;
    if (!after.empty()) {
      auto pos = position(after, "starting_after");
      if (!pos) {
        Reply r = noSuch(kind.substr(0, kind.size() - 1), after, "starting_after");
        r.status = 400;
        return r;
      }
      from = *pos + 1;
    }
    for (size_t i = from; i < all.size(); ++i) {
      if (!matches(all[i])) continue;
      if (static_cast<int64_t>(page.size()) == limit) {
        has_more = true;
        break;
      }
      page.push_back(all[i]);
    }
  }
  json data = json::array();
  const json expand_params = c.params.value("expand", json());
  for (const Stored* s : page) {
    data.push_back(s->obj);
    if (!expand_params.is_null()) expand(c, data.back(), expand_params, true);
  }
  return ok({{"object", "list"}, {"data", std::move(data)}, {"has_more", has_more}, {"url", url}});
}

Reply StripeDouble::Impl::search(Ctx& c, const std::string& kind, const std::string& url) {
  const std::string query = str(c.params, "query");
  if (query.empty()) return missingParam("query");
  int64_t limit = 0;
  if (auto e = parseLimit(c.params, limit)) return *e;
  struct Clause {
    std::string field, meta_key, op, value;
    bool negate = false;
  };
  std::vector<Clause> clauses;
  size_t pos = 0;
  auto skipSpace = [&] {
    while (pos < query.size() && query[pos] == ' ')
      ++pos;
  };
  auto invalid = [&] {
    return invalidParam("query",
                        "We were unable to parse your search query. Try using the format `metadata[\"key\"]:"
                        "\"value\"` to query for metadata or `key:\"value\"` to query for other fields.");
  };
  while (true) {
    skipSpace();
    if (pos >= query.size()) break;
    if (!clauses.empty()) {
      if (query.compare(pos, 3, "AND") != 0 && query.compare(pos, 3, "and") != 0) return invalid();
      pos += 3;
      skipSpace();
    }
    Clause cl;
    if (pos < query.size() && query[pos] == '-') {
      cl.negate = true;
      ++pos;
    }
    size_t f = pos;
    while (pos < query.size() &&
           (std::isalnum(static_cast<unsigned char>(query[pos])) || query[pos] == '_' || query[pos] == '.'))
      ++pos;
    cl.field = query.substr(f, pos - f);
    if (cl.field.empty()) return invalid();
    if (cl.field == "metadata" && pos < query.size() && query[pos] == '[') {
      size_t close = query.find(']', pos);
      if (close == std::string::npos) return invalid();
      cl.meta_key = query.substr(pos + 1, close - pos - 1);
      if (cl.meta_key.size() >= 2 && (cl.meta_key[0] == '\'' || cl.meta_key[0] == '"'))
        cl.meta_key = cl.meta_key.substr(1, cl.meta_key.size() - 2);
      pos = close + 1;
    }
    for (const char* op : {">=", "<=", ":", "~", ">", "<"}) {
      if (query.compare(pos, std::strlen(op), op) == 0) {
        cl.op = op;
        pos += std::strlen(op);
        break;
      }
    }
    if (cl.op.empty()) return invalid();
    if (pos < query.size() && (query[pos] == '\'' || query[pos] == '"')) {
      char q = query[pos];
      size_t close = query.find(q, pos + 1);
      if (close == std::string::npos) return invalid();
      cl.value = query.substr(pos + 1, close - pos - 1);
      pos = close + 1;
    } else {
      size_t v = pos;
      while (pos < query.size() && query[pos] != ' ')
        ++pos;
      cl.value = query.substr(v, pos - v);
    }
    clauses.push_back(cl);
  }
  auto matches = [&](const json& obj) {
    if (obj.value("deleted", false)) return false;
    for (const auto& cl : clauses) {
      json v;
      if (cl.field == "metadata") {
        v = obj.value("metadata", json::object()).value(cl.meta_key, json());
      } else {
        v = obj.value(cl.field, json());
      }
      bool hit = false;
      if (cl.op == ":") {
        hit = v.is_string() ? v.get<std::string>() == cl.value
                            : (!v.is_null() && (v.dump() == cl.value || (v.is_null() && cl.value == "null")));
      } else if (cl.op == "~") {
        hit = v.is_string() && v.get<std::string>().find(cl.value) != std::string::npos;
      } else {
        auto n = asInt(json(cl.value));
        if (!v.is_number_integer() || !n) {
          hit = false;
        } else {
          int64_t x = v.get<int64_t>();
          hit = cl.op == ">" ? x > *n : cl.op == "<" ? x < *n : cl.op == ">=" ? x >= *n : x <= *n;
        }
      }
      if (hit == cl.negate) return false;
    }
    return true;
  };
  std::vector<const Stored*> all;
  auto cit = c.acct.collections.find(kind);
  if (cit != c.acct.collections.end())
    for (const auto& [id, s] : cit->second)
      if (matches(s.obj)) all.push_back(&s);
  std::sort(all.begin(), all.end(), [](const Stored* a, const Stored* b) {
    int64_t ca = a->obj.value("created", int64_t{0}), cb = b->obj.value("created", int64_t{0});
    return ca != cb ? ca > cb : a->seq > b->seq;
  });
  size_t offset = 0;
  std::string page = str(c.params, "page");
  if (!page.empty()) {
    auto n = page.rfind("page_", 0) == 0 ? asInt(json(page.substr(5))) : std::nullopt;
    if (!n || *n < 0) return invalidParam("page", "Invalid page token.");
    offset = static_cast<size_t>(*n);
  }
  json data = json::array();
  for (size_t i = offset; i < all.size() && static_cast<int64_t>(data.size()) < limit; ++i)
    data.push_back(all[i]->obj);
  size_t next = offset + data.size();
  bool has_more = next < all.size();
  return ok({{"object", "search_result"},
             {"data", std::move(data)},
             {"has_more", has_more},
             {"next_page", has_more ? json("page_" + std::to_string(next)) : json(nullptr)},
             {"url", url}});
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

namespace {

void recomputeInvoice(StripeDouble::Impl& d, Account& a, json& inv) {
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
  (void)d;
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

}  // namespace

Reply StripeDouble::Impl::routeLegacy(Ctx& c) {
  const auto& s = c.seg;
  const std::string& m = c.method;
  const std::string& r = s[0];
  const json& P = c.params;
  const json expand_params = P.value("expand", json());
  auto withExpand = [&](json obj) {
    if (!expand_params.is_null()) expand(c, obj, expand_params, false);
    return ok(std::move(obj));
  };
  auto existingCustomer = [&](const std::string& id) -> Stored* {
    Stored* cu = find(c.acct, "customers", id);
    return cu && !cu->obj.value("deleted", false) ? cu : nullptr;
  };

  // ---------------- invoice items
  if (r == "invoiceitems") {
    if (s.size() == 1 && m == "GET") {
      std::string invoice = str(P, "invoice"), customer = str(P, "customer");
      bool has_pending = P.contains("pending");
      bool pending = asBool(P.value("pending", json("false"))).value_or(false);
      return list(c, "invoiceitems", "/v1/invoiceitems", [&](const json& o) {
        if (!invoice.empty() && o["invoice"] != invoice) return false;
        if (!customer.empty() && o["customer"] != customer) return false;
        if (has_pending && o["invoice"].is_null() != pending) return false;
        return true;
      });
    }
    if (s.size() == 1 && m == "POST") {
      std::string customer = str(P, "customer");
      if (customer.empty()) return missingParam("customer");
      if (!existingCustomer(customer)) return noSuch("customer", customer, "customer");
      std::string invoice = str(P, "invoice");
      Stored* inv = nullptr;
      if (!invoice.empty()) {
        inv = find(c.acct, "invoices", invoice);
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
      json pricing = {
          {"type", "price_details"}, {"price_details", nullptr}, {"unit_amount_decimal", nullptr}};
      int64_t qty = quantity.value_or(1);
      if (!price.empty()) {
        Stored* pr = find(c.acct, "prices", price);
        if (!pr) return noSuch("price", price, "pricing[price]");
        int64_t ua = pr->obj["unit_amount"];
        amount = ua * qty;
        currency = pr->obj["currency"];
        pricing["price_details"] = {{"price", price}, {"product", pr->obj["product"]}};
        pricing["unit_amount_decimal"] = std::to_string(ua);
        if (description.empty())
          if (Stored* prod = find(c.acct, "products", pr->obj["product"])) description = prod->obj["name"];
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
        return invalidParam("currency",
                            "The currency of the invoice item must match the invoice's currency.");
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
      insert(c.acct, "invoiceitems", o);
      emitEvent(c, "invoiceitem.created", o);
      if (inv) recomputeInvoice(*this, c.acct, inv->obj);
      return withExpand(o);
    }
    if (s.size() == 2) {
      Stored* st = find(c.acct, "invoiceitems", s[1]);
      if (!st) return noSuch("invoiceitem", s[1]);
      if (m == "GET") return withExpand(st->obj);
      Stored* inv = st->obj["invoice"].is_string() ? find(c.acct, "invoices", st->obj["invoice"]) : nullptr;
      if (inv && inv->obj["status"] != "draft")
        return stripeError(400, "invalid_request_error", "invoice_not_editable",
                           "This invoice item belongs to a finalized invoice and can no longer be modified.");
      if (m == "DELETE") {
        json snapshot = st->obj;
        c.acct.collections["invoiceitems"].erase(s[1]);
        emitEvent(c, "invoiceitem.deleted", snapshot);
        if (inv) recomputeInvoice(*this, c.acct, inv->obj);
        return ok({{"id", s[1]}, {"object", "invoiceitem"}, {"deleted", true}});
      }
      if (m == "POST") {
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
        if (!prev.empty()) emitEvent(c, "invoiceitem.updated", st->obj, &prev);
        if (inv) recomputeInvoice(*this, c.acct, inv->obj);
        return withExpand(st->obj);
      }
    }
    return unrecognized(c);
  }

  // ---------------- invoices
  if (r == "invoices") {
    if (s.size() == 2 && s[1] == "search" && m == "GET") return search(c, "invoices", "/v1/invoices/search");
    if (s.size() == 1 && m == "GET") {
      std::string customer = str(P, "customer"), status = str(P, "status"), cm = str(P, "collection_method"),
                  sub = str(P, "subscription");
      return list(c, "invoices", "/v1/invoices", [&](const json& o) {
        if (!customer.empty() && o["customer"] != customer) return false;
        if (!status.empty() && o["status"] != status) return false;
        if (!cm.empty() && o["collection_method"] != cm) return false;
        if (!sub.empty() && o["subscription"] != sub) return false;
        return true;
      });
    }
    if (s.size() == 1 && m == "POST") {
      std::string customer = str(P, "customer");
      if (customer.empty()) return missingParam("customer");
      Stored* cu = existingCustomer(customer);
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
      recomputeInvoice(*this, c.acct, o);
      insert(c.acct, "invoices", o);
      invoice_owner[id] = c.acct.id;
      emitEvent(c, "invoice.created", o);
      return withExpand(o);
    }
    if (s.size() >= 2) {
      Stored* st = find(c.acct, "invoices", s[1]);
      if (!st) return noSuch("invoice", s[1]);
      json& o = st->obj;
      const std::string status = o.value("status", "");
      if (s.size() == 2 && m == "GET") return withExpand(o);
      if (s.size() == 3 && s[2] == "lines" && m == "GET") {
        int64_t limit = 0;
        if (auto e = parseLimit(P, limit)) return *e;
        json data = json::array();
        for (auto& l : o["lines"]["data"])
          if (static_cast<int64_t>(data.size()) < limit) data.push_back(l);
        return ok({{"object", "list"},
                   {"data", data},
                   {"has_more", static_cast<int64_t>(o["lines"]["data"].size()) > limit},
                   {"url", "/v1/invoices/" + s[1] + "/lines"}});
      }
      if (s.size() == 2 && m == "DELETE") {
        if (status != "draft")
          return stripeError(400, "invalid_request_error", "invoice_not_editable",
                             "You can only delete draft invoices.");
        json snapshot = o;
        auto& items = c.acct.collections["invoiceitems"];
        for (auto it = items.begin(); it != items.end();)
          it = it->second.obj["invoice"] == s[1] ? items.erase(it) : std::next(it);
        c.acct.collections["invoices"].erase(s[1]);
        emitEvent(c, "invoice.deleted", snapshot);
        return ok({{"id", s[1]}, {"object", "invoice"}, {"deleted", true}});
      }
      if (m != "POST") return unrecognized(c);
      json before = o;
      if (s.size() == 2) {
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
        if (!prev.empty()) emitEvent(c, "invoice.updated", o, &prev);
        return withExpand(o);
      }
      const std::string action = s[2];
      if (s.size() != 3) return unrecognized(c);
      if (action == "finalize") {
        if (status != "draft")
          return stripeError(400, "invalid_request_error", "invoice_not_editable",
                             "This invoice is already finalized, you can't re-finalize a non-draft invoice.");
        Stored* cu = find(c.acct, "customers", o["customer"]);
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
        o["hosted_invoice_url"] = base_url + "/hosted/invoices/" + s[1];
        o["invoice_pdf"] = base_url + "/hosted/invoices/" + s[1] + "/pdf";
        o["status_transitions"]["finalized_at"] = c.now;
        o["effective_at"] = c.now;
        if (o["collection_method"] == "send_invoice" && o["due_date"].is_null() &&
            o["days_until_due"].is_number())
          o["due_date"] = c.now + o["days_until_due"].get<int64_t>() * 86400;
        bool aa = o["auto_advance"];
        if (auto e = boolParam(P, "auto_advance", aa, aa)) return *e;
        o["auto_advance"] = aa;
        emitEvent(c, "invoice.finalized", o);
        if (o["amount_due"] == 0) {
          o["status"] = "paid";
          o["status_transitions"]["paid_at"] = c.now;
          emitEvent(c, "invoice.paid", o);
        }
        json prev = diff(before, o);
        emitEvent(c, "invoice.updated", o, &prev);
        return withExpand(o);
      }
      if (action == "pay") {
        Reply rr = payInvoice(c, *st);
        if (rr.status == 200) return withExpand(st->obj);
        return rr;
      }
      if (action == "void") {
        if (status != "open" && status != "uncollectible")
          return stripeError(
              400, "invalid_request_error", "invoice_not_editable",
              "You can only void an invoice that is open or uncollectible; this invoice is " + status + ".");
        o["status"] = "void";
        o["status_transitions"]["voided_at"] = c.now;
        o["amount_remaining"] = 0;
        emitEvent(c, "invoice.voided", o);
        json prev = diff(before, o);
        emitEvent(c, "invoice.updated", o, &prev);
        return withExpand(o);
      }
      if (action == "mark_uncollectible") {
        if (status != "open")
          return stripeError(
              400, "invalid_request_error", "invoice_not_editable",
              "You can only mark an open invoice as uncollectible; this invoice is " + status + ".");
        o["status"] = "uncollectible";
        o["status_transitions"]["marked_uncollectible_at"] = c.now;
        emitEvent(c, "invoice.marked_uncollectible", o);
        json prev = diff(before, o);
        emitEvent(c, "invoice.updated", o, &prev);
        return withExpand(o);
      }
      if (action == "send") {
        if (status != "open")
          return stripeError(400, "invalid_request_error", "invoice_not_editable",
                             "You can only send an open invoice.");
        emitEvent(c, "invoice.sent", o);
        return withExpand(o);
      }
    }
    return unrecognized(c);
  }

  // ---------------- subscriptions
  if (r == "subscriptions") {
    if (s.size() == 2 && s[1] == "search" && m == "GET")
      return search(c, "subscriptions", "/v1/subscriptions/search");
    auto buildItems = [&](const std::string& sub_id, int64_t start, json& items_out, json& errors) -> bool {
      json items = P.value("items", json());
      if (items.is_object()) {
        json arr = json::array();
        for (auto& [k, v] : items.items())
          arr.push_back(v);
        items = arr;
      }
      if (!items.is_array() || items.empty()) {
        errors = missingParam("items").body;
        return false;
      }
      items_out = json::array();
      for (size_t i = 0; i < items.size(); ++i) {
        const json& it = items[i];
        if (!it.is_object()) continue;
        std::string price = it.value("price", "");
        if (price.empty()) {
          errors = missingParam("items[" + std::to_string(i) + "][price]").body;
          return false;
        }
        Stored* pr = find(c.acct, "prices", price);
        if (!pr) {
          errors = noSuch("price", price, "items[" + std::to_string(i) + "][price]").body;
          return false;
        }
        if (pr->obj["type"] != "recurring") {
          errors =
              invalidParam("items[" + std::to_string(i) + "][price]",
                           "The price specified is set to `type=one_time` but this field only accepts prices "
                           "with `type=recurring`.")
                  .body;
          return false;
        }
        auto q = asInt(it.value("quantity", json("1")));
        const json& rec = pr->obj["recurring"];
        items_out.push_back({{"id", detail::newId("si", 14)},
                             {"object", "subscription_item"},
                             {"created", c.now},
                             {"current_period_start", start},
                             {"current_period_end",
                              addInterval(start, rec["interval"], rec["interval_count"].get<int64_t>())},
                             {"discounts", json::array()},
                             {"metadata", it.value("metadata", json::object())},
                             {"price", pr->obj},
                             {"quantity", q.value_or(1)},
                             {"subscription", sub_id},
                             {"tax_rates", json::array()}});
      }
      return true;
    };
    if (s.size() == 1 && m == "GET") {
      std::string customer = str(P, "customer"), status = str(P, "status"), price = str(P, "price");
      return list(c, "subscriptions", "/v1/subscriptions", [&](const json& o) {
        if (!customer.empty() && o["customer"] != customer) return false;
        if (status.empty() && o["status"] == "canceled") return false;
        if (!status.empty() && status != "all" && o["status"] != status) return false;
        if (!price.empty()) {
          bool hit = false;
          for (auto& it : o["items"]["data"])
            hit |= it["price"]["id"] == price;
          if (!hit) return false;
        }
        return true;
      });
    }
    if (s.size() == 1 && m == "POST") {
      std::string customer = str(P, "customer");
      if (customer.empty()) return missingParam("customer");
      if (!existingCustomer(customer)) return noSuch("customer", customer, "customer");
      std::optional<int64_t> trial_days, trial_end, days_until_due;
      if (auto e = intParam(P, "trial_period_days", trial_days)) return *e;
      if (auto e = intParam(P, "trial_end", trial_end)) return *e;
      if (auto e = intParam(P, "days_until_due", days_until_due)) return *e;
      const std::string id = detail::newId("sub");
      json items, errors;
      if (!buildItems(id, c.now, items, errors)) {
        Reply rr;
        rr.status = errors["error"].value("code", "") == "resource_missing" ? 404 : 400;
        rr.body = errors;
        return rr;
      }
      int64_t tend = trial_end ? *trial_end : trial_days ? c.now + *trial_days * 86400 : 0;
      bool trialing = tend > c.now;
      if (trialing)
        for (auto& it : items) {
          it["current_period_start"] = c.now;
          it["current_period_end"] = tend;
        }
      bool cape = false;
      if (auto e = boolParam(P, "cancel_at_period_end", false, cape)) return *e;
      json o = {{"id", id},
                {"object", "subscription"},
                {"application", nullptr},
                {"application_fee_percent", nullptr},
                {"automatic_tax", {{"enabled", false}, {"liability", nullptr}}},
                {"billing_cycle_anchor", trialing ? tend : c.now},
                {"billing_thresholds", nullptr},
                {"cancel_at", nullptr},
                {"cancel_at_period_end", cape},
                {"canceled_at", nullptr},
                {"cancellation_details", {{"comment", nullptr}, {"feedback", nullptr}, {"reason", nullptr}}},
                {"collection_method", P.value("collection_method", "charge_automatically")},
                {"created", c.now},
                {"currency", items[0]["price"]["currency"]},
                {"customer", customer},
                {"days_until_due", days_until_due ? json(*days_until_due) : json(nullptr)},
                {"default_payment_method", nullptr},
                {"default_source", nullptr},
                {"default_tax_rates", json::array()},
                {"description", nullptr},
                {"discounts", json::array()},
                {"ended_at", nullptr},
                {"invoice_settings", {{"account_tax_ids", nullptr}, {"issuer", {{"type", "self"}}}}},
                {"items",
                 {{"object", "list"},
                  {"data", items},
                  {"has_more", false},
                  {"total_count", items.size()},
                  {"url", "/v1/subscription_items?subscription=" + id}}},
                {"latest_invoice", nullptr},
                {"livemode", c.livemode},
                {"metadata", json::object()},
                {"next_pending_invoice_item_invoice", nullptr},
                {"on_behalf_of", nullptr},
                {"pause_collection", nullptr},
                {"payment_settings",
                 {{"payment_method_options", nullptr},
                  {"payment_method_types", nullptr},
                  {"save_default_payment_method", "off"}}},
                {"pending_invoice_item_interval", nullptr},
                {"pending_setup_intent", nullptr},
                {"pending_update", nullptr},
                {"schedule", nullptr},
                {"start_date", c.now},
                {"status", trialing ? "trialing" : "active"},
                {"test_clock", nullptr},
                {"transfer_data", nullptr},
                {"trial_end", trialing ? json(tend) : json(nullptr)},
                {"trial_settings", {{"end_behavior", {{"missing_payment_method", "create_invoice"}}}}},
                {"trial_start", trialing ? json(c.now) : json(nullptr)}};
      setString(o, P, "description");
      applyMetadata(o, P);
      insert(c.acct, "subscriptions", o);
      emitEvent(c, "customer.subscription.created", o);
      return withExpand(o);
    }
    if (s.size() >= 2) {
      Stored* st = find(c.acct, "subscriptions", s[1]);
      if (!st) return noSuch("subscription", s[1]);
      json& o = st->obj;
      if (s.size() == 2 && m == "GET") return withExpand(o);
      const bool cancel =
          (s.size() == 2 && m == "DELETE") || (s.size() == 3 && s[2] == "cancel" && m == "POST");
      if (o["status"] == "canceled" && (cancel || m == "POST"))
        return stripeError(400, "invalid_request_error", "resource_missing",
                           "A canceled subscription can only update its cancellation_details and metadata.");
      json before = o;
      if (cancel) {
        o["status"] = "canceled";
        o["canceled_at"] = c.now;
        o["ended_at"] = c.now;
        o["cancellation_details"]["reason"] = "cancellation_requested";
        if (P.contains("cancellation_details") && P["cancellation_details"].is_object())
          for (const char* k : {"comment", "feedback"})
            if (P["cancellation_details"].contains(k))
              o["cancellation_details"][k] = P["cancellation_details"][k];
        emitEvent(c, "customer.subscription.deleted", o);
        return withExpand(o);
      }
      if (s.size() == 2 && m == "POST") {
        bool cape = o["cancel_at_period_end"];
        if (auto e = boolParam(P, "cancel_at_period_end", cape, cape)) return *e;
        o["cancel_at_period_end"] = cape;
        if (cape && o["items"]["data"].size() > 0)
          o["cancel_at"] = o["items"]["data"][0]["current_period_end"];
        if (!cape) o["cancel_at"] = nullptr;
        setString(o, P, "description");
        applyMetadata(o, P);
        if (P.contains("trial_end")) {
          std::string te = str(P, "trial_end");
          if (te == "now" && o["status"] == "trialing") {
            o["status"] = "active";
            o["trial_end"] = c.now;
            for (auto& it : o["items"]["data"]) {
              it["current_period_start"] = c.now;
              it["current_period_end"] =
                  addInterval(c.now, it["price"]["recurring"]["interval"],
                              it["price"]["recurring"]["interval_count"].get<int64_t>());
            }
          } else if (auto v = asInt(P["trial_end"])) {
            o["trial_end"] = *v;
            if (*v > c.now) o["status"] = "trialing";
          }
        }
        if (P.contains("items")) {
          json items = P["items"];
          if (items.is_object()) {
            json arr = json::array();
            for (auto& [k, v] : items.items())
              arr.push_back(v);
            items = arr;
          }
          json& data = o["items"]["data"];
          for (auto& it : items) {
            if (!it.is_object()) continue;
            std::string item_id = it.value("id", "");
            json* target = nullptr;
            for (auto& d : data)
              if (d["id"] == item_id) target = &d;
            if (!item_id.empty() && !target) return noSuch("subscription_item", item_id, "items[id]");
            if (asBool(it.value("deleted", json("false"))).value_or(false) && target) {
              json kept = json::array();
              for (auto& d : data)
                if (d["id"] != item_id) kept.push_back(d);
              data = kept;
              continue;
            }
            std::string price = it.value("price", "");
            Stored* pr = price.empty() ? nullptr : find(c.acct, "prices", price);
            if (!price.empty() && !pr) return noSuch("price", price, "items[price]");
            if (!target) {
              if (!pr) return missingParam("items[price]");
              data.push_back(
                  {{"id", detail::newId("si", 14)},
                   {"object", "subscription_item"},
                   {"created", c.now},
                   {"current_period_start", data.empty() ? json(c.now) : data[0]["current_period_start"]},
                   {"current_period_end", data.empty() ? json(c.now) : data[0]["current_period_end"]},
                   {"discounts", json::array()},
                   {"metadata", json::object()},
                   {"price", pr->obj},
                   {"quantity", 1},
                   {"subscription", s[1]},
                   {"tax_rates", json::array()}});
              target = &data.back();
            }
            if (pr) (*target)["price"] = pr->obj;
            if (auto q = asInt(it.value("quantity", json()))) (*target)["quantity"] = *q;
          }
          o["items"]["total_count"] = data.size();
        }
        json prev = diff(before, o);
        if (!prev.empty()) emitEvent(c, "customer.subscription.updated", o, &prev);
        return withExpand(o);
      }
    }
    return unrecognized(c);
  }

  if (r == "events") return routeEvents(c);
  if (r == "webhook_endpoints") return routeWebhookEndpoints(c);
  return unrecognized(c);
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

}  // namespace ih::stripe_double
