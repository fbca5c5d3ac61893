// Records real answers of the host for the OpenAPI check (tests/js/check-openapi.js --responses): when the
// environment variable IH_RECORD_RESPONSES names a file, every answer a test client reads is appended to it as
// one JSON line {"method","path","status","content_type","body"}. Without the variable this does nothing.
// ctest sets it for the integration and hostile suites (tests/CMakeLists.txt); the js_openapi_responses test
// then validates the file against docs/openapi.yaml.
#pragma once

#include <string>
#include <string_view>

namespace ih::test {

// `target` is the request target as sent; the query string is dropped (it may hold anything). Thread-safe;
// several test processes may append to the same file (one write per line, O_APPEND).
void recordResponse(std::string_view method, std::string_view target, int status,
                    std::string_view content_type, std::string_view body);

// The ports of the hosts this process runs (TestHost registers its own), so that clients which also talk to
// the Stripe double or a fake upstream record only what ihost answered.
void addHostPort(int port);
bool isHostPort(int port);

}  // namespace ih::test
