// Normalized events: plugins and the host emit them (EventSink), they are persisted with a monotonically
// increasing id, then fanned out to the tenant's live subscribers. Tenants read them by polling
// (GET /api/events) or as Server-Sent Events (GET /api/events/stream). Envelope and types: docs/events.md.
//
// The fan-out (Subscription) knows nothing about HTTP: the SSE route (routes.cpp) drives every open stream
// from one thread with Subscription::setNotify + take() and pushes frames into http::StreamChannel.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/sinks.h"
#include "common/status.h"
#include "store/event_feed.h"
#include "store/event_store.h"

namespace ih::http {
class Server;
}
namespace ih::tenancy {
class Tenancy;
}

namespace ih::events {

struct Event {
  int64_t id = 0;
  std::string tenant_id;
  std::string integration_id;  // empty: the envelope says "integration":null
  std::string type;
  int64_t occurred_at = 0;  // unix ms
  std::string data_json;    // compact JSON object
  std::string envelope;     // {"id":"<id>","type","tenant","integration","occurred_at":"<ISO8601>","data"}
};

// Builds the event (and its envelope) from a stored row.
Event fromRow(store::EventRow row);

struct Options {
  std::chrono::milliseconds keepalive_interval{15000};  // SSE ": keep-alive" comment after this much silence
  // An open SSE stream's credentials are checked again this often; it ends when they no longer grant "read"
  // on its tenant (key revoked, tenant gone).
  std::chrono::milliseconds stream_reauth_interval{5000};
  size_t max_streams = 10000;  // live SSE streams, all tenants (each costs a socket and a queue, no thread)
  size_t max_streams_per_tenant = 100;
  size_t subscriber_queue_limit = 1000;  // beyond it a subscriber is marked lagged and re-reads the store
  size_t replay_page = 200;              // events read from the store per backlog step
};

// One live subscriber to one tenant's events whose type starts with a prefix. Created by Events::subscribe;
// destroying it unsubscribes. Thread-safe.
class Subscription {
 public:
  enum class State {
    kOpen,    // `out` holds whatever was queued (maybe nothing)
    kLagged,  // events were dropped: re-read the store after the last id delivered, then take() again
    kClosed,  // the host is stopping: end the stream
  };
  // Moves the queued events (id order, filtered) into `out`.
  State take(std::vector<std::shared_ptr<const Event>>& out);
  // Blocks until something is queued, the subscription lags or closes, or `deadline` passes.
  void waitUntil(std::chrono::steady_clock::time_point deadline);
  // For non-blocking transports: `notify` runs on the publishing thread (the store's writer) after an event
  // was queued or on close. It must be quick and must not call back into this subscription under a lock.
  void setNotify(std::function<void()> notify);

  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  struct Shared;  // queue + condition variable, shared with the hub
  explicit Subscription(std::shared_ptr<Shared> shared);

 private:
  const std::shared_ptr<Shared> shared_;
};

// Thread-safe. Destroy before the Store, and after the HTTP server that serves its routes.
class Events final : public sinks::EventSink {
 public:
  // `store` is borrowed and must outlive this object.
  explicit Events(store::Store& store, Options options = {});
  ~Events() override;  // stop()
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;

  // Validates (`type`: dot-separated segments of [A-Za-z0-9_-], at most 100 chars; `data_json`: a JSON
  // object, empty meaning {}), persists, then hands the event to live subscribers in id order. Returns after
  // commit. kInvalidArgument with the reason for bad input. With a `dedupe_key` already stored for the
  // tenant: stores and publishes nothing, and succeeds. With `deferred` set: returns once validated and
  // queued; a failure to store reaches the group (sinks::WriteGroup) and the log.
  Status emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
              std::string_view data_json, std::string_view dedupe_key,
              const sinks::Deferred& deferred) override;
  Status emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
              std::string_view data_json, std::string_view dedupe_key) {
    return emit(tenant_id, integration_id, type, data_json, dedupe_key, nullptr);
  }
  // The same without a dedupe key (the host's own events).
  Status emit(std::string_view tenant_id, std::string_view integration_id, std::string_view type,
              std::string_view data_json) {
    return emit(tenant_id, integration_id, type, data_json, {}, nullptr);
  }

  // Stored events after `after_id` (types starting with `type_prefix` when non-empty), oldest first.
  Result<std::vector<Event>> list(std::string_view tenant_id, int64_t after_id, std::string_view type_prefix,
                                  size_t limit);
  Result<int64_t> lastId(std::string_view tenant_id);

  // A live subscription for the tenant. kUnavailable after stop() or when Options::max_streams is reached;
  // kRateLimited when the tenant holds max_streams_per_tenant.
  Result<std::unique_ptr<Subscription>> subscribe(std::string_view tenant_id, std::string_view type_prefix);

  // Closes every subscription (waking blocked streams at once) and refuses new ones. Idempotent. Call it
  // BEFORE http::Server::stop(): the server joins its workers, and an SSE stream only ends when woken.
  void stop();
  bool stopped() const;
  const Options& options() const { return options_; }
  store::EventStore& eventStore() { return store_; }

  struct Hub;  // private to host/events (events/hub.h)

 private:
  // PostgreSQL: the events of every replica reach this one's subscribers through the table (feedLoop).
  void feedLoop();

  const Options options_;
  const std::shared_ptr<Hub> hub_;
  store::EventStore store_;
  // Set on PostgreSQL: subscribers are fed from the table after each NOTIFY (every replica's events, in id
  // order), not from this process's commits.
  std::unique_ptr<store::EventFeed> feed_;
  std::atomic<bool> feed_stopping_{false};
  int64_t feed_cursor_ = 0;  // the last event id published by the feed
  std::thread feed_thread_;
};

// GET /api/events?after=<id>&limit=<1..500, default 100>&type=<prefix>
//   → {"object":"list","data":[envelope...],"next_after":"<id>","has_more":bool}
// GET /api/events/stream[?after=<id>][&type=<prefix>]  (Last-Event-ID header wins over ?after=)
//   → text/event-stream: backlog after the cursor, then live events; "id:", "event:" and "data:" lines per
//     event; ": keep-alive" comments when idle. Without a cursor: only events newer than the connection.
//     429 too_many_streams when the tenant holds Options::max_streams_per_tenant streams, 503 when the host
//     holds max_streams (both with Retry-After). The caller's credentials are checked again every
//     Options::stream_reauth_interval: the stream ends (after a ": stream closed: …" comment) once they no
//     longer authenticate or lack the "read" scope.
// Both need the "read" scope and only see the caller's tenant. Borrowed references must outlive the server.
void registerRoutes(http::Server& server, tenancy::Tenancy& tenancy, Events& events);

}  // namespace ih::events
