// application/x-www-form-urlencoded: urlEncode for one component, formEncode for ordered key/value pairs, and
// Form, a builder with the bracket-nested keys of Stripe, Rails and PHP (`metadata[plan]=pro`, `expand[]=x`).
// Pure values and functions: thread-compatible; nothing throws but std::bad_alloc. Any bytes are accepted: no
// key or value can inject '&' or '=' into another field (tests/fuzz/stripe_form_fuzz.cpp checks it).
#ifndef IH_SDK_FORM_HPP
#define IH_SDK_FORM_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ih::sdk {

// Percent-encodes every byte but the RFC 3986 unreserved characters (A-Z a-z 0-9 - _ . ~), hex in upper case.
// Right for a query value, a form key or value, and a path segment. '[' and ']' become %5B and %5D, which
// bracket-nesting decoders (Stripe's among them) read as brackets, as the official Stripe SDKs send them.
inline std::string urlEncode(std::string_view text) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

using FormFields = std::vector<std::pair<std::string, std::string>>;

// "k1=v1&k2=v2" in the order given (keys may repeat), both sides urlEncode'd; "" for no fields.
inline std::string formEncode(const FormFields& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += urlEncode(key);
    out.push_back('=');
    out += urlEncode(value);
  }
  return out;
}

// An ordered list of form fields, encoded by encode(). For example
//   Form().add("name", "Pro").addMember("metadata", "plan", "pro").addElement("expand", "customer").encode()
//   == "name=Pro&metadata%5Bplan%5D=pro&expand%5B%5D=customer"
class Form {
 public:
  Form& add(std::string key, std::string value) {
    fields_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Form& add(std::string key, const char* value) { return add(std::move(key), std::string(value)); }
  Form& add(std::string key, int64_t value) { return add(std::move(key), std::to_string(value)); }
  Form& add(std::string key, int value) { return add(std::move(key), std::to_string(value)); }
  Form& add(std::string key, bool value) {
    return add(std::move(key), std::string(value ? "true" : "false"));
  }
  // `<object>[<key>]=<value>`: member `key` of the nested object `object` (e.g. Stripe's metadata).
  Form& addMember(std::string_view object, std::string_view key, std::string value) {
    return add(std::string(object) + "[" + std::string(key) + "]", std::move(value));
  }
  // `<list>[]=<value>`: one more element of the list `list` (e.g. Stripe's expand[]).
  Form& addElement(std::string_view list, std::string value) {
    return add(std::string(list) + "[]", std::move(value));
  }

  bool empty() const noexcept { return fields_.empty(); }
  const FormFields& fields() const noexcept { return fields_; }
  std::string encode() const { return formEncode(fields_); }

 private:
  FormFields fields_;
};

}  // namespace ih::sdk

#endif  // IH_SDK_FORM_HPP
