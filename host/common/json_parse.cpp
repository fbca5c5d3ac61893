#include "common/json_parse.h"

#include <cstring>

namespace ih {

int jsonNestingDepth(std::string_view text, int stop_at) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
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
    return Status::invalidArgument("invalid JSON at byte " + std::to_string(error.byte) + ": " + what);
  } catch (const std::exception& error) {
    return Status::invalidArgument(std::string("invalid JSON: ") + error.what());
  }
}

std::string dumpJson(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ih
