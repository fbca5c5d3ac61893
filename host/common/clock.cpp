#include "common/clock.h"

#include <atomic>
#include <chrono>

namespace ih {
namespace {

std::atomic<ClockFn> g_test_clock{nullptr};

}  // namespace

int64_t nowMs() {
  if (ClockFn clock = g_test_clock.load(std::memory_order_relaxed)) return clock();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t nowSeconds() {
  return nowMs() / 1000;
}

void setClockForTesting(ClockFn clock) {
  g_test_clock.store(clock, std::memory_order_relaxed);
}

}  // namespace ih
