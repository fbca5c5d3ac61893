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

Result<int64_t> parseIsoTime(std::string_view text_view) {
  const std::string text(text_view.substr(0, 64));  // longer is never valid; sscanf needs a NUL
  const char* const kExample =
      "must be an ISO 8601 time, e.g. \"2024-05-01T12:00:00Z\", or a date \"2024-05-01\"";
  if (text_view.size() > 64) return Status::invalidArgument(kExample);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  const bool date_only = text.size() == 10 &&
                         std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) == 3 &&
                         consumed == 10;
  if (!date_only && (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour,
                                 &minute, &second, &consumed) != 6 ||
                     consumed != 19))
    return Status::invalidArgument(kExample);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60)
    return Status::invalidArgument(kExample);
  size_t i = date_only ? text.size() : 19;
  int64_t ms = 0;
  if (i < text.size() && text[i] == '.') {
    int digits = 0;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
      if (digits < 3) ms = ms * 10 + (text[i] - '0');
    }
    for (; digits < 3; ++digits)
      ms *= 10;
  }
  int64_t offset_minutes = 0;
  if (date_only || (i < text.size() && (text[i] == 'Z' || text[i] == 'z') && i + 1 == text.size())) {
    // UTC
  } else if (i + 6 == text.size() && (text[i] == '+' || text[i] == '-') && text[i + 3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
      return Status::invalidArgument("has a malformed UTC offset");
    offset_minutes = (text[i] == '+' ? 1 : -1) * (oh * 60 + om);
  } else {
    return Status::invalidArgument("must end with Z or a UTC offset, e.g. \"2024-05-01T12:00:00Z\"");
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_minutes * 60;
  return secs * 1000 + ms;
}

}  // namespace ih
