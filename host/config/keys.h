// Private to host/config: the table of host keys ([server], [storage], ... every key with its type, range,
// fix text and where it goes in Config) and the small lookups the loader makes in it. Pure data and pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"

namespace ih::config::keys {

enum class Kind { kString, kInteger, kBoolean, kIntegerList, kStringList, kStringTable };

// A host key's value once its TOML type is right.
struct Value {
  std::string text;
  int64_t integer = 0;
  bool boolean = false;
  std::vector<int> list;
  std::vector<std::string> strings;
  std::map<std::string, std::string> table;
};

struct KeySpec {
  std::string_view name;
  Kind kind;
  int64_t min;  // integers and list elements
  int64_t max;
  std::string_view fix;  // how to write a correct value, shown after any problem with this key
  void (*assign)(Config&, const Value&);
  std::string (*check)(const Value&);  // extra semantic check; returns the problem or ""; may be null
};

struct SectionSpec {
  std::string_view name;
  std::vector<KeySpec> keys;
};

const SectionSpec* findSection(std::string_view name);
const KeySpec* findKey(const SectionSpec& section, std::string_view name);
std::vector<std::string> keyNames(const SectionSpec& section);
std::vector<std::string> topLevelNames();
std::string_view kindText(Kind kind);
// "a string ("x")", "an integer (5)", "a table", ...
std::string describe(const toml::node& node);
// ^[a-z][a-z0-9_]{0,39}$
bool isIntegrationId(std::string_view id);
bool isSha256Hex(std::string_view text);
// A valid id close to `id`, for the fix text.
std::string suggestId(std::string_view id);
std::string joinPath(const std::string& base, std::string_view key);

}  // namespace ih::config::keys
