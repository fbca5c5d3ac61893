// Fakes Stripe's WebhookEndpoint resource: POST /v1/webhook_endpoints (the reply carries the signing secret
// once), GET /v1/webhook_endpoints (list), GET, POST and DELETE /v1/webhook_endpoints/{id}. connect=true
// endpoints of a platform receive its connected accounts' events. Delivery itself is in events.cpp.
// REQUIRES Impl::mu held.
#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// enabled_events as a string, array or hash of strings; 400 when none.
std::optional<Reply> enabledEvents(const json& P, json& out) {
  json v = P.value("enabled_events", json());
  out = json::array();
  if (v.is_string()) out.push_back(v);
  if (v.is_array())
    for (auto& e : v)
      if (e.is_string()) out.push_back(e);
  if (v.is_object())
    for (auto& [k, e] : v.items())
      if (e.is_string()) out.push_back(e);
  if (out.empty()) return missingParam("enabled_events");
  return std::nullopt;
}

bool validUrl(const std::string& u) {
  return u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0;
}

// The answer for any other request under /v1/webhook_endpoints (shorter than the generic unrecognized URL).
Reply unrecognizedEndpointRequest(StripeDouble::Impl&, Ctx&) {
  return stripeError(404, "invalid_request_error", "", "Unrecognized request URL.");
}

// GET /v1/webhook_endpoints
Reply listWebhookEndpoints(StripeDouble::Impl& d, Ctx& c) {
  Reply r = d.list(c, "webhook_endpoints", "/v1/webhook_endpoints", nullptr);
  if (r.status == 200)
    for (auto& e : r.body["data"])
      e = publicView(e);
  return r;
}

// POST /v1/webhook_endpoints
Reply createWebhookEndpoint(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string url = str(P, "url");
  if (url.empty()) return missingParam("url");
  if (!validUrl(url))
    return invalidParam("url", "Invalid URL: " + url + ". URLs must begin with http:// or https://.");
  json events;
  if (auto e = enabledEvents(P, events)) return *e;
  auto connect = asBool(P.value("connect", json("false")));
  if (!connect) return invalidParam("connect", "Invalid boolean");
  std::string secret = "whsec_" + detail::randomTail(32);
  std::string version = str(P, "api_version");
  json o = {{"id", detail::newId("we")},
            {"object", "webhook_endpoint"},
            {"api_version", version.empty() ? json(nullptr) : json(version)},
            {"application", nullptr},
            {"created", c.now},
            {"description", P.contains("description") ? P["description"] : json(nullptr)},
            {"enabled_events", events},
            {"livemode", c.livemode},
            {"metadata", json::object()},
            {"status", "enabled"},
            {"url", url},
            {"_connect", *connect},
            {"_secret", secret}};
  applyMetadata(o, P);
  d.insert(c.acct, "webhook_endpoints", o);
  json out = publicView(o);
  out["secret"] = secret;
  return ok(out);
}

// GET /v1/webhook_endpoints/{id}
Reply retrieveWebhookEndpoint(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "webhook_endpoints", c.seg[1]);
  if (!st) return noSuch("webhook_endpoint", c.seg[1]);
  return ok(publicView(st->obj));
}

// DELETE /v1/webhook_endpoints/{id}
Reply deleteWebhookEndpoint(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "webhook_endpoints", c.seg[1]);
  if (!st) return noSuch("webhook_endpoint", c.seg[1]);
  c.acct.collections["webhook_endpoints"].erase(c.seg[1]);
  return ok({{"id", c.seg[1]}, {"object", "webhook_endpoint"}, {"deleted", true}});
}

// POST /v1/webhook_endpoints/{id}
Reply updateWebhookEndpoint(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "webhook_endpoints", c.seg[1]);
  if (!st) return noSuch("webhook_endpoint", c.seg[1]);
  if (P.contains("url")) {
    std::string url = str(P, "url");
    if (!validUrl(url)) return invalidParam("url", "Invalid URL: " + url);
    st->obj["url"] = url;
  }
  if (P.contains("enabled_events")) {
    json events;
    if (auto e = enabledEvents(P, events)) return *e;
    st->obj["enabled_events"] = events;
  }
  if (P.contains("disabled")) {
    auto disabled = asBool(P["disabled"]);
    if (!disabled) return invalidParam("disabled", "Invalid boolean");
    st->obj["status"] = *disabled ? "disabled" : "enabled";
  }
  if (P.contains("description")) st->obj["description"] = P["description"];
  applyMetadata(st->obj, P);
  return ok(publicView(st->obj));
}

// Any other method on /v1/webhook_endpoints/{id}.
Reply otherWebhookEndpointRequest(StripeDouble::Impl& d, Ctx& c) {
  if (!d.find(c.acct, "webhook_endpoints", c.seg[1])) return noSuch("webhook_endpoint", c.seg[1]);
  return unrecognizedEndpointRequest(d, c);
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "webhook_endpoints", listWebhookEndpoints},
    {"POST", "webhook_endpoints", createWebhookEndpoint},
    {"GET", "webhook_endpoints/*", retrieveWebhookEndpoint},
    {"POST", "webhook_endpoints/*", updateWebhookEndpoint},
    {"DELETE", "webhook_endpoints/*", deleteWebhookEndpoint},
    {"*", "webhook_endpoints/*", otherWebhookEndpointRequest},
    {"*", "webhook_endpoints/**", unrecognizedEndpointRequest},
};
// clang-format on

}  // namespace

RouteTable webhookEndpointRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
