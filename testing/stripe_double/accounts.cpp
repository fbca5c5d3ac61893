// Fakes Stripe's Account resource for Connect: GET /v1/account (the caller's own account), POST /v1/accounts
// (create a connected account), GET /v1/accounts (the platform's connected accounts) and
// GET /v1/accounts/{id}. Account state itself lives in Impl (server.cpp). REQUIRES Impl::mu held.
#include <algorithm>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// GET /v1/account
Reply retrieveOwnAccount(StripeDouble::Impl&, Ctx& c) {
  return ok(c.acct.obj);
}

// GET /v1/accounts/{id}: the caller's own account or one of its connected accounts.
Reply retrieveAccount(StripeDouble::Impl& d, Ctx& c) {
  const std::string& id = c.seg[1];
  Account* a = d.account(id);
  if (!a || (a->id != c.acct.id && a->platform_id != c.acct.id)) return noSuch("account", id, "account");
  return ok(a->obj);
}

// POST /v1/accounts: a connected account of the caller.
Reply createAccount(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Account& a = d.newAccount(c.acct.id);
  std::string type = str(P, "type");
  if (!type.empty()) a.obj["type"] = type;
  setString(a.obj, P, "email");
  setString(a.obj, P, "country");
  applyMetadata(a.obj, P);
  a.seq = d.nextSeq();
  return ok(a.obj);
}

// GET /v1/accounts: connected accounts of this platform, newest first.
Reply listAccounts(StripeDouble::Impl& d, Ctx& c) {
  int64_t limit = 0;
  if (auto e = parseLimit(c.params, limit)) return *e;
  std::vector<const Account*> mine;
  for (const auto& [id, a] : d.accounts)
    if (a->platform_id == c.acct.id && !a->deauthorized) mine.push_back(a.get());
  std::sort(mine.begin(), mine.end(), [](const Account* x, const Account* y) {
    return x->obj["created"] != y->obj["created"] ? x->obj["created"] > y->obj["created"] : x->seq > y->seq;
  });
  json data = json::array();
  for (const Account* a : mine)
    if (static_cast<int64_t>(data.size()) < limit) data.push_back(a->obj);
  return ok({{"object", "list"},
             {"data", data},
             {"has_more", static_cast<int64_t>(mine.size()) > limit},
             {"url", "/v1/accounts"}});
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "account", retrieveOwnAccount},
    {"GET", "accounts", listAccounts},
    {"POST", "accounts", createAccount},
    {"GET", "accounts/*", retrieveAccount},
};
// clang-format on

}  // namespace

RouteTable accountRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
