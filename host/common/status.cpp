#include "common/status.h"

namespace ih {

std::string_view statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kRateLimited:
      return "rate_limited";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kProvider:
      return "provider_error";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kTooLarge:
      return "payload_too_large";
    case StatusCode::kInternal:
      return "internal";
    case StatusCode::kSignature:
      return "invalid_signature";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kPluginUnavailable:
      return "plugin_unavailable";
  }
  return "internal";
}

int httpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kRateLimited:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kProvider:
      return 502;
    case StatusCode::kUnsupported:
      return 501;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kInternal:
      return 500;
    case StatusCode::kSignature:
      return 400;
    case StatusCode::kCancelled:
      return 409;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kPluginUnavailable:
      return 503;
  }
  return 500;
}

StatusCode statusCodeFromAbi(int abi_status) {
  if (abi_status >= 0 && abi_status <= static_cast<int>(StatusCode::kDeadlineExceeded)) {
    return static_cast<StatusCode>(abi_status);
  }
  return StatusCode::kInternal;
}

std::string Status::toString() const {
  if (isOk()) return "ok";
  std::string out(codeName());
  out += ": ";
  out += message_;
  return out;
}

}  // namespace ih
