// The host's wall clock, in Unix time: one definition for every module (there were eight copies), and one
// place for a test to move time instead of sleeping.
#pragma once

#include <cstdint>

namespace ih {

// Milliseconds and seconds since the Unix epoch (system clock, or the test clock when one is set).
int64_t nowMs();
int64_t nowSeconds();

// Tests only: every later nowMs()/nowSeconds() returns `clock()`; nullptr restores the system clock.
using ClockFn = int64_t (*)();
void setClockForTesting(ClockFn clock);

}  // namespace ih
