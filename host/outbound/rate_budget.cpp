#include "outbound/rate_budget.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

namespace ih::outbound {

namespace {
using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

// A reservation-style bucket: tokens may go negative; a caller that takes the last token's successor sleeps
// until its token is due. That keeps callers in arrival order without a condition variable.
struct Bucket {
  double nominal = 0;  // rate asked for (req/s)
  double shrunk = 0;   // rate right after the last 429 (0: no 429 yet)
  Clock::time_point limited_at;
  double tokens = 0;
  Clock::time_point refilled_at;
};

struct RateBudget::Buckets {
  mutable std::mutex mu;
  std::map<std::string, Bucket, std::less<>> by_key;  // GUARDED_BY(mu)
};

namespace {
double effectiveRate(const Bucket& b, Clock::time_point now, std::chrono::milliseconds recovery) {
  if (b.shrunk <= 0 || b.shrunk >= b.nominal) return b.nominal;
  double progress = recovery.count() <= 0 ? 1.0 : seconds(now - b.limited_at) / seconds(recovery);
  if (progress >= 1.0) return b.nominal;
  return b.shrunk + (b.nominal - b.shrunk) * progress;
}
}  // namespace

RateBudget::RateBudget() : RateBudget(Options{}) {}
RateBudget::RateBudget(Options options) : options_(options), buckets_(std::make_unique<Buckets>()) {}
RateBudget::~RateBudget() = default;

void RateBudget::share(SharedTake take) {
  shared_ = std::move(take);
}

std::chrono::milliseconds RateBudget::acquire(std::string_view key, double rate_per_s) {
  if (rate_per_s <= 0) rate_per_s = options_.default_rate_per_s;
  Clock::duration wait{};
  if (shared_) {
    double rate = rate_per_s;
    {
      std::lock_guard lock(buckets_->mu);
      Clock::time_point now = Clock::now();
      auto it = buckets_->by_key.find(key);
      if (it == buckets_->by_key.end()) {
        Bucket fresh;
        fresh.tokens = rate_per_s;
        fresh.refilled_at = now;
        it = buckets_->by_key.emplace(std::string(key), fresh).first;
      }
      it->second.nominal = rate_per_s;
      rate = std::max(effectiveRate(it->second, now, options_.recovery), options_.min_rate_per_s);
    }
    if (std::optional<double> seconds_to_wait = shared_(key, rate)) {
      wait = std::min(
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*seconds_to_wait)),
          std::chrono::duration_cast<Clock::duration>(options_.max_wait));
      if (wait > Clock::duration::zero()) std::this_thread::sleep_for(wait);
      return std::chrono::duration_cast<std::chrono::milliseconds>(wait);
    }
  }
  {
    std::lock_guard lock(buckets_->mu);
    Clock::time_point now = Clock::now();
    auto it = buckets_->by_key.find(key);
    if (it == buckets_->by_key.end()) {
      Bucket fresh;
      fresh.nominal = rate_per_s;
      fresh.tokens = rate_per_s;  // one second of burst
      fresh.refilled_at = now;
      it = buckets_->by_key.emplace(std::string(key), fresh).first;
    }
    Bucket& b = it->second;
    b.nominal = rate_per_s;
    double rate = std::max(effectiveRate(b, now, options_.recovery), options_.min_rate_per_s);
    b.tokens = std::min(b.tokens + seconds(now - b.refilled_at) * rate, std::max(1.0, rate));
    b.refilled_at = now;
    b.tokens -= 1;
    if (b.tokens < 0) {
      wait = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(-b.tokens / rate));
      if (wait > options_.max_wait) {
        // Proceed after the bounded wait, but do not let the debt grow beyond it either.
        wait = options_.max_wait;
        b.tokens = -seconds(options_.max_wait) * rate;
      }
    }
  }
  if (wait > Clock::duration::zero()) std::this_thread::sleep_for(wait);
  return std::chrono::duration_cast<std::chrono::milliseconds>(wait);
}

void RateBudget::onRateLimited(std::string_view key) {
  std::lock_guard lock(buckets_->mu);
  auto it = buckets_->by_key.find(key);
  if (it == buckets_->by_key.end()) return;
  Bucket& b = it->second;
  Clock::time_point now = Clock::now();
  b.shrunk = std::max(effectiveRate(b, now, options_.recovery) / 2, options_.min_rate_per_s);
  b.limited_at = now;
  b.tokens = std::min(b.tokens, 0.0);  // no burst right after a 429
}

double RateBudget::currentRate(std::string_view key) const {
  std::lock_guard lock(buckets_->mu);
  auto it = buckets_->by_key.find(key);
  if (it == buckets_->by_key.end()) return options_.default_rate_per_s;
  return std::max(effectiveRate(it->second, Clock::now(), options_.recovery), options_.min_rate_per_s);
}

}  // namespace ih::outbound
