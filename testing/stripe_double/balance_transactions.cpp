// Fakes Stripe's Balance Transaction resource: GET /v1/balance_transactions (list) and
// GET /v1/balance_transactions/{id}. A compact store (one ~64-byte row per transaction, JSON rendered on demand)
// lets a million seeded rows fit in ~150 MB and page in O(log n) per cursor lookup. REQUIRES Impl::mu held.
#include <algorithm>
#include <climits>
#include <cstring>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace {

const char* kTypeNames[] = {"charge", "refund", "adjustment", "payout"};

constexpr int64_t kAvailableAfter = 2 * 86400;  // test-mode funds become available after ~2 days

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

uint8_t TxnStore::currencyIndex(const std::string& currency) {
  for (size_t i = 0; i < currencies_.size(); ++i)
    if (currencies_[i] == currency) return static_cast<uint8_t>(i);
  currencies_.push_back(currency);
  return static_cast<uint8_t>(currencies_.size() - 1);
}

void TxnStore::append(TxnRow&& row) {
  const uint32_t seq = static_cast<uint32_t>(rows_.size());
  rows_.push_back(row);
  const TxnRow& stored = rows_.back();
  row_seq_.emplace(std::string_view(stored.tail, sizeof stored.tail), seq);
  if (!order_.empty()) {
    const TxnRow& last = rows_[order_.back()];
    if (stored.created < last.created) sorted_ = false;
  }
  order_.push_back(seq);
}

std::string TxnStore::add(int64_t created, int64_t amount, int64_t fee, TxnType type,
                          const std::string& currency, std::string source, std::string description) {
  TxnRow row;
  row.created = created;
  row.amount = amount;
  row.fee = fee;
  row.type = type;
  row.currency = currencyIndex(currency);
  row.extra = static_cast<uint32_t>(extras_.size());
  extras_.push_back({std::move(source), std::move(description)});
  std::string tail;
  do
    tail = detail::randomTail(sizeof row.tail);
  while (row_seq_.count(tail));
  std::memcpy(row.tail, tail.data(), sizeof row.tail);
  append(std::move(row));
  return "txn_" + tail;
}

void TxnStore::seed(int64_t count, int64_t start, int64_t spacing, int64_t amount, uint64_t rng_seed) {
  static const char* alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  row_seq_.reserve(rows_.size() + static_cast<size_t>(count));
  order_.reserve(rows_.size() + static_cast<size_t>(count));
  const uint8_t usd = currencyIndex("usd");
  const int64_t fee = (amount * 29 + 500) / 1000 + 30;
  uint64_t state = rng_seed;
  for (int64_t i = 0; i < count; ++i) {
    TxnRow row;
    row.created = start + i * spacing;
    row.amount = amount;
    row.fee = fee;
    row.type = kTxnCharge;
    row.currency = usd;
    for (;;) {
      uint64_t a = splitmix(state), b = splitmix(state);
      for (size_t k = 0; k < 12; ++k) {
        row.tail[k] = alphabet[a % 62];
        a /= 62;
        row.tail[12 + k] = alphabet[b % 62];
        b /= 62;
      }
      if (!row_seq_.count(std::string_view(row.tail, sizeof row.tail))) break;
    }
    append(std::move(row));
  }
}

const TxnRow* TxnStore::find(std::string_view tail) const {
  auto it = row_seq_.find(tail);
  return it == row_seq_.end() ? nullptr : &rows_[it->second];
}

std::string TxnStore::source(const TxnRow& row) const {
  if (row.extra != UINT32_MAX) return extras_[row.extra].source;
  return "ch_" + std::string(row.tail, sizeof row.tail);
}

json TxnStore::render(const TxnRow& row, int64_t now) const {
  const std::string& cur = currencies_[row.currency];
  json fee_details = json::array();
  if (row.fee != 0)
    fee_details.push_back({{"amount", row.fee},
                           {"application", nullptr},
                           {"currency", cur},
                           {"description", "Stripe processing fees"},
                           {"type", "stripe_fee"}});
  const int64_t available_on = row.created + kAvailableAfter;
  std::string description = row.extra != UINT32_MAX ? extras_[row.extra].description : "Synthetic charge";
  return {{"id", id(row)},
          {"object", "balance_transaction"},
          {"amount", row.amount},
          {"available_on", available_on},
          {"balance_type", "payments"},
          {"created", row.created},
          {"currency", cur},
          {"description", description.empty() ? json(nullptr) : json(description)},
          {"exchange_rate", nullptr},
          {"fee", row.fee},
          {"fee_details", std::move(fee_details)},
          {"net", row.amount - row.fee},
          {"reporting_category", kTypeNames[row.type]},
          {"source", source(row)},
          {"status", available_on <= now ? "available" : "pending"},
          {"type", kTypeNames[row.type]}};
}

void TxnStore::renderText(const TxnRow& row, int64_t now, std::string& out) const {
  const std::string& cur = currencies_[row.currency];
  const int64_t available_on = row.created + kAvailableAfter;
  const std::string description =
      row.extra != UINT32_MAX ? extras_[row.extra].description : "Synthetic charge";
  auto num = [&](int64_t v) { out += std::to_string(v); };
  // Keys in the order nlohmann::json (sorted) would print them, so both paths answer identical bytes.
  out += "{\"amount\":";
  num(row.amount);
  out += ",\"available_on\":";
  num(available_on);
  out += ",\"balance_type\":\"payments\",\"created\":";
  num(row.created);
  out += ",\"currency\":" + json(cur).dump();
  out += ",\"description\":" + (description.empty() ? std::string("null") : json(description).dump());
  out += ",\"exchange_rate\":null,\"fee\":";
  num(row.fee);
  out += ",\"fee_details\":[";
  if (row.fee != 0) {
    out += "{\"amount\":";
    num(row.fee);
    out += ",\"application\":null,\"currency\":" + json(cur).dump() +
           ",\"description\":\"Stripe processing fees\",\"type\":\"stripe_fee\"}";
  }
  out += "],\"id\":\"" + id(row) + "\",\"net\":";
  num(row.amount - row.fee);
  out += ",\"object\":\"balance_transaction\",\"reporting_category\":\"";
  out += kTypeNames[row.type];
  out += "\",\"source\":" + json(source(row)).dump();
  out += ",\"status\":\"";
  out += available_on <= now ? "available" : "pending";
  out += "\",\"type\":\"";
  out += kTypeNames[row.type];
  out += "\"}";
}

void TxnStore::ensureSorted() {
  if (sorted_) return;
  std::stable_sort(order_.begin(), order_.end(), [this](uint32_t a, uint32_t b) {
    return rows_[a].created != rows_[b].created ? rows_[a].created < rows_[b].created : a < b;
  });
  sorted_ = true;
}

size_t TxnStore::positionOf(uint32_t seq) const {
  const TxnRow& target = rows_[seq];
  auto it = std::lower_bound(order_.begin(), order_.end(), seq, [&](uint32_t a, uint32_t) {
    return rows_[a].created != target.created ? rows_[a].created < target.created : a < seq;
  });
  return static_cast<size_t>(it - order_.begin());
}

std::map<std::string, std::pair<int64_t, int64_t>> TxnStore::balance(int64_t now) const {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  for (const TxnRow& row : rows_) {
    auto& b = out[currencies_[row.currency]];
    (row.created + kAvailableAfter <= now ? b.first : b.second) += row.amount - row.fee;
  }
  return out;
}

namespace {

// GET /v1/balance_transactions/{id}
Reply retrieveBalanceTransaction(StripeDouble::Impl& d, Ctx& c) {
  const std::string& id = c.seg[1];
  const TxnRow* row = id.rfind("txn_", 0) == 0 ? c.acct.txns.find(std::string_view(id).substr(4)) : nullptr;
  if (!row) return noSuch("balance transaction", id);
  json obj = c.acct.txns.render(*row, c.now);
  if (c.params.contains("expand")) d.expand(c, obj, c.params["expand"], false);
  return ok(obj);
}

// GET /v1/balance_transactions: newest first, cursors in O(log n) (the list fast path renders text, no DOM).
Reply listBalanceTransactions(StripeDouble::Impl& d, Ctx& c) {
  const json& P = c.params;
  int64_t limit = 10;
  if (P.contains("limit")) {
    auto v = asInt(P["limit"]);
    if (!v)
      return stripeError(400, "invalid_request_error", "parameter_invalid_integer",
                         "Invalid integer: " + (P["limit"].is_string() ? P["limit"].get<std::string>() : ""),
                         "limit");
    if (*v < 1 || *v > 100)
      return invalidParam("limit", *v < 1 ? "This value must be greater than or equal to 1."
                                          : "This value must be less than or equal to 100.");
    limit = *v;
  }
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  if (P.contains("created")) {
    const json& cr = P["created"];
    auto bad = [] {
      return stripeError(400, "invalid_request_error", "parameter_invalid_integer", "Invalid integer",
                         "created");
    };
    if (cr.is_string()) {
      auto v = asInt(cr);
      if (!v) return bad();
      lo = hi = *v;
    } else if (cr.is_object()) {
      for (auto& [op, val] : cr.items()) {
        auto v = asInt(val);
        if (!v) return bad();
        if (op == "gt")
          lo = std::max(lo, *v + 1);
        else if (op == "gte")
          lo = std::max(lo, *v);
        else if (op == "lt")
          hi = std::min(hi, *v - 1);
        else if (op == "lte")
          hi = std::min(hi, *v);
        else
          return bad();
      }
    }
  }
  const std::string type = str(P, "type"), source = str(P, "source"), currency = str(P, "currency");
  if (!type.empty() &&
      std::find(std::begin(kTypeNames), std::end(kTypeNames), type) == std::end(kTypeNames) &&
      type != "payment" && type != "payment_refund" && type != "transfer" && type != "stripe_fee")
    return invalidParam("type", "Invalid type: " + type);
  TxnStore& store = c.acct.txns;
  store.ensureSorted();
  const auto& order = store.order();
  // Window [begin, end) of order_ within the created range (ascending), walked newest first.
  auto cmpLo = [&](uint32_t a, int64_t v) { return store.row(a).created < v; };
  size_t begin = std::lower_bound(order.begin(), order.end(), lo, cmpLo) - order.begin();
  size_t end = hi == INT64_MAX ? order.size()
                               : std::lower_bound(order.begin(), order.end(), hi + 1, cmpLo) - order.begin();
  auto matches = [&](const TxnRow& row) {
    if (!type.empty() && type != kTypeNames[row.type]) return false;
    if (!currency.empty() && currency != store.currency(row)) return false;
    if (!source.empty() && source != store.source(row)) return false;
    return true;
  };
  auto cursorPos = [&](const std::string& id, const char* param, std::optional<Reply>& err) -> size_t {
    const TxnRow* row = id.rfind("txn_", 0) == 0 ? store.find(std::string_view(id).substr(4)) : nullptr;
    if (!row) {
      Reply r = noSuch("balance transaction", id, param);
      r.status = 400;
      err = r;
      return 0;
    }
    return store.positionOf(store.seqOf(row));
  };
  std::vector<const TxnRow*> page;
  bool has_more = false;
  const std::string after = str(P, "starting_after"), before = str(P, "ending_before");
  std::optional<Reply> err;
  if (!before.empty()) {
    size_t pos = cursorPos(before, "ending_before", err);
    if (err) return *err;
    for (size_t i = std::max(pos + 1, begin); i < end; ++i) {
      const TxnRow& row = store.row(order[i]);
      if (!matches(row)) continue;
      if (static_cast<int64_t>(page.size()) == limit) {
        has_more = true;
        break;
      }
      page.push_back(&row);
    }
    std::reverse(page.begin(), page.end());
  } else {
    size_t top = end;
    if (!after.empty()) {
      size_t pos = cursorPos(after, "starting_after", err);
      if (err) return *err;
      top = std::min(top, pos);
    }
    for (size_t i = top; i-- > begin;) {
      const TxnRow& row = store.row(order[i]);
      if (!matches(row)) continue;
      if (static_cast<int64_t>(page.size()) == limit) {
        has_more = true;
        break;
      }
      page.push_back(&row);
    }
  }
  const json expand_params = P.value("expand", json());
  if (expand_params.is_null()) {  // fast path: text rendering, same bytes as the DOM below
    Reply r;
    r.content_type = "application/json";
    r.headers.emplace_back("Cache-Control", "no-cache, no-store");
    r.raw.reserve(page.size() * 560 + 96);
    r.raw = "{\"data\":[";
    for (size_t i = 0; i < page.size(); ++i) {
      if (i) r.raw.push_back(',');
      store.renderText(*page[i], c.now, r.raw);
    }
    r.raw += std::string("],\"has_more\":") + (has_more ? "true" : "false") +
             ",\"object\":\"list\",\"url\":\"/v1/balance_transactions\"}";
    return r;
  }
  json data = json::array();
  for (const TxnRow* row : page) {
    data.push_back(store.render(*row, c.now));
    if (!expand_params.is_null()) d.expand(c, data.back(), expand_params, true);
  }
  return ok({{"object", "list"},
             {"data", std::move(data)},
             {"has_more", has_more},
             {"url", "/v1/balance_transactions"}});
}

// clang-format off
constexpr Route kRoutes[] = {
    {"GET", "balance_transactions", listBalanceTransactions},
    {"GET", "balance_transactions/*", retrieveBalanceTransaction},
};
// clang-format on

}  // namespace

RouteTable balanceTransactionRoutes() {
  return routeTable(kRoutes);
}

}  // namespace ih::stripe_double
