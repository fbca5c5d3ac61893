// ISO-8601 UTC text of unix milliseconds, as every API response and envelope shows time. Pure, thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace ih {

// "2024-05-01T12:00:00Z" (milliseconds dropped).
std::string isoTimeSeconds(int64_t unix_ms);
// "2024-05-01T12:00:00.123Z".
std::string isoTimeMillis(int64_t unix_ms);

}  // namespace ih
