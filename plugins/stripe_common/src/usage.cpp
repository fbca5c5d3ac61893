#include "stripe_common/usage.h"

#include "stripe_common/validate.h"

namespace ih::stripe {
namespace {

constexpr int64_t kMaxUsageValue = 1000000000000;  // 10^12; a meter event's value is a whole number
constexpr int64_t kMaxUnixSeconds = 253402300799;  // 9999-12-31

}  // namespace

ih::sdk::Status checkReportUsage(const Json& input) {
  // Stripe's limits: event_name and identifier up to 100 characters; a whole-number value.
  for (ih::sdk::Status s :
       {checkId(input, "customer", "cus_", true), checkText(input, "event_name", 100, true),
        checkInteger(input, "value", 0, kMaxUsageValue, true),
        checkInteger(input, "timestamp", 1, kMaxUnixSeconds),
        checkText(input, "idempotency_key", 100, true)}) {
    if (!s.isOk()) return s;
  }
  return ih::sdk::Status::ok();
}

ih::sdk::Status reportUsage(ih::sdk::Call& call, const Client& client, const Json& input) {
  const std::string identifier = str(input, "idempotency_key");
  const std::string event_name = str(input, "event_name");
  const int64_t value = input["value"].get<int64_t>();
  Form form;
  form.add("event_name", event_name);
  form.add("identifier", identifier);
  form.add("payload[stripe_customer_id]", str(input, "customer"));
  form.add("payload[value]", std::to_string(value));
  if (input.contains("timestamp")) form.add("timestamp", input["timestamp"].get<int64_t>());
  // Per account (Connect): the same identifier on two connected accounts is two events.
  const std::string idempotency_key =
      client.account().empty() ? stableIdempotencyKey({"meter_event", identifier})
                               : stableIdempotencyKey({"meter_event", client.account(), identifier});
  auto event = client.post("/v1/billing/meter_events", form, idempotency_key);
  Json result = {{"identifier", identifier},
                 {"event_name", event_name},
                 {"customer", str(input, "customer")},
                 {"value", value}};
  if (!client.account().empty()) result["account"] = client.account();
  if (!event) {
    if (event.status().message().find("An event already exists with identifier") == std::string::npos)
      return ih::sdk::Status(event.status().code(), "reporting usage: " + event.status().message());
    result["duplicate"] = true;
    result["timestamp"] = input.contains("timestamp") ? input["timestamp"] : Json(nullptr);
    return call.setResult(result.dump());
  }
  result["duplicate"] = false;
  result["timestamp"] = member(*event, "timestamp");
  return call.setResult(result.dump());
}

}  // namespace ih::stripe
