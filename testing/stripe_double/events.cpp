// Fakes Stripe's Event resource: GET /v1/events (list) and GET /v1/events/{id}; records an event for each state
// change (emitEvent) and delivers it to the matching webhook endpoints (webhook_endpoints.cpp). Delivery runs on
// one background thread (deliveryLoop) that takes Impl::mu only to pick work and record results, never while
// sending. Everything else REQUIRES Impl::mu held.
#include <algorithm>
#include <chrono>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

bool eventMatches(const json& enabled, const std::string& type) {
  for (const auto& e : enabled) {
    if (!e.is_string()) continue;
    const std::string pattern = e.get<std::string>();
    if (pattern == "*" || pattern == type) return true;
    if (pattern.size() > 2 && pattern.compare(pattern.size() - 2, 2, ".*") == 0 &&
        type.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0)
      return true;
  }
  return false;
}

// The answer for any other request under /v1/events (shorter than the generic unrecognized URL).
Reply unrecognizedEventsRequest(StripeDouble::Impl&, Ctx&) {
  return stripeError(404, "invalid_request_error", "", "Unrecognized request URL.");
}

// GET /v1/events/{id}: events older than 30 days are gone.
Reply retrieveEvent(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "events", c.seg[1]);
  if (!st || st->obj["created"].get<int64_t>() < c.now - 30 * 86400) return noSuch("event", c.seg[1]);
  return ok(publicView(st->obj));
}

// GET /v1/events: the last 30 days, filtered by type (with * wildcards), types[] or delivery_success.
Reply listEvents(StripeDouble::Impl& d, Ctx& c) {
  const std::string type = str(c.params, "type");
  std::vector<std::string> types;
  if (c.params.contains("types")) {
    const json& t = c.params["types"];
    if (t.is_array())
      for (auto& e : t)
        if (e.is_string()) types.push_back(e);
    if (t.is_object())
      for (auto& [k, e] : t.items())
        if (e.is_string()) types.push_back(e);
  }
  if (!type.empty() && !types.empty())
    return invalidParam("types", "You may only specify one of these parameters: type, types.");
  std::optional<bool> delivery_success;
  if (c.params.contains("delivery_success")) {
    delivery_success = asBool(c.params["delivery_success"]);
    if (!delivery_success) return invalidParam("delivery_success", "Invalid boolean");
  }
  const int64_t window_start = c.now - 30 * 86400;
  Reply r = d.list(c, "events", "/v1/events", [&](const json& o) {
    if (o["created"].get<int64_t>() < window_start) return false;
    const std::string t = o["type"];
    if (!type.empty() && !eventMatches(json::array({type}), t)) return false;
    if (!types.empty() && std::find(types.begin(), types.end(), t) == types.end()) return false;
    if (delivery_success && (o["pending_webhooks"].get<int>() == 0) != *delivery_success) return false;
    return true;
  });
  if (r.status == 200)
    for (auto& e : r.body["data"])
      e = publicView(e);
  return r;
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "events", listEvents},
    {"GET", "events/*", retrieveEvent},
    {"*", "events/**", unrecognizedEventsRequest},
};
// clang-format on

}  // namespace

json publicView(json obj) {
  if (!obj.is_object()) return obj;
  for (auto it = obj.begin(); it != obj.end();) {
    if (!it.key().empty() && it.key()[0] == '_')
      it = obj.erase(it);
    else
      ++it;
  }
  return obj;
}

RouteTable eventRoutes() {
  return routeTable(kRoutes);
}

void StripeDouble::Impl::emitEvent(Ctx& c, const std::string& type, const json& object,
                                   const json* previous) {
  emitEventFor(c.acct, type, object, previous, c.request_id, c.idempotency_key, c.now);
}

void StripeDouble::Impl::emitEventFor(Account& a, const std::string& type, const json& object,
                                      const json* previous, const std::string& request_id,
                                      const std::optional<std::string>& idem, int64_t now) {
  json data = {{"object", publicView(object)}};
  if (previous) data["previous_attributes"] = publicView(*previous);
  const std::string id = detail::newId("evt");
  json ev = {{"id", id},
             {"object", "event"},
             {"api_version", options.api_version},
             {"created", now},
             {"data", std::move(data)},
             {"livemode", object.value("livemode", false)},
             {"pending_webhooks", 0},
             {"request",
              {{"id", request_id.empty() ? json(nullptr) : json(request_id)},
               {"idempotency_key", idem ? json(*idem) : json(nullptr)}}},
             {"type", type}};
  if (!a.platform_id.empty()) ev["account"] = a.id;
  // Matching endpoints: the account's own, plus the platform's connect endpoints for connected accounts.
  int matched = 0;
  const auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.webhook_delay_ms);
  auto scan = [&](Account& owner, bool connect) {
    auto cit = owner.collections.find("webhook_endpoints");
    if (cit == owner.collections.end()) return;
    for (const auto& [we_id, we] : cit->second) {
      if (we.obj.value("_connect", false) != connect || we.obj["status"] != "enabled") continue;
      if (!eventMatches(we.obj["enabled_events"], type)) continue;
      ++matched;
      pending.push_back({a.id, id, owner.id, we_id, 1, due});
    }
  };
  scan(a, false);
  if (!a.platform_id.empty())
    if (Account* platform = account(a.platform_id)) scan(*platform, true);
  ev["pending_webhooks"] = matched;
  insert(a, "events", std::move(ev));
  if (matched) delivery_cv.notify_all();
}

void StripeDouble::Impl::deliveryLoop() {
  std::unique_lock<std::mutex> lock(mu);
  while (!stopping) {
    if (pending.empty()) {
      delivery_cv.wait(lock, [this] { return stopping.load() || !pending.empty(); });
      continue;
    }
    auto next = pending.begin();
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if (it->due < next->due) next = it;
    if (next->due > std::chrono::steady_clock::now()) {
      delivery_cv.wait_until(lock, next->due);
      continue;
    }
    PendingDelivery d = *next;
    pending.erase(next);
    Account* holder = account(d.account_id);
    Account* owner = account(d.endpoint_account_id);
    Stored* ev = holder ? find(*holder, "events", d.event_id) : nullptr;
    Stored* we = owner ? find(*owner, "webhook_endpoints", d.endpoint_id) : nullptr;
    if (!ev || !we || we->obj["status"] != "enabled") continue;  // endpoint deleted/disabled: stop retrying
    json body_json = publicView(ev->obj);
    if (we->obj["api_version"].is_string()) body_json["api_version"] = we->obj["api_version"];
    const std::string body = body_json.dump();
    const std::string secret = we->obj["_secret"];
    const std::string url = we->obj["url"];
    const int64_t t = clock();
    const std::string signature = StripeDouble::signatureHeader(secret, t, body);
    const int timeout_ms = options.webhook_timeout_ms;
    lock.unlock();

    DeliveryRecord rec;
    rec.event_id = d.event_id;
    rec.event_type = body_json["type"];
    rec.endpoint_id = d.endpoint_id;
    rec.url = url;
    rec.attempt = d.attempt;
    rec.signature_header = signature;
    rec.attempted_at = t;
    {
      // Split "scheme://host:port/path?query".
      size_t scheme_end = url.find("://");
      size_t path_start = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
      std::string origin = path_start == std::string::npos ? url : url.substr(0, path_start);
      std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
      httplib::Client client(origin);
      client.set_connection_timeout(0, timeout_ms * 1000);
      client.set_read_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
      client.set_write_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
      httplib::Headers headers = {{"Stripe-Signature", signature},
                                  {"User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
                                  {"Accept", "*/*; q=0.5, application/xml"},
                                  {"Cache-Control", "no-cache"}};
      if (!client.is_valid()) {
        rec.error = "unsupported endpoint URL";
      } else if (auto res = client.Post(path, headers, body, "application/json; charset=utf-8")) {
        rec.status = res->status;
        rec.ok = res->status >= 200 && res->status < 300;
        if (!rec.ok) rec.error = "HTTP " + std::to_string(res->status);
      } else {
        rec.error = httplib::to_string(res.error());
      }
    }

    lock.lock();
    delivery_log.push_back(rec);
    ev = holder ? find(*holder, "events", d.event_id) : nullptr;
    if (rec.ok) {
      if (ev && ev->obj["pending_webhooks"].get<int>() > 0)
        ev->obj["pending_webhooks"] = ev->obj["pending_webhooks"].get<int>() - 1;
    } else if (static_cast<size_t>(d.attempt) <= options.webhook_retry_delays_ms.size()) {
      d.due = std::chrono::steady_clock::now() +
              std::chrono::milliseconds(options.webhook_retry_delays_ms[static_cast<size_t>(d.attempt) - 1]);
      ++d.attempt;
      pending.push_back(d);
    }
  }
}

}  // namespace ih::stripe_double
