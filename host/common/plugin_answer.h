// What the host accepts from a plugin's `respond` and `set_result`: checked by the host services
// (host/runtime/host_services.cpp), and by an isolated plugin's runner before it sends them one-way
// (host/isolation), so the plugin sees the same refusal in both modes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ih {

// Empty when respond(http_status, headers_json) is acceptable, else why not ("respond: ..."): the status must be
// 100-599 and the headers (may be empty) a JSON object of valid HTTP header names and values.
std::string respondRefusal(int32_t http_status, std::string_view headers_json);

// RFC 9110 token characters only (a header name); no CR, LF or NUL (a header value: no response splitting).
bool isHttpHeaderName(std::string_view name);
bool isHttpHeaderValue(std::string_view value);

// Whether set_result may take `text`: JSON that ih::parseJson accepts (64 levels at most, valid UTF-8, no NUL).
bool isResultJson(std::string_view text);

}  // namespace ih
