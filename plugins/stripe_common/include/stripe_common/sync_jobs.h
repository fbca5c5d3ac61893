// The Stripe sync jobs shared by every Stripe plugin (BYOK with the tenant's key, Connect per connected
// account through the Stripe-Account header carried by the Client):
//   catalog           products + prices -> "product" / "price" records (deleted ones become tombstones,
//                     archived ones stay with active=false). A full list each run (catalogs are small).
//   transactions      balance transactions (+ their sources) -> "transaction" records with gross, fee, net.
//                     A full backfill from the newest row down to the oldest, then incremental by `created`.
//   reconcile_events  /v1/events since the last seen event -> the host inbox (deduplicated by event id), so
//                     a webhook outage loses nothing.
// Cursors live in the host (Call::state / Call::commitPage): every page and its cursor commit together, so a
// killed run resumes at the last committed page with no gap and no duplicate. docs/stripe.md "Stripe sync
// jobs" describes the records and cursor semantics.
//
// Threading: the transactions job commits on a helper thread (ABI 1.3 hosts) while the handler's thread
// fetches the next pages; the functions keep no state between calls.
// Failures: Stripe and host failures come back as the Status of the step that failed (e.g. "transactions:
// page 31: Stripe is unreachable: ..."); what was committed before stays committed.
#pragma once

#include <string_view>

#include "ih/plugin.hpp"
#include "stripe_common/client.h"
#include "stripe_common/json_util.h"

namespace ih::stripe {

// The "jobs" array of a plugin manifest (JSON text), with default schedules and descriptions.
extern const char* const kSyncJobsManifestJson;

// The config_schema "properties" members of the settings SyncOptions::fromConfig reads
// ("sync_expand_sources", "sync_resolve_invoices", "sync_commit_rows", "emit_*"): JSON members without braces
// or a trailing comma, for a plugin's manifest to splice in.
extern const char* const kSyncSettingsSchemaJson;

// The manifest's "mappings" object (JSON text): Stripe products and prices -> the tenant's own ids, applied
// to the product, price and transaction records (the host shows them as "mapped" in the records API).
extern const char* const kMappingsManifestJson;

// True for "catalog", "transactions" and "reconcile_events".
bool isSyncJob(std::string_view job);

// Default and bounds of SyncOptions::commit_rows (plugin setting "sync_commit_rows").
inline constexpr size_t kDefaultSyncCommitRows = 30000;
inline constexpr size_t kMinSyncCommitRows = 100;
inline constexpr size_t kMaxSyncCommitRows = 50000;  // the host's records_commit limit

// Knobs a plugin may expose in its configuration.
struct SyncOptions {
  // transactions: `expand[]=data.source` so records carry the charge's customer, payment_intent, invoice and
  // metadata (Stripe renders the source object in every row: bigger pages, same number of calls).
  bool expand_sources = true;
  // transactions: resolve product/price of invoice payments with one GET /v1/invoices/{id} per distinct
  // invoice (cached for the run). Costs calls against the rate budget; needs expand_sources.
  bool resolve_invoices = true;
  // transactions: also `expand[]=data.source.payment_intent`, so a charge without product/price metadata takes
  // them from its PaymentIntent's metadata (create_payment_intent sets them for catalog prices). Bigger pages,
  // no extra call; needs expand_sources.
  bool expand_payment_intents = true;
  // transactions: rows per commit (records + cursor, one transaction; the next batch is fetched while it is
  // written). Larger = fewer index pages written per row, more memory; a killed run re-fetches at most this.
  size_t commit_rows = kDefaultSyncCommitRows;
  // Events (settings "emit_sync_started", "emit_transaction_created", "emit_webhook_received"):
  //   stripe.sync.started      when a sync job starts {"job","run_id","trigger","full","since","account"}
  //   transaction.created      per balance transaction first stored by an incremental pass (after the first
  //                            backfill; the backfill and since= passes store history silently), once per id
  //   stripe.webhook.received  per verified Stripe event handled (handleEvent)
  bool emit_sync_started = true;
  bool emit_transaction_created = true;
  bool emit_webhook_received = true;

  // Reads "sync_expand_sources", "sync_resolve_invoices" and "sync_commit_rows" from a plugin's config
  // object (absent = default); throws std::invalid_argument naming the setting when one is malformed.
  static SyncOptions fromConfig(const Json& config);
};

// Runs one job for the calling tenant. `params_json` is what the host passed to run_job ({"full":bool,...});
// "full": true restarts from scratch (backfill) instead of continuing from the stored cursor; "since" (unix
// seconds, transactions only) lists what was created since then, leaving the stored cursor as it is. Sets the
// call's result to {"pages":n,"rows":n,...}. kNotFound for an unknown job name.
ih::sdk::Status runSyncJob(ih::sdk::Call& call, const Client& client, std::string_view job,
                           std::string_view params_json, const SyncOptions& options = {});

}  // namespace ih::stripe
