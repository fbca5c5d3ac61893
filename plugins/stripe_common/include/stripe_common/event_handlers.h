// Stripe events → ihost records and normalized events, shared by every Stripe plugin (BYOK with tenant
// webhooks, Connect with the platform endpoint): the same mapping whatever the route an event came by.
//   invoice.finalized|paid|payment_failed|voided|marked_uncollectible → "invoice" record, invoice.updated
//   payment_intent.succeeded|payment_failed → "payment" record, payment.succeeded | payment.failed (and, for
//     a one-time catalog item, its ownership in plugin state: ownershipStateKey)
//   customer.subscription.created|updated|deleted → "subscription" record, subscription.updated
// Records carry updated_at = event.created, so an older event never overwrites a newer record. Pure apart
// from the host calls on `call`; thread-compatible (one Call per handler invocation).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ih/plugin.hpp"
#include "stripe_common/client.h"

namespace ih::stripe {

// The event types handleEvent applies (what a webhook endpoint should subscribe to).
const std::vector<std::string>& handledEventTypes();

// Record shapes (the "data" of the records), from the Stripe objects.
Json invoiceRecord(const Json& invoice);
Json paymentRecord(const Json& intent);
// The manifest's "entitlements" array (JSON text), shared by BYOK and Connect: a subscription record grants its
// plan to its buyer while active or trialing (until current_period_end), a payment record its plan once
// succeeded (one-time catalog items). The host keeps the view (GET /api/entitlements).
extern const char* const kEntitlementsManifestJson;
Json subscriptionRecord(const Json& subscription);

// The plugin state key that records that `buyer` (the app's own reference) paid for the one-time catalog item
// `plan`; its value is the PaymentIntent id. Set by handleEvent on payment_intent.succeeded when the intent's
// metadata says ihost_one_time=true, read by create_payment_intent to refuse a second purchase.
std::string ownershipStateKey(std::string_view plan, std::string_view buyer);

// Upserts one record {"id","data":record,"updated_at"}.
ih::sdk::Status upsertRecord(const ih::sdk::Call& call, const char* model, const Json& record,
                             int64_t updated_at);

// handle_webhook for a stored Stripe event: `meta_json` is the host's event metadata (a "stale" event is
// skipped), `body` the raw Stripe event. Types it does not use are acknowledged (OK) without effect.
// With `emit_received`, every event handled (stale ones too) first emits stripe.webhook.received {"id","type",
// "account","livemode","created","object_id","stale"}.
ih::sdk::Status handleEvent(const ih::sdk::Call& call, std::string_view meta_json, std::string_view body,
                            bool emit_received = true);

}  // namespace ih::stripe
