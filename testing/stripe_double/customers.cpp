// Fakes Stripe's Customer resource: POST /v1/customers, GET /v1/customers (list), GET /v1/customers/search,
// GET, POST and DELETE /v1/customers/{id}. A deleted customer stays retrievable as {"deleted": true}.
// REQUIRES Impl::mu held.
#include <cctype>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

json emptyAddress() {
  return {{"city", nullptr},  {"country", nullptr},     {"line1", nullptr},
          {"line2", nullptr}, {"postal_code", nullptr}, {"state", nullptr}};
}

// The fields create and update share.
std::optional<Reply> applyCustomer(const json& P, json& o) {
  for (const char* k : {"email", "name", "phone", "description"})
    setString(o, P, k);
  if (P.contains("address") && P["address"].is_object())
    for (auto& [k, v] : P["address"].items())
      o["address"][k] = v == "" ? json(nullptr) : v;
  std::optional<int64_t> bal;
  if (auto e = intParam(P, "balance", bal)) return e;
  if (bal) o["balance"] = *bal;
  if (P.contains("invoice_settings") && P["invoice_settings"].is_object() &&
      P["invoice_settings"].contains("default_payment_method")) {
    std::string pm = P["invoice_settings"].value("default_payment_method", "");
    o["invoice_settings"]["default_payment_method"] = pm.empty() ? json(nullptr) : json(pm);
  }
  applyMetadata(o, P);
  return std::nullopt;
}

// GET /v1/customers/search
Reply searchCustomers(StripeDouble::Impl& d, Ctx& c) {
  return d.search(c, "customers", "/v1/customers/search");
}

// GET /v1/customers
Reply listCustomers(StripeDouble::Impl& d, Ctx& c) {
  std::string email = str(c.params, "email");
  return d.list(c, "customers", "/v1/customers",
                [&](const json& o) { return email.empty() || o["email"] == email; });
}

// POST /v1/customers
Reply createCustomer(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  json o = {{"id", detail::newId("cus", 14)},
            {"object", "customer"},
            {"address", nullptr},
            {"balance", 0},
            {"created", c.now},
            {"currency", nullptr},
            {"default_source", nullptr},
            {"delinquent", false},
            {"description", nullptr},
            {"discount", nullptr},
            {"email", nullptr},
            {"invoice_prefix", detail::randomTail(8)},
            {"invoice_settings",
             {{"custom_fields", nullptr},
              {"default_payment_method", nullptr},
              {"footer", nullptr},
              {"rendering_options", nullptr}}},
            {"livemode", c.livemode},
            {"metadata", json::object()},
            {"name", nullptr},
            {"next_invoice_sequence", 1},
            {"phone", nullptr},
            {"preferred_locales", json::array()},
            {"shipping", nullptr},
            {"tax_exempt", "none"},
            {"test_clock", nullptr}};
  std::string prefix = o["invoice_prefix"];
  for (auto& ch : prefix)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  o["invoice_prefix"] = prefix;
  if (P.contains("address")) o["address"] = emptyAddress();
  if (auto e = applyCustomer(P, o)) return *e;
  d.insert(c.acct, "customers", o);
  d.emitEvent(c, "customer.created", o);
  return ok(o);
}

// GET /v1/customers/{id}: also answers for a deleted customer.
Reply retrieveCustomer(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "customers", c.seg[1]);
  if (!st) return noSuch("customer", c.seg[1]);
  return d.withExpand(c, st->obj);
}

// DELETE /v1/customers/{id}: keeps a {"deleted": true} stub.
Reply deleteCustomer(StripeDouble::Impl& d, Ctx& c) {
  const std::string& id = c.seg[1];
  Stored* st = existingCustomer(d, c.acct, id);
  if (!st) return noSuch("customer", id);
  json snapshot = st->obj;
  st->obj = {{"id", id}, {"object", "customer"}, {"deleted", true}, {"created", snapshot["created"]}};
  d.emitEvent(c, "customer.deleted", snapshot);
  return ok({{"id", id}, {"object", "customer"}, {"deleted", true}});
}

// POST /v1/customers/{id}
Reply updateCustomer(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = existingCustomer(d, c.acct, c.seg[1]);
  if (!st) return noSuch("customer", c.seg[1]);
  json before = st->obj;
  if (P.contains("address") && st->obj["address"].is_null()) st->obj["address"] = emptyAddress();
  if (auto e = applyCustomer(P, st->obj)) return *e;
  json prev = diff(before, st->obj);
  if (!prev.empty()) d.emitEvent(c, "customer.updated", st->obj, &prev);
  return d.withExpand(c, st->obj);
}

// Any other method on /v1/customers/{id}.
Reply otherCustomerRequest(StripeDouble::Impl& d, Ctx& c) {
  if (!existingCustomer(d, c.acct, c.seg[1])) return noSuch("customer", c.seg[1]);
  return unrecognized(c);
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "customers/search", searchCustomers},
    {"GET", "customers", listCustomers},
    {"POST", "customers", createCustomer},
    {"GET", "customers/*", retrieveCustomer},
    {"POST", "customers/*", updateCustomer},
    {"DELETE", "customers/*", deleteCustomer},
    {"*", "customers/*", otherCustomerRequest},
};
// clang-format on

}  // namespace

Reply createCustomerFor(StripeDouble::Impl& d, Ctx& c) {
  return createCustomer(d, c);
}

Stored* existingCustomer(StripeDouble::Impl& d, Account& a, const std::string& id) {
  Stored* cu = d.find(a, "customers", id);
  return cu && !cu->obj.value("deleted", false) ? cu : nullptr;
}

RouteTable customerRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
