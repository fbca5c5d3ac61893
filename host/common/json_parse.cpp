#include "common/json_parse.h"

#include <cstring>

#include "common/text.h"

namespace ih {

int jsonNestingDepth(std::string_view text, int stop_at) {
  int depth = 0;
  int deepest = 0;
  const char* const begin = text.data();
  const size_t size = text.size();
  for (size_t i = 0; i < size; ++i) {
    switch (text[i]) {
      case '"': {
        // To the closing quote: the next '"' with an even run of backslashes before it (memchr, not a byte
        // loop: this runs over every webhook body, mostly string content).
        size_t at = i + 1;
        for (;;) {
          const void* quote = at < size ? std::memchr(begin + at, '"', size - at) : nullptr;
          if (!quote) return deepest;  // unterminated: nothing deeper follows
          const size_t q = static_cast<size_t>(static_cast<const char*>(quote) - begin);
          size_t backslashes = 0;
          while (q - backslashes > i + 1 && text[q - backslashes - 1] == '\\')
            ++backslashes;
          at = q + 1;
          if (backslashes % 2 == 0) break;
        }
        i = at - 1;
        break;
      }
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > stop_at) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

Result<nlohmann::json> parseJson(std::string_view text, int max_depth) {
  // nlohmann's lexer takes a NUL byte for the end of the input ("{}\0junk" would parse as {}); a raw NUL is
  // never valid JSON.
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos) {
    return Status::invalidArgument("invalid JSON at byte " + std::to_string(nul) + ": NUL byte");
  }
  if (jsonNestingDepth(text, max_depth) > max_depth) {
    return Status::invalidArgument("JSON nested deeper than " + std::to_string(max_depth) + " levels");
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& error) {
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error …": keep what follows
    // the bracketed id, and say where.
    std::string what = error.what();
    const size_t close = what.find("] ");
    if (close != std::string::npos) what.erase(0, close + 2);
    if (what.size() > 200) what.resize(200);
    // The message quotes the bytes last read, which may be ill-formed UTF-8: it goes into JSON answers.
    return Status::invalidArgument("invalid JSON at byte " + std::to_string(error.byte) + ": " +
                                   toValidUtf8(what));
  } catch (const std::exception& error) {
    return Status::invalidArgument("invalid JSON: " + toValidUtf8(error.what()));
  }
}

std::string dumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json parseJsonOrDiscarded(std::string_view text) {
  Result<nlohmann::json> parsed = parseJson(text);
  if (!parsed.isOk()) return nlohmann::json(nlohmann::json::value_t::discarded);
  return std::move(parsed).value();
}

}  // namespace ih
