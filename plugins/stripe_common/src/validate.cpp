#include "stripe_common/validate.h"

#include <string>

namespace ih::stripe {
namespace {

using ih::sdk::Status;

bool isIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Length of the well-formed UTF-8 sequence at text[i], 0 when ill-formed.
size_t utf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c == 0xE0) {
    need = 2, lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    need = 2;
  } else if (c == 0xED) {
    need = 2, hi = 0x9F;
  } else if (c == 0xF0) {
    need = 3, lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    need = 3;
  } else if (c == 0xF4) {
    need = 3, hi = 0x8F;
  } else {
    return 0;
  }
  if (i + need >= text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k <= need; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return need + 1;
}

Status invalid(const char* field, const std::string& rule) {
  return Status::invalidArgument(std::string(field) + " " + rule);
}

}  // namespace

bool isStripeId(std::string_view text, std::string_view prefix) {
  if (text.size() <= prefix.size() || text.size() > prefix.size() + kMaxStripeId) return false;
  if (text.substr(0, prefix.size()) != prefix) return false;
  for (char c : text.substr(prefix.size()))
    if (!isIdChar(c)) return false;
  return true;
}

bool isPlainText(std::string_view text, size_t max) {
  if (text.size() > max) return false;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return false;
    const size_t n = utf8Length(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

Status checkId(const Json& input, const char* field, std::string_view prefix, bool required) {
  const Json& value = member(input, field);
  if (value.is_null()) return required ? invalid(field, "is required") : Status::ok();
  if (!value.is_string() || !isStripeId(value.get_ref<const std::string&>(), prefix))
    return invalid(field, "must be a Stripe id starting with " + std::string(prefix));
  return Status::ok();
}

Status checkText(const Json& input, const char* field, size_t max_bytes, bool required) {
  const Json& value = member(input, field);
  if (value.is_null()) return required ? invalid(field, "is required") : Status::ok();
  if (!value.is_string()) return invalid(field, "must be a string");
  const std::string& text = value.get_ref<const std::string&>();
  if (required && text.empty()) return invalid(field, "must not be empty");
  if (!isPlainText(text, max_bytes))
    return invalid(
        field, "must be at most " + std::to_string(max_bytes) + " bytes of text without control characters");
  return Status::ok();
}

Status checkInteger(const Json& input, const char* field, int64_t min, int64_t max, bool required) {
  const Json& value = member(input, field);
  if (value.is_null()) return required ? invalid(field, "is required") : Status::ok();
  const std::string range =
      "must be an integer between " + std::to_string(min) + " and " + std::to_string(max);
  if (!value.is_number_integer()) return invalid(field, range);
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(max))
    return invalid(field, range);
  const int64_t n = value.get<int64_t>();
  if (n < min || n > max) return invalid(field, range);
  return Status::ok();
}

Status checkCurrency(const Json& input, const char* field, bool required) {
  const Json& value = member(input, field);
  if (value.is_null()) return required ? invalid(field, "is required") : Status::ok();
  bool ok = value.is_string() && value.get_ref<const std::string&>().size() == 3;
  if (ok) {
    for (char c : value.get_ref<const std::string&>())
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
  }
  return ok ? Status::ok() : invalid(field, "must be a three-letter ISO currency code such as \"usd\"");
}

Status checkMetadata(const Json& input, const char* field) {
  const Json& value = member(input, field);
  if (value.is_null()) return Status::ok();
  if (!value.is_object()) return invalid(field, "must be an object of strings");
  if (value.size() > 50) return invalid(field, "may hold at most 50 keys");
  for (const auto& [key, item] : value.items()) {
    if (key.empty() || !isPlainText(key, 40)) return invalid(field, "keys must be 1-40 characters");
    if (!(item.is_string() || item.is_number() || item.is_boolean()))
      return invalid(field, "values must be strings");
    if (item.is_string() && !isPlainText(item.get_ref<const std::string&>(), 500))
      return invalid(field, "values must be at most 500 characters");
  }
  return Status::ok();
}

}  // namespace ih::stripe
