// The records JSON scanner (host/records/records.cpp, parseRecords): the allocation-free validator that keeps
// each record's `data` as the bytes the plugin sent. Differential against nlohmann/json: what the scanner
// accepts is valid JSON, every row's id / updated_at / data equals nlohmann's reading of the same element,
// and valid JSON of the right shape is not refused. Never throws (an exception in decodeString would take
// down a plugin call).
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "records/records.h"

namespace {

using nlohmann::json;

// Depth of the deepest nesting, counted without recursion (the scanner itself stops at 256).
int depthOf(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

// Whether some object repeats a key (RFC 8259 leaves the meaning open: the scanner and nlohmann may differ).
bool hasDuplicateKeys(std::string_view text) {
  bool duplicate = false;
  std::vector<std::set<std::string>> open;
  json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == json::parse_event_t::key && !open.empty()) {
      if (!open.back().insert(parsed.get<std::string>()).second) duplicate = true;
    }
    return true;
  };
  (void)json::parse(text.begin(), text.end(), callback, false);
  return duplicate;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = ih::fuzz::asText(data, size);
  auto rows = ih::records::parseRecords("customer", text);
  const json reference = ih::fuzz::hasNul(text) ? json(json::value_t::discarded)
                                                : json::parse(text.begin(), text.end(), nullptr, false);

  if (rows.isOk()) {
    IH_FUZZ_CHECK(!reference.is_discarded(), "the scanner accepted invalid JSON");
    IH_FUZZ_CHECK(reference.is_array() && reference.size() == rows->size());
    for (size_t i = 0; i < rows->size(); ++i) {
      const auto& row = (*rows)[i];
      const json& element = reference[i];
      IH_FUZZ_CHECK(element.is_object());
      IH_FUZZ_CHECK(element["id"].is_string() && element["id"].get<std::string>() == row.id,
                    "records_json[%zu].id differs from nlohmann's", i);
      IH_FUZZ_CHECK(element["updated_at"].is_number_unsigned() &&
                        element["updated_at"].get<uint64_t>() == static_cast<uint64_t>(row.updated_at),
                    "records_json[%zu].updated_at differs", i);
      IH_FUZZ_CHECK(row.updated_at >= 0);
      const json stored = json::parse(row.data_json, nullptr, false);
      IH_FUZZ_CHECK(stored.is_object() && stored == element["data"], "records_json[%zu].data differs", i);
      IH_FUZZ_CHECK(!row.id.empty() && row.id.size() <= 255);
    }
    return 0;
  }
  const std::string& message = rows.status().message();
  IH_FUZZ_CHECK(!message.empty());
  if (reference.is_discarded()) return 0;
  // Valid JSON refused: only for its shape, or nesting beyond the scanner's limit.
  if (depthOf(text) > 200 || hasDuplicateKeys(text)) return 0;
  IH_FUZZ_CHECK(message.find("not valid JSON") == std::string::npos,
                "the scanner refused valid JSON as invalid: %s", message.c_str());
  bool shape_ok = reference.is_array();
  if (shape_ok) {
    for (const json& element : reference) {
      const bool ok = element.is_object() && element.contains("id") && element["id"].is_string() &&
                      !element["id"].get<std::string>().empty() &&
                      element["id"].get<std::string>().size() <= 255 && element.contains("data") &&
                      element["data"].is_object() && element.contains("updated_at") &&
                      element["updated_at"].is_number_unsigned() &&
                      element["updated_at"].get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX);
      if (!ok) shape_ok = false;
    }
  }
  IH_FUZZ_CHECK(!shape_ok, "well-formed records refused: %s", message.c_str());
  return 0;
}
