// The X-Test-Signature header the test plugin webhook_test (tests/plugins/webhook_test) verifies:
// "t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", Stripe's scheme under another header name.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "ih/hmac.hpp"

namespace ih::test {

inline int64_t unixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string webhookTestSignature(const std::string& secret, const std::string& body,
                                        int64_t t = unixSeconds()) {
  return "t=" + std::to_string(t) + ",v1=" + ih::sdk::hmacSha256Hex(secret, std::to_string(t) + "." + body);
}

}  // namespace ih::test
