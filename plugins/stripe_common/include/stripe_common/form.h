// Stripe's request encoding: application/x-www-form-urlencoded with bracketed keys (`metadata[k]=v`,
// `items[0][price]=p`, `expand[]=x`). Values only; the caller names keys. Pure and thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ih::stripe {

// Percent-encodes everything but RFC 3986 unreserved characters (so `[`/`]` in keys become %5B/%5D, which
// Stripe decodes like the official SDKs send them).
std::string urlEncode(std::string_view text);

// An ordered list of form fields. Keys may repeat (`expand[]`).
class Form {
 public:
  Form& add(std::string key, std::string value);
  Form& add(std::string key, const char* value) { return add(std::move(key), std::string(value)); }
  Form& add(std::string key, int64_t value) { return add(std::move(key), std::to_string(value)); }
  Form& add(std::string key, int value) { return add(std::move(key), std::to_string(value)); }
  Form& add(std::string key, bool value) {
    return add(std::move(key), std::string(value ? "true" : "false"));
  }
  // `metadata[<k>]=<v>`.
  Form& metadata(std::string_view key, std::string value);
  // `expand[]=<path>`.
  Form& expand(std::string path);

  bool empty() const noexcept { return fields_.empty(); }
  const std::vector<std::pair<std::string, std::string>>& fields() const noexcept { return fields_; }
  // "k1=v1&k2=v2", both sides percent-encoded.
  std::string encode() const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace ih::stripe
