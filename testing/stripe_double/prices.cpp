// Fakes Stripe's Price resource: POST /v1/prices (with product or inline product_data), GET /v1/prices (list),
// GET /v1/prices/search, GET and POST /v1/prices/{id}. Lookup keys are unique per account (transfer_lookup_key
// moves one). REQUIRES Impl::mu held.
#include <algorithm>
#include <cctype>

#include <charconv>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// Takes lookup key `key` for the price `self` ("" while creating): 400 when another price holds it, unless
// transfer_lookup_key=true, which clears it there (price.updated).
std::optional<Reply> claimLookupKey(StripeDouble::Impl& d, Ctx& c, const std::string& key,
                                    const std::string& self) {
  if (key.empty()) return std::nullopt;
  bool transfer = asBool(c.params.value("transfer_lookup_key", json("false"))).value_or(false);
  auto& prices = c.acct.collections["prices"];
  for (auto& [pid, p] : prices) {
    if (pid == self || p.obj["lookup_key"] != key) continue;
    if (!transfer) return invalidParam("lookup_key", "A price (`" + pid + "`) already uses that lookup key.");
    json before = p.obj;
    p.obj["lookup_key"] = nullptr;
    json prev = diff(before, p.obj);
    d.emitEvent(c, "price.updated", p.obj, &prev);
  }
  return std::nullopt;
}

// GET /v1/prices/search
Reply searchPrices(StripeDouble::Impl& d, Ctx& c) {
  return d.search(c, "prices", "/v1/prices/search");
}

// GET /v1/prices
Reply listPrices(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  bool has_active = P.contains("active");
  bool active = asBool(P.value("active", json("true"))).value_or(true);
  std::string product = str(P, "product"), type = str(P, "type"), currency = str(P, "currency");
  auto lookup_keys = stringList(P.value("lookup_keys", json()));
  std::string interval = P.value("recurring", json::object()).is_object()
                             ? P.value("recurring", json::object()).value("interval", "")
                             : "";
  return d.list(c, "prices", "/v1/prices", [&](const json& o) {
    if (has_active && o["active"] != active) return false;
    if (!product.empty() && o["product"] != product) return false;
    if (!type.empty() && o["type"] != type) return false;
    if (!currency.empty() && o["currency"] != currency) return false;
    if (!interval.empty() && (!o["recurring"].is_object() || o["recurring"]["interval"] != interval))
      return false;
    if (!lookup_keys.empty() &&
        (!o["lookup_key"].is_string() || std::find(lookup_keys.begin(), lookup_keys.end(),
                                                   o["lookup_key"].get<std::string>()) == lookup_keys.end()))
      return false;
    return true;
  });
}

// POST /v1/prices
Reply createPrice(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string currency = str(P, "currency");
  if (currency.empty()) return missingParam("currency");
  for (auto& ch : currency)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::optional<int64_t> unit_amount;
  if (auto e = intParam(P, "unit_amount", unit_amount)) return *e;
  std::string decimal = str(P, "unit_amount_decimal");
  if (!unit_amount && decimal.empty()) return missingParam("unit_amount");
  if (unit_amount && *unit_amount < 0)
    return invalidParam("unit_amount", "This value must be greater than or equal to 0.");
  std::string product = str(P, "product");
  if (product.empty() && !P.contains("product_data")) return missingParam("product");
  if (!product.empty() && !d.find(c.acct, "products", product)) return noSuch("product", product, "product");
  json recurring = nullptr;
  if (P.contains("recurring")) {
    if (!P["recurring"].is_object()) return invalidParam("recurring", "Invalid hash");
    std::string interval = P["recurring"].value("interval", "");
    if (interval.empty()) return missingParam("recurring[interval]");
    if (interval != "day" && interval != "week" && interval != "month" && interval != "year")
      return invalidParam("recurring[interval]",
                          "Invalid recurring[interval]: must be one of day, week, month, or year");
    auto count = asInt(P["recurring"].value("interval_count", json("1")));
    if (!count || *count < 1) return invalidParam("recurring[interval_count]", "Invalid integer");
    recurring = {{"interval", interval},
                 {"interval_count", *count},
                 {"meter", nullptr},
                 {"trial_period_days", nullptr},
                 {"usage_type", P["recurring"].value("usage_type", "licensed")}};
  }
  std::string lookup_key = str(P, "lookup_key");
  if (auto e = claimLookupKey(d, c, lookup_key, "")) return *e;
  bool active = true;
  if (auto e = boolParam(P, "active", true, active)) return *e;
  if (product.empty()) {
    const json& pd = P["product_data"];
    if (!pd.is_object() || pd.value("name", "").empty()) return missingParam("product_data[name]");
    json po =
        productObject(c, detail::newId("prod", 14), pd["name"], true, pd.value("metadata", json::object()));
    product = po["id"];
    d.insert(c.acct, "products", po);
    d.emitEvent(c, "product.created", po);
  }
  json o = {{"id", detail::newId("price")},
            {"object", "price"},
            {"active", active},
            {"billing_scheme", "per_unit"},
            {"created", c.now},
            {"currency", currency},
            {"custom_unit_amount", nullptr},
            {"livemode", c.livemode},
            {"lookup_key", lookup_key.empty() ? json(nullptr) : json(lookup_key)},
            {"metadata", json::object()},
            {"nickname", nullptr},
            {"product", product},
            {"recurring", recurring},
            {"tax_behavior", P.value("tax_behavior", "unspecified")},
            {"tiers_mode", nullptr},
            {"transform_quantity", nullptr},
            {"type", recurring.is_null() ? "one_time" : "recurring"},
            {"unit_amount", unit_amount ? json(*unit_amount) : json(nullptr)},
            {"unit_amount_decimal", unit_amount ? std::to_string(*unit_amount) : decimal}};
  if (!unit_amount) {
    // A decimal Stripe accepts (digits, one point), in the int64 range: no exception, no undefined cast.
    double value = 0;
    const auto [end, ec] =
        std::from_chars(decimal.data(), decimal.data() + decimal.size(), value, std::chars_format::fixed);
    if (decimal.empty() || ec != std::errc() || end != decimal.data() + decimal.size() || !(value >= 0) ||
        value >= 9.2e18)
      return invalidParam("unit_amount_decimal", "Invalid decimal: " + decimal);
    o["unit_amount"] = static_cast<int64_t>(value);
  }
  setString(o, P, "nickname");
  applyMetadata(o, P);
  d.insert(c.acct, "prices", o);
  d.emitEvent(c, "price.created", o);
  return d.withExpand(c, o);
}

// GET /v1/prices/{id}
Reply retrievePrice(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "prices", c.seg[1]);
  if (!st) return noSuch("price", c.seg[1]);
  return d.withExpand(c, st->obj);
}

// POST /v1/prices/{id}
Reply updatePrice(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "prices", c.seg[1]);
  if (!st) return noSuch("price", c.seg[1]);
  json before = st->obj;
  if (P.contains("lookup_key")) {
    std::string lk = str(P, "lookup_key");
    if (auto e = claimLookupKey(d, c, lk, c.seg[1])) return *e;
    st->obj["lookup_key"] = lk.empty() ? json(nullptr) : json(lk);
  }
  bool active = st->obj["active"];
  if (auto e = boolParam(P, "active", active, active)) return *e;
  st->obj["active"] = active;
  setString(st->obj, P, "nickname");
  if (P.contains("tax_behavior")) st->obj["tax_behavior"] = P["tax_behavior"];
  applyMetadata(st->obj, P);
  json prev = diff(before, st->obj);
  if (!prev.empty()) d.emitEvent(c, "price.updated", st->obj, &prev);
  return d.withExpand(c, st->obj);
}

// Any other method on /v1/prices/{id} (prices cannot be deleted).
Reply otherPriceRequest(StripeDouble::Impl& d, Ctx& c) {
  return d.missingOrUnrecognized(c, "prices", "price");
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "prices/search", searchPrices},
    {"GET", "prices", listPrices},
    {"POST", "prices", createPrice},
    {"GET", "prices/*", retrievePrice},
    {"POST", "prices/*", updatePrice},
    {"*", "prices/*", otherPriceRequest},
};
// clang-format on

}  // namespace

RouteTable priceRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
