// Structured logging: one JSON object per line, secrets masked. The single masking helper of the host lives
// here too, so every log line, error message and API response masks secrets the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ih::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key/value of a log line. Strings are masked (see redact) before they are written.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), text(v), kind(Kind::kString) {}
  Field(std::string_view k, const std::string& v) : key(k), text(v), kind(Kind::kString) {}
  Field(std::string_view k, const char* v) : key(k), text(v ? v : ""), kind(Kind::kString) {}
  Field(std::string_view k, int64_t v) : key(k), number(v), kind(Kind::kInt) {}
  Field(std::string_view k, int v) : key(k), number(v), kind(Kind::kInt) {}
  Field(std::string_view k, uint64_t v) : key(k), number(static_cast<int64_t>(v)), kind(Kind::kInt) {}
  Field(std::string_view k, double v) : key(k), real(v), kind(Kind::kReal) {}
  Field(std::string_view k, bool v) : key(k), number(v ? 1 : 0), kind(Kind::kBool) {}
  // A value that is already JSON text (object/array), written as is after masking.
  static Field json(std::string_view k, std::string_view json_text) {
    Field f(k, json_text);
    f.kind = Kind::kJson;
    return f;
  }

  enum class Kind { kString, kInt, kReal, kBool, kJson };
  std::string_view key;
  std::string_view text;
  int64_t number = 0;
  double real = 0;
  Kind kind;
};
using Fields = std::initializer_list<Field>;

// Sets the minimum level written (default kInfo). Thread-safe.
void setLevel(Level level);
Level level();
// Replaces where lines go (default: stderr). Used by tests to capture output. Thread-safe.
void setSink(std::function<void(std::string_view line)> sink);
// Restores the stderr sink.
void resetSink();

// Writes {"ts":"…","level":"…","msg":"…",<fields>} as one line. Thread-safe; never throws.
void write(Level level, std::string_view message, Fields fields = {});
inline void debug(std::string_view m, Fields f = {}) {
  write(Level::kDebug, m, f);
}
inline void info(std::string_view m, Fields f = {}) {
  write(Level::kInfo, m, f);
}
inline void warn(std::string_view m, Fields f = {}) {
  write(Level::kWarn, m, f);
}
inline void error(std::string_view m, Fields f = {}) {
  write(Level::kError, m, f);
}

std::string_view levelName(Level level);

}  // namespace ih::log

namespace ih {

// Masks one secret value for display: "sk_test_****abcd" (known prefix kept, last four shown when the value
// is long enough to keep them safely), "****" for short values.
std::string mask(std::string_view secret);

// Returns `text` with every secret-shaped token masked: Stripe keys (sk_/rk_/pk_ live|test), webhook secrets
// (whsec_), OAuth tokens and codes (ac_, rt_), ihost API keys (ihk_), admin tokens (iha_), vault keys (ihv_)
// and the value after "Bearer ".
std::string redact(std::string_view text);

}  // namespace ih
