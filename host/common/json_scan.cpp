#include "common/json_scan.h"

namespace ih {

Status checkJsonObject(std::string_view text, std::string_view what) {
  JsonScanner scanner(text);
  const bool object = scanner.peek() == '{';
  if (!scanner.value() || !scanner.atEnd()) {
    return Status::invalidArgument(std::string(what) + " is not valid JSON (error at byte " +
                                   std::to_string(scanner.offset()) + ")");
  }
  if (!object) return Status::invalidArgument(std::string(what) + " must be a JSON object");
  return Status::ok();
}

std::string compactJson(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < json.size()) {
        out.push_back(json[++i]);
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out.push_back(c);
    } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace ih
