#include "common/plugin_answer.h"

#include "common/json_parse.h"
#include "common/text.h"

namespace ih {

bool isHttpHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool isHttpHeaderValue(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string respondRefusal(int32_t http_status, std::string_view headers_json) {
  if (http_status < 100 || http_status > 599) return "respond: HTTP status must be 100-599";
  if (headers_json.empty()) return {};
  auto h = parseJson(headers_json);
  if (!h.isOk() || !h->is_object()) return "respond: headers must be a JSON object";
  // They become HTTP response headers: a name must be a token, a value must not hold CR, LF or NUL.
  for (const auto& [name, value] : h->items()) {
    if (!isHttpHeaderName(name) ||
        (value.is_string() && !isHttpHeaderValue(value.get_ref<const std::string&>())))
      return "respond: header " + toValidUtf8(name.substr(0, 64)) + " is not a valid HTTP header";
  }
  return {};
}

bool isResultJson(std::string_view text) {
  return parseJson(text).isOk();
}

}  // namespace ih
