// The SDK's form encoding (sdk/include/ih/sdk/form.hpp), with the nested keys the Stripe plugins send: for any
// keys and values, the encoded body splits back into exactly the fields given, in order, and percent-decoding
// gives the original bytes (so no value can inject '&' or '=' into another field); only RFC 3986 unreserved
// characters and %XX appear.
#include <fuzzer/FuzzedDataProvider.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_check.h"
#include "ih/sdk/form.hpp"

namespace {

std::optional<std::string> percentDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;  // the encoder writes upper-case hex only
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

void checkEncoded(std::string_view encoded, std::string_view original) {
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '%') {
      IH_FUZZ_CHECK(i + 2 < encoded.size(), "truncated escape");
      continue;
    }
    const bool hex_digit_of_escape = (i >= 1 && encoded[i - 1] == '%') || (i >= 2 && encoded[i - 2] == '%');
    IH_FUZZ_CHECK(unreserved(c) || hex_digit_of_escape, "byte 0x%02x left unencoded",
                  static_cast<unsigned>(static_cast<unsigned char>(c)));
  }
  const auto decoded = percentDecode(encoded);
  IH_FUZZ_CHECK(decoded.has_value() && *decoded == original, "percent-decoding does not give the input back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  ih::sdk::Form form;
  std::vector<std::pair<std::string, std::string>> expected;
  while (in.remaining_bytes() > 0 && expected.size() < 64) {
    const uint8_t kind = in.ConsumeIntegral<uint8_t>() % 5;
    std::string key = in.ConsumeRandomLengthString(32);
    std::string value = in.ConsumeRandomLengthString(64);
    switch (kind) {
      case 0:
        form.add(key, value);
        expected.emplace_back(key, value);
        break;
      case 1:
        form.addMember("metadata", key, value);
        expected.emplace_back("metadata[" + key + "]", value);
        break;
      case 2:
        form.addElement("expand", value);
        expected.emplace_back("expand[]", value);
        break;
      case 3: {
        const int64_t number = in.ConsumeIntegral<int64_t>();
        form.add(key, number);
        expected.emplace_back(key, std::to_string(number));
        break;
      }
      default: {
        const bool flag = in.ConsumeBool();
        form.add(key, flag);
        expected.emplace_back(key, flag ? "true" : "false");
        break;
      }
    }
    checkEncoded(ih::sdk::urlEncode(key), key);
    checkEncoded(ih::sdk::urlEncode(value), value);
  }
  IH_FUZZ_CHECK(form.fields() == expected);
  IH_FUZZ_CHECK(form.empty() == expected.empty());

  const std::string body = form.encode();
  std::vector<std::pair<std::string, std::string>> fields;
  if (!body.empty()) {
    size_t start = 0;
    while (true) {
      const size_t amp = body.find('&', start);
      const std::string_view item =
          std::string_view(body).substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      const size_t eq = item.find('=');
      IH_FUZZ_CHECK(eq != std::string_view::npos && item.find('=', eq + 1) == std::string_view::npos,
                    "a field does not hold exactly one '='");
      const auto key = percentDecode(item.substr(0, eq));
      const auto value = percentDecode(item.substr(eq + 1));
      IH_FUZZ_CHECK(key && value);
      fields.emplace_back(*key, *value);
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  IH_FUZZ_CHECK(fields == expected, "the encoded body does not split back into the fields given");
  return 0;
}
