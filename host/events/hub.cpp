// Fan-out of committed events to live subscribers (transport-independent). Lock order: Hub::mutex, then a
// subscription's Shared::mutex; notify callbacks run with neither held.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include "events/events.h"
#include "events/hub.h"

#include "metrics/metrics.h"

namespace ih::events {

struct Subscription::Shared {
  Shared(std::weak_ptr<Events::Hub> h, std::string t, std::string p, size_t limit)
      : hub(std::move(h)), tenant_id(std::move(t)), type_prefix(std::move(p)), queue_limit(limit) {}

  const std::weak_ptr<Events::Hub> hub;
  const std::string tenant_id;
  const std::string type_prefix;
  const size_t queue_limit;

  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::shared_ptr<const Event>> queue;  // GUARDED_BY(mutex)
  bool lagged = false;                              // GUARDED_BY(mutex)
  bool closed = false;                              // GUARDED_BY(mutex)
  std::function<void()> notify;                     // GUARDED_BY(mutex)

  // Returns the notify callback to run (outside the lock), if any.
  std::function<void()> push(const std::shared_ptr<const Event>& event) {
    std::lock_guard lock(mutex);
    if (closed) return {};
    if (queue.size() >= queue_limit) {
      lagged = true;  // the consumer re-reads the store; everything dropped is committed there
      queue.clear();
    } else {
      queue.push_back(event);
    }
    cv.notify_all();
    return notify;
  }
  std::function<void()> close() {
    std::lock_guard lock(mutex);
    closed = true;
    cv.notify_all();
    return notify;
  }
};

Subscription::Subscription(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

Subscription::~Subscription() {
  if (auto hub = shared_->hub.lock()) hub->remove(shared_);
}

Subscription::State Subscription::take(std::vector<std::shared_ptr<const Event>>& out) {
  std::lock_guard lock(shared_->mutex);
  if (shared_->closed) return State::kClosed;
  if (shared_->lagged) {
    shared_->lagged = false;
    shared_->queue.clear();
    return State::kLagged;
  }
  if (out.empty()) {
    out.swap(shared_->queue);
  } else {
    out.insert(out.end(), shared_->queue.begin(), shared_->queue.end());
    shared_->queue.clear();
  }
  return State::kOpen;
}

void Subscription::waitUntil(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(shared_->mutex);
  shared_->cv.wait_until(lock, deadline,
                         [this] { return !shared_->queue.empty() || shared_->lagged || shared_->closed; });
}

void Subscription::setNotify(std::function<void()> notify) {
  std::lock_guard lock(shared_->mutex);
  shared_->notify = std::move(notify);
}

static metrics::Gauge& openStreamsGauge() {
  static metrics::Gauge& gauge = metrics::registry().gauge(
      "ihost_event_streams_open",
      "Server-Sent Events streams of tenants' events open now (GET /api/events/stream).");
  return gauge;
}

Events::Hub::Hub() {
  (void)openStreamsGauge();
}

Result<std::unique_ptr<Subscription>> Events::Hub::add(const std::shared_ptr<Hub>& self,
                                                       std::string_view tenant_id,
                                                       std::string_view type_prefix, const Options& options) {
  std::lock_guard lock(mutex);
  if (stopping) return Status::unavailable("the host is shutting down");
  if (total >= options.max_streams) {
    return Status::unavailable("the host serves its maximum of " + std::to_string(options.max_streams) +
                               " event streams; poll GET /api/events or retry later");
  }
  auto& list = by_tenant[std::string(tenant_id)];
  if (list.size() >= options.max_streams_per_tenant) {
    return Status(StatusCode::kRateLimited,
                  "this tenant already has " + std::to_string(options.max_streams_per_tenant) +
                      " open event streams (the maximum); close one or poll instead");
  }
  auto shared = std::make_shared<Subscription::Shared>(self, std::string(tenant_id), std::string(type_prefix),
                                                       options.subscriber_queue_limit);
  list.push_back(shared);
  ++total;
  openStreamsGauge().set(static_cast<double>(total));
  return std::make_unique<Subscription>(std::move(shared));
}

void Events::Hub::remove(const std::shared_ptr<Subscription::Shared>& shared) {
  std::lock_guard lock(mutex);
  auto it = by_tenant.find(shared->tenant_id);
  if (it == by_tenant.end()) return;
  auto& list = it->second;
  auto pos = std::find(list.begin(), list.end(), shared);
  if (pos == list.end()) return;
  list.erase(pos);
  --total;
  openStreamsGauge().set(static_cast<double>(total));
  if (list.empty()) by_tenant.erase(it);
}

void Events::Hub::publish(const std::shared_ptr<const Event>& event) {
  std::vector<std::function<void()>> to_notify;
  {
    std::lock_guard lock(mutex);
    auto it = by_tenant.find(event->tenant_id);
    if (it == by_tenant.end()) return;
    for (const auto& shared : it->second) {
      if (event->type.compare(0, shared->type_prefix.size(), shared->type_prefix) != 0) continue;
      if (auto notify = shared->push(event)) to_notify.push_back(std::move(notify));
    }
  }
  for (auto& notify : to_notify)
    notify();
}

void Events::Hub::stop() {
  std::vector<std::function<void()>> to_notify;
  {
    std::lock_guard lock(mutex);
    stopping = true;
    for (auto& [tenant, list] : by_tenant) {
      for (const auto& shared : list) {
        if (auto notify = shared->close()) to_notify.push_back(std::move(notify));
      }
    }
  }
  for (auto& notify : to_notify)
    notify();
}

bool Events::Hub::isStopping() {
  std::lock_guard lock(mutex);
  return stopping;
}

}  // namespace ih::events
