// Validating untrusted JSON text without building a DOM: JsonScanner and checkJsonObject. Cheap to include
// (no JSON library); see common/json_parse.h for parsing into nlohmann::json.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ih {

// Nesting allowed in any JSON the host accepts from a tenant, a provider or a plugin. Stripe's deepest
// objects nest about 12 levels; 64 leaves room and keeps recursion in dump() and in handlers shallow.
inline constexpr int kMaxJsonDepth = 64;

// A strict, allocation-free JSON validator (RFC 8259: grammar, string escapes and surrogate pairs, UTF-8, no
// control characters, numbers that fit a double) that also reads the members a caller needs. It lets a sink
// keep a plugin's JSON as the exact bytes sent instead of parsing it into a DOM and serializing it again
// (records' `data`, events' data: 2-3x faster). Nesting deeper than `max_depth` arrays/objects is refused, so
// its recursion is bounded.
class JsonScanner {
 public:
  explicit JsonScanner(std::string_view text, int max_depth = kMaxJsonDepth)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  const char* position() const { return p_; }
  bool atEnd() {
    ws();
    return p_ == end_;
  }
  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
      ++p_;
  }
  bool consume(char c) {
    ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  char peek() {
    ws();
    return p_ < end_ ? *p_ : '\0';
  }

  // Any JSON value; `depth` is the number of arrays and objects around it.
  bool value(int depth = 0) {
    switch (peek()) {
      case '{': {
        if (depth >= max_depth_) return false;
        ++p_;
        if (consume('}')) return true;
        do {
          if (peek() != '"' || !string() || !consume(':') || !value(depth + 1)) return false;
        } while (consume(','));
        return consume('}');
      }
      case '[': {
        if (depth >= max_depth_) return false;
        ++p_;
        if (consume(']')) return true;
        do {
          if (!value(depth + 1)) return false;
        } while (consume(','));
        return consume(']');
      }
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number(nullptr);
    }
  }

  // A string starting at the current '"'. `raw` (may be null) receives the bytes between the quotes and
  // `escaped` whether they hold escapes.
  bool string(std::string_view* raw = nullptr, bool* escaped = nullptr) {
    if (peek() != '"') return false;
    const char* start = ++p_;
    bool has_escape = false;
    while (p_ < end_) {
      const unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        if (raw) *raw = std::string_view(start, static_cast<size_t>(p_ - start));
        if (escaped) *escaped = has_escape;
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        has_escape = true;
        if (!escape()) return false;
      } else if (c >= 0x80) {
        if (!utf8()) return false;
      } else {
        ++p_;
      }
    }
    return false;
  }

  // A number. When `integer` is given: true only for a non-negative integer that fits int64 (written there);
  // `*kind` tells why not.
  enum class NumberKind { kInteger, kNegative, kFraction, kTooLarge };
  bool number(int64_t* integer, NumberKind* kind = nullptr) {
    ws();
    const char* start = p_;
    bool negative = false, fraction = false;
    if (p_ < end_ && *p_ == '-') {
      negative = true;
      ++p_;
    }
    if (p_ >= end_ || !isDigit(*p_)) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && isDigit(*p_))
        ++p_;
    }
    const char* int_end = p_;
    if (p_ < end_ && *p_ == '.') {
      fraction = true;
      ++p_;
      if (p_ >= end_ || !isDigit(*p_)) return false;
      while (p_ < end_ && isDigit(*p_))
        ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      fraction = true;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ >= end_ || !isDigit(*p_)) return false;
      while (p_ < end_ && isDigit(*p_))
        ++p_;
    }
    // Grammar alone lets "1e400" through; nlohmann/json (the host's parser, and every later reader of the
    // stored data) refuses a number that overflows a double. Same test as nlohmann: strtod, then finite.
    if (fraction || int_end - start > 300) {
      const std::string text(start, static_cast<size_t>(p_ - start));
      if (!std::isfinite(std::strtod(text.c_str(), nullptr))) return false;
    }
    if (integer) {
      NumberKind k = NumberKind::kInteger;
      if (fraction) {
        k = NumberKind::kFraction;
      } else if (negative) {
        k = NumberKind::kNegative;
      } else {
        auto [ptr, ec] = std::from_chars(start, int_end, *integer);
        if (ec != std::errc() || ptr != int_end) k = NumberKind::kTooLarge;
      }
      if (kind) *kind = k;
    }
    return true;
  }

 private:
  static bool isDigit(char c) { return c >= '0' && c <= '9'; }
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
      return false;
    p_ += word.size();
    return true;
  }
  bool hex4(unsigned& out) {
    if (end_ - p_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(p_[i]);
      if (h < 0) return false;
      out = out * 16 + static_cast<unsigned>(h);
    }
    p_ += 4;
    return true;
  }
  // At a backslash.
  bool escape() {
    ++p_;
    if (p_ >= end_) return false;
    const char c = *p_++;
    if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't')
      return true;
    if (c != 'u') return false;
    unsigned unit = 0;
    if (!hex4(unit)) return false;
    if (unit >= 0xDC00 && unit <= 0xDFFF) return false;  // a lone low surrogate
    if (unit >= 0xD800 && unit <= 0xDBFF) {              // must pair with a low surrogate
      unsigned low = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      return hex4(low) && low >= 0xDC00 && low <= 0xDFFF;
    }
    return true;
  }
  // One multi-byte UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF).
  bool utf8() {
    const auto* s = reinterpret_cast<const unsigned char*>(p_);
    const size_t left = static_cast<size_t>(end_ - p_);
    auto cont = [&](size_t i) { return i < left && (s[i] & 0xC0) == 0x80; };
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
      if (!cont(1)) return false;
      p_ += 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
      if (!cont(1) || !cont(2)) return false;
      if (s[0] == 0xE0 && s[1] < 0xA0) return false;  // overlong
      if (s[0] == 0xED && s[1] > 0x9F) return false;  // surrogate
      p_ += 3;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3)) return false;
      if (s[0] == 0xF0 && s[1] < 0x90) return false;  // overlong
      if (s[0] == 0xF4 && s[1] > 0x8F) return false;  // above U+10FFFF
      p_ += 4;
    } else {
      return false;
    }
    return true;
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  const int max_depth_;
};

// Ok when `text` is one JSON object (surrounding whitespace allowed) nested at most kMaxJsonDepth levels,
// valid as JsonScanner checks it. Else kInvalidArgument: "<what> is not valid JSON (error at byte N)" or
// "<what> must be a JSON object".
Status checkJsonObject(std::string_view text, std::string_view what);

// `json` (text JsonScanner accepted) without the whitespace between tokens: one line, as event streams and
// logs need it. Strings are copied byte for byte (valid JSON has no raw line break in a string).
std::string compactJson(std::string_view json);

}  // namespace ih
