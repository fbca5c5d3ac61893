#include "stripe_common/json_util.h"

#include <chrono>

namespace ih::stripe {

namespace {

// True when arrays and objects in `text` nest deeper than `limit` (strings skipped; no recursion).
bool nestsDeeperThan(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace

Json parseJson(std::string_view text) {
  if (nestsDeeperThan(text, kMaxJsonDepth)) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), nullptr, false);
}

std::string str(const Json& object, const char* key, std::string fallback) {
  if (object.is_object()) {
    auto it = object.find(key);
    if (it != object.end() && it->is_string()) return it->get<std::string>();
  }
  return fallback;
}

int64_t integer(const Json& object, const char* key, int64_t fallback) {
  if (object.is_object()) {
    auto it = object.find(key);
    if (it != object.end() && it->is_number_integer()) return it->get<int64_t>();
  }
  return fallback;
}

const Json& member(const Json& object, const char* key) {
  static const Json kNull;
  if (object.is_object()) {
    auto it = object.find(key);
    if (it != object.end()) return *it;
  }
  return kNull;
}

Json idOrNull(const Json& value) {
  if (value.is_string()) return value;
  if (value.is_object() && value.contains("id")) return value["id"];
  return nullptr;
}

std::string idOf(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) return str(value, "id");
  return {};
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ih::stripe
