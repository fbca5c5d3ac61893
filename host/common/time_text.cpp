#include "common/time_text.h"

#include <cstdio>
#include <ctime>

namespace ih {
namespace {

std::string format(int64_t unix_ms, bool millis) {
  const int64_t ms = ((unix_ms % 1000) + 1000) % 1000;  // floor, also before 1970
  const std::time_t secs = static_cast<std::time_t>((unix_ms - ms) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  if (millis) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

}  // namespace

std::string isoTimeSeconds(int64_t unix_ms) {
  return format(unix_ms, false);
}

std::string isoTimeMillis(int64_t unix_ms) {
  return format(unix_ms, true);
}

}  // namespace ih
