// Private to the Stripe double: state, request context and helpers shared by its .cpp files.
// Everything here is guarded by Impl::mu_ unless a comment says otherwise.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/text.h"
#include "stripe_double/stripe_double.h"

namespace ih::stripe_double {

using json = nlohmann::json;

namespace detail {
// application/x-www-form-urlencoded with bracket notation -> nested JSON (all leaves are strings).
json parseForm(std::string_view body);
std::string urlDecode(std::string_view in, bool plus_as_space);
using ih::urlEncode;  // common/text.h
std::string hmacSha256Hex(std::string_view key, std::string_view message);
// Random base62 string; thread-safe.
std::string randomTail(size_t length);
std::string newId(std::string_view prefix, size_t length = 24);
// "sk_test_****abcd": keeps the prefix up to the last '_' and the last 4 characters.
std::string maskKey(const std::string& key);
}  // namespace detail

// A handler's answer.
struct Reply {
  int status = 200;
  json body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string raw;  // non-JSON body (HTML, PDF) when content_type is set
  std::string content_type;
};

Reply stripeError(int status, const std::string& type, const std::string& code, const std::string& message,
                  const std::string& param = "");
Reply missingParam(const std::string& param);
Reply invalidParam(const std::string& param, const std::string& message);
Reply noSuch(const std::string& what, const std::string& id, const std::string& param = "id");
// 200 with body.
Reply ok(json body);

// A stored JSON resource; seq orders objects created in the same second.
struct Stored {
  json obj;
  uint64_t seq = 0;
};

// Compact balance transactions (and the synthetic charges behind seeded ones). JSON rendered on demand.
struct TxnRow {
  int64_t created = 0;
  int64_t amount = 0;
  int64_t fee = 0;
  uint32_t extra = UINT32_MAX;  // index into TxnStore::extras_ (live rows), UINT32_MAX = synthetic
  uint8_t type = 0;             // TxnType
  uint8_t currency = 0;         // index into TxnStore::currencies_
  char tail[24];
};

enum TxnType : uint8_t { kTxnCharge = 0, kTxnRefund = 1, kTxnAdjustment = 2, kTxnPayout = 3 };

struct TxnExtra {
  std::string source;
  std::string description;
};

class TxnStore {
 public:
  // Returns the new row's id ("txn_…").
  std::string add(int64_t created, int64_t amount, int64_t fee, TxnType type, const std::string& currency,
                  std::string source, std::string description);
  void seed(int64_t count, int64_t start, int64_t spacing, int64_t amount, uint64_t rng_seed);
  // Looks up by the id's tail (works for "txn_X" and the synthetic "ch_X").
  const TxnRow* find(std::string_view id) const;
  json render(const TxnRow& row, int64_t now) const;
  // The same object as render(), appended as JSON text (the list fast path: no DOM per row).
  void renderText(const TxnRow& row, int64_t now, std::string& out) const;
  std::string source(const TxnRow& row) const;
  std::string id(const TxnRow& row) const { return "txn_" + std::string(row.tail, sizeof row.tail); }
  size_t size() const { return rows_.size(); }
  // Newest-first iteration support: sorted ascending by (created, seq).
  void ensureSorted();
  const std::vector<uint32_t>& order() const { return order_; }
  const TxnRow& row(uint32_t seq) const { return rows_[seq]; }
  // Position of seq in order_ (O(log n)); order_ must be sorted.
  size_t positionOf(uint32_t seq) const;
  uint32_t seqOf(const TxnRow* row) const {
    return row_seq_.at(std::string_view(row->tail, sizeof row->tail));
  }
  const std::string& currency(const TxnRow& row) const { return currencies_[row.currency]; }
  // Balance per currency: (available, pending).
  std::map<std::string, std::pair<int64_t, int64_t>> balance(int64_t now) const;

 private:
  uint8_t currencyIndex(const std::string& currency);
  void append(TxnRow&& row);

  std::deque<TxnRow> rows_;                                 // deque: tails stay addressable for row_seq_ keys
  std::unordered_map<std::string_view, uint32_t> row_seq_;  // tail -> seq
  std::vector<uint32_t> order_;
  bool sorted_ = true;
  std::vector<TxnExtra> extras_;
  std::vector<std::string> currencies_;
};

struct Account {
  std::string id;
  std::string platform_id;  // "" for a standalone/platform account
  bool deauthorized = false;
  uint64_t seq = 0;
  json obj;                                                                    // the Account object
  std::map<std::string, std::unordered_map<std::string, Stored>> collections;  // kind -> id -> object
  TxnStore txns;
  struct IdempotentResult {
    std::string fingerprint;
    int status = 0;
    std::string body;
    int64_t created = 0;
    std::string request_id;
  };
  std::unordered_map<std::string, IdempotentResult> idempotency;
  std::unordered_map<std::string, std::string> webhook_secrets;  // we_ -> whsec_
  std::unordered_map<std::string, int64_t> invoice_numbers;      // customer -> next sequence
};

struct KeyInfo {
  std::string account_id;
  bool livemode = false;
};

// Per-request context handed to resource handlers. REQUIRES: Impl::mu_ held for its whole life.
struct Ctx {
  Account& acct;
  json params;
  std::string method;
  std::vector<std::string> seg;  // path segments after /v1
  std::string request_id;
  std::optional<std::string> idempotency_key;
  bool livemode = false;
  int64_t now = 0;
};

// 404 "Unrecognized request URL (<method>: /v1/...)", Stripe's answer for a route it does not serve.
Reply unrecognized(const Ctx& c);

struct PendingDelivery {
  std::string account_id;  // account holding the event
  std::string event_id;
  std::string endpoint_account_id;
  std::string endpoint_id;
  int attempt = 1;
  std::chrono::steady_clock::time_point due;
};

struct OAuthCode {
  std::string client_id;
  std::string platform_id;
  std::string account_id;
  std::string scope;
  int64_t expires_at = 0;
  bool used = false;
};

struct StripeDouble::Impl {
  explicit Impl(Options o) : options(std::move(o)) {}

  // ---- server.cpp
  bool startServer(std::string* error);
  void stopAll();
  void handleHttp(const httplib::Request& req, httplib::Response& res);
  Reply dispatchV1(const httplib::Request& req, const std::string& path, const json& params,
                   const std::string& request_id);
  Reply dispatchAdmin(const httplib::Request& req, const std::string& path, const json& params);
  Account& newAccount(const std::string& platform_id);
  Account* account(const std::string& id);
  int64_t clock() const;
  uint64_t nextSeq() { return ++seq_counter; }

  // ---- routes.cpp (REQUIRES mu held): dispatches a v1 request through the route table.
  Reply routeResource(Ctx& c);

  // ---- collections.cpp (REQUIRE mu held): the generic store, pagination, search, expand
  Stored* find(Account& a, const std::string& kind, const std::string& id);
  Stored& insert(Account& a, const std::string& kind, json obj);
  Reply list(Ctx& c, const std::string& kind, const std::string& url,
             const std::function<bool(const json&)>& filter);
  Reply search(Ctx& c, const std::string& kind, const std::string& url);
  void expand(Ctx& c, json& obj, const json& expand_params, bool in_list);
  // ok(obj) once the request's expand[] paths are expanded in it.
  Reply withExpand(Ctx& c, json obj);
  // 404 "No such <object>" when seg[1] is not in kind, else 404 unrecognized URL: the answer for a method or
  // sub-path that the resource does not serve on an id.
  Reply missingOrUnrecognized(Ctx& c, const std::string& kind, const std::string& object);
  json lookupAny(Account& a, const std::string& id, int64_t now);

  // ---- charges.cpp (REQUIRES mu held)
  // Creates a succeeded charge + balance transaction; returns the charge object.
  json createCharge(Ctx& c, int64_t amount, const std::string& currency, const json& customer,
                    const json& payment_intent, const json& invoice, const std::string& description);

  // ---- invoices.cpp (REQUIRE mu held)
  // Pays an open or uncollectible invoice (a charge unless paid_out_of_band); 402 for a declining test card.
  Reply payInvoice(Ctx& c, Stored& inv);
  // /hosted/invoices/{id}[/pay|/pdf]: the hosted invoice page, its PDF and its pay button.
  Reply hostedInvoice(const httplib::Request& req, const std::vector<std::string>& seg);

  // ---- checkout.cpp (REQUIRE mu held)
  // /hosted/checkout/{cs_id}[/pay]: the hosted Checkout page and its pay button (completes the session as a
  // customer paying would: customer, subscription, checkout.session.completed).
  Reply hostedCheckout(const httplib::Request& req, const std::vector<std::string>& seg);

  // ---- events.cpp
  // Records an event for a state change and schedules webhook deliveries. previous may be null.
  void emitEvent(Ctx& c, const std::string& type, const json& object, const json* previous = nullptr);
  void emitEventFor(Account& a, const std::string& type, const json& object, const json* previous,
                    const std::string& request_id, const std::optional<std::string>& idem, int64_t now);
  void deliveryLoop();

  // ---- oauth.cpp
  Reply routeOAuth(const httplib::Request& req, const std::string& path, const json& params);

  const Options options;
  std::unique_ptr<httplib::Server> server;
  std::thread server_thread;
  std::thread delivery_thread;
  int bound_port = 0;
  std::string base_url;
  std::atomic<bool> stopping{false};

  mutable std::mutex mu;
  std::condition_variable delivery_cv;  // signalled on new deliveries and on stop
  // All below guarded by mu.
  std::map<std::string, std::unique_ptr<Account>> accounts;
  std::unordered_map<std::string, KeyInfo> keys;
  std::string primary_account;
  std::unordered_map<std::string, std::string> invoice_owner;   // in_ -> account id (hosted pages)
  std::unordered_map<std::string, std::string> checkout_owner;  // cs_, bps_ -> account id (hosted pages)
  std::unordered_map<std::string, json> checkout_private;       // cs_ -> line items, subscription_data
  std::deque<RecordedRequest> recorded;
  std::vector<DeliveryRecord> delivery_log;
  std::deque<PendingDelivery> pending;
  std::vector<Fault> faults;
  int64_t clock_offset = 0;
  uint64_t seq_counter = 0;
  // OAuth
  struct OAuthClient {
    std::string account_id;
    std::string redirect_uri;
  };
  std::unordered_map<std::string, OAuthClient> oauth_clients;
  std::unordered_map<std::string, OAuthCode> oauth_codes;
  std::unordered_map<std::string, std::pair<std::string, std::string>>
      refresh_tokens;  // rt_ -> (platform, acct)
};

// ---- The v1 route table (routes.cpp). Each resource file lists its endpoints as rows; routeResource sends a
// request to the first row whose method and pattern match it, so a literal segment ("search") is listed before
// "*", and a resource's catch-all row (method "*") after its endpoints. Handlers REQUIRE Impl::mu held.
using Handler = Reply (*)(StripeDouble::Impl& d, Ctx& c);

struct Route {
  std::string_view method;   // "GET", "POST", "DELETE", or "*" for any method
  std::string_view pattern;  // path after /v1/: literal segments, "*" = one segment, a final "**" = any rest
  Handler handler;
};

struct RouteTable {
  const Route* begin;
  const Route* end;
};

template <size_t N>
constexpr RouteTable routeTable(const Route (&rows)[N]) {
  return {rows, rows + N};
}

// True when seg (the path segments after /v1) fits pattern (see Route). Also used by params.cpp.
bool pathMatches(std::string_view pattern, const std::vector<std::string>& seg);
// Every row of every resource table, in dispatch order (for tests).
std::vector<Route> v1Routes();

// One table per Stripe resource, defined in the file of the same name.
RouteTable accountRoutes();
RouteTable balanceRoutes();
RouteTable balanceTransactionRoutes();
RouteTable productRoutes();
RouteTable priceRoutes();
RouteTable customerRoutes();
RouteTable chargeRoutes();
RouteTable refundRoutes();
RouteTable paymentIntentRoutes();
RouteTable invoiceItemRoutes();
RouteTable invoiceRoutes();
RouteTable subscriptionRoutes();
RouteTable eventRoutes();
RouteTable webhookEndpointRoutes();
RouteTable checkoutRoutes();
RouteTable billingPortalRoutes();
RouteTable billingMeterRoutes();

// ---- Shared between resource files
// products.cpp: a new Product object (create, and prices' inline product_data).
json productObject(const Ctx& c, const std::string& id, const json& name, bool active, json metadata);
// customers.cpp: POST /v1/customers on c.params (also what a completed Checkout Session creates).
Reply createCustomerFor(StripeDouble::Impl& d, Ctx& c);
// subscriptions.cpp: POST /v1/subscriptions on c.params (the same).
Reply createSubscriptionFor(StripeDouble::Impl& d, Ctx& c);
// customers.cpp: the customer with this id unless it is unknown or deleted (nullptr).
Stored* existingCustomer(StripeDouble::Impl& d, Account& a, const std::string& id);
// charges.cpp: a succeeded card Charge object (balance_transaction null when txn is "").
json chargeObject(const std::string& id, int64_t amount, const std::string& currency, int64_t created,
                  const std::string& txn, bool livemode);
// charges.cpp: the decline code a test payment method stands for (pm_card_chargeDeclined…), "" when it pays.
std::string declineCodeFor(const std::string& pm);
// invoices.cpp: recomputes a draft invoice's lines and totals from its invoice items.
void recomputeInvoice(Account& a, json& inv);
// events.cpp: obj without the double's private bookkeeping fields ("_…").
json publicView(json obj);

// ---- Request parameter helpers (wire.cpp); form values arrive as strings.
std::optional<int64_t> asInt(const json& v);
std::optional<bool> asBool(const json& v);
std::string str(const json& params, const std::string& key);
// Merges form metadata into obj["metadata"]: "" removes a key, metadata="" clears all.
void applyMetadata(json& obj, const json& params);
// Stripe's metadata limits (at most 50 keys, keys up to 40 and values up to 500 characters, string values):
// 400 parameter_invalid naming the offending parameter, nullopt when params["metadata"] passes or is absent.
std::optional<Reply> checkMetadata(const json& params);
// Optional integer parameter: out = nullopt when absent; 400 parameter_invalid_integer when not an integer.
std::optional<Reply> intParam(const json& params, const std::string& key, std::optional<int64_t>& out);
// Optional boolean parameter: out = def when absent; 400 parameter_invalid when not a boolean.
std::optional<Reply> boolParam(const json& params, const std::string& key, bool def, bool& out);
// Copies a string parameter into obj[key] when present ("" stores null).
void setString(json& obj, const json& params, const std::string& key);
// limit (default 10, 1..100); 400 when not an integer or out of range.
std::optional<Reply> parseLimit(const json& params, int64_t& limit);
// The string elements of a string, array or hash parameter (ids[]=a&ids[]=b, ids[0]=a).
std::vector<std::string> stringList(const json& v);
// Top-level fields whose value changed, with their old values (event previous_attributes).
json diff(const json& before, const json& after);

// params.cpp: documented-parameter check, run before a handler (nothing executed or stored on failure).
// v1 route (seg = path segments after /v1): 400 parameter_unknown naming the first undocumented parameter
// (bracketed path for sub-keys of checked hashes); nullopt when all are documented or the route is unknown.
// api_version: the request's Stripe-Version or the account default (a few parameters are version-bound).
std::optional<Reply> checkParams(const std::string& method, const std::vector<std::string>& seg,
                                 const json& params, const std::string& api_version);
// Connect OAuth /oauth/token and /oauth/deauthorize: same check, OAuth error shape (invalid_request).
std::optional<Reply> checkOAuthParams(const std::string& method, const std::string& path, const json& params);
// The (method, path pattern) of every v1 route with a documented parameter list, in table order (for tests).
std::vector<std::pair<std::string_view, std::string_view>> documentedV1Routes();

}  // namespace ih::stripe_double
