// The v1 route table of the Stripe double: one list of rows per Stripe resource (each defined in the resource's
// own file), and the dispatch of a request through them. Path patterns are matched segment by segment, with no
// regular expressions and no recursion. REQUIRES Impl::mu held.
#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// The first path segment tells the resources apart, so their order here does not matter.
// clang-format off
RouteTable (*const kResources[])() = {
    accountRoutes,
    balanceRoutes,
    balanceTransactionRoutes,
    productRoutes,
    priceRoutes,
    customerRoutes,
    chargeRoutes,
    refundRoutes,
    paymentIntentRoutes,
    invoiceItemRoutes,
    invoiceRoutes,
    subscriptionRoutes,
    eventRoutes,
    webhookEndpointRoutes,
    checkoutRoutes,
    billingPortalRoutes,
    billingMeterRoutes,
};
// clang-format on

bool methodMatches(std::string_view route_method, const std::string& method) {
  return route_method == "*" || route_method == method;
}

}  // namespace

bool pathMatches(std::string_view pattern, const std::vector<std::string>& seg) {
  size_t i = 0, pos = 0;
  while (pos <= pattern.size()) {
    size_t next = pattern.find('/', pos);
    if (next == std::string_view::npos) next = pattern.size();
    const std::string_view part = pattern.substr(pos, next - pos);
    if (part == "**") return true;  // the rest, even empty
    if (i >= seg.size() || (part != "*" && part != seg[i])) return false;
    ++i;
    pos = next + 1;
  }
  return i == seg.size();
}

std::vector<Route> v1Routes() {
  std::vector<Route> out;
  for (RouteTable (*table)() : kResources) {
    const RouteTable rows = table();
    out.insert(out.end(), rows.begin, rows.end);
  }
  return out;
}

Reply StripeDouble::Impl::routeResource(Ctx& c) {
  if (c.seg.empty()) return unrecognized(c);
  // Metadata limits apply to every v1 request, checked before routing: an unknown URL answers 400 for them too.
  if (auto e = checkMetadata(c.params)) return *e;
  for (RouteTable (*table)() : kResources) {
    const RouteTable rows = table();
    for (const Route* r = rows.begin; r != rows.end; ++r)
      if (methodMatches(r->method, c.method) && pathMatches(r->pattern, c.seg)) return r->handler(*this, c);
  }
  return unrecognized(c);
}

}  // namespace ih::stripe_double
