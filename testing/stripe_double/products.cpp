// Fakes Stripe's Product resource: POST /v1/products, GET /v1/products (list), GET /v1/products/search,
// GET, POST and DELETE /v1/products/{id}. REQUIRES Impl::mu held.
#include <algorithm>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

constexpr const char* kOptionalStrings[] = {"description", "statement_descriptor", "tax_code", "unit_label",
                                            "url"};

// GET /v1/products/search
Reply searchProducts(StripeDouble::Impl& d, Ctx& c) {
  return d.search(c, "products", "/v1/products/search");
}

// GET /v1/products
Reply listProducts(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  bool has_active = P.contains("active");
  bool active = asBool(P.value("active", json("true"))).value_or(true);
  auto ids = stringList(P.value("ids", json()));
  return d.list(c, "products", "/v1/products", [&](const json& o) {
    if (has_active && o["active"] != active) return false;
    if (!ids.empty() && std::find(ids.begin(), ids.end(), o["id"].get<std::string>()) == ids.end())
      return false;
    return true;
  });
}

// POST /v1/products
Reply createProduct(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string name = str(P, "name");
  if (name.empty()) return missingParam("name");
  std::string id = str(P, "id");
  if (id.empty())
    id = detail::newId("prod", 14);
  else if (d.find(c.acct, "products", id))
    return stripeError(400, "invalid_request_error", "resource_already_exists", "Product already exists.",
                       "id");
  bool active = true;
  if (auto e = boolParam(P, "active", true, active)) return *e;
  json o = productObject(c, id, name, active, json::object());
  for (const char* k : kOptionalStrings)
    setString(o, P, k);
  applyMetadata(o, P);
  d.insert(c.acct, "products", o);
  d.emitEvent(c, "product.created", o);
  return ok(o);
}

// GET /v1/products/{id}
Reply retrieveProduct(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "products", c.seg[1]);
  if (!st) return noSuch("product", c.seg[1]);
  return d.withExpand(c, st->obj);
}

// DELETE /v1/products/{id}: refused while a price refers to it.
Reply deleteProduct(StripeDouble::Impl& d, Ctx& c) {
  const std::string& id = c.seg[1];
  Stored* st = d.find(c.acct, "products", id);
  if (!st) return noSuch("product", id);
  auto pit = c.acct.collections.find("prices");
  if (pit != c.acct.collections.end())
    for (const auto& [pid, p] : pit->second)
      if (p.obj["product"] == id)
        return stripeError(400, "invalid_request_error", "product_has_prices",
                           "This product cannot be deleted because it has one or more user-created prices.");
  json deleted = {{"id", id}, {"object", "product"}, {"deleted", true}};
  json snapshot = st->obj;
  c.acct.collections["products"].erase(id);
  d.emitEvent(c, "product.deleted", snapshot);
  return ok(deleted);
}

// POST /v1/products/{id}
Reply updateProduct(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "products", c.seg[1]);
  if (!st) return noSuch("product", c.seg[1]);
  json before = st->obj;
  json& o = st->obj;
  if (P.contains("name")) {
    if (str(P, "name").empty()) return invalidParam("name", "You passed an empty string for 'name'.");
    o["name"] = P["name"];
  }
  bool active = o["active"];
  if (auto e = boolParam(P, "active", active, active)) return *e;
  o["active"] = active;
  for (const char* k : kOptionalStrings)
    setString(o, P, k);
  if (P.contains("default_price")) {
    std::string dp = str(P, "default_price");
    if (!dp.empty() && !d.find(c.acct, "prices", dp)) return noSuch("price", dp, "default_price");
    o["default_price"] = dp.empty() ? json(nullptr) : json(dp);
  }
  applyMetadata(o, P);
  json prev = diff(before, o);
  if (!prev.empty()) {
    o["updated"] = c.now;
    d.emitEvent(c, "product.updated", o, &prev);
  }
  return d.withExpand(c, o);
}

// Any other method on /v1/products/{id}.
Reply otherProductRequest(StripeDouble::Impl& d, Ctx& c) {
  return d.missingOrUnrecognized(c, "products", "product");
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "products/search", searchProducts},
    {"GET", "products", listProducts},
    {"POST", "products", createProduct},
    {"GET", "products/*", retrieveProduct},
    {"POST", "products/*", updateProduct},
    {"DELETE", "products/*", deleteProduct},
    {"*", "products/*", otherProductRequest},
};
// clang-format on

}  // namespace

json productObject(const Ctx& c, const std::string& id, const json& name, bool active, json metadata) {
  return {{"id", id},
          {"object", "product"},
          {"active", active},
          {"created", c.now},
          {"default_price", nullptr},
          {"description", nullptr},
          {"images", json::array()},
          {"livemode", c.livemode},
          {"marketing_features", json::array()},
          {"metadata", std::move(metadata)},
          {"name", name},
          {"package_dimensions", nullptr},
          {"shippable", nullptr},
          {"statement_descriptor", nullptr},
          {"tax_code", nullptr},
          {"type", "service"},
          {"unit_label", nullptr},
          {"updated", c.now},
          {"url", nullptr}};
}

RouteTable productRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
