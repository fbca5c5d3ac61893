// Entitlements: per tenant and per customer reference, what is active right now (a subscription active or
// trialing, a one-time purchase paid), derived from records. Plugins declare in their manifest how a record
// model maps to entitlements (loader::EntitlementSpec); the host keeps the view (store/entitlement_store.h)
// by following the records' change sequence, so anything that writes records (webhooks, replays, the
// reconcile and sync jobs) keeps it current, and a changed mapping rebuilds it.
//
// When a customer's entitlements change, an `entitlements.changed` event is emitted (SSE, GET /api/events,
// outbound endpoints): {"customer","keys","added","removed","entitlements"}. Emitted before the view is
// stored, with a dedupe key, so a crash in between re-emits nothing in the usual case and never loses one.
//
// Thread-safe. Destroy (or stop()) before the Store and the event sink.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"
#include "store/entitlement_store.h"
#include "store/record_store.h"

namespace ih::http {
class Server;
}
namespace ih::tenancy {
class Tenancy;
}

namespace ih::entitlements {

// One integration's mapping of one record model (from its plugin's manifest).
struct Rule {
  std::string integration_id;
  std::string model;
  std::string customer;  // data members, see loader::EntitlementSpec
  std::string key;
  std::string status;
  std::vector<std::string> active;
  std::string expires;  // may be empty

  // Canonical text of the mapping (stored with the cursor: a change rebuilds the view).
  std::string canonical() const;
};

struct Options {
  int interval_ms = 500;           // how often the background pass looks for tenants with new record changes
  size_t batch = 500;              // record changes read per step
  size_t max_per_customer = 1000;  // rows a customer's view shows (GET and events)
};

inline constexpr std::string_view kChangedEvent = "entitlements.changed";
inline constexpr size_t kMaxCustomerBytes = 200;

// The derived row of one record under `rule`, or nullopt when it grants nothing (deleted, status not active,
// customer or key missing or not a string of 1-200 bytes). Exposed for tests.
std::optional<store::EntitlementRow> deriveRow(const Rule& rule, const store::Record& record);

// The GET /api/entitlements answer for `rows` (see registerRoutes).
std::string listJson(std::string_view customer, const std::vector<store::EntitlementRow>& rows);

class Entitlements {
 public:
  // `records`, `view` and `events` (may be null: no events) are borrowed and must outlive this object.
  Entitlements(store::RecordStore& records, store::EntitlementStore& view, sinks::EventSink* events,
               std::vector<Rule> rules, Options options = {});
  ~Entitlements();  // stop()
  Entitlements(const Entitlements&) = delete;
  Entitlements& operator=(const Entitlements&) = delete;

  // The background pass (every interval_ms). Without rules it does nothing.
  void start();
  void stop();

  // Applies every record change of `tenant_id` not yet reflected (what the background pass does for each
  // tenant with new changes). The API calls it before answering, so a caller reads its own writes.
  Status catchUp(std::string_view tenant_id);
  // One pass over every tenant with new record changes.
  Status catchUpAll();

  // The customer's rows, after catchUp(tenant_id).
  Result<std::vector<store::EntitlementRow>> forCustomer(std::string_view tenant_id,
                                                         std::string_view customer);

  const std::vector<Rule>& rules() const { return rules_; }

 private:
  Status catchUpRule(std::string_view tenant_id, const Rule& rule);
  void run();

  store::RecordStore& records_;
  store::EntitlementStore& view_;
  sinks::EventSink* events_;
  const std::vector<Rule> rules_;
  const Options options_;

  std::mutex pass_mu_;  // one catch-up at a time (the background pass and API calls)
  std::map<std::string, int64_t, std::less<>> seen_;  // GUARDED_BY(pass_mu_): tenant -> record seq caught up

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread worker_;
};

// GET /api/entitlements?customer=<reference> ("read" scope): the tenant's view for one customer,
//   {"object":"list","customer","keys":[...],"data":[{"key","status","integration","model","record_id",
//    "expires_at","updated_at"}]}
// 400 invalid_request without a customer (1-200 bytes). Call before server.start(); both borrowed objects
// must outlive the server.
void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Entitlements& entitlements);

}  // namespace ih::entitlements
