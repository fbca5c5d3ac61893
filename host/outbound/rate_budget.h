// Rate budget: one token bucket per budget key (the host uses "<tenant>/<provider>"), shared by every caller
// that talks to that provider for that tenant — sync jobs, actions and reconciles alike — so a backfill
// cannot starve the tenant's interactive calls into provider 429s.
//
// A caller takes a token before each attempt; when none is left it waits (bounded by Options::max_wait, then
// proceeds anyway: the budget smooths traffic, it never fails a request). A 429 answer halves the key's rate
// (down to Options::min_rate_per_s), which then recovers linearly to the nominal rate over
// Options::recovery.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ih::outbound {

class RateBudget {
 public:
  struct Options {
    // Used when the request names no rate. Stripe's documented limits: 25 req/s in test mode, 100 live.
    double default_rate_per_s = 25;
    double default_live_rate_per_s = 100;
    double min_rate_per_s = 0.5;
    std::chrono::milliseconds max_wait{10000};
    std::chrono::milliseconds recovery{30000};
  };

  RateBudget();
  explicit RateBudget(Options options);
  ~RateBudget();
  RateBudget(const RateBudget&) = delete;
  RateBudget& operator=(const RateBudget&) = delete;

  // Takes one token from `key`'s bucket, sleeping until one is due (at most max_wait). `rate_per_s` is the
  // nominal rate for the key (<= 0: Options::default_rate_per_s); the bucket holds one second of burst.
  // Returns how long it waited. Thread-safe.
  std::chrono::milliseconds acquire(std::string_view key, double rate_per_s);
  // Replicas on one database share each key's bucket through `take` (the store's takeRateToken): it is given
  // the key and this replica's effective rate and returns the seconds to wait for the token, or nullopt when
  // the shared bucket cannot be reached (the local bucket is used then). Set once, before the first acquire.
  using SharedTake = std::function<std::optional<double>(std::string_view key, double rate_per_s)>;
  void share(SharedTake take);
  // A 429 for `key`: halves its current rate. Thread-safe.
  void onRateLimited(std::string_view key);
  // The key's current effective rate (nominal when unknown). Thread-safe.
  double currentRate(std::string_view key) const;
  const Options& options() const { return options_; }

 private:
  struct Buckets;
  const Options options_;
  const std::unique_ptr<Buckets> buckets_;
  SharedTake shared_;
};

}  // namespace ih::outbound
