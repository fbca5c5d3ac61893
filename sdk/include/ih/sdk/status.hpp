// Status and Result<T>: expected failures as values, never exceptions (codes are the IH_* values of
// ih/plugin_abi.h; messages are for humans and never hold a secret). Both are plain values: cheap to copy,
// not for concurrent mutation. Result::value() on an error throws std::logic_error (a programmer error).
#ifndef IH_SDK_STATUS_HPP
#define IH_SDK_STATUS_HPP

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "ih/plugin_abi.h"

namespace ih::sdk {

// An IH_* code plus a human-readable message. Default-constructed: OK.
class Status {
 public:
  Status() = default;  // OK
  Status(ih_status code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  static Status invalidArgument(std::string m) { return Status(IH_ERR_INVALID_ARGUMENT, std::move(m)); }
  static Status notFound(std::string m) { return Status(IH_ERR_NOT_FOUND, std::move(m)); }
  static Status unauthenticated(std::string m) { return Status(IH_ERR_UNAUTHENTICATED, std::move(m)); }
  static Status permissionDenied(std::string m) { return Status(IH_ERR_PERMISSION_DENIED, std::move(m)); }
  static Status conflict(std::string m) { return Status(IH_ERR_CONFLICT, std::move(m)); }
  static Status rateLimited(std::string m) { return Status(IH_ERR_RATE_LIMITED, std::move(m)); }
  static Status unavailable(std::string m) { return Status(IH_ERR_UNAVAILABLE, std::move(m)); }
  static Status provider(std::string m) { return Status(IH_ERR_PROVIDER, std::move(m)); }
  static Status unsupported(std::string m) { return Status(IH_ERR_UNSUPPORTED, std::move(m)); }
  static Status tooLarge(std::string m) { return Status(IH_ERR_TOO_LARGE, std::move(m)); }
  static Status internal(std::string m) { return Status(IH_ERR_INTERNAL, std::move(m)); }
  static Status signature(std::string m) { return Status(IH_ERR_SIGNATURE, std::move(m)); }
  static Status cancelled(std::string m) { return Status(IH_ERR_CANCELLED, std::move(m)); }
  static Status deadline(std::string m) { return Status(IH_ERR_DEADLINE, std::move(m)); }  // ABI 1.5

  bool isOk() const noexcept { return code_ == IH_OK; }
  ih_status code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  ih_status code_ = IH_OK;
  std::string message_;
};

// Either a value or a non-OK Status. Accessing value() on an error is a programmer error
// (throws std::logic_error, which the thunks turn into IH_ERR_INTERNAL).
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.isOk()) status_ = Status::internal("Result constructed from an OK status without a value");
  }

  bool isOk() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return isOk(); }
  const Status& status() const noexcept { return status_; }

  T& value() & {
    check();
    return *value_;
  }
  const T& value() const& {
    check();
    return *value_;
  }
  T&& value() && {
    check();
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void check() const {
    if (!value_) throw std::logic_error("Result::value() on error: " + status_.message());
  }
  std::optional<T> value_;
  Status status_;
};

}  // namespace ih::sdk

#endif  // IH_SDK_STATUS_HPP
