// Reading untrusted request parts in handlers: integers from the query, and a UTF-8 check of the query and
// headers before any of it goes into JSON. Each helper either returns what was asked or writes a 400
// invalid_request naming the parameter (or header) and what is accepted into `res`. Header-only, pure,
// thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "common/text.h"
#include "http/server.h"

namespace ih::http {

// The query parameter `name` as a base-10 integer in [min, max] (std::from_chars: no sign but '-', no spaces,
// no fraction, no overflow); `fallback` when the parameter is absent. nullopt after writing the 400.
inline std::optional<int64_t> queryInt(const Request& req, Response& res, std::string_view name, int64_t min,
                                       int64_t max, int64_t fallback) {
  if (!req.hasQuery(name)) return fallback;
  if (auto value = parseInt64InRange(req.queryValue(name), min, max)) return value;
  std::string range = max == std::numeric_limits<int64_t>::max()
                          ? "an integer of at least " + std::to_string(min)
                          : "an integer between " + std::to_string(min) + " and " + std::to_string(max);
  setError(res, 400, "invalid_request", std::string(name) + " must be " + range);
  return std::nullopt;
}

// True when every query name and value, every path parameter and (with `headers`) every header name and
// value is well-formed UTF-8; otherwise writes a 400 naming the first offender and returns false. Run it
// before building JSON from the request.
inline bool requireUtf8(const Request& req, Response& res, bool headers = true) {
  for (const auto& [name, value] : req.query) {
    if (!isValidUtf8(name) || !isValidUtf8(value)) {
      setError(res, 400, "invalid_request",
               "query parameter \"" + toValidUtf8(name.substr(0, 64)) + "\" is not valid UTF-8");
      return false;
    }
  }
  for (const auto& [name, value] : req.headers) {
    if (!headers) break;
    if (!isValidUtf8(name) || !isValidUtf8(value)) {
      setError(res, 400, "invalid_request",
               "header \"" + toValidUtf8(name.substr(0, 64)) + "\" is not valid UTF-8");
      return false;
    }
  }
  for (const auto& [name, value] : req.params) {
    if (!isValidUtf8(value)) {
      setError(res, 400, "invalid_request", "the path is not valid UTF-8");
      return false;
    }
  }
  return true;
}

}  // namespace ih::http
