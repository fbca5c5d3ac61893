#include "records/records.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/text.h"

namespace ih::records {
namespace {

using nlohmann::json;

bool validModel(std::string_view model) {
  if (model.empty() || model.size() > 64) return false;
  for (char c : model) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status checkId(std::string_view id, const std::string& where) {
  if (id.empty() || id.size() > 255)
    return Status::invalidArgument(where + ".id must be a string of 1-255 bytes");
  return Status::ok();
}

// A strict, allocation-free JSON validator over the plugin's text (RFC 8259: grammar, string escapes and
// surrogate pairs, UTF-8, no control characters). It lets the sink keep each record's `data` as the exact
// bytes sent instead of parsing into a DOM and serializing again (2-3x faster on sync pages).
class Scanner {
 public:
  explicit Scanner(std::string_view text)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

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

  // Any JSON value.
  bool value(int depth = 0) {
    if (depth > kMaxDepth) return false;
    switch (peek()) {
      case '{': {
        ++p_;
        if (consume('}')) return true;
        do {
          if (peek() != '"' || !string() || !consume(':') || !value(depth + 1)) return false;
        } while (consume(','));
        return consume('}');
      }
      case '[': {
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
  static constexpr int kMaxDepth = 256;
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
};

Status syntaxError(const Scanner& scanner) {
  return Status::invalidArgument("records_json is not valid JSON (error at byte " +
                                 std::to_string(scanner.offset()) + ")");
}

// The text of a JSON string (between its quotes), unescaped when it holds escapes.
std::string decodeString(std::string_view raw, bool escaped) {
  if (!escaped) return std::string(raw);
  std::string quoted;
  quoted.reserve(raw.size() + 2);
  quoted.push_back('"');
  quoted.append(raw);
  quoted.push_back('"');
  return json::parse(quoted).get<std::string>();  // already validated by the scanner
}

}  // namespace

Status checkModel(std::string_view model) {
  if (validModel(model)) return Status::ok();
  return Status::invalidArgument("record model \"" + toValidUtf8(model.substr(0, 64)) +
                                 "\" is invalid: use 1-64 characters of [A-Za-z0-9_.-], e.g. \"customer\"");
}

Result<std::vector<store::RecordInput>> parseRecords(std::string_view model, std::string_view records_json) {
  if (Status st = checkModel(model); !st.isOk()) return st;
  Scanner in(records_json);
  if (in.peek() != '[') {
    Scanner probe(records_json);
    if (!probe.value() || !probe.atEnd()) return syntaxError(probe);
    return Status::invalidArgument(R"(records_json must be an array of {"id","data","updated_at"})");
  }
  in.consume('[');
  std::vector<store::RecordInput> out;
  if (in.consume(']')) {
    if (!in.atEnd()) return syntaxError(in);
    return out;
  }
  do {
    const size_t i = out.size();
    if (i >= kMaxRecordsPerCall) {
      return Status(StatusCode::kTooLarge, "records_json holds more than " +
                                               std::to_string(kMaxRecordsPerCall) +
                                               " records; send at most that many per call");
    }
    const std::string where = "records_json[" + std::to_string(i) + "]";
    if (in.peek() != '{') {
      if (!in.value()) return syntaxError(in);
      return Status::invalidArgument(where + " must be an object");
    }
    in.consume('{');
    store::RecordInput r;
    bool has_id = false, has_data = false, has_updated = false;
    std::string type_error;  // the first wrongly typed field; reported once the element parsed
    if (!in.consume('}')) {
      do {
        std::string_view key;
        bool key_escaped = false;
        if (in.peek() != '"' || !in.string(&key, &key_escaped) || !in.consume(':')) return syntaxError(in);
        const char c = in.peek();
        if (key == "id") {
          std::string_view raw;
          bool escaped = false;
          if (c == '"') {
            if (!in.string(&raw, &escaped)) return syntaxError(in);
            r.id = decodeString(raw, escaped);
            has_id = true;
          } else {
            if (!in.value()) return syntaxError(in);
            if (type_error.empty()) type_error = where + ".id must be a string";
          }
        } else if (key == "data") {
          const char* start = in.position();
          if (!in.value()) return syntaxError(in);
          if (c == '{') {
            r.data_json.assign(start, static_cast<size_t>(in.position() - start));
            has_data = true;
          } else if (type_error.empty()) {
            type_error = where + ".data must be an object";
          }
        } else if (key == "updated_at") {
          Scanner::NumberKind kind = Scanner::NumberKind::kFraction;
          if (c == '-' || (c >= '0' && c <= '9')) {
            if (!in.number(&r.updated_at, &kind)) return syntaxError(in);
          } else if (!in.value()) {
            return syntaxError(in);
          }
          if (kind == Scanner::NumberKind::kInteger) {
            has_updated = true;
          } else if (type_error.empty()) {
            type_error =
                where + (kind == Scanner::NumberKind::kNegative || kind == Scanner::NumberKind::kTooLarge
                             ? ".updated_at must be a non-negative unix time in seconds"
                             : ".updated_at must be an integer (unix seconds)");
          }
        } else if (!in.value()) {
          return syntaxError(in);
        }
      } while (in.consume(','));
      if (!in.consume('}')) return syntaxError(in);
    }
    if (!type_error.empty()) return Status::invalidArgument(type_error);
    if (!has_id) return Status::invalidArgument(where + ".id must be a string");
    if (!has_data) return Status::invalidArgument(where + ".data must be an object");
    if (!has_updated) return Status::invalidArgument(where + ".updated_at must be an integer (unix seconds)");
    if (Status st = checkId(r.id, where); !st.isOk()) return st;
    out.push_back(std::move(r));
  } while (in.consume(','));
  if (!in.consume(']') || !in.atEnd()) return syntaxError(in);
  return out;
}

Records::Records(store::Store& store) : store_(store) {}

Status Records::upsert(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                       std::string_view records_json, const sinks::Deferred& deferred) {
  auto rows = parseRecords(model, records_json);
  if (!rows.isOk()) return rows.status();
  if (deferred)
    return store_.upsertAsync(tenant_id, integration_id, model, std::move(rows).value(), deferred);
  return store_.upsert(tenant_id, integration_id, model, *rows);
}

Status Records::upsertWithState(std::string_view tenant_id, std::string_view integration_id,
                                std::string_view model, std::string_view records_json,
                                std::string_view state_key, std::string_view state_value,
                                store::UpsertStats* stats) {
  auto rows = parseRecords(model, records_json);
  if (!rows.isOk()) return rows.status();
  return store_.upsertWithState(tenant_id, integration_id, model, *rows, state_key, state_value, stats);
}

Status Records::remove(std::string_view tenant_id, std::string_view integration_id, std::string_view model,
                       std::string_view id, int64_t updated_at, const sinks::Deferred& deferred) {
  if (Status st = checkModel(model); !st.isOk()) return st;
  if (Status st = checkId(id, "record"); !st.isOk()) return st;
  if (updated_at < 0)
    return Status::invalidArgument("updated_at must be a non-negative unix time in seconds");
  if (deferred) return store_.removeAsync(tenant_id, integration_id, model, id, updated_at, deferred);
  return store_.remove(tenant_id, integration_id, model, id, updated_at);
}

}  // namespace ih::records
