// host/common/json_parse.h and json_scan.h: parseJson never throws, accepts exactly what nlohmann accepts up to the depth
// limit, never returns a value nested deeper than the limit (so dump() and handlers recurse a bounded
// amount), and dumpJson round-trips. dumpJson also gets arbitrary (ill-formed UTF-8) strings, which it must
// clean. JsonScanner (the validator that lets sinks keep plugin JSON without a DOM) accepts exactly what
// parseJson accepts at the same depth limit, checkJsonObject exactly its objects, and compactJson keeps the value.
#include <string>
#include <utility>
#include <vector>

#include "common/json_parse.h"
#include "common/text.h"
#include "fuzz_check.h"

namespace {

using nlohmann::json;

// Depth of a value without recursion: a scalar is 0, [] is 1, [[1]] is 2.
int valueDepth(const json& root) {
  int deepest = 0;
  std::vector<std::pair<const json*, int>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    if (!value->is_structured()) continue;
    const int inner = depth + 1;
    if (inner > deepest) deepest = inner;
    for (const auto& child : *value)
      stack.emplace_back(&child, inner);
  }
  return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the depth limit (1..64, so shallow limits get exercised as well), the rest is text.
  const int max_depth = 1 + data[0] % ih::kMaxJsonDepth;
  const std::string_view text = ih::fuzz::asText(data + 1, size - 1);

  auto parsed = ih::parseJson(text, max_depth);
  ih::JsonScanner scanner(text, max_depth);
  const bool scanned = scanner.value() && scanner.atEnd();
  IH_FUZZ_CHECK(scanned == parsed.isOk(), "JsonScanner %s what parseJson %s", scanned ? "accepts" : "refuses",
                parsed.isOk() ? "accepts" : "refuses");
  if (max_depth == ih::kMaxJsonDepth) {
    IH_FUZZ_CHECK(ih::checkJsonObject(text, "data").isOk() == (parsed.isOk() && parsed->is_object()),
                  "checkJsonObject disagrees with parseJson");
  }
  const bool nlohmann_accepts = !ih::fuzz::hasNul(text) && json::accept(text.begin(), text.end());
  if (!parsed.isOk()) {
    const std::string& message = parsed.status().message();
    IH_FUZZ_CHECK(!message.empty());
    IH_FUZZ_CHECK(ih::isValidUtf8(message), "error message is not valid UTF-8 (it goes into JSON answers)");
    if (nlohmann_accepts) {
      // Refused valid JSON: only for depth, and then the text really nests deeper than the limit (the value
      // may be shallower when a repeated key dropped the deep part: refusing is the safe side).
      IH_FUZZ_CHECK(ih::jsonNestingDepth(text, max_depth) > max_depth,
                    "parseJson refused valid JSON within the depth limit: %s", message.c_str());
    }
    return 0;
  }
  IH_FUZZ_CHECK(nlohmann_accepts, "parseJson accepted what nlohmann refuses");
  const json& value = *parsed;
  const int depth = valueDepth(value);
  IH_FUZZ_CHECK(depth <= max_depth, "parsed value nested %d deep, limit %d", depth, max_depth);
  // The text can be deeper than the value: a repeated key keeps only its last value (nlohmann), so the
  // scan may only overestimate, which errs on the safe side.
  IH_FUZZ_CHECK(ih::jsonNestingDepth(text, ih::kMaxJsonDepth + 1) >= depth,
                "jsonNestingDepth says %d, the value is %d deep",
                ih::jsonNestingDepth(text, ih::kMaxJsonDepth + 1), depth);

  // compactJson keeps the value and leaves one line.
  const std::string compacted = ih::compactJson(text);
  IH_FUZZ_CHECK(compacted.find_first_of("\n\r") == std::string::npos, "compactJson left a line break");
  auto recompacted = ih::parseJson(compacted, max_depth);
  IH_FUZZ_CHECK(recompacted.isOk() && *recompacted == value, "compactJson changed the value");

  // dumpJson round trip (compact and indented), and the output is valid UTF-8.
  for (int indent : {-1, 2}) {
    const std::string dumped = ih::dumpJson(value, indent);
    IH_FUZZ_CHECK(ih::isValidUtf8(dumped));
    auto again = ih::parseJson(dumped, max_depth);
    IH_FUZZ_CHECK(again.isOk(), "dumpJson output does not parse back: %s", again.status().message().c_str());
    IH_FUZZ_CHECK(*again == value, "dumpJson round trip changed the value");
  }

  // dumpJson of strings that never went through the parser (plugin output, headers): never throws, gives
  // valid UTF-8 that parses back to the cleaned text.
  json holder = json::object();
  holder[std::string(ih::toValidUtf8(text.substr(0, 16)))] = std::string(text);
  const std::string dumped = ih::dumpJson(holder);
  IH_FUZZ_CHECK(ih::isValidUtf8(dumped));
  auto back = ih::parseJson(dumped);
  IH_FUZZ_CHECK(back.isOk(), "dumpJson of a raw string does not parse back");
  if (ih::isValidUtf8(text)) IH_FUZZ_CHECK(back->begin()->get<std::string>() == text);
  return 0;
}
