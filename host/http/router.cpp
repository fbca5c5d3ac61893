#include "http/router.h"

#include <set>

#include "common/text.h"

namespace ih::http {
namespace {

// Query names shown in messages are cut to this many bytes: the message is for a human, not an echo.
constexpr size_t kShownNameBytes = 64;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `raw` as it may appear in a message: valid UTF-8 (ill-formed bytes become U+FFFD), at most
// kShownNameBytes of it.
std::string shown(std::string_view raw) {
  if (raw.size() <= kShownNameBytes) return toValidUtf8(raw);
  return toValidUtf8(raw.substr(0, kShownNameBytes)) + "…";
}

std::vector<std::string_view> splitSegments(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

// One query component (a name or a value): decoded and checked.
Status decodeComponent(std::string_view raw, std::string_view what, std::string_view raw_name, std::string& out) {
  auto decoded = percentDecode(raw, true);
  if (!decoded) {
    return Status::invalidArgument(std::string(what) + " \"" + shown(raw_name) +
                                   "\" has a malformed percent escape ('%' must be followed by two hex digits)");
  }
  if (!isValidUtf8(*decoded)) {
    return Status::invalidArgument(std::string(what) + " \"" + shown(raw_name) +
                                   "\" is not valid UTF-8 once percent-decoded");
  }
  out = std::move(*decoded);
  return Status::ok();
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
      continue;
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

Result<DecodedPath> decodePath(std::string_view raw_path) {
  DecodedPath out;
  auto whole = percentDecode(raw_path, false);
  if (!whole) {
    return Status::invalidArgument(
        "the request path has a malformed percent escape ('%' must be followed by two hex digits)");
  }
  if (!isValidUtf8(*whole)) {
    return Status::invalidArgument("the request path is not valid UTF-8 once percent-decoded");
  }
  out.text = std::move(*whole);
  // The whole path decoded, so every segment does (an escape cannot span a '/'), and a valid UTF-8 string
  // cut at ASCII '/' bytes leaves valid pieces.
  for (std::string_view raw_segment : splitSegments(raw_path)) {
    auto segment = percentDecode(raw_segment, false);
    if (!segment) {
      return Status::invalidArgument(
          "the request path has a malformed percent escape ('%' must be followed by two hex digits)");
    }
    out.segments.push_back(std::move(*segment));
  }
  return out;
}

Result<QueryParams> decodeQuery(std::string_view raw_query) {
  QueryParams out;
  size_t i = 0;
  while (i < raw_query.size()) {
    size_t amp = raw_query.find('&', i);
    if (amp == std::string_view::npos) amp = raw_query.size();
    const std::string_view pair = raw_query.substr(i, amp - i);
    i = amp + 1;
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string_view raw_name = pair.substr(0, eq);
    std::string name;
    std::string value;
    if (Status s = decodeComponent(raw_name, "query parameter name", raw_name, name); !s.isOk()) return s;
    if (eq != std::string_view::npos) {
      if (Status s = decodeComponent(pair.substr(eq + 1), "the value of query parameter", raw_name, value);
          !s.isOk()) {
        return s;
      }
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

Result<DecodedTarget> decodeTarget(std::string_view target) {
  const size_t qmark = target.find('?');
  auto path = decodePath(target.substr(0, qmark));
  if (!path.isOk()) return path.status();
  DecodedTarget out;
  out.path = std::move(path).value();
  if (qmark != std::string_view::npos) {
    auto query = decodeQuery(target.substr(qmark + 1));
    if (!query.isOk()) return query.status();
    out.query = std::move(query).value();
  }
  return out;
}

// ---- Router ----------------------------------------------------------------------------------------------

struct Router::Route {
  struct Segment {
    enum class Kind { kLiteral, kParam, kRest } kind = Kind::kLiteral;
    std::string text;  // the literal, or the parameter's name
  };
  std::string method;
  std::vector<Segment> segments;
  int literal_count = 0;
  int id = 0;

  // Whether the decoded segments match (no allocation).
  bool matches(const std::vector<std::string>& parts) const {
    size_t i = 0;
    for (const Segment& seg : segments) {
      if (seg.kind == Segment::Kind::kRest) return i < parts.size();
      if (i >= parts.size()) return false;
      if (seg.kind == Segment::Kind::kLiteral && seg.text != parts[i]) return false;
      ++i;
    }
    return i == parts.size();
  }
};

Router::Router() = default;
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Status Router::add(std::string_view method, std::string_view pattern, int id) {
  Route route;
  route.method = std::string(method);
  route.id = id;
  std::set<std::string, std::less<>> names;
  const auto parts = splitSegments(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view seg = parts[i];
    Route::Segment parsed;
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      std::string_view name = seg.substr(1, seg.size() - 2);
      parsed.kind = Route::Segment::Kind::kParam;
      if (name.size() >= 3 && name.substr(name.size() - 3) == "...") {
        parsed.kind = Route::Segment::Kind::kRest;
        name.remove_suffix(3);
        if (i + 1 != parts.size()) {
          return Status::invalidArgument("route pattern \"" + shown(pattern) +
                                         "\": a {name...} segment must be the last one");
        }
      }
      if (name.empty()) {
        return Status::invalidArgument("route pattern \"" + shown(pattern) + "\": a parameter has no name");
      }
      if (!names.emplace(name).second) {
        return Status::invalidArgument("route pattern \"" + shown(pattern) + "\": parameter \"" + shown(name) +
                                       "\" appears twice");
      }
      parsed.text = std::string(name);
    } else {
      parsed.text = std::string(seg);
      ++route.literal_count;
    }
    route.segments.push_back(std::move(parsed));
  }
  routes_.push_back(std::move(route));
  return Status::ok();
}

std::optional<Match> Router::match(std::string_view method, const DecodedPath& path) const {
  const Route* best = nullptr;
  for (const Route& r : routes_) {
    if (r.method != method || !r.matches(path.segments)) continue;
    if (best == nullptr || r.literal_count > best->literal_count) best = &r;
  }
  if (best == nullptr) return std::nullopt;
  Match out;
  out.id = best->id;
  const auto& parts = path.segments;
  for (size_t i = 0; i < best->segments.size(); ++i) {
    const Route::Segment& seg = best->segments[i];
    if (seg.kind == Route::Segment::Kind::kParam) {
      out.params[seg.text] = parts[i];
    } else if (seg.kind == Route::Segment::Kind::kRest) {
      std::string joined;
      for (size_t k = i; k < parts.size(); ++k) {
        if (k > i) joined += '/';
        joined += parts[k];
      }
      out.params[seg.text] = std::move(joined);
      break;
    }
  }
  return out;
}

std::optional<Match> Router::match(std::string_view method, std::string_view raw_path) const {
  auto path = decodePath(raw_path);
  if (!path.isOk()) return std::nullopt;
  return match(method, *path);
}

bool Router::matchesAnyMethod(const DecodedPath& path) const {
  for (const Route& r : routes_)
    if (r.matches(path.segments)) return true;
  return false;
}

size_t Router::size() const {
  return routes_.size();
}

}  // namespace ih::http
