#include "log/guard.h"

#include <exception>
#include <string>

#include "log/log.h"

namespace ih::log {
namespace {

// The message of the exception being handled, or "unknown exception". Call only inside a catch block.
std::string currentError() {
  try {
    throw;
  } catch (const std::exception& error) {
    return error.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

void runGuarded(std::string_view thread, const std::function<void()>& loop,
                const std::function<bool(std::chrono::milliseconds)>& wait_or_stop,
                std::chrono::milliseconds pause) {
  for (;;) {
    try {
      loop();
      return;
    } catch (...) {
      error("thread loop failed; restarting it", {{"thread", thread}, {"error", currentError()}});
    }
    try {
      if (wait_or_stop(pause)) return;
    } catch (...) {
      error("thread loop failed while pausing; ending it", {{"thread", thread}, {"error", currentError()}});
      return;
    }
  }
}

void runLogged(std::string_view what, const std::function<void()>& task) noexcept {
  try {
    task();
  } catch (...) {
    try {
      error("task failed with an exception", {{"task", what}, {"error", currentError()}});
    } catch (...) {  // logging itself failed (out of memory): nothing more can be done, but never terminate
    }
  }
}

}  // namespace ih::log
