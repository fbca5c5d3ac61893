// Tenant API for events: polling (GET /api/events) and Server-Sent Events (GET /api/events/stream). See
// events.h.
//
// SSE on cpp-httplib: the response's stream producer runs on the server worker that took the request and is
// called again and again until it returns false. Each call does one step (a backlog page, the queued live
// events, or one wait of at most the keep-alive interval on the subscription's condition variable), so an
// idle stream sleeps and Events::stop() ends it at once.
#include <charconv>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "events/events.h"
#include "http/server.h"
#include "log/log.h"
#include "tenancy/http_auth.h"

namespace ih::events {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 500;
constexpr size_t kMaxTypeFilter = 100;

bool parseCount(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && out >= 0;
}

bool typeFilter(const http::Request& req, http::Response& res, std::string& out) {
  out = req.queryValue("type");
  if (out.size() > kMaxTypeFilter) {
    http::setError(res, 400, "invalid_request", "type filter is longer than 100 characters");
    return false;
  }
  return true;
}

void poll(Events& events, const tenancy::Principal& p, const http::Request& req, http::Response& res) {
  int64_t after = 0;
  int64_t limit = static_cast<int64_t>(kDefaultLimit);
  if (req.hasQuery("after") && !parseCount(req.queryValue("after"), after)) {
    return http::setError(res, 400, "invalid_request", "after must be an event id (a non-negative integer)");
  }
  if (req.hasQuery("limit") &&
      (!parseCount(req.queryValue("limit"), limit) || limit < 1 || limit > static_cast<int64_t>(kMaxLimit))) {
    return http::setError(res, 400, "invalid_request",
                          "limit must be an integer between 1 and " + std::to_string(kMaxLimit));
  }
  std::string type;
  if (!typeFilter(req, res, type)) return;
  auto list = events.list(p.tenant_id, after, type, static_cast<size_t>(limit) + 1);
  if (!list.isOk()) return http::setError(res, list.status());
  const bool has_more = list->size() > static_cast<size_t>(limit);
  if (has_more) list->pop_back();
  std::string body = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < list->size(); ++i) {
    if (i) body += ',';
    body += (*list)[i].envelope;
  }
  body += "],\"next_after\":\"";
  body += std::to_string(list->empty() ? after : list->back().id);
  body += has_more ? "\",\"has_more\":true}" : "\",\"has_more\":false}";
  res.json(200, std::move(body));
}

std::string frame(const Event& e) {
  std::string out;
  out.reserve(e.envelope.size() + e.type.size() + 40);
  out += "id: ";
  out += std::to_string(e.id);
  out += "\nevent: ";
  out += e.type;
  out += "\ndata: ";
  out += e.envelope;  // compact JSON: never contains a raw newline
  out += "\n\n";
  return out;
}

// One SSE connection. Used only by the worker thread running the producer.
class Stream {
 public:
  Stream(Events& events, std::unique_ptr<Subscription> subscription, std::string tenant_id, std::string type,
         int64_t cursor)
      : events_(events),
        subscription_(std::move(subscription)),
        tenant_id_(std::move(tenant_id)),
        type_(std::move(type)),
        cursor_(cursor),
        next_keepalive_(Clock::now() + events.options().keepalive_interval) {}

  // One step; false ends the response (client gone, host stopping, store failure).
  bool step(const http::StreamWriter& write) {
    if (!opened_) {
      opened_ = true;
      if (!send(write, "retry: 2000\n: stream open\n\n")) return false;
    }
    if (replaying_) return replay(write);
    std::vector<std::shared_ptr<const Event>> ready;
    switch (subscription_->take(ready)) {
      case Subscription::State::kClosed:
        return false;
      case Subscription::State::kLagged:
        replaying_ = true;  // what was dropped is committed: read it from the store
        return true;
      case Subscription::State::kOpen:
        break;
    }
    if (!ready.empty()) {
      std::string batch;
      for (const auto& e : ready) {
        if (e->id <= cursor_) continue;  // already sent from the backlog
        batch += frame(*e);
        cursor_ = e->id;
      }
      return batch.empty() || send(write, batch);
    }
    if (Clock::now() >= next_keepalive_) return send(write, ": keep-alive\n\n");
    subscription_->waitUntil(next_keepalive_);
    return true;
  }

 private:
  bool replay(const http::StreamWriter& write) {
    const size_t page = events_.options().replay_page;
    auto list = events_.list(tenant_id_, cursor_, type_, page);
    if (!list.isOk()) {
      log::warn("event stream backlog read failed; closing the stream",
                {{"tenant", tenant_id_}, {"error", list.status().message()}});
      return false;
    }
    if (list->size() < page) replaying_ = false;
    if (list->empty()) return true;
    std::string batch;
    for (const auto& e : *list)
      batch += frame(e);
    cursor_ = list->back().id;
    return send(write, batch);
  }

  bool send(const http::StreamWriter& write, const std::string& data) {
    if (events_.stopped()) return false;
    next_keepalive_ = Clock::now() + events_.options().keepalive_interval;
    return write(data.data(), data.size());
  }

  Events& events_;
  const std::unique_ptr<Subscription> subscription_;
  const std::string tenant_id_;
  const std::string type_;
  int64_t cursor_;  // last event id sent (or the starting point)
  Clock::time_point next_keepalive_;
  bool opened_ = false;
  bool replaying_ = true;
};

void stream(Events& events, const tenancy::Principal& p, const http::Request& req, http::Response& res) {
  std::string type;
  if (!typeFilter(req, res, type)) return;
  // Last-Event-ID wins: a reconnecting EventSource repeats the original URL (with its ?after=) plus the
  // header.
  int64_t cursor = -1;
  const std::string last_event_id = req.header("Last-Event-ID");
  if (!last_event_id.empty()) {
    if (!parseCount(last_event_id, cursor)) {
      return http::setError(res, 400, "invalid_request",
                            "Last-Event-ID must be an event id (a non-negative integer)");
    }
  } else if (req.hasQuery("after") && !parseCount(req.queryValue("after"), cursor)) {
    return http::setError(res, 400, "invalid_request", "after must be an event id (a non-negative integer)");
  }
  if (cursor < 0) {
    // No cursor: start at the newest event. Read before subscribing, so anything committed in between is
    // replayed from the store rather than lost.
    auto last = events.lastId(p.tenant_id);
    if (!last.isOk()) return http::setError(res, last.status());
    cursor = *last;
  }
  auto subscription = events.subscribe(p.tenant_id, type);
  if (!subscription.isOk()) {
    if (subscription.status().code() == StatusCode::kRateLimited) {
      res.setHeader("Retry-After", "5");
      return http::setError(res, 503, "too_many_streams", subscription.status().message());
    }
    return http::setError(res, 503, "unavailable", subscription.status().message());
  }
  auto state = std::make_shared<Stream>(events, std::move(subscription).value(), p.tenant_id, type, cursor);
  res.status = 200;
  res.content_type = "text/event-stream";
  res.setHeader("Cache-Control", "no-cache");
  res.setHeader("X-Accel-Buffering", "no");  // reverse proxies: do not buffer the stream
  res.stream = [state](const http::StreamWriter& write) { return state->step(write); };
}

}  // namespace

void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Events& events) {
  server.route("GET", "/api/events",
               tenancy::requireTenant(tenancy, tenancy::kScopeRead,
                                      [&events](const tenancy::Principal& p, const http::Request& req,
                                                http::Response& res) { poll(events, p, req, res); }));
  server.route("GET", "/api/events/stream",
               tenancy::requireTenant(tenancy, tenancy::kScopeRead,
                                      [&events](const tenancy::Principal& p, const http::Request& req,
                                                http::Response& res) { stream(events, p, req, res); }));
}

}  // namespace ih::events
