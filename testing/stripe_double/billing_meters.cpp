// Billing meter events of the Stripe double: POST /v1/billing/meter_events (usage-based billing).
// What Stripe checks synchronously is checked here: event_name and payload are required, and an identifier
// already used (within 35 days here; Stripe: at least 24 hours) is refused with Stripe's message ("An event already exists with
// identifier …"). Customer mapping, value and timestamp window are reported asynchronously by Stripe (meter
// error reports), so they are not refused here either. REQUIRES Impl::mu held.
#include <string>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// Stripe enforces identifier uniqueness "within a rolling period of at least 24 hours"; the double keeps it for
// 35 days (the oldest timestamp a meter event may carry), longer than an Idempotency-Key lives (24 hours).
constexpr int64_t kIdentifierWindowSeconds = 35 * 24 * 3600;

// POST /v1/billing/meter_events
Reply createMeterEvent(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  const std::string event_name = str(P, "event_name");
  if (event_name.empty()) return missingParam("event_name");
  if (event_name.size() > 100) return invalidParam("event_name", "event_name must be at most 100 characters");
  const json payload = P.value("payload", json());
  if (!payload.is_object() || payload.empty()) return missingParam("payload");
  std::string identifier = str(P, "identifier");
  if (identifier.size() > 100) return invalidParam("identifier", "identifier must be at most 100 characters");
  if (identifier.empty()) identifier = detail::newId("mevt", 24);
  std::optional<int64_t> given_timestamp;
  if (auto bad = intParam(P, "timestamp", given_timestamp)) return *bad;
  const int64_t timestamp = given_timestamp.value_or(c.now);
  if (Stored* prior = d.find(c.acct, "billing.meter_events", identifier);
      prior != nullptr && c.now - prior->obj.value("created", int64_t{0}) < kIdentifierWindowSeconds) {
    return stripeError(400, "invalid_request_error", "",
                       "An event already exists with identifier " + identifier + ".", "identifier");
  }
  json values = json::object();
  for (auto& [k, v] : payload.items())
    values[k] = v.is_string() ? v : json(v.dump());
  json o = {{"object", "billing.meter_event"}, {"created", c.now},       {"event_name", event_name},
            {"identifier", identifier},        {"livemode", c.livemode}, {"payload", values},
            {"timestamp", timestamp}};
  json stored = o;
  stored["id"] = identifier;
  d.insert(c.acct, "billing.meter_events", stored);
  return ok(o);
}

constexpr Route kMeterRoutes[] = {
    {"POST", "billing/meter_events", createMeterEvent},
};

}  // namespace

RouteTable billingMeterRoutes() {
  return routeTable(kMeterRoutes);
}

}  // namespace ih::stripe_double
