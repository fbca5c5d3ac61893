// Thread entry points that never let an exception escape: one escaping a thread calls std::terminate and
// takes every tenant down with it. Every long-lived host thread runs its loop through runGuarded.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

namespace ih::log {

// Runs `loop` until it returns. An exception thrown by it is logged as an error naming `thread`; then
// `wait_or_stop(pause)` is called (it waits up to `pause` and returns true when the thread should end
// instead) and, unless it said stop, `loop` runs again.
void runGuarded(std::string_view thread, const std::function<void()>& loop,
                const std::function<bool(std::chrono::milliseconds pause)>& wait_or_stop,
                std::chrono::milliseconds pause = std::chrono::seconds(1));

// Runs `task` once, logging (never rethrowing) an exception thrown by it. For one-shot thread bodies and
// tasks posted to a pool.
void runLogged(std::string_view what, const std::function<void()>& task) noexcept;

}  // namespace ih::log
