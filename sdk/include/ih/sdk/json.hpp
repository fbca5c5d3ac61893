// ih::sdk::json: a small JSON writer (quote, stringObject) and reader (isValid, unquote, forEachMember,
// rawField, rawPaths, stringField, intField, headerField) for the JSON text crossing the ABI, without a JSON library.
// Pure and thread-safe; returned views borrow the input. Invalid JSON gives false / nullopt, never an
// exception (std::bad_alloc aside). Nesting beyond 128 levels is refused: it bounds the reader's recursion.
#ifndef IH_SDK_JSON_HPP
#define IH_SDK_JSON_HPP

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "ih/sdk/strings.hpp"

namespace ih::sdk {
namespace json {

// `s` as a JSON string literal, quotes included. Control characters are escaped; UTF-8 passes through.
inline std::string quote(std::string_view s) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xF]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

// {"k1":"v1","k2":"v2"} of string pairs, in order (duplicates kept as given); "{}" for none.
inline std::string stringObject(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out = "{";
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += quote(members[i].first) + ":" + quote(members[i].second);
  }
  out.push_back('}');
  return out;
}

namespace detail {
inline void skipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    ++i;
}
// Advances `i` past one JSON value; false when the text is not valid JSON at that point.
inline bool skipValue(std::string_view s, size_t& i, int depth = 0) {
  if (depth > 128) return false;
  skipSpace(s, i);
  if (i >= s.size()) return false;
  char c = s[i];
  if (c == '"') {
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        ++i;
        return true;
      } else if (static_cast<unsigned char>(s[i]) < 0x20) {
        return false;
      }
    }
    return false;
  }
  if (c == '{' || c == '[') {
    const char close = c == '{' ? '}' : ']';
    ++i;
    skipSpace(s, i);
    if (i < s.size() && s[i] == close) {
      ++i;
      return true;
    }
    for (;;) {
      if (c == '{') {
        skipSpace(s, i);
        if (i >= s.size() || s[i] != '"' || !skipValue(s, i, depth + 1)) return false;
        skipSpace(s, i);
        if (i >= s.size() || s[i] != ':') return false;
        ++i;
      }
      if (!skipValue(s, i, depth + 1)) return false;
      skipSpace(s, i);
      if (i >= s.size()) return false;
      if (s[i] == ',') {
        ++i;
        continue;
      }
      if (s[i] == close) {
        ++i;
        return true;
      }
      return false;
    }
  }
  for (std::string_view literal : {"true", "false", "null"}) {
    if (s.substr(i, literal.size()) == literal) {
      i += literal.size();
      return true;
    }
  }
  const size_t start = i;
  if (s[i] == '-') ++i;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                          s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  return i > start && (s[i - 1] >= '0' && s[i - 1] <= '9');
}
inline void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}
inline bool hex4(std::string_view s, size_t at, uint32_t& out) {
  if (at + 4 > s.size()) return false;
  out = 0;
  for (size_t k = at; k < at + 4; ++k) {
    const char h = s[k];
    out <<= 4;
    if (h >= '0' && h <= '9') {
      out |= static_cast<uint32_t>(h - '0');
    } else if (h >= 'a' && h <= 'f') {
      out |= static_cast<uint32_t>(h - 'a' + 10);
    } else if (h >= 'A' && h <= 'F') {
      out |= static_cast<uint32_t>(h - 'A' + 10);
    } else {
      return false;
    }
  }
  return true;
}
}  // namespace detail

// True when `text` is exactly one valid JSON value (surrounding whitespace allowed).
inline bool isValid(std::string_view text) {
  size_t i = 0;
  if (!detail::skipValue(text, i)) return false;
  detail::skipSpace(text, i);
  return i == text.size();
}

// The decoded content of a JSON string literal (`literal` includes the quotes); nullopt if it is not one.
inline std::optional<std::string> unquote(std::string_view literal) {
  size_t end = 0;
  if (literal.empty() || literal[0] != '"' || !detail::skipValue(literal, end) || end != literal.size()) {
    return std::nullopt;
  }
  std::string out;
  for (size_t i = 1; i + 1 < literal.size(); ++i) {
    char c = literal[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    c = literal[++i];
    switch (c) {
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!detail::hex4(literal, i + 1, cp)) return std::nullopt;
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < literal.size() && literal[i + 1] == '\\' &&
            literal[i + 2] == 'u') {
          uint32_t low = 0;
          if (detail::hex4(literal, i + 3, low) && low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        detail::appendUtf8(out, cp);
        break;
      }
      default:
        out.push_back(c);  // '"', '\\', '/'
    }
  }
  return out;
}

namespace detail {
// After an element or member: consumes the ',' (`more` = true) or the container's `close` (`more` = false);
// false when neither follows.
inline bool afterItem(std::string_view s, size_t& i, char close, bool& more) {
  skipSpace(s, i);
  if (i >= s.size() || (s[i] != ',' && s[i] != close)) return false;
  more = s[i] == ',';
  ++i;
  return true;
}
// At an object's `{`, after whitespace: consumes it, and the `}` too when the object is empty (`empty`). False
// when no object starts there.
inline bool openObject(std::string_view s, size_t& i, bool& empty) {
  skipSpace(s, i);
  if (i >= s.size() || s[i] != '{') return false;
  ++i;
  skipSpace(s, i);
  empty = i < s.size() && s[i] == '}';
  if (empty) ++i;
  return true;
}
// At a member of an object nested `depth` deep (after its `{` or `,`): reads the key's literal (quotes
// included) and the `:`, leaving `i` at the value. False when no member starts there.
inline bool memberKey(std::string_view s, size_t& i, int depth, std::string_view& key) {
  skipSpace(s, i);
  const size_t key_start = i;
  if (i >= s.size() || s[i] != '"' || !skipValue(s, i, depth + 1)) return false;
  key = s.substr(key_start, i - key_start);
  skipSpace(s, i);
  if (i >= s.size() || s[i] != ':') return false;
  ++i;
  skipSpace(s, i);
  return true;
}
struct Member {
  std::string_view key;    // the key's literal, quotes included
  std::string_view value;  // the value's text
};
// One pass over `object`: validates it whole (surrounding whitespace allowed) and calls visit(member) for each
// member in order as it goes (so possibly for some members of text that turns out invalid). False when it is
// not a valid JSON object.
template <class Visit>
inline bool scanMembers(std::string_view object, Visit&& visit) {
  size_t i = 0;
  bool empty = false;
  if (!openObject(object, i, empty)) return false;
  for (bool more = !empty; more;) {
    std::string_view key;
    if (!memberKey(object, i, 0, key)) return false;
    const size_t value_start = i;
    if (!skipValue(object, i, 1)) return false;
    visit(Member{key, object.substr(value_start, i - value_start)});
    if (!afterItem(object, i, '}', more)) return false;
  }
  skipSpace(object, i);
  return i == object.size();
}
// A member's key, decoded only when it holds an escape.
inline std::string keyText(std::string_view literal) {
  if (literal.find('\\') == std::string_view::npos) return std::string(literal.substr(1, literal.size() - 2));
  return unquote(literal).value_or(std::string());
}
}  // namespace detail

// Calls fn(key, raw_value_text) for each member of a JSON object, in order. False (and no call) if `object` is
// not a valid object. One scan of the text.
inline bool forEachMember(std::string_view object,
                          const std::function<void(const std::string& key, std::string_view value)>& fn) {
  std::vector<detail::Member> found;  // fn runs only once the whole text is known valid
  if (!detail::scanMembers(object, [&](const detail::Member& m) { found.push_back(m); })) return false;
  for (const detail::Member& m : found)
    fn(detail::keyText(m.key), m.value);
  return true;
}

// Calls fn(raw_element_text) for each element of a JSON array. False (and no call) if `array` is not a valid
// array. One scan of the text.
inline bool forEachElement(std::string_view array, const std::function<void(std::string_view element)>& fn) {
  std::vector<std::string_view> found;
  size_t i = 0;
  detail::skipSpace(array, i);
  if (i >= array.size() || array[i] != '[') return false;
  ++i;
  detail::skipSpace(array, i);
  if (i < array.size() && array[i] == ']') {
    ++i;
  } else {
    for (bool more = true; more;) {
      detail::skipSpace(array, i);
      const size_t start = i;
      if (!detail::skipValue(array, i, 1)) return false;
      found.push_back(array.substr(start, i - start));
      if (!detail::afterItem(array, i, ']', more)) return false;
    }
  }
  detail::skipSpace(array, i);
  if (i != array.size()) return false;
  for (std::string_view element : found)
    fn(element);
  return true;
}

// Raw text of the top-level member `key` of a JSON object (e.g. `{"a":1}` -> "1"; the first one when the key
// repeats); nullopt when absent or when `object` is not a valid object. One scan of the text; a key is
// decoded only when it holds an escape.
inline std::optional<std::string_view> rawField(std::string_view object, std::string_view key) {
  std::optional<std::string_view> match;
  const bool valid = detail::scanMembers(object, [&](const detail::Member& m) {
    if (match) return;
    const bool matches = m.key.find('\\') == std::string_view::npos
                             ? m.key.substr(1, m.key.size() - 2) == key
                             : unquote(m.key) == std::optional<std::string>(std::string(key));
    if (matches) match = m.value;
  });
  return valid ? match : std::nullopt;
}

namespace detail {
// One wanted path below the object being scanned: the segments still to match, and the slot it fills.
struct PathCursor {
  std::string_view rest;  // "object.id"
  size_t slot;
};
inline bool keyEquals(std::string_view literal, std::string_view key) {
  if (literal.find('\\') == std::string_view::npos) return literal.substr(1, literal.size() - 2) == key;
  return unquote(literal) == std::optional<std::string>(std::string(key));
}
// Scans the object at s[i] (after whitespace) at nesting `depth`, advancing `i` past it and validating it
// whole. A member named by a cursor's first segment is either recorded (last segment) or descended into (an
// object, when more segments follow); everything else is skipped. Recursion is bounded by the number of
// segments in the paths, never by the input.
inline bool scanPaths(std::string_view s, size_t& i, int depth, const std::vector<PathCursor>& wanted,
                      std::vector<std::optional<std::string_view>>& out) {
  bool empty = false;
  if (!openObject(s, i, empty)) return false;
  std::vector<char> seen(empty ? 0 : wanted.size(), 0);
  for (bool more = !empty; more;) {
    std::string_view key;
    if (!memberKey(s, i, depth, key)) return false;
    const size_t value_start = i;
    std::vector<PathCursor> deeper;  // these two allocate only when a path names this member
    std::vector<size_t> leaves;
    for (size_t k = 0; k < wanted.size(); ++k) {
      const PathCursor& w = wanted[k];
      const size_t dot = w.rest.find('.');
      if (seen[k] || !keyEquals(key, w.rest.substr(0, dot))) continue;
      seen[k] = 1;  // the first member of that name is the one read, as rawField
      if (dot == std::string_view::npos) {
        leaves.push_back(w.slot);
      } else {
        deeper.push_back(PathCursor{w.rest.substr(dot + 1), w.slot});
      }
    }
    if (!deeper.empty() && i < s.size() && s[i] == '{') {
      if (!scanPaths(s, i, depth + 1, deeper, out)) return false;
    } else if (!skipValue(s, i, depth + 1)) {
      return false;
    }
    for (size_t slot : leaves)
      out[slot] = s.substr(value_start, i - value_start);
    if (!afterItem(s, i, '}', more)) return false;
  }
  return true;
}
}  // namespace detail

// Raw text of the values at dotted member paths of a JSON object, e.g. {"id", "data.object.id"}: out[k] for
// paths[k], nullopt where absent or where the path crosses a value that is not an object. The first occurrence
// wins when a key repeats. One pass over the text, which is validated whole: nullopt (not a vector) when
// `object` is not a valid JSON object. A key holding '.' cannot be named.
inline std::optional<std::vector<std::optional<std::string_view>>> rawPaths(
    std::string_view object, const std::vector<std::string_view>& paths) {
  std::vector<std::optional<std::string_view>> out(paths.size());
  std::vector<detail::PathCursor> wanted;
  wanted.reserve(paths.size());
  for (size_t k = 0; k < paths.size(); ++k)
    wanted.push_back(detail::PathCursor{paths[k], k});
  size_t i = 0;
  if (!detail::scanPaths(object, i, 0, wanted, out)) return std::nullopt;
  detail::skipSpace(object, i);
  if (i != object.size()) return std::nullopt;
  return out;
}

// The string member `key`, decoded; nullopt when absent or not a string.
inline std::optional<std::string> stringField(std::string_view object, std::string_view key) {
  const auto raw = rawField(object, key);
  if (!raw) return std::nullopt;
  return unquote(*raw);
}

// The integer member `key`; nullopt when absent or not an integer that fits in int64_t.
inline std::optional<int64_t> intField(std::string_view object, std::string_view key) {
  const auto raw = rawField(object, key);
  if (!raw || raw->empty()) return std::nullopt;
  int64_t value = 0;
  const char* end = raw->data() + raw->size();
  const auto parsed = std::from_chars(raw->data(), end, value, 10);
  if (parsed.ec != std::errc() || parsed.ptr != end) return std::nullopt;
  return value;
}

// The string member `name` of a JSON object of headers, compared case-insensitively (HTTP header names).
inline std::optional<std::string> headerField(std::string_view headers_object, std::string_view name) {
  std::optional<std::string> found;
  const std::string wanted = toLowerAscii(name);
  forEachMember(headers_object, [&](const std::string& k, std::string_view v) {
    if (!found && toLowerAscii(k) == wanted) found = unquote(v);
  });
  return found;
}

}  // namespace json

}  // namespace ih::sdk

#endif  // IH_SDK_JSON_HPP
