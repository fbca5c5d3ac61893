// Fakes Stripe's Subscription resource: POST /v1/subscriptions (items of recurring prices, optional trial),
// GET /v1/subscriptions (list), GET /v1/subscriptions/search, GET and POST /v1/subscriptions/{id} (items,
// trial_end, cancel_at_period_end…), and cancellation by DELETE /v1/subscriptions/{id} or
// POST /v1/subscriptions/{id}/cancel. REQUIRES Impl::mu held.
#include <ctime>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

// ts plus count intervals ("day", "week", "month", "year"), months and years in UTC calendar terms.
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

// Subscription items from items[n][price|quantity|metadata], each starting its period at start. False with
// errors = the error body when an item names no price, an unknown one or a one-time one.
bool buildItems(StripeDouble::Impl& d, Ctx& c, const std::string& sub_id, int64_t start, json& items_out,
                json& errors) {
  const json& P = c.params;
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
    Stored* pr = d.find(c.acct, "prices", price);
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
    items_out.push_back(
        {{"id", detail::newId("si", 14)},
         {"object", "subscription_item"},
         {"created", c.now},
         {"current_period_start", start},
         {"current_period_end", addInterval(start, rec["interval"], rec["interval_count"].get<int64_t>())},
         {"discounts", json::array()},
         {"metadata", it.value("metadata", json::object())},
         {"price", pr->obj},
         {"quantity", q.value_or(1)},
         {"subscription", sub_id},
         {"tax_rates", json::array()}});
  }
  return true;
}

// 400 for a change to a canceled subscription.
std::optional<Reply> refuseIfCanceled(const json& o) {
  if (o["status"] == "canceled")
    return stripeError(400, "invalid_request_error", "resource_missing",
                       "A canceled subscription can only update its cancellation_details and metadata.");
  return std::nullopt;
}

// GET /v1/subscriptions/search
Reply searchSubscriptions(StripeDouble::Impl& d, Ctx& c) {
  return d.search(c, "subscriptions", "/v1/subscriptions/search");
}

// GET /v1/subscriptions: canceled ones only with status=canceled or status=all.
Reply listSubscriptions(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string customer = str(P, "customer"), status = str(P, "status"), price = str(P, "price");
  return d.list(c, "subscriptions", "/v1/subscriptions", [&](const json& o) {
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

// POST /v1/subscriptions
Reply createSubscription(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  std::string customer = str(P, "customer");
  if (customer.empty()) return missingParam("customer");
  if (!existingCustomer(d, c.acct, customer)) return noSuch("customer", customer, "customer");
  std::optional<int64_t> trial_days, trial_end, days_until_due;
  if (auto e = intParam(P, "trial_period_days", trial_days)) return *e;
  if (auto e = intParam(P, "trial_end", trial_end)) return *e;
  if (auto e = intParam(P, "days_until_due", days_until_due)) return *e;
  const std::string id = detail::newId("sub");
  json items, errors;
  if (!buildItems(d, c, id, c.now, items, errors)) {
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
  d.insert(c.acct, "subscriptions", o);
  d.emitEvent(c, "customer.subscription.created", o);
  return d.withExpand(c, o);
}

// GET /v1/subscriptions/{id}
Reply retrieveSubscription(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "subscriptions", c.seg[1]);
  if (!st) return noSuch("subscription", c.seg[1]);
  return d.withExpand(c, st->obj);
}

// DELETE /v1/subscriptions/{id} and POST /v1/subscriptions/{id}/cancel: cancels at once.
Reply cancelSubscription(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "subscriptions", c.seg[1]);
  if (!st) return noSuch("subscription", c.seg[1]);
  json& o = st->obj;
  if (auto e = refuseIfCanceled(o)) return *e;
  o["status"] = "canceled";
  o["canceled_at"] = c.now;
  o["ended_at"] = c.now;
  o["cancellation_details"]["reason"] = "cancellation_requested";
  if (P.contains("cancellation_details") && P["cancellation_details"].is_object())
    for (const char* k : {"comment", "feedback"})
      if (P["cancellation_details"].contains(k)) o["cancellation_details"][k] = P["cancellation_details"][k];
  d.emitEvent(c, "customer.subscription.deleted", o);
  return d.withExpand(c, o);
}

// POST /v1/subscriptions/{id}
Reply updateSubscription(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  Stored* st = d.find(c.acct, "subscriptions", c.seg[1]);
  if (!st) return noSuch("subscription", c.seg[1]);
  json& o = st->obj;
  if (auto e = refuseIfCanceled(o)) return *e;
  json before = o;
  bool cape = o["cancel_at_period_end"];
  if (auto e = boolParam(P, "cancel_at_period_end", cape, cape)) return *e;
  o["cancel_at_period_end"] = cape;
  if (cape && o["items"]["data"].size() > 0) o["cancel_at"] = o["items"]["data"][0]["current_period_end"];
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
        it["current_period_end"] = addInterval(c.now, it["price"]["recurring"]["interval"],
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
      Stored* pr = price.empty() ? nullptr : d.find(c.acct, "prices", price);
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
             {"subscription", c.seg[1]},
             {"tax_rates", json::array()}});
        target = &data.back();
      }
      if (pr) (*target)["price"] = pr->obj;
      if (auto q = asInt(it.value("quantity", json()))) (*target)["quantity"] = *q;
    }
    o["items"]["total_count"] = data.size();
  }
  json prev = diff(before, o);
  if (!prev.empty()) d.emitEvent(c, "customer.subscription.updated", o, &prev);
  return d.withExpand(c, o);
}

// Any other request under /v1/subscriptions/{id}; a POST to a canceled one is refused as a change.
Reply otherSubscriptionRequest(StripeDouble::Impl& d, Ctx& c) {
  Stored* st = d.find(c.acct, "subscriptions", c.seg[1]);
  if (!st) return noSuch("subscription", c.seg[1]);
  if (c.method == "POST")
    if (auto e = refuseIfCanceled(st->obj)) return *e;
  return unrecognized(c);
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "subscriptions/search", searchSubscriptions},
    {"GET", "subscriptions", listSubscriptions},
    {"POST", "subscriptions", createSubscription},
    {"GET", "subscriptions/*", retrieveSubscription},
    {"POST", "subscriptions/*", updateSubscription},
    {"DELETE", "subscriptions/*", cancelSubscription},
    {"POST", "subscriptions/*/cancel", cancelSubscription},
    {"*", "subscriptions/*/**", otherSubscriptionRequest},
};
// clang-format on

}  // namespace

Reply createSubscriptionFor(StripeDouble::Impl& d, Ctx& c) {
  return createSubscription(d, c);
}

RouteTable subscriptionRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
