// JSON string escaping for the few places that write JSON text by hand (log lines, error envelopes, messages)
// without pulling a JSON library into their translation unit.
#pragma once

#include <string>
#include <string_view>

namespace ih {

// Appends `text` escaped for use inside a JSON string literal (quotes, backslashes, control characters;
// ill-formed UTF-8 becomes U+FFFD, so the result is always valid JSON).
void appendJsonEscaped(std::string& out, std::string_view text);

// `text` as a quoted JSON string literal.
std::string jsonQuote(std::string_view text);

}  // namespace ih
