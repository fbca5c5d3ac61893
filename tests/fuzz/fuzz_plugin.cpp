// The plugin behind plugin_result_fuzz: a shared object loaded by the real registry and runtime whose route
// handler replays its request body as a script of host-service calls with fuzzed arguments, so the host
// sees exactly the outputs a hostile or buggy plugin can produce through the C ABI.
//
// Script: repeated [op][len1 lo][len1 hi][arg1][len2 lo][len2 hi][arg2]. op & 15 picks the service, op >> 4
// a small parameter (status, log level, return code). The handler returns IH_OK unless op 7 says otherwise.
// http_request goes to a closed local port only: the url is replaced and numeric timeout_ms / max_attempts
// clamped (values of the wrong type are left as they are, for the host to cope with).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "ih/plugin_abi.h"

namespace {

struct Instance {
  const ih_host_api* host;
};

ih_str view(std::string_view s) {
  return ih_str{s.data(), s.size()};
}

bool take(std::string_view& script, std::string_view& out) {
  if (script.size() < 2) return false;
  const size_t len = static_cast<unsigned char>(script[0]) |
                     (static_cast<size_t>(static_cast<unsigned char>(script[1])) << 8);
  script.remove_prefix(2);
  out = script.substr(0, len);
  script.remove_prefix(out.size());
  return true;
}

std::string safeRequest(std::string_view request_json) {
  auto spec = nlohmann::json::parse(request_json, nullptr, false);
  if (!spec.is_object()) return std::string(request_json);
  spec["url"] = "http://127.0.0.1:9/fuzz";  // discard port: refused at once
  if (auto it = spec.find("timeout_ms"); it != spec.end() && it->is_number()) *it = 200;
  if (auto it = spec.find("max_attempts"); it != spec.end() && it->is_number()) *it = 1;
  if (!spec.contains("max_attempts")) spec["max_attempts"] = 1;
  return spec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ih_status fuzzCreate(const ih_host_api* host, ih_call*, ih_str, ih_str, ih_plugin** out) {
  *out = reinterpret_cast<ih_plugin*>(new Instance{host});
  return IH_OK;
}

void fuzzDestroy(ih_plugin* instance) {
  delete reinterpret_cast<Instance*>(instance);
}

ih_status fuzzRoute(ih_plugin* self, ih_call* call, ih_str, ih_str body) {
  const ih_host_api* host = reinterpret_cast<Instance*>(self)->host;
  std::string_view script(body.ptr ? body.ptr : "", body.len);
  ih_status result = IH_OK;
  while (!script.empty()) {
    const unsigned op = static_cast<unsigned char>(script[0]);
    script.remove_prefix(1);
    std::string_view a, b;
    take(script, a);
    take(script, b);
    const int param = static_cast<int>(op >> 4);
    switch (op & 15) {
      case 0:
        host->respond(call, 90 + param * 33, view(a), view(b));
        break;
      case 1:
        host->set_result(call, view(a));
        break;
      case 2:
        host->emit_event(call, view(a), view(b));
        break;
      case 3:
        host->log(call, param % 5, view(a), view(b));
        break;
      case 4:
        host->records_upsert(call, view(a), view(b));
        break;
      case 5:
        host->records_commit(call, view(a), view(b), view(""), view(""));
        break;
      case 6:
        host->set_error(call, view(a));
        break;
      case 7:
        result = static_cast<ih_status>(param);
        break;
      case 8: {
        ih_buf* meta = nullptr;
        ih_buf* response = nullptr;
        const std::string request = safeRequest(a);
        if (host->http_request(call, view(request), view(b), &meta, &response) == IH_OK) {
          (void)host->buf_view(meta);
          (void)host->buf_view(response);
        }
        host->buf_free(meta);
        host->buf_free(response);
        break;
      }
      case 9: {
        ih_buf* answer = nullptr;
        host->prompt(call, view(a), &answer);
        host->buf_free(answer);
        break;
      }
      case 10: {
        ih_buf* info = nullptr;
        if (host->call_info(call, &info) == IH_OK) (void)host->buf_view(info);
        host->buf_free(info);
        break;
      }
      default:
        (void)host->last_error(call);
        break;
    }
  }
  return result;
}

const ih_plugin_descriptor kDescriptor = {
    sizeof(ih_plugin_descriptor),
    IH_ABI_MAJOR,
    IH_ABI_MINOR,
    IH_CAP_ROUTES,
    0,
    0,
    R"({"name":"fuzz_plugin","version":"1.0.0","routes":[{"method":"POST","path":"/script","auth":"tenant"}]})",
    fuzzCreate,
    fuzzDestroy,
    fuzzRoute,
};

}  // namespace

extern "C" IH_EXPORT const ih_plugin_descriptor* ih_plugin_entry(uint16_t, uint16_t) {
  return &kDescriptor;
}
