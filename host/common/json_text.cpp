#include "common/json_text.h"

#include <cstdio>

#include "common/text.h"

namespace ih {

void appendJsonEscaped(std::string& out, std::string_view text) {
  // Ill-formed UTF-8 (a tenant's bytes in an error message or a log line) would make the whole document
  // invalid JSON: such sequences become U+FFFD.
  std::string repaired;
  if (!isValidUtf8(text)) {
    repaired = toValidUtf8(text);
    text = repaired;
  }
  for (unsigned char c : text) {
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
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

std::string jsonQuote(std::string_view text) {
  std::string out = "\"";
  appendJsonEscaped(out, text);
  out += '"';
  return out;
}

}  // namespace ih
