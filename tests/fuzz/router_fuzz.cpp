// Request-target decoding and route matching (host/http/router.h), what the server does to a target before
// a handler runs. Properties: never throws; an accepted target gives only valid UTF-8 (path, segments, query
// names and values: every string a handler gets can go into JSON as is), non-empty segments that are the
// raw '/'-separated pieces decoded one by one, query pairs that re-encode to the same pairs; a refused one
// gives a valid UTF-8 message. Matching against the host's real route table agrees with a brute-force
// reference (same route, same parameters); Router::add on fuzzed patterns never crashes and an accepted
// pattern matches its own instantiation.
//
// Input: byte 0 picks the method (and the mode), the rest is the target; in mode 1 it is a pattern and a path
// separated by '\n'.
#include <optional>
#include <string>
#include <vector>

#include "common/text.h"
#include "fuzz_check.h"
#include "http/router.h"
#include "route_table.h"

namespace {

using namespace ih::http;

std::vector<std::string_view> rawSegments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string encode(std::string_view text) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

// Brute force: every pattern segment against every path segment, most literals wins, first on a tie.
struct ReferenceMatch {
  size_t index;
  RouteParams params;
};
std::optional<ReferenceMatch> referenceMatch(std::string_view method, const std::vector<std::string>& parts) {
  std::optional<ReferenceMatch> best;
  int best_literals = -1;
  for (size_t r = 0; r < std::size(ih::fuzz::kHostRoutes); ++r) {
    const auto& [route_method, pattern] = ih::fuzz::kHostRoutes[r];
    if (route_method != method) continue;
    const auto segments = rawSegments(pattern);
    RouteParams params;
    int literals = 0;
    bool ok = true;
    size_t i = 0;
    for (; i < segments.size() && ok; ++i) {
      const std::string_view seg = segments[i];
      const bool param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
      const bool rest = param && seg.size() > 5 && seg.substr(seg.size() - 4) == "...}";
      if (rest) {
        if (i >= parts.size()) {
          ok = false;
          break;
        }
        std::string joined;
        for (size_t k = i; k < parts.size(); ++k)
          joined += (k > i ? "/" : "") + parts[k];
        params[std::string(seg.substr(1, seg.size() - 5))] = joined;
        i = parts.size();
        break;
      }
      if (i >= parts.size()) {
        ok = false;
      } else if (param) {
        params[std::string(seg.substr(1, seg.size() - 2))] = parts[i];
      } else {
        ++literals;
        ok = seg == parts[i];
      }
    }
    if (!ok || i != parts.size()) continue;
    if (literals > best_literals) {
      best_literals = literals;
      best = ReferenceMatch{r, std::move(params)};
    }
  }
  return best;
}

const Router& hostRouter() {
  static const Router router = [] {
    Router r;
    for (size_t i = 0; i < std::size(ih::fuzz::kHostRoutes); ++i) {
      const ih::Status s =
          r.add(ih::fuzz::kHostRoutes[i].first, ih::fuzz::kHostRoutes[i].second, static_cast<int>(i));
      if (!s.isOk()) std::abort();
    }
    return r;
  }();
  return router;
}

void checkTarget(std::string_view method, std::string_view target) {
  auto decoded = decodeTarget(target);
  if (!decoded.isOk()) {
    IH_FUZZ_CHECK(ih::isValidUtf8(decoded.status().message()), "message is not valid UTF-8");
    IH_FUZZ_CHECK(decoded.status().code() == ih::StatusCode::kInvalidArgument);
    return;
  }
  const size_t qmark = target.find('?');
  const std::string_view raw_path = target.substr(0, qmark);
  const DecodedPath& path = decoded->path;
  IH_FUZZ_CHECK(ih::isValidUtf8(path.text));
  IH_FUZZ_CHECK(percentDecode(raw_path, false) == path.text);
  const auto raw = rawSegments(raw_path);
  IH_FUZZ_CHECK(raw.size() == path.segments.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    IH_FUZZ_CHECK(!path.segments[i].empty());
    IH_FUZZ_CHECK(ih::isValidUtf8(path.segments[i]), "segment %zu is not valid UTF-8", i);
    IH_FUZZ_CHECK(percentDecode(raw[i], false) == path.segments[i]);
  }
  // Re-encoding the segments gives the same decoded path.
  std::string reencoded;
  for (const auto& segment : path.segments)
    reencoded += "/" + encode(segment);
  auto again = decodePath(reencoded);
  IH_FUZZ_CHECK(again.isOk() && again->segments == path.segments, "re-encoded path decodes differently");

  std::string query;
  for (const auto& [name, value] : decoded->query) {
    IH_FUZZ_CHECK(ih::isValidUtf8(name) && ih::isValidUtf8(value), "query text is not valid UTF-8");
    query += (query.empty() ? "" : "&") + encode(name) + "=" + encode(value);
  }
  auto query_again = decodeQuery(query);
  IH_FUZZ_CHECK(query_again.isOk() && *query_again == decoded->query, "re-encoded query decodes differently");

  // Matching against the host's table, and the same through the raw-path overload.
  const Router& router = hostRouter();
  const auto match = router.match(method, path);
  const auto reference = referenceMatch(method, path.segments);
  IH_FUZZ_CHECK(match.has_value() == reference.has_value(), "router and reference disagree on a match");
  if (match) {
    IH_FUZZ_CHECK(static_cast<size_t>(match->id) == reference->index, "router chose route %d, reference %zu",
                  match->id, reference->index);
    IH_FUZZ_CHECK(match->params == reference->params, "parameters differ");
    for (const auto& [name, value] : match->params)
      IH_FUZZ_CHECK(ih::isValidUtf8(value) && !value.empty());
    IH_FUZZ_CHECK(router.matchesAnyMethod(path));
  }
  const auto raw_match = router.match(method, raw_path);
  IH_FUZZ_CHECK(raw_match.has_value() == match.has_value());
  if (raw_match) IH_FUZZ_CHECK(raw_match->id == match->id && raw_match->params == match->params);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  const std::string_view method = kMethods[(data[0] >> 1) % std::size(kMethods)];
  const std::string_view rest = ih::fuzz::asText(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    checkTarget(method, rest);
    return 0;
  }
  // Mode 1: a fuzzed pattern, then a path matched against it.
  const size_t newline = rest.find('\n');
  const std::string_view pattern = rest.substr(0, newline);
  const std::string_view path =
      newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
  Router router;
  const ih::Status added = router.add(method, pattern, 7);
  if (!added.isOk()) {
    IH_FUZZ_CHECK(ih::isValidUtf8(added.message()));
    IH_FUZZ_CHECK(router.size() == 0);
    return 0;
  }
  IH_FUZZ_CHECK(router.size() == 1);
  // The pattern's own instantiation (each {param} replaced by "x") matches when its literals decode to
  // themselves.
  std::string instance;
  bool literal_safe = true;
  for (std::string_view seg : rawSegments(pattern)) {
    const bool param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
    if (!param && (seg.find('%') != std::string_view::npos || !ih::isValidUtf8(seg))) literal_safe = false;
    instance += "/" + std::string(param ? "x" : seg);
  }
  if (literal_safe) {
    const auto self = router.match(method, instance);
    IH_FUZZ_CHECK(self.has_value() && self->id == 7, "a pattern does not match its own instantiation");
  }
  if (auto match = router.match(method, path)) {
    IH_FUZZ_CHECK(match->id == 7);
  }
  return 0;
}
