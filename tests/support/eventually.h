// Waiting for a state instead of sleeping a guessed time: `eventually` polls `check` every `poll` until it holds
// or `limit` passes, then checks once more. Use it inside an assertion:
//   REQUIRE(ih::test::eventually([&] { return store.count() == 3; }));
// The limit only matters when the test fails; a passing test returns as soon as the state is reached.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace ih::test {

inline bool eventually(const std::function<bool()>& check,
                       std::chrono::milliseconds limit = std::chrono::seconds(20),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(poll);
  }
  return check();
}

}  // namespace ih::test
