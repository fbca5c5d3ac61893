#include "events/events.h"
#include "common/clock.h"
#include "common/json_parse.h"
#include "common/json_scan.h"
#include "common/time_text.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <future>
#include <utility>

#include "events/hub.h"
#include "http/server.h"
#include "log/guard.h"
#include "log/log.h"

namespace ih::events {
namespace {

using nlohmann::json;

constexpr size_t kMaxTypeLength = 100;

Status checkType(std::string_view type) {
  bool ok = !type.empty() && type.size() <= kMaxTypeLength && type.front() != '.' && type.back() != '.';
  for (size_t i = 0; ok && i < type.size(); ++i) {
    const char c = type[i];
    if (c == '.') {
      ok = type[i - 1] != '.';
    } else {
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    }
  }
  if (ok) return Status::ok();
  return Status::invalidArgument("event type \"" + std::string(type.substr(0, kMaxTypeLength)) +
                                 "\" is invalid: use dot-separated segments of [A-Za-z0-9_-] (at most " +
                                 std::to_string(kMaxTypeLength) + " characters), e.g. \"invoice.paid\"");
}

}  // namespace

Event fromRow(store::EventRow row) {
  Event e;
  e.id = row.id;
  e.tenant_id = std::move(row.tenant_id);
  e.integration_id = std::move(row.integration_id);
  e.type = std::move(row.type);
  e.occurred_at = row.occurred_at;
  e.data_json = row.data_json.empty() ? std::string("{}") : std::move(row.data_json);
  // Hand-built so the stored data is embedded as is (it was validated and compacted on emit).
  std::string& env = e.envelope;
  env.reserve(e.data_json.size() + e.type.size() + e.tenant_id.size() + e.integration_id.size() + 120);
  env += "{\"id\":\"";
  env += std::to_string(e.id);
  env += "\",\"type\":";
  env += http::jsonQuote(e.type);
  env += ",\"tenant\":";
  env += http::jsonQuote(e.tenant_id);
  env += ",\"integration\":";
  env += e.integration_id.empty() ? std::string("null") : http::jsonQuote(e.integration_id);
  env += ",\"occurred_at\":\"";
  env += isoTimeMillis(e.occurred_at);
  env += "\",\"data\":";
  env += e.data_json;
  env += '}';
  return e;
}

Events::Events(store::Store& store, Options options)
    : options_(std::move(options)), hub_(std::make_shared<Hub>()), store_(store) {
  auto feed = store::EventFeed::open(store);
  if (!feed.isOk()) {
    log::error("events: cannot listen for other replicas' events; streams show this replica's only",
               {{"error", feed.status().message()}});
  } else if (*feed) {
    feed_ = std::move(*feed);
    // The cursor starts at the newest event now, before this returns: every event emitted after the
    // constructor is published (one read by the thread later could skip the first ones).
    auto last = store_.lastIdOfAll();
    if (!last.isOk()) {
      log::error("events: cannot read the newest event id; streams show this replica's events only",
                 {{"error", last.status().message()}});
      feed_.reset();
      return;
    }
    feed_cursor_ = *last;
    feed_thread_ = std::thread([this] {
      log::runGuarded(
          "events feed", [this] { feedLoop(); },
          [this](std::chrono::milliseconds pause) {
            std::this_thread::sleep_for(pause);
            return feed_stopping_.load();
          },
          std::chrono::milliseconds(200));
    });
  }
}

void Events::feedLoop() {
  int64_t& cursor = feed_cursor_;  // this thread's alone once started
  auto read_at = std::chrono::steady_clock::now();
  while (!feed_stopping_.load()) {
    // A notification, or every 2 s anyway (one lost while the feed reconnected must not stall a stream).
    const bool notified = feed_->wait(200);
    if (!notified && std::chrono::steady_clock::now() - read_at < std::chrono::seconds(2)) continue;
    read_at = std::chrono::steady_clock::now();
    for (;;) {
      auto rows = store_.listAll(cursor, 500);
      if (!rows.isOk()) {
        log::warn("events feed: reading new events failed", {{"error", rows.status().message()}});
        break;
      }
      for (store::EventRow& row : *rows) {
        cursor = row.id;
        hub_->publish(std::make_shared<const Event>(fromRow(std::move(row))));
      }
      if (rows->size() < 500) break;
    }
  }
}

Events::~Events() {
  stop();
  feed_stopping_ = true;
  if (feed_thread_.joinable()) feed_thread_.join();
}

Status Events::emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
                    std::string_view data_json, std::string_view dedupe_key,
                    const sinks::Deferred& deferred) {
  if (tenant_id.empty()) return Status::invalidArgument("an event needs a tenant");
  if (Status st = checkType(type); !st.isOk()) return st;
  store::EventRow row;
  if (data_json.empty()) {
    row.data_json = "{}";
  } else {
    // Validated and compacted without a DOM (parsing and serializing again was ~3 % of a webhook's CPU); keys
    // keep the emitter's order.
    if (Status st = checkJsonObject(data_json, "event data"); !st.isOk()) return st;
    row.data_json = compactJson(data_json);
  }
  row.tenant_id = std::string(tenant_id);
  row.integration_id = std::string(integration_id);
  row.type = std::string(type);
  row.occurred_at = nowMs();
  row.dedupe_key = std::string(dedupe_key);

  // Publishing from the store's completion callback keeps fan-out in id order: completions run on the writer
  // thread in commit order, and ids are assigned in that same order.
  std::weak_ptr<Hub> hub = hub_;
  const bool feed = feed_ != nullptr;
  if (deferred) {
    store_.appendAsync(
        tenant_id, std::move(row),
        [hub, feed, tenant = std::string(tenant_id),
         type = std::string(type)](Result<store::EventRow> appended) {
          if (!appended.isOk()) {
            log::warn("event not stored",
                      {{"tenant", tenant}, {"type", type}, {"error", appended.status().message()}});
            return;
          }
          if (appended->id == 0) return;  // deduplicated: stored before, published then
          if (feed) return;               // published by the feed, with every replica's events
          if (auto h = hub.lock())
            h->publish(std::make_shared<const Event>(fromRow(std::move(appended).value())));
        },
        deferred);
    return Status::ok();
  }
  // The callback owns the promise too: the emitter may return (and drop its side) the moment it is set.
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> done = promise->get_future();
  store_.appendAsync(tenant_id, std::move(row), [promise, hub, feed](Result<store::EventRow> appended) {
    if (!appended.isOk()) {
      promise->set_value(appended.status());
      return;
    }
    if (appended->id == 0) {  // deduplicated: stored before, published then
      promise->set_value(Status::ok());
      return;
    }
    if (auto h = hub.lock(); h && !feed) {
      h->publish(std::make_shared<const Event>(fromRow(std::move(appended).value())));
    }
    promise->set_value(Status::ok());
  });
  Status st = done.get();
  if (!st.isOk()) {
    log::warn("event not stored", {{"tenant", tenant_id}, {"type", type}, {"error", st.message()}});
  }
  return st;
}

Result<std::vector<Event>> Events::list(std::string_view tenant_id, int64_t after_id,
                                        std::string_view type_prefix, size_t limit) {
  auto rows = store_.list(tenant_id, after_id, type_prefix, limit);
  if (!rows.isOk()) return rows.status();
  std::vector<Event> out;
  out.reserve(rows->size());
  for (auto& row : *rows)
    out.push_back(fromRow(std::move(row)));
  return out;
}

Result<int64_t> Events::lastId(std::string_view tenant_id) {
  return store_.lastId(tenant_id);
}

Result<std::unique_ptr<Subscription>> Events::subscribe(std::string_view tenant_id,
                                                        std::string_view type_prefix) {
  return hub_->add(hub_, tenant_id, type_prefix, options_);
}

void Events::stop() {
  hub_->stop();
}

bool Events::stopped() const {
  return hub_->isStopping();
}

}  // namespace ih::events
