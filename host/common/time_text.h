// ISO-8601 UTC text of unix milliseconds, as every API response and envelope shows time. Pure, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ih {

// "2024-05-01T12:00:00Z" (milliseconds dropped).
std::string isoTimeSeconds(int64_t unix_ms);
// "2024-05-01T12:00:00.123Z".
std::string isoTimeMillis(int64_t unix_ms);

// "2024-05-01T12:00:00Z" (optional fraction, "Z" or "±HH:MM") or a date "2024-05-01" (midnight UTC) -> unix
// ms. kInvalidArgument with a message that starts "must be" (callers prefix the field name).
Result<int64_t> parseIsoTime(std::string_view text);

}  // namespace ih
