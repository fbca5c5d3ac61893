// Fakes Stripe's Balance resource: GET /v1/balance, computed from the account's balance transactions
// (balance_transactions.cpp). REQUIRES Impl::mu held.
#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// GET /v1/balance: sums of the account's balance transactions, available once ~2 days old.
Reply retrieveBalance(StripeDouble::Impl& d, Ctx& c) {
  auto sums = c.acct.txns.balance(c.now);
  if (sums.empty()) sums["usd"] = {0, 0};
  json available = json::array(), pending = json::array(), reserved = json::array();
  for (const auto& [cur, b] : sums) {
    available.push_back({{"amount", b.first}, {"currency", cur}, {"source_types", {{"card", b.first}}}});
    pending.push_back({{"amount", b.second}, {"currency", cur}, {"source_types", {{"card", b.second}}}});
    reserved.push_back({{"amount", 0}, {"currency", cur}});
  }
  json out = {
      {"object", "balance"}, {"available", available}, {"livemode", c.livemode}, {"pending", pending}};
  bool is_platform = false;
  for (const auto& [id, a] : d.accounts)
    is_platform |= a->platform_id == c.acct.id;
  if (is_platform) out["connect_reserved"] = reserved;
  return ok(out);
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "balance", retrieveBalance},
};
// clang-format on

}  // namespace

RouteTable balanceRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
