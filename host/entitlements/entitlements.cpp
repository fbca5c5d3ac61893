#include "entitlements/entitlements.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/json_parse.h"
#include "log/log.h"

namespace ih::entitlements {

using nlohmann::json;
using store::EntitlementRow;

std::string Rule::canonical() const {
  json active_list = json::array();
  for (const std::string& a : active)
    active_list.push_back(a);
  return json({{"customer", customer},
               {"key", key},
               {"status", status},
               {"active", active_list},
               {"expires", expires}})
      .dump();
}

namespace {

// A data member as a string of 1-kMaxCustomerBytes bytes, or empty.
std::string textMember(const json& data, const std::string& name) {
  auto it = data.find(name);
  if (it == data.end() || !it->is_string()) return {};
  const std::string& v = it->get_ref<const std::string&>();
  return v.size() <= kMaxCustomerBytes ? v : std::string();
}

bool rowOrder(const EntitlementRow& a, const EntitlementRow& b) {
  return std::tie(a.key, a.integration_id, a.model, a.record_id) <
         std::tie(b.key, b.integration_id, b.model, b.record_id);
}

json rowJson(const EntitlementRow& r) {
  return {{"key", r.key},
          {"status", r.status},
          {"integration", r.integration_id},
          {"model", r.model},
          {"record_id", r.record_id},
          {"expires_at", r.expires_at ? json(*r.expires_at) : json(nullptr)},
          {"updated_at", r.updated_at}};
}

std::vector<std::string> keysOf(const std::vector<EntitlementRow>& rows) {
  std::set<std::string> keys;
  for (const auto& r : rows)
    keys.insert(r.key);
  return {keys.begin(), keys.end()};
}

}  // namespace

std::string listJson(std::string_view customer, const std::vector<EntitlementRow>& rows) {
  json data = json::array();
  for (const auto& r : rows)
    data.push_back(rowJson(r));
  return dumpJson({{"object", "list"}, {"customer", customer}, {"keys", keysOf(rows)}, {"data", data}});
}

std::optional<EntitlementRow> deriveRow(const Rule& rule, const store::Record& record) {
  if (record.deleted) return std::nullopt;
  // Records were validated as JSON objects on the way in; depth-bounded parse all the same.
  const json data = parseJsonOrDiscarded(record.data_json);
  if (!data.is_object()) return std::nullopt;
  const std::string status = textMember(data, rule.status);
  if (status.empty() || std::find(rule.active.begin(), rule.active.end(), status) == rule.active.end())
    return std::nullopt;
  EntitlementRow row;
  row.customer = textMember(data, rule.customer);
  row.key = textMember(data, rule.key);
  if (row.customer.empty() || row.key.empty()) return std::nullopt;
  row.integration_id = rule.integration_id;
  row.model = rule.model;
  row.record_id = record.id;
  row.status = status;
  if (!rule.expires.empty()) {
    auto it = data.find(rule.expires);
    if (it != data.end() && it->is_number_integer()) row.expires_at = it->get<int64_t>();
  }
  row.updated_at = record.updated_at;
  return row;
}

Entitlements::Entitlements(store::RecordStore& records, store::EntitlementStore& view,
                           sinks::EventSink* events, std::vector<Rule> rules, Options options)
    : records_(records), view_(view), events_(events), rules_(std::move(rules)), options_(options) {}

Entitlements::~Entitlements() {
  stop();
}

void Entitlements::start() {
  if (rules_.empty() || worker_.joinable()) return;
  worker_ = std::thread([this] { run(); });
}

void Entitlements::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Entitlements::run() {
  // While passes keep failing (e.g. the database is unavailable), one warning a minute, not one per pass.
  constexpr auto kWarnEvery = std::chrono::minutes(1);
  std::optional<std::chrono::steady_clock::time_point> last_warned;
  int64_t failed_since_warned = 0;
  auto failed = [&](const std::string& error) {
    const auto now = std::chrono::steady_clock::now();
    ++failed_since_warned;
    if (last_warned && now - *last_warned < kWarnEvery) return;
    log::warn("entitlements: catching up failed, retrying",
              {{"error", error}, {"failed_passes", failed_since_warned}});
    last_warned = now;
    failed_since_warned = 0;
  };
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    try {
      if (Status s = catchUpAll(); !s.isOk()) {
        failed(s.message());
      } else if (last_warned) {
        log::info("entitlements: catching up works again");
        last_warned.reset();
        failed_since_warned = 0;
      }
    } catch (const std::exception& e) {  // a thread entry point: nothing escapes
      failed(e.what());
    } catch (...) {
      failed("unknown exception");
    }
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms), [this] { return stopping_; });
  }
}

Status Entitlements::catchUpAll() {
  if (rules_.empty()) return Status::ok();
  auto sequences = view_.recordSequences();
  if (!sequences.isOk()) return sequences.status();
  std::lock_guard<std::mutex> pass(pass_mu_);
  Status first_error = Status::ok();
  for (const auto& [tenant, seq] : *sequences) {
    auto it = seen_.find(tenant);
    if (it != seen_.end() && it->second >= seq) continue;
    Status s = Status::ok();
    for (const Rule& rule : rules_) {
      s = catchUpRule(tenant, rule);
      if (!s.isOk()) break;
    }
    if (s.isOk()) {
      seen_[tenant] = seq;
    } else if (first_error.isOk()) {
      first_error = s;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
  }
  return first_error;
}

Status Entitlements::catchUp(std::string_view tenant_id) {
  std::lock_guard<std::mutex> pass(pass_mu_);
  for (const Rule& rule : rules_)
    if (Status s = catchUpRule(tenant_id, rule); !s.isOk()) return s;
  return Status::ok();
}

Status Entitlements::catchUpRule(std::string_view tenant_id, const Rule& rule) {
  auto cursor = view_.cursor(tenant_id, rule.integration_id, rule.model);
  if (!cursor.isOk()) return cursor.status();
  const std::string mapping = rule.canonical();
  // A new or changed mapping: visit every record again from the start.
  int64_t after = cursor->mapping == mapping ? cursor->last_seq : 0;
  for (;;) {
    auto changes = records_.listChanges(tenant_id, rule.integration_id, rule.model, after, options_.batch);
    if (!changes.isOk()) return changes.status();
    if (changes->empty()) {
      // Nothing to read, but a changed mapping still has to be recorded (an empty model).
      if (cursor->mapping != mapping)
        return view_.apply(tenant_id, rule.integration_id, rule.model, {}, {}, mapping, after);
      return Status::ok();
    }
    const int64_t last_seq = changes->back().seq;

    std::vector<std::string> ids;
    ids.reserve(changes->size());
    for (const auto& r : *changes)
      ids.push_back(r.id);
    auto stored = view_.forRecords(tenant_id, rule.integration_id, rule.model, ids);
    if (!stored.isOk()) return stored.status();
    std::map<std::string, EntitlementRow> old_rows;
    for (auto& r : *stored)
      old_rows.emplace(r.record_id, std::move(r));

    std::vector<std::string> removed;
    std::vector<EntitlementRow> upserts;
    std::set<std::string> changed_ids;
    std::set<std::string> customers;
    for (const auto& record : *changes) {
      std::optional<EntitlementRow> now = deriveRow(rule, record);
      auto old = old_rows.find(record.id);
      const bool had = old != old_rows.end();
      if (had && now && *now == old->second) continue;
      if (!had && !now) continue;
      changed_ids.insert(record.id);
      if (had) customers.insert(old->second.customer);
      if (now) {
        customers.insert(now->customer);
        upserts.push_back(std::move(*now));
      } else {
        removed.push_back(record.id);
      }
    }

    // Events first, each with a key naming this step, then the view and the cursor: a crash in between
    // repeats the same step after a restart, whose events are already stored (deduplicated).
    for (const std::string& customer : customers) {
      auto before = view_.forCustomer(tenant_id, customer, options_.max_per_customer);
      if (!before.isOk()) return before.status();
      std::vector<EntitlementRow> after_rows;
      for (const auto& r : *before) {
        const bool replaced = r.integration_id == rule.integration_id && r.model == rule.model &&
                              changed_ids.count(r.record_id) > 0;
        if (!replaced) after_rows.push_back(r);
      }
      for (const auto& r : upserts)
        if (r.customer == customer) after_rows.push_back(r);
      std::sort(after_rows.begin(), after_rows.end(), rowOrder);
      if (after_rows == *before || events_ == nullptr) continue;
      const std::vector<std::string> old_keys = keysOf(*before), new_keys = keysOf(after_rows);
      json added = json::array(), lost = json::array(), data = json::array();
      std::set_difference(new_keys.begin(), new_keys.end(), old_keys.begin(), old_keys.end(),
                          std::back_inserter(added));
      std::set_difference(old_keys.begin(), old_keys.end(), new_keys.begin(), new_keys.end(),
                          std::back_inserter(lost));
      for (const auto& r : after_rows)
        data.push_back(rowJson(r));
      const json event = {{"customer", customer},
                          {"keys", new_keys},
                          {"added", added},
                          {"removed", lost},
                          {"entitlements", data}};
      const std::string dedupe = "entitlements:" + rule.integration_id + ":" + rule.model + ":" +
                                 std::to_string(last_seq) + ":" + customer;
      if (Status s =
              events_->emit(tenant_id, rule.integration_id, kChangedEvent, dumpJson(event), dedupe, nullptr);
          !s.isOk())
        return s;
    }
    if (Status s =
            view_.apply(tenant_id, rule.integration_id, rule.model, removed, upserts, mapping, last_seq);
        !s.isOk())
      return s;
    cursor->mapping = mapping;
    after = last_seq;
    if (changes->size() < options_.batch) return Status::ok();
  }
}

Result<std::vector<EntitlementRow>> Entitlements::forCustomer(std::string_view tenant_id,
                                                              std::string_view customer) {
  if (Status s = catchUp(tenant_id); !s.isOk()) return s;
  return view_.forCustomer(tenant_id, customer, options_.max_per_customer);
}

}  // namespace ih::entitlements
