// host/common/text.h against independent reference implementations: parseInt64 (a digit-by-digit parser with
// explicit overflow checks), isValidUtf8 (a decoder that computes each code point and rejects overlongs,
// surrogates and values above U+10FFFF), plus the properties every caller relies on: toValidUtf8 gives valid
// UTF-8 and leaves valid text alone, case folding and trimming touch ASCII only.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "common/text.h"
#include "fuzz_check.h"

namespace {

std::optional<int64_t> referenceInt64(std::string_view text) {
  if (text.empty()) return std::nullopt;
  size_t i = 0;
  const bool negative = text[0] == '-';
  if (negative) ++i;
  if (i == text.size()) return std::nullopt;
  // Accumulate as a negative number so INT64_MIN fits.
  int64_t value = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return std::nullopt;
    const int digit = c - '0';
    if (value < (std::numeric_limits<int64_t>::min() + digit) / 10) return std::nullopt;
    value = value * 10 - digit;
  }
  if (!negative) {
    if (value == std::numeric_limits<int64_t>::min()) return std::nullopt;
    value = -value;
  }
  return value;
}

bool referenceUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t cp = 0;
    if (lead < 0x80) {
      length = 1, cp = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, cp = lead & 0x07;
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    static const uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinimum[length]) return false;  // overlong
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    if (cp > 0x10FFFF) return false;
    i += length;
  }
  return true;
}

bool isAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = ih::fuzz::asText(data, size);

  // Integers.
  const auto parsed = ih::parseInt64(text);
  const auto expected = referenceInt64(text);
  IH_FUZZ_CHECK(parsed == expected, "parseInt64 disagrees with the reference");
  if (parsed) {
    IH_FUZZ_CHECK(ih::parseInt64InRange(text, *parsed, *parsed) == parsed);
    if (*parsed > std::numeric_limits<int64_t>::min())
      IH_FUZZ_CHECK(!ih::parseInt64InRange(text, std::numeric_limits<int64_t>::min(), *parsed - 1));
    // A value prints back to the same text unless the text had a leading zero or "-0".
    const std::string printed = std::to_string(*parsed);
    const bool canonical = !(text.size() > 1 && text[0] == '0') &&
                           !(text.size() > 2 && text.substr(0, 2) == "-0") && text != "-0";
    if (canonical) IH_FUZZ_CHECK(printed == text, "to_string round trip");
  } else {
    IH_FUZZ_CHECK(!ih::parseInt64InRange(text, std::numeric_limits<int64_t>::min(),
                                         std::numeric_limits<int64_t>::max()));
  }

  // UTF-8.
  const bool valid = ih::isValidUtf8(text);
  IH_FUZZ_CHECK(valid == referenceUtf8(text), "isValidUtf8 disagrees with the reference");
  const std::string cleaned = ih::toValidUtf8(text);
  IH_FUZZ_CHECK(ih::isValidUtf8(cleaned), "toValidUtf8 output is not valid UTF-8");
  if (valid) IH_FUZZ_CHECK(cleaned == text, "toValidUtf8 changed valid text");
  if (!valid) IH_FUZZ_CHECK(cleaned.find("\xEF\xBF\xBD") != std::string::npos);
  IH_FUZZ_CHECK(ih::toValidUtf8(cleaned) == cleaned, "toValidUtf8 is not idempotent");

  // ASCII case folding and trimming.
  const std::string lower = ih::toLowerAscii(text);
  IH_FUZZ_CHECK(lower.size() == text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    IH_FUZZ_CHECK(lower[i] == ((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c));
  }
  IH_FUZZ_CHECK(ih::equalsIgnoreCase(text, lower));
  IH_FUZZ_CHECK(ih::startsWithIgnoreCase(text, lower.substr(0, lower.size() / 2)));
  const size_t half = size / 2;
  const std::string_view a = text.substr(0, half), b = text.substr(half);
  IH_FUZZ_CHECK(ih::equalsIgnoreCase(a, b) == ih::equalsIgnoreCase(b, a));
  IH_FUZZ_CHECK(ih::equalsIgnoreCase(a, b) == (ih::toLowerAscii(a) == ih::toLowerAscii(b)));
  if (valid) IH_FUZZ_CHECK(ih::isValidUtf8(lower), "case folding broke UTF-8");

  const std::string_view trimmed = ih::trimAscii(text);
  IH_FUZZ_CHECK(trimmed.empty() || (!isAsciiSpace(trimmed.front()) && !isAsciiSpace(trimmed.back())));
  IH_FUZZ_CHECK(trimmed.data() >= text.data() &&
                trimmed.data() + trimmed.size() <= text.data() + text.size());
  for (const char* p = text.data(); p < trimmed.data(); ++p)
    IH_FUZZ_CHECK(isAsciiSpace(*p));
  return 0;
}
