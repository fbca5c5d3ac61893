// Private to host/endpoints (and its tests): Standard Webhooks signing. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ih::endpoints {

inline constexpr std::string_view kSecretPrefix = "whsec_";

// A new signing secret: "whsec_" + base64 of 24 random bytes. kInternal when the RNG fails.
Result<std::string> generateSecret();
// The HMAC key of a "whsec_<base64>" secret (the decoded bytes). kInvalidArgument when it is malformed.
Result<std::string> secretKey(std::string_view secret);
// "v1,<base64 HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>")>".
std::string sign(std::string_view key, std::string_view msg_id, int64_t timestamp, std::string_view body);
// Whether one of the space-separated "v1,<sig>" entries of `signature_header` matches `secret` (constant-time
// comparison). Timestamp tolerance is the caller's business.
bool verify(std::string_view secret, std::string_view msg_id, int64_t timestamp, std::string_view body,
            std::string_view signature_header);

}  // namespace ih::endpoints
