// Text primitives for untrusted bytes: strict integer parsing (std::from_chars, never throws, never wraps),
// UTF-8 validation, ASCII case folding and trimming. One home for each; pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ih {

// The whole of `text` as a base-10 integer ("-12", "42"); nullopt for empty text, any other character
// (spaces, '+', a fraction) or a value outside int64_t.
std::optional<int64_t> parseInt64(std::string_view text);
// Same, then required to lie in [min, max]; nullopt outside.
std::optional<int64_t> parseInt64InRange(std::string_view text, int64_t min, int64_t max);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool isValidUtf8(std::string_view text);
// `text` with every ill-formed sequence replaced by U+FFFD: safe to put into JSON or a log line.
std::string toValidUtf8(std::string_view text);
// Also without NUL bytes (each becomes U+FFFD): text every store backend keeps as it is (PostgreSQL's text
// refuses NUL and ill-formed UTF-8).
std::string toStorableText(std::string_view text);

char toLowerAscii(char c);
std::string toLowerAscii(std::string_view text);
// ASCII-only case-insensitive comparison (HTTP header names, schemes, hex).
bool equalsIgnoreCase(std::string_view a, std::string_view b);
// Percent-encodes every byte but RFC 3986's unreserved characters (A-Z a-z 0-9 - _ . ~), for a URL query value
// or path segment (uppercase hex).
std::string urlEncode(std::string_view text);
// `text` safe inside HTML text and double- or single-quoted attribute values (& < > " ' escaped).
std::string htmlEscape(std::string_view text);
bool startsWithIgnoreCase(std::string_view text, std::string_view prefix);
// `text` without leading and trailing spaces, tabs, CR and LF.
std::string_view trimAscii(std::string_view text);
// `text` with the password of every URL's user info ("postgresql://ihost:***@db/ihost") and every
// "password=<value>" (libpq key=value settings, query parameters) replaced by ***.
std::string maskUrlPasswords(std::string_view text);

}  // namespace ih
