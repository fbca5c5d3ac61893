// The exception barrier every C entry point of a plugin goes through: guard() runs a handler body and turns
// its Status, or any exception it throws, into an ih_status plus the set_error message. noexcept: nothing
// escapes, not even from building the message. Thread-safe (no state of its own).
#ifndef IH_SDK_GUARD_HPP
#define IH_SDK_GUARD_HPP

#include <exception>
#include <string>
#include <string_view>

#include "ih/plugin_abi.h"
#include "ih/sdk/status.hpp"
#include "ih/sdk/strings.hpp"

namespace ih::sdk::detail {

inline void setErrorSafely(const ih_host_api* host, ih_call* call, std::string_view message) noexcept {
  if (host != nullptr && host->set_error != nullptr) host->set_error(call, toStr(message));
}

// Runs fn() and turns its Status or any exception into an ih_status (+ set_error). Never throws.
template <typename Fn>
ih_status guard(const ih_host_api* host, ih_call* call, Fn&& fn) noexcept {
  try {
    const Status status = fn();
    if (!status.isOk() && !status.message().empty()) setErrorSafely(host, call, status.message());
    return status.code();
  } catch (const std::exception& e) {
    try {
      setErrorSafely(host, call, std::string("unhandled exception: ") + e.what());
    } catch (...) {
      setErrorSafely(host, call, "unhandled exception");
    }
    return IH_ERR_INTERNAL;
  } catch (...) {
    setErrorSafely(host, call, "unhandled non-standard exception");
    return IH_ERR_INTERNAL;
  }
}

}  // namespace ih::sdk::detail

#endif  // IH_SDK_GUARD_HPP
