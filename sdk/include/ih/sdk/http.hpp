// Outbound HTTP through the host: HttpRequest (what a plugin asks for, serialized to the ABI's request_json)
// and HttpResponse (what came back). Plain values: owning, copyable, not for concurrent mutation. Sending is
// Call::http (ih/sdk/call.hpp); these types never fail by themselves.
#ifndef IH_SDK_HTTP_HPP
#define IH_SDK_HTTP_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ih/sdk/json.hpp"

namespace ih::sdk {

// A request for Call::http. Zero / empty optional fields leave the host's defaults.
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t timeout_ms = 0;       // 0: host default
  std::string idempotency_key;  // empty: none
  std::string endpoint;         // metrics label such as "/v1/balance"; empty: none
  int32_t max_attempts = 0;     // 0: host default

  // The request_json the ABI expects (body excluded: it travels as raw bytes).
  std::string toJson() const {
    std::string out = "{\"method\":" + json::quote(method) + ",\"url\":" + json::quote(url) +
                      ",\"headers\":" + json::stringObject(headers);
    if (timeout_ms > 0) out += ",\"timeout_ms\":" + std::to_string(timeout_ms);
    if (!idempotency_key.empty()) out += ",\"idempotency_key\":" + json::quote(idempotency_key);
    if (!endpoint.empty()) out += ",\"endpoint\":" + json::quote(endpoint);
    if (max_attempts > 0) out += ",\"max_attempts\":" + std::to_string(max_attempts);
    out.push_back('}');
    return out;
  }
};

// Call::http's answer: any HTTP status (non-2xx is not an error at this level), headers as a JSON object.
struct HttpResponse {
  int32_t status = 0;
  std::string headers_json = "{}";  // JSON object of response headers
  std::string body;                 // raw bytes
  int32_t attempts = 0;

  bool isSuccess() const noexcept { return status >= 200 && status < 300; }
  // A response header by name (case-insensitive); nullopt when absent.
  std::optional<std::string> header(std::string_view name) const {
    return json::headerField(headers_json, name);
  }
};

}  // namespace ih::sdk

#endif  // IH_SDK_HTTP_HPP
