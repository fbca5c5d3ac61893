// Usage-based billing shared by the Stripe plugins: the report_usage action (one billing meter event on the
// client's account; with Connect, the connected account through Stripe-Account).
#pragma once

#include "ih/plugin.hpp"
#include "stripe_common/client.h"
#include "stripe_common/json_util.h"

namespace ih::stripe {

// The manifest's "actions" entry (a string literal, no trailing comma), for a manifest literal to splice in.
#define IH_STRIPE_REPORT_USAGE_ACTION_JSON \
  R"json({"name": "report_usage", "description": "Reports usage of a metered price as a Stripe billing meter event (customer, event_name, value, optional timestamp), idempotent by the caller's idempotency_key (the event's identifier): a repeat within 24 hours gets the first answer, a later one reports nothing and answers duplicate: true."})json"

// Input Stripe would refuse (customer cus_…, event_name and idempotency_key up to 100 characters, a whole
// value 0..10^12, an optional unix timestamp) is refused before anything is sent.
ih::sdk::Status checkReportUsage(const Json& input);

// One billing meter event. The caller's idempotency_key is the event's identifier (Stripe refuses a second
// event with it for at least 24 hours) and, hashed, the request's Idempotency-Key (a retry within 24 hours
// gets the first answer; the same key with other values is a 409). Stripe's "already exists" refusal means
// the usage was reported before: success, duplicate true. Sets the call's result.
ih::sdk::Status reportUsage(ih::sdk::Call& call, const Client& client, const Json& input);

}  // namespace ih::stripe
