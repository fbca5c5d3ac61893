// Tolerant reads of Stripe JSON shared by the Stripe plugins and jobs: a missing or mistyped field gives the
// fallback and never throws. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ih::stripe {

using Json = nlohmann::json;

// Nesting allowed in any JSON the plugins read (Stripe's deepest objects nest about 12 levels): deeper text
// would overflow the stack of a later dump().
inline constexpr int kMaxJsonDepth = 64;

// Parsed JSON, or a discarded value (is_discarded()) for malformed text or text nested deeper than
// kMaxJsonDepth.
Json parseJson(std::string_view text);
// object[key] when it is a string (integer), else `fallback`.
std::string str(const Json& object, const char* key, std::string fallback = {});
int64_t integer(const Json& object, const char* key, int64_t fallback = 0);
// object[key], or a null value when `object` is not an object or lacks `key`. The reference points into
// `object` (or at a static null): do not keep it beyond `object`'s life.
const Json& member(const Json& object, const char* key);
// The id of a field Stripe sends as an id string or as an expanded object: as JSON (null when neither) or
// as text ("" when neither).
Json idOrNull(const Json& value);
std::string idOf(const Json& value);
// Wall-clock unix seconds.
int64_t nowSeconds();

}  // namespace ih::stripe
