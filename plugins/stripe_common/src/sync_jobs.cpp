#include "stripe_common/sync_jobs.h"
#include "stripe_common/json_util.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ih::stripe {

const char* const kSyncJobsManifestJson = R"json([
    {"name": "catalog", "every": "1h", "state_keys": ["catalog"],
     "description": "Products and prices into records (archived stay with active=false, deleted become tombstones)."},
    {"name": "transactions", "every": "15m", "state_keys": ["transactions"], "params": ["since"],
     "description": "Balance transactions (gross, fee, net, source, product/price) into records: backfill, then incremental."},
    {"name": "reconcile_events", "every": "1h", "state_keys": ["events"],
     "description": "Stripe events since the last seen one into the webhook inbox, so a webhook outage loses nothing."}
  ])json";

const char* const kSyncSettingsSchemaJson = R"json(
      "sync_expand_sources": {"type": "boolean", "default": true,
                              "description": "transactions job: expand each balance transaction's source (charge customer, payment_intent, invoice, metadata)."},
      "sync_resolve_invoices": {"type": "boolean", "default": true,
                                "description": "transactions job: one GET /v1/invoices/{id} per distinct invoice to resolve product/price (needs sync_expand_sources)."},
      "sync_expand_payment_intents": {"type": "boolean", "default": true,
                                      "description": "transactions job: expand each charge's PaymentIntent, whose metadata names the product/price of payments made with create_payment_intent (needs sync_expand_sources)."},
      "sync_commit_rows": {"type": "integer", "minimum": 100, "maximum": 50000, "default": 30000,
                           "description": "transactions job: rows per transaction (records + cursor). Larger is faster and uses more memory; a killed run re-fetches at most this many."},
      "emit_sync_started": {"type": "boolean", "default": true,
                            "description": "Emit stripe.sync.started when a sync job starts."},
      "emit_transaction_created": {"type": "boolean", "default": true,
                                   "description": "Emit transaction.created once per new balance transaction an incremental transactions pass stores (never for the first backfill)."},
      "emit_webhook_received": {"type": "boolean", "default": true,
                                "description": "Emit stripe.webhook.received for every verified Stripe event handled."})json";

const char* const kMappingsManifestJson = R"json({
    "kinds": {
      "product": {"description": "A Stripe product (prod_...) -> your product id."},
      "price": {"description": "A Stripe price (price_...) -> your SKU or price id."}
    },
    "apply": [
      {"model": "product", "field": "id", "kind": "product"},
      {"model": "price", "field": "id", "kind": "price"},
      {"model": "price", "field": "product", "kind": "product"},
      {"model": "transaction", "field": "product", "kind": "product"},
      {"model": "transaction", "field": "price", "kind": "price"}
    ]
  })json";

SyncOptions SyncOptions::fromConfig(const Json& config) {
  SyncOptions o;
  auto flag = [&](const char* key, bool& out) {
    if (!config.contains(key)) return;
    if (!config[key].is_boolean()) throw std::invalid_argument(std::string(key) + " must be true or false");
    out = config[key].get<bool>();
  };
  flag("sync_expand_sources", o.expand_sources);
  flag("sync_resolve_invoices", o.resolve_invoices);
  flag("sync_expand_payment_intents", o.expand_payment_intents);
  flag("emit_sync_started", o.emit_sync_started);
  flag("emit_transaction_created", o.emit_transaction_created);
  flag("emit_webhook_received", o.emit_webhook_received);
  if (config.contains("sync_commit_rows")) {
    const Json& rows = config["sync_commit_rows"];
    if (!rows.is_number_integer() || rows.get<int64_t>() < static_cast<int64_t>(kMinSyncCommitRows) ||
        rows.get<int64_t>() > static_cast<int64_t>(kMaxSyncCommitRows))
      throw std::invalid_argument("sync_commit_rows must be an integer from " +
                                  std::to_string(kMinSyncCommitRows) + " to " +
                                  std::to_string(kMaxSyncCommitRows));
    o.commit_rows = static_cast<size_t>(rows.get<int64_t>());
  }
  return o;
}

namespace {

using ih::sdk::Call;
using ih::sdk::Result;
using ih::sdk::Status;
using ih::sdk::json::quote;

constexpr int64_t kEventRetentionS = 30 * 86400;  // Stripe keeps events for 30 days
constexpr size_t kCommitChunk = 1000;             // records per records_commit of the catalog job
constexpr size_t kMaxCatalogItems = 100000;
// transactions: pages are buffered and committed (records + cursor, one transaction) every
// SyncOptions::commit_rows rows, this many bytes or this often, whichever comes first, and before a failed
// run returns. Large transactions matter: every row lands on a random page of the records' unique index, so
// a commit of N rows writes ~min(N, index pages) pages to the WAL (1M-row backfill, synchronous commits:
// 2,000-row commits 22k rows/s, 50,000-row 45k). The commit runs on a helper thread while the next batch is
// fetched (CommitPipeline): 30,000-row commits 62k rows/s at 154 MB host peak RSS, 40,000-row 66k at 187 MB.
// The byte bound keeps memory in check when sources are expanded (rows ~4x larger). A killed run
// re-fetches at most the uncommitted pages.
constexpr size_t kTxnCommitBytes = 24u
                                   << 20;  // ~24 MB of record JSON (expanded sources make rows ~4x larger)
constexpr std::chrono::milliseconds kTxnCommitInterval{5000};

Status withContext(const Status& status, const std::string& what) {
  return Status(status.code(), what + ": " + status.message());
}

// Appends `"key":value` members to a JSON object under construction (fast path for big pages).
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_.push_back('{'); }
  void close() { out_.push_back('}'); }
  void string(const char* key, std::string_view value) {
    name(key);
    out_ += quote(value);
  }
  void stringOrNull(const char* key, const std::string& value) {
    name(key);
    out_ += value.empty() ? std::string("null") : quote(value);
  }
  void number(const char* key, int64_t value) {
    name(key);
    out_ += std::to_string(value);
  }
  void json(const char* key, const Json& value) {
    name(key);
    out_ += value.dump();
  }
  void raw(const char* key, std::string_view text) {
    name(key);
    out_ += text;
  }

 private:
  void name(const char* key) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_ += key;
    out_ += "\":";
  }
  std::string& out_;
  bool first_ = true;
};

// A JSON array of records built page by page; `count()` rows so far.
class RecordBatch {
 public:
  RecordBatch() { text_.reserve(64 * 1024); }
  // Starts a record; the caller fills `data` through the returned writer, then calls end().
  std::string& begin(std::string_view id) {
    text_.push_back(count_ == 0 ? '[' : ',');
    text_ += "{\"id\":";
    text_ += quote(id);
    text_ += ",\"data\":";
    ++count_;
    return text_;
  }
  void end(int64_t updated_at) {
    text_ += ",\"updated_at\":";
    text_ += std::to_string(updated_at);
    text_.push_back('}');
  }
  void add(std::string_view id, const Json& data, int64_t updated_at) {
    begin(id) += data.dump();
    end(updated_at);
  }
  size_t count() const { return count_; }
  size_t bytes() const { return text_.size(); }
  std::string take() {
    std::string out = count_ == 0 ? std::string("[]") : std::move(text_) + "]";
    text_.clear();
    count_ = 0;
    return out;
  }

 private:
  std::string text_;
  size_t count_ = 0;
};

// Records (possibly empty) and the cursor in one transaction.
Status commit(const Call& call, std::string_view model, RecordBatch& batch, std::string_view state_key,
              const Json& state) {
  const std::string records = batch.take();
  return call.commitPage(model, records, state_key, state.is_null() ? std::string() : state.dump());
}

// An event to emit once the records it tells of are stored.
struct PendingEvent {
  std::string type, key, data;
};

// Call::emitOnce, or emit() on a host older than ABI 1.4 (a repeat is then possible).
Status emitOnce(const Call& call, std::string_view type, std::string_view data, std::string_view key) {
  Status s = call.emitOnce(type, data, key);
  if (s.code() == IH_ERR_UNSUPPORTED) return call.emit(type, data);
  return s;
}

// Commits (records + cursor, one transaction each) on a helper thread, so the next pages are fetched and
// parsed while the host writes this batch: at most one commit in flight, commits in order. A failed commit
// is returned by the next submit() or by finish(), and nothing after it is committed, so the stored cursor
// stays at the last batch that was stored (no gap). With a host older than ABI 1.3 commits are synchronous.
// One long-lived thread, not a thread per commit: glibc gives each new thread a malloc arena, and arenas of
// short-lived threads that overlap keep their freed batches (a 1M-row backfill reached 580 MB RSS that way).
class CommitPipeline {
 public:
  explicit CommitPipeline(const Call& call) : call_(call) {
    if (!call.usableFromOtherThreads()) return;
    try {
      thread_ = std::thread([this] { loop(); });
    } catch (const std::system_error&) {  // no thread available: commit synchronously
    }
  }
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;
  ~CommitPipeline() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Waits for the previous commit (returning its failure instead of starting this one), then starts this one.
  // `events` (type, dedupe key, data) are emitted once this batch is stored, never before.
  Status submit(std::string_view model, RecordBatch& batch, std::string_view state_key, const Json& state,
                std::vector<PendingEvent> events = {}) {
    Status previous = finish();
    if (!previous.isOk()) return previous;
    Job job{std::string(model), batch.take(), std::string(state_key),
            state.is_null() ? std::string() : state.dump(), std::move(events)};
    if (!thread_.joinable()) return run(job);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = std::move(job);
    }
    cv_.notify_all();
    return Status::ok();
  }
  // Waits for the commit in flight; its status (OK when none).
  Status finish() {
    if (!thread_.joinable()) return Status::ok();
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return !job_; });
    Status out = last_;
    last_ = Status::ok();
    return out;
  }

 private:
  struct Job {
    std::string model, records, state_key, state_value;
    std::vector<PendingEvent> events;
  };
  Status run(const Job& job) const {
    try {  // nothing may escape the helper thread (std::terminate)
      Status stored = call_.commitPage(job.model, job.records, job.state_key, job.state_value);
      if (!stored.isOk()) return stored;
      for (const PendingEvent& e : job.events)
        if (Status s = emitOnce(call_, e.type, e.data, e.key); !s.isOk()) return s;
      return Status::ok();
    } catch (const std::exception& e) {
      return Status(IH_ERR_INTERNAL, std::string("commit failed: ") + e.what());
    }
  }
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || job_; });
      if (!job_) return;  // stopping with nothing to do
      lock.unlock();
      Status s = run(*job_);
      lock.lock();
      last_ = std::move(s);
      job_.reset();  // frees the batch on this thread
      cv_.notify_all();
    }
  }

  const Call& call_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Job> job_;  // the commit in flight
  Status last_ = Status::ok();
  bool stop_ = false;
  std::thread thread_;
};

Result<Json> loadState(const Call& call, std::string_view key) {
  auto stored = call.state(key);
  if (!stored) return stored.status();
  if (!stored->has_value()) return Json();
  Json parsed = parseJson(**stored);
  return parsed.is_object() ? parsed : Json();
}

bool paramFull(std::string_view params_json) {
  const Json params = parseJson(params_json);
  return params.is_object() && params.value("full", false);
}

// ---- catalog --------------------------------------------------------------------------------------------

Status runCatalog(Call& call, const Client& client, std::string_view /*params_json*/) {
  auto state = loadState(call, "catalog");
  if (!state) return withContext(state.status(), "catalog: reading the cursor");
  Form query;
  query.add("limit", 100);
  auto products = client.listAll("/v1/products", query, kMaxCatalogItems, "/v1/products");
  if (!products) return withContext(products.status(), "catalog: listing products");
  auto prices = client.listAll("/v1/prices", query, kMaxCatalogItems, "/v1/prices");
  if (!prices) return withContext(prices.status(), "catalog: listing prices");
  auto pagesOf = [](size_t n) { return static_cast<int64_t>(n == 0 ? 1 : (n + 99) / 100); };
  const int64_t pages = pagesOf(products->size()) + pagesOf(prices->size());

  // What is listed now (id -> updated_at); deleted objects (`deleted: true`) are not "present".
  const int64_t now = nowSeconds();
  Json next = {{"product", Json::object()}, {"price", Json::object()}};
  int64_t tombstones = 0;
  std::map<std::string, std::vector<const Json*>> present = {{"product", {}}, {"price", {}}};
  std::map<std::string, std::vector<std::pair<std::string, int64_t>>> deleted;
  auto sort = [&](const char* model, const std::vector<Json>& items) {
    for (const Json& item : items) {
      const std::string id = str(item, "id");
      if (id.empty()) continue;
      if (item.value("deleted", false)) {
        deleted[model].emplace_back(id, 0);
        continue;
      }
      // Products carry `updated`; prices only `created` (an equal updated_at still replaces changed data).
      const int64_t updated = std::max(integer(item, "updated"), integer(item, "created"));
      next[model][id] = updated;
      present[model].push_back(&item);
    }
  };
  sort("product", *products);
  sort("price", *prices);
  // Known before and gone now: deleted at Stripe (prices cannot be deleted, only archived, but be exact).
  for (const char* model : {"product", "price"}) {
    const Json& before = member(state.value(), model);
    if (!before.is_object()) continue;
    for (auto it = before.begin(); it != before.end(); ++it) {
      if (next[model].contains(it.key())) continue;
      deleted[model].emplace_back(it.key(), it->is_number_integer() ? it->get<int64_t>() : 0);
    }
  }
  for (const auto& [model, ids] : deleted) {
    for (const auto& [id, last_updated] : ids) {
      // Newer than anything stored for it (tombstones win ties), so a late page cannot resurrect it.
      Status removed = call.deleteRecord(model, id, std::max(now, last_updated + 1));
      if (!removed.isOk()) return withContext(removed, "catalog: tombstone for " + model + " " + id);
      ++tombstones;
    }
  }
  // Products first (records only), then prices; the last commit carries the new cursor.
  int64_t rows = 0;
  for (const char* model : {"product", "price"}) {
    const auto& items = present[model];
    const bool last_model = std::string_view(model) == "price";
    size_t i = 0;
    do {
      RecordBatch batch;
      for (; i < items.size() && batch.count() < kCommitChunk; ++i)
        batch.add(str(*items[i], "id"), *items[i], next[model][str(*items[i], "id")].get<int64_t>());
      rows += static_cast<int64_t>(batch.count());
      const bool final_commit = last_model && i >= items.size();
      if (batch.count() == 0 && !final_commit) break;
      Status s = commit(call, model, batch, final_commit ? "catalog" : "", final_commit ? next : Json());
      if (!s.isOk()) return withContext(s, std::string("catalog: storing ") + model + "s");
    } while (i < items.size());
  }
  const Json result = {{"pages", pages},
                       {"rows", rows},
                       {"products", present["product"].size()},
                       {"prices", present["price"].size()},
                       {"tombstones", tombstones}};
  call.info("stripe catalog synced", result.dump());
  return call.setResult(result.dump());
}

// ---- transactions ---------------------------------------------------------------------------------------

// Product and price of invoice payments: one GET /v1/invoices/{id} per distinct invoice, cached for the run.
class InvoiceResolver {
 public:
  struct Resolved {
    std::string product;
    std::string price;
  };
  InvoiceResolver(const Client& client, bool enabled) : client_(client), enabled_(enabled) {}

  Result<Resolved> resolve(const std::string& invoice_id) {
    if (!enabled_ || invoice_id.empty()) return Resolved{};
    if (auto it = cache_.find(invoice_id); it != cache_.end()) return it->second;
    auto invoice = client_.get("/v1/invoices/" + invoice_id, Form(), "/v1/invoices/{id}");
    Resolved resolved;
    if (!invoice) {
      if (invoice.status().code() != IH_ERR_NOT_FOUND) return invoice.status();
    } else {
      // 2024-06-20: line.price{id,product}; newer versions: line.pricing.price_details{price,product}.
      std::set<std::string> products, prices;
      for (const Json& line : member(member(*invoice, "lines"), "data")) {
        const Json& price = member(line, "price");
        const Json& details = member(member(line, "pricing"), "price_details");
        std::string price_id = idOf(price), product_id = idOf(member(price, "product"));
        if (price_id.empty()) price_id = idOf(member(details, "price"));
        if (product_id.empty()) product_id = idOf(member(details, "product"));
        if (!price_id.empty()) prices.insert(price_id);
        if (!product_id.empty()) products.insert(product_id);
      }
      if (products.size() == 1) resolved.product = *products.begin();
      if (prices.size() == 1) resolved.price = *prices.begin();
    }
    ++lookups_;
    cache_.emplace(invoice_id, resolved);
    return resolved;
  }
  int64_t lookups() const { return lookups_; }

 private:
  const Client& client_;
  const bool enabled_;
  std::unordered_map<std::string, Resolved> cache_;
  int64_t lookups_ = 0;
};

// One "transaction" record's data from a balance transaction (source expanded or not).
// Appends the transaction's record; `data_out` (may be null) receives the record's data as JSON text.
Status appendTransaction(RecordBatch& batch, const Json& txn, InvoiceResolver& invoices,
                         std::string* data_out = nullptr) {
  const std::string id = str(txn, "id");
  const Json& source = member(txn, "source");
  std::string& out = batch.begin(id);
  const size_t data_start = out.size();
  ObjectWriter data(out);
  data.string("id", id);
  data.number("amount", integer(txn, "amount"));
  data.number("fee", integer(txn, "fee"));
  data.number("net", integer(txn, "net"));
  data.string("currency", str(txn, "currency"));
  data.string("status", str(txn, "status"));
  data.string("type", str(txn, "type"));
  data.stringOrNull("reporting_category", str(txn, "reporting_category"));
  data.stringOrNull("description", str(txn, "description"));
  data.number("created", integer(txn, "created"));
  data.number("available_on", integer(txn, "available_on"));
  data.json("fee_details",
            member(txn, "fee_details").is_array() ? member(txn, "fee_details") : Json::array());
  data.json("exchange_rate", member(txn, "exchange_rate"));
  data.stringOrNull("source", idOf(source));
  std::string product, price;
  if (source.is_object()) {
    data.stringOrNull("source_type", str(source, "object"));
    data.stringOrNull("customer", idOf(member(source, "customer")));
    data.stringOrNull("payment_intent", idOf(member(source, "payment_intent")));
    const std::string invoice = idOf(member(source, "invoice"));
    data.stringOrNull("invoice", invoice);
    const Json& metadata = member(source, "metadata");
    data.json("source_metadata", metadata.is_object() ? metadata : Json::object());
    // Cheap first: the charge's own metadata, as apps commonly tag one-off payments; then its PaymentIntent's
    // (expanded), where create_payment_intent names the catalog price.
    product = str(metadata, "product");
    price = str(metadata, "price");
    const Json& intent_metadata = member(member(source, "payment_intent"), "metadata");
    if (product.empty() && price.empty() && intent_metadata.is_object()) {
      product = str(intent_metadata, "product");
      price = str(intent_metadata, "price");
    }
    if (product.empty() && price.empty() && !invoice.empty()) {
      auto resolved = invoices.resolve(invoice);
      if (!resolved) return withContext(resolved.status(), "resolving invoice " + invoice);
      product = resolved->product;
      price = resolved->price;
    }
  }
  data.stringOrNull("product", product);
  data.stringOrNull("price", price);
  data.close();
  if (data_out != nullptr) data_out->assign(out, data_start, std::string::npos);
  batch.end(integer(txn, "created"));
  return Status::ok();
}

// Cursor of the transactions job. A "pass" lists the window [lower, upper] newest first with starting_after;
// the backfill is a pass without lower bound, every incremental run a pass from the high watermark.
struct TxnCursor {
  static constexpr size_t kMaxEdgeIds = 1000;
  std::string phase = "backfill";  // "backfill" until the first pass completes, then "incremental"
  std::string starting_after;      // resume point inside the current pass ("" = its first page)
  std::optional<int64_t> upper;    // created of the newest row when the pass began (set by page 1)
  int64_t high_watermark = 0;      // newest `created` fully synced (incremental passes start here)
  // Ids created in the second `upper` seen by the backfill pass so far, then (once it completes) the ones in
  // the high-watermark second: the next incremental pass reads that second again (created >= watermark) and
  // must not announce these as new (the backfill stored them without events). At most kMaxEdgeIds.
  std::vector<std::string> upper_ids;
  std::vector<std::string> silent_ids;

  static TxnCursor from(const Json& state) {
    TxnCursor c;
    if (!state.is_object()) return c;
    c.phase = str(state, "phase") == "incremental" ? "incremental" : "backfill";
    c.starting_after = str(state, "starting_after");
    if (member(state, "upper").is_number_integer()) c.upper = state["upper"].get<int64_t>();
    c.high_watermark = integer(state, "high_watermark");
    auto ids = [&](const char* key, std::vector<std::string>& out) {
      for (const Json& id : member(state, key).is_array() ? member(state, key) : Json::array())
        if (id.is_string() && out.size() < kMaxEdgeIds) out.push_back(id.get<std::string>());
    };
    ids("upper_ids", c.upper_ids);
    ids("silent_ids", c.silent_ids);
    return c;
  }
  Json toJson() const {
    Json j = {{"phase", phase},
              {"starting_after", starting_after},
              {"upper", upper ? Json(*upper) : Json()},
              {"high_watermark", high_watermark}};
    if (!upper_ids.empty()) j["upper_ids"] = upper_ids;
    if (!silent_ids.empty()) j["silent_ids"] = silent_ids;
    return j;
  }
  bool silent(const std::string& id, int64_t created) const {
    return created == high_watermark &&
           std::find(silent_ids.begin(), silent_ids.end(), id) != silent_ids.end();
  }
};

// A run's "since" parameter (unix seconds), if given.
std::optional<int64_t> paramSince(std::string_view params_json) {
  const Json params = parseJson(params_json);
  if (!params.is_object() || !member(params, "since").is_number_integer()) return std::nullopt;
  return params["since"].get<int64_t>();
}

Status runTransactions(Call& call, const Client& client, std::string_view params_json,
                       const SyncOptions& options) {
  const bool full = paramFull(params_json);
  // since=: one pass over created >= since that stores records only; the stored cursor stays as it is (a
  // re-read of a window, e.g. after fixing data at Stripe). A killed since pass is simply run again.
  const std::optional<int64_t> since = full ? std::nullopt : paramSince(params_json);
  TxnCursor cursor;
  if (!full && !since) {
    auto state = loadState(call, "transactions");
    if (!state) return withContext(state.status(), "transactions: reading the cursor");
    cursor = TxnCursor::from(*state);
  }
  const bool backfill = !since && cursor.phase == "backfill";
  const bool resumed = !cursor.starting_after.empty();
  const std::optional<int64_t> lower = since      ? since
                                       : backfill ? std::nullopt
                                                  : std::optional<int64_t>(cursor.high_watermark);
  // Only incremental passes tell the tenant's app of new transactions: the first backfill (maybe years of
  // history) and since= re-reads store silently. Each id is emitted once whatever passes see it again.
  const bool announce = options.emit_transaction_created && !backfill && !since;
  const std::string state_key = since ? std::string() : std::string("transactions");
  InvoiceResolver invoices(client, options.expand_sources && options.resolve_invoices);

  int64_t pages = 0, rows = 0, commits = 0, announced = 0;
  RecordBatch batch;                 // pages fetched since the last commit
  std::vector<PendingEvent> events;  // transaction.created of the rows in `batch`
  CommitPipeline committer(call);
  auto last_commit = std::chrono::steady_clock::now();
  auto state = [&] { return since ? Json() : cursor.toJson(); };
  for (;;) {
    Form query;
    query.add("limit", 100);
    if (lower) query.add("created[gte]", *lower);
    if (cursor.upper) query.add("created[lte]", *cursor.upper);
    if (!cursor.starting_after.empty()) query.add("starting_after", cursor.starting_after);
    if (options.expand_sources) query.addElement("expand", "data.source");
    if (options.expand_sources && options.expand_payment_intents)
      query.addElement("expand", "data.source.payment_intent");
    auto page = client.get("/v1/balance_transactions", query, "/v1/balance_transactions");
    if (!page) {
      // Keep what was fetched: the pages buffered so far and their cursor commit before the run fails, so
      // the next run starts after them (unless an earlier commit failed: then nothing later may land).
      if (batch.count() > 0)
        (void)committer.submit("transaction", batch, state_key, state(), std::move(events));
      (void)committer.finish();
      return withContext(page.status(), "transactions: page " + std::to_string(pages + 1));
    }
    const Json& data = member(*page, "data");
    if (!data.is_array()) return Status::provider("transactions: Stripe answered a list without data");
    if (!cursor.upper && !data.empty()) cursor.upper = integer(data.front(), "created");

    const size_t before = batch.count();
    std::string record_data;
    TxnCursor next = cursor;
    for (const Json& txn : data) {
      const std::string id = str(txn, "id");
      if (id.empty()) continue;
      const int64_t created = integer(txn, "created");
      const bool tell = announce && !cursor.silent(id, created);
      Status added = appendTransaction(batch, txn, invoices, tell ? &record_data : nullptr);
      if (!added.isOk()) return withContext(added, "transactions: page " + std::to_string(pages + 1));
      if (tell) {
        events.push_back({"transaction.created", "transaction.created:" + id, record_data});
        ++announced;
      }
      if (backfill && cursor.upper && created == *cursor.upper &&
          next.upper_ids.size() < TxnCursor::kMaxEdgeIds)
        next.upper_ids.push_back(id);
    }
    const bool has_more = page->value("has_more", false) && !data.empty();
    if (has_more) {
      next.starting_after = str(data.back(), "id");
    } else {  // pass complete: everything up to `upper` is stored
      next.phase = "incremental";
      next.starting_after.clear();
      next.high_watermark = std::max(cursor.high_watermark, cursor.upper.value_or(cursor.high_watermark));
      // What the next pass re-reads in the watermark second and must not announce: the backfill's rows of
      // that second; after an incremental pass, the old ones only if the watermark did not move.
      if (backfill) {
        next.silent_ids = std::move(next.upper_ids);
      } else if (next.high_watermark != cursor.high_watermark) {
        next.silent_ids.clear();
      }
      next.upper_ids.clear();
      next.upper.reset();
    }
    rows += static_cast<int64_t>(batch.count() - before);
    ++pages;
    cursor = next;
    if (!has_more || batch.count() >= options.commit_rows || batch.bytes() >= kTxnCommitBytes ||
        std::chrono::steady_clock::now() - last_commit >= kTxnCommitInterval) {
      Status committed = committer.submit("transaction", batch, state_key, state(), std::move(events));
      events.clear();
      if (!committed.isOk()) return withContext(committed, "transactions: storing pages");
      ++commits;
      last_commit = std::chrono::steady_clock::now();
    }
    if (!has_more) break;
  }
  Status stored = committer.finish();
  if (!stored.isOk()) return withContext(stored, "transactions: storing pages");
  Json result = {{"pages", pages},
                 {"rows", rows},
                 {"mode", since      ? "since"
                          : backfill ? "backfill"
                                     : "incremental"},
                 {"resumed", resumed},
                 {"full", full},
                 {"commits", commits},
                 {"high_watermark", cursor.high_watermark},
                 {"invoice_lookups", invoices.lookups()},
                 {"announced", announced}};
  if (since) {
    result["since"] = *since;
    result.erase("high_watermark");  // a since pass leaves the cursor alone
  }
  call.info("stripe transactions synced", result.dump());
  return call.setResult(result.dump());
}

// ---- reconcile_events -----------------------------------------------------------------------------------

// Feeds one page of events (newest first, as Stripe lists them) into the inbox, oldest first.
Status ingestPage(const Call& call, const Json& data, int64_t& ingested, int64_t& duplicates) {
  for (auto it = data.rbegin(); it != data.rend(); ++it) {
    const Json& event = *it;
    const std::string id = str(event, "id");
    if (id.empty()) continue;
    Json meta = {{"event_id", id}, {"type", str(event, "type")}, {"occurred_at", integer(event, "created")}};
    const std::string object_id = idOf(member(member(event, "data"), "object"));
    if (!object_id.empty()) meta["object_id"] = object_id;
    auto duplicate = call.ingestEvent(meta.dump(), event.dump());
    if (!duplicate) return withContext(duplicate.status(), "reconcile_events: ingesting " + id);
    ++(*duplicate ? duplicates : ingested);
  }
  return Status::ok();
}

// State: forward mode {"last_id","last_created"}: walk newer events with ending_before=last_id. Before the
// first complete scan (or when last_id expired): {"scan":{"since","top_id","top_created","starting_after"}}
// lists events with created >= since newest first with starting_after, then switches to forward mode at the
// newest event seen when the scan began.
Status runReconcileEvents(Call& call, const Client& client, std::string_view params_json) {
  const bool full = paramFull(params_json);
  Json state;
  if (!full) {
    auto stored = loadState(call, "events");
    if (!stored) return withContext(stored.status(), "reconcile_events: reading the cursor");
    state = *stored;
  }
  const int64_t window_start = nowSeconds() - kEventRetentionS;
  int64_t pages = 0, rows = 0, ingested = 0, duplicates = 0;
  auto put = [&](const Json& value) { return call.putState("events", value.dump()); };

  std::string last_id = str(state, "last_id");
  int64_t last_created = integer(state, "last_created", window_start);
  bool expired = false;
  if (!last_id.empty()) {
    for (;;) {
      Form query;
      query.add("limit", 100).add("ending_before", last_id);
      auto page = client.get("/v1/events", query, "/v1/events");
      if (!page) {
        // The cursor event fell out of Stripe's 30-day window (or was never there): rescan by time.
        if (page.status().message().find("resource_missing") != std::string::npos) {
          expired = true;
          break;
        }
        return withContext(page.status(), "reconcile_events: page " + std::to_string(pages + 1));
      }
      const Json& data = member(*page, "data");
      ++pages;
      if (!data.is_array() || data.empty()) break;
      rows += static_cast<int64_t>(data.size());
      if (Status s = ingestPage(call, data, ingested, duplicates); !s.isOk()) return s;
      last_id = str(data.front(), "id");
      last_created = integer(data.front(), "created", last_created);
      if (Status s = put({{"last_id", last_id}, {"last_created", last_created}}); !s.isOk())
        return withContext(s, "reconcile_events: storing the cursor");
      if (!page->value("has_more", false)) break;
    }
    if (!expired) {
      const Json result = {{"pages", pages},           {"rows", rows},      {"ingested", ingested},
                           {"duplicates", duplicates}, {"mode", "forward"}, {"last_event", last_id}};
      call.info("stripe events reconciled", result.dump());
      return call.setResult(result.dump());
    }
  }

  // Scan by time (first run, --full, or an expired cursor).
  Json scan = member(state, "scan");
  if (!scan.is_object() || expired || full) {
    scan = {{"since", std::max(window_start, expired ? last_created : window_start)},
            {"top_id", ""},
            {"top_created", 0},
            {"starting_after", ""}};
  }
  for (;;) {
    Form query;
    query.add("limit", 100).add("created[gte]", integer(scan, "since", window_start));
    if (!str(scan, "starting_after").empty()) query.add("starting_after", str(scan, "starting_after"));
    auto page = client.get("/v1/events", query, "/v1/events");
    if (!page) return withContext(page.status(), "reconcile_events: page " + std::to_string(pages + 1));
    const Json& data = member(*page, "data");
    ++pages;
    if (!data.is_array()) return Status::provider("reconcile_events: Stripe answered a list without data");
    if (str(scan, "top_id").empty() && !data.empty()) {
      scan["top_id"] = str(data.front(), "id");
      scan["top_created"] = integer(data.front(), "created");
    }
    rows += static_cast<int64_t>(data.size());
    if (Status s = ingestPage(call, data, ingested, duplicates); !s.isOk()) return s;
    const bool has_more = page->value("has_more", false) && !data.empty();
    Json next;
    if (has_more) {
      scan["starting_after"] = str(data.back(), "id");
      next = {{"scan", scan}};
    } else if (!str(scan, "top_id").empty()) {
      next = {{"last_id", scan["top_id"]}, {"last_created", scan["top_created"]}};
    } else {
      next = Json::object();  // no events in the window yet: the next run scans again
    }
    if (Status s = put(next); !s.isOk()) return withContext(s, "reconcile_events: storing the cursor");
    if (!has_more) {
      last_id = str(next, "last_id");
      break;
    }
  }
  const Json result = {{"pages", pages},           {"rows", rows},   {"ingested", ingested},
                       {"duplicates", duplicates}, {"mode", "scan"}, {"last_event", last_id}};
  call.info("stripe events reconciled", result.dump());
  return call.setResult(result.dump());
}

}  // namespace

bool isSyncJob(std::string_view job) {
  return job == "catalog" || job == "transactions" || job == "reconcile_events";
}

Status runSyncJob(Call& call, const Client& client, std::string_view job, std::string_view params_json,
                  const SyncOptions& options) {
  if (options.emit_sync_started && isSyncJob(job)) {
    const Json params = parseJson(params_json);
    Json data = {{"job", std::string(job)},
                 {"run_id", member(params, "run_id")},
                 {"trigger", member(params, "trigger")},
                 {"full", params.is_object() && params.value("full", false)},
                 {"since", member(params, "since")},
                 {"account", client.account().empty() ? Json() : Json(client.account())}};
    // Keyed by the run: a job the host retries within the same run announces itself once.
    const std::string key = member(params, "run_id").is_number_integer()
                                ? "stripe.sync.started:" + std::to_string(params["run_id"].get<int64_t>())
                                : std::string();
    Status emitted = key.empty() ? call.emit("stripe.sync.started", data.dump())
                                 : emitOnce(call, "stripe.sync.started", data.dump(), key);
    if (!emitted.isOk()) return withContext(emitted, "emitting stripe.sync.started");
  }
  if (job == "catalog") return runCatalog(call, client, params_json);
  if (job == "transactions") return runTransactions(call, client, params_json, options);
  if (job == "reconcile_events") return runReconcileEvents(call, client, params_json);
  return Status::notFound("no such job: " + std::string(job) +
                          " (known: catalog, transactions, reconcile_events)");
}

}  // namespace ih::stripe
