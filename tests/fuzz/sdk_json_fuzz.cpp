// The SDK's JSON reader (sdk/include/ih/plugin.hpp, ih::sdk::json): what every plugin uses to read host
// metadata (request_json, event_json, http response meta). Never throws, never reads out of bounds, and on
// valid JSON agrees with nlohmann/json: isValid is true, forEachMember/rawField/stringField/intField/
// headerField give nlohmann's members, and quote() produces a literal that reads back to its input.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "ih/plugin.hpp"

namespace sj = ih::sdk::json;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = ih::fuzz::asText(data, size);

  // Any text: nothing may throw or overrun (ASan watches the reads past the end).
  const bool valid = sj::isValid(text);
  (void)sj::unquote(text);
  std::map<std::string, std::string> members;
  const bool is_object = sj::forEachMember(text, [&](const std::string& key, std::string_view value) {
    members.emplace(key, std::string(value));  // first occurrence, as rawField
  });
  size_t elements = 0;
  const bool is_array = sj::forEachElement(text, [&](std::string_view) { ++elements; });
  (void)sj::rawField(text, "status");
  (void)sj::stringField(text, "url");
  (void)sj::intField(text, "status");
  (void)sj::headerField(text, "Content-Type");
  // rawPaths reads in one pass what rawField reads level by level, and accepts exactly isValid's objects.
  const auto paths = sj::rawPaths(text, {"id", "data.object.id", "data"});
  const auto data_member = sj::rawField(text, "data");
  const auto object = data_member ? sj::rawField(*data_member, "object") : std::nullopt;

  // forEachMember / forEachElement validate in the same scan as they read: they accept exactly isValid's
  // objects and arrays.
  const size_t lead = text.find_first_not_of(" \t\r\n");
  const char opener = lead == std::string_view::npos ? '\0' : text[lead];
  IH_FUZZ_CHECK(is_object == (valid && opener == '{'), "forEachMember and isValid disagree");
  IH_FUZZ_CHECK(is_array == (valid && opener == '['), "forEachElement and isValid disagree");
  if (!is_object) IH_FUZZ_CHECK(members.empty(), "forEachMember called back on invalid text");
  IH_FUZZ_CHECK(paths.has_value() == is_object, "rawPaths and forEachMember disagree on validity");
  if (paths) {
    IH_FUZZ_CHECK((*paths)[0] == sj::rawField(text, "id"), "rawPaths(id) != rawField(id)");
    IH_FUZZ_CHECK((*paths)[2] == data_member, "rawPaths(data) != rawField(data)");
    IH_FUZZ_CHECK((*paths)[1] == (object ? sj::rawField(*object, "id") : std::nullopt),
                  "rawPaths(data.object.id) differs from rawField level by level");
  }

  // quote() round trip through nlohmann and through unquote().
  const std::string quoted = sj::quote(text);
  IH_FUZZ_CHECK(sj::isValid(quoted));
  IH_FUZZ_CHECK(sj::unquote(quoted) == std::string(text), "unquote(quote(x)) != x");
  const json literal = json::parse(quoted, nullptr, false);
  if (!literal.is_discarded()) IH_FUZZ_CHECK(literal.get<std::string>() == text);

  // Valid JSON (what the host sends): the SDK reads what nlohmann reads.
  if (ih::fuzz::hasNul(text)) return 0;
  const json reference = json::parse(text.begin(), text.end(), nullptr, false);
  if (reference.is_discarded()) return 0;
  IH_FUZZ_CHECK(valid, "isValid refused valid JSON");
  IH_FUZZ_CHECK(is_object == reference.is_object());
  IH_FUZZ_CHECK(is_array == reference.is_array());
  if (is_array) IH_FUZZ_CHECK(elements == reference.size());
  if (!is_object) return 0;
  size_t checked = 0;
  for (const auto& [key, raw] : members) {
    if (++checked > 16) break;  // each field lookup re-reads the whole text: bound the work per input
    IH_FUZZ_CHECK(reference.contains(key), "member \"%s\" is not in nlohmann's object", key.c_str());
    const json value = json::parse(raw, nullptr, false);
    IH_FUZZ_CHECK(!value.is_discarded(), "raw member text of \"%s\" is not JSON", key.c_str());
    const auto as_string = sj::stringField(text, key);
    const json& first = value;  // nlohmann keeps the last duplicate; compare types only when unique
    if (value.is_string()) IH_FUZZ_CHECK(as_string && *as_string == first.get<std::string>());
    if (!value.is_string()) IH_FUZZ_CHECK(!as_string);
    const auto as_int = sj::intField(text, key);
    if (value.is_number_integer() && raw.find_first_of(".eE") == std::string::npos &&
        (value.is_number_unsigned() ? value.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX) : true))
      IH_FUZZ_CHECK(as_int && *as_int == value.get<int64_t>(), "intField(\"%s\") differs", key.c_str());
    if (!value.is_number()) IH_FUZZ_CHECK(!as_int);
  }
  IH_FUZZ_CHECK(members.size() == reference.size(), "forEachMember saw %zu members, nlohmann %zu",
                members.size(), reference.size());
  return 0;
}
