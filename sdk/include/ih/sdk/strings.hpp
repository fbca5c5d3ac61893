// ih_str <-> std::string_view, and the ASCII case folding HTTP header names need.
// Ownership: toView/toStr borrow (nothing is copied; the result lives as long as its source). Thread-safe,
// pure; toLowerAscii may throw std::bad_alloc, nothing else throws.
#ifndef IH_SDK_STRINGS_HPP
#define IH_SDK_STRINGS_HPP

#include <string>
#include <string_view>

#include "ih/plugin_abi.h"

namespace ih::sdk {

inline std::string_view toView(ih_str s) noexcept {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}
inline ih_str toStr(std::string_view s) noexcept {
  return ih_str{s.data(), s.size()};
}

// `s` with A-Z folded to a-z; every other byte (UTF-8 included) unchanged.
inline std::string toLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace ih::sdk

#endif  // IH_SDK_STRINGS_HPP
