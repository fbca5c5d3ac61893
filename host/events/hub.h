// Private to host/events: the per-tenant registry of live subscriptions behind Events.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "events/events.h"

namespace ih::events {

struct Events::Hub {
  Hub();  // registers ihost_event_streams_open (0 until a stream opens)
  // kUnavailable when stopping or at Options::max_streams; kRateLimited at max_streams_per_tenant.
  Result<std::unique_ptr<Subscription>> add(const std::shared_ptr<Hub>& self, std::string_view tenant_id,
                                            std::string_view type_prefix, const Options& options);
  void remove(const std::shared_ptr<Subscription::Shared>& shared);
  // Queues `event` for the matching subscribers of its tenant. Quick: runs on the store's writer thread.
  void publish(const std::shared_ptr<const Event>& event);
  void stop();
  bool isStopping();

  std::mutex mutex;
  bool stopping = false;  // GUARDED_BY(mutex)
  size_t total = 0;       // GUARDED_BY(mutex)
  std::map<std::string, std::vector<std::shared_ptr<Subscription::Shared>>, std::less<>>
      by_tenant;  // GUARDED_BY(mutex)
};

}  // namespace ih::events
