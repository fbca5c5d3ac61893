// Expected failures as values: Status and Result<T>. Exceptions are for bugs and never cross module or plugin
// boundaries. Codes share their numbers with the plugin ABI's IH_ERR_* so a plugin status maps one to one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ih {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,
  kNotFound = 2,
  kUnauthenticated = 3,
  kPermissionDenied = 4,
  kConflict = 5,
  kRateLimited = 6,
  kUnavailable = 7,
  kProvider = 8,
  kUnsupported = 9,
  kTooLarge = 10,
  kInternal = 11,
  kSignature = 12,
  kCancelled = 13,         // the operator cancelled an interactive workflow (ABI 1.2)
  kDeadlineExceeded = 14,  // a plugin call ran past its deadline (ABI 1.5); retryable
  // Host-only codes (never returned by a plugin).
  kFailedPrecondition = 100,  // the system is not in a state that allows this (e.g. database too new)
  kAlreadyExists = 101,
  kPluginUnavailable = 102,  // an isolated plugin's runner crashed, was killed or is restarting; retryable
};

// Stable snake_case name used in JSON error envelopes ("invalid_argument", ...).
std::string_view statusCodeName(StatusCode code);
// HTTP status an API caller sees for this code (400, 404, ...).
int httpStatusFor(StatusCode code);
// Maps a raw ABI status (IH_ERR_*) to a code; unknown values become kInternal.
StatusCode statusCodeFromAbi(int abi_status);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  static Status invalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status notFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status failedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status alreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }

  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string_view codeName() const { return statusCodeName(code_); }
  int httpStatus() const { return httpStatusFor(code_); }
  // "invalid_argument: message" (or "ok").
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none. Accessing value() of a failed Result is a bug.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool isOk() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ih
