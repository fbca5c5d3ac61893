// Request-target decoding and route matching, without sockets: what the server does to a request line's
// target before a handler runs. Pure functions of their input; any bytes are safe to pass (a libFuzzer target
// drives them directly). Expected failures are values, never exceptions; no recursion.
//
// Decoding is strict: a '%' must be followed by two hex digits, and the decoded path, every query name and
// every query value must be well-formed UTF-8. Otherwise the result is kInvalidArgument with a message that
// names the part (the path, or the query parameter) and is itself valid UTF-8, so the server answers
// 400 invalid_request and every string a handler receives can be put into JSON as is.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ih::http {

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // decoded, in request order
using RouteParams = std::map<std::string, std::string, std::less<>>;  // {name} segment -> decoded value

struct DecodedPath {
  std::string text;                   // the whole path, decoded ("/files/a b")
  std::vector<std::string> segments;  // non-empty '/'-separated segments, each decoded on its own, so an
                                      // encoded "%2F" stays inside its segment
};

struct DecodedTarget {
  DecodedPath path;
  QueryParams query;
};

// Percent-decodes `text` ('+' becomes a space when `plus_is_space`, as in query strings). nullopt when a '%'
// is not followed by two hex digits. The result may be any bytes: UTF-8 is the caller's check.
std::optional<std::string> percentDecode(std::string_view text, bool plus_is_space);

// The path of a request target (the part before '?').
Result<DecodedPath> decodePath(std::string_view raw_path);
// A query string (the part after '?'). Pairs are split at '&' (empty ones skipped), then at the first '=';
// a name without '=' has an empty value.
Result<QueryParams> decodeQuery(std::string_view raw_query);
// A whole origin-form target ("/path?query").
Result<DecodedTarget> decodeTarget(std::string_view target);

struct Match {
  int id = 0;  // as given to Router::add
  RouteParams params;
};

// A route table. Patterns are literal segments and {name} segments ("/api/items/{id}"); a final
// "{name...}" segment matches one or more remaining segments, joined with '/'. Among the routes of a method
// that match, the one with the most literal segments wins (the first added on a tie).
// Not thread-safe while add() runs; match() is const and may run on any number of threads afterwards.
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // kInvalidArgument (and nothing added) for a pattern with an empty parameter name, a parameter name used
  // twice, or a "{name...}" segment that is not the last.
  Status add(std::string_view method, std::string_view pattern, int id);

  // The best route for `method` and the decoded path; nullopt when none matches.
  std::optional<Match> match(std::string_view method, const DecodedPath& path) const;
  // Same for a raw (still encoded) path; nullopt also when it does not decode.
  std::optional<Match> match(std::string_view method, std::string_view raw_path) const;
  // Whether a route of any method matches the path (405 rather than 404).
  bool matchesAnyMethod(const DecodedPath& path) const;
  size_t size() const;

 private:
  struct Route;
  std::vector<Route> routes_;
};

}  // namespace ih::http
