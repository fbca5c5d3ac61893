// The one way the host turns untrusted text into JSON: bounded nesting (no stack overflow in the parser or in
// a later dump()), well-formed UTF-8, a clear error instead of an exception. And a dump() that never throws.
// Include only where JSON values are needed (nlohmann is heavy).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/json_scan.h"
#include "common/status.h"

namespace ih {

// Parses `text` as one JSON value. kInvalidArgument naming the problem ("JSON nested deeper than 64 levels",
// "invalid JSON at byte 17: …", "JSON text is not valid UTF-8") when it is not. Never throws.
Result<nlohmann::json> parseJson(std::string_view text, int max_depth = kMaxJsonDepth);

// parseJson() for callers that test is_discarded(): the value, or a discarded value when `text` is not
// acceptable JSON (same limits). Never throws.
nlohmann::json parseJsonOrDiscarded(std::string_view text);

// Deepest nesting of arrays and objects in `text` (strings skipped), computed without recursion; stops
// counting at `stop_at` + 1. Text that is not JSON still gets a number: the check is only about depth.
int jsonNestingDepth(std::string_view text, int stop_at = kMaxJsonDepth);

// value.dump() that never throws: ill-formed UTF-8 in strings is replaced by U+FFFD. `indent` as in dump().
// Values from parseJson() are depth-bounded, so dump's recursion is bounded too.
std::string dumpJson(const nlohmann::json& value, int indent = -1);

}  // namespace ih
