// Shared by the fuzz targets: a property check that reports what failed and aborts (libFuzzer then saves the
// input as crash-<sha1>). Unlike assert() it stays on in every build type.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define IH_FUZZ_CHECK(condition, ...)                                                                  \
  do {                                                                                                 \
    if (!(condition)) {                                                                                \
      std::fprintf(stderr, "\nFUZZ PROPERTY FAILED at %s:%d: %s\n  ", __FILE__, __LINE__, #condition); \
      std::fprintf(stderr, "" __VA_ARGS__);                                                            \
      std::fprintf(stderr, "\n");                                                                      \
      std::abort();                                                                                    \
    }                                                                                                  \
  } while (0)

namespace ih::fuzz {

inline std::string_view asText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// nlohmann/json's lexer takes a NUL byte for the end of the input: json::accept("{}\0junk") is true. A raw
// NUL is never valid JSON (RFC 8259: not whitespace, and control characters in strings must be escaped), so
// the references the targets compare against refuse it first.
inline bool hasNul(std::string_view text) {
  return text.find('\0') != std::string_view::npos;
}

}  // namespace ih::fuzz
