#include "stripe_common/form.h"

namespace ih::stripe {

std::string urlEncode(std::string_view text) {
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

Form& Form::add(std::string key, std::string value) {
  fields_.emplace_back(std::move(key), std::move(value));
  return *this;
}

Form& Form::metadata(std::string_view key, std::string value) {
  return add("metadata[" + std::string(key) + "]", std::move(value));
}

Form& Form::expand(std::string path) {
  return add("expand[]", std::move(path));
}

std::string Form::encode() const {
  std::string out;
  for (const auto& [key, value] : fields_) {
    if (!out.empty()) out.push_back('&');
    out += urlEncode(key);
    out.push_back('=');
    out += urlEncode(value);
  }
  return out;
}

}  // namespace ih::stripe
