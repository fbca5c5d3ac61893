// Wire helpers shared by the resource files: form decoding with bracket notation, HMAC signing, Stripe-like ids,
// error shapes, and reading request parameters (integers, booleans, strings, metadata, limit).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <charconv>
#include <random>

#include "stripe_double/internal.h"

namespace ih::stripe_double {
namespace detail {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Splits "a[b][0][]" into {"a","b","0",""}; returns false on malformed brackets.
bool splitKey(std::string_view key, std::vector<std::string>& out) {
  size_t open = key.find('[');
  out.emplace_back(key.substr(0, open));
  if (out.back().empty()) return false;
  while (open != std::string_view::npos) {
    size_t close = key.find(']', open);
    if (close == std::string_view::npos) return false;
    out.emplace_back(key.substr(open + 1, close - open - 1));
    open = close + 1;
    if (open == key.size()) break;
    if (key[open] != '[') return false;
  }
  return true;
}

void insertValue(json& root, const std::vector<std::string>& segs, const std::string& value) {
  json* node = &root;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& seg = segs[i];
    const bool last = i + 1 == segs.size();
    // Keys under metadata are always object keys, even when numeric.
    const bool parent_is_metadata = i > 0 && segs[i - 1] == "metadata";
    const bool arrayish = !parent_is_metadata && (seg.empty() || allDigits(seg));
    if (node->is_null()) *node = arrayish && i > 0 ? json::array() : json::object();
    if (node->is_array()) {
      if (seg.empty()) {
        node->push_back(nullptr);
        node = &node->back();
      } else if (allDigits(seg) && seg.size() < 6) {
        size_t idx = 0;
        std::from_chars(seg.data(), seg.data() + seg.size(), idx);  // all digits, at most 5
        while (node->size() <= idx)
          node->push_back(nullptr);
        node = &(*node)[idx];
      } else {
        return;  // mixed array/object keys: ignore
      }
    } else if (node->is_object()) {
      node = &(*node)[seg];
    } else {
      return;  // scalar already there (e.g. "a=1&a[b]=2"): ignore
    }
    if (last) *node = value;
  }
}

}  // namespace

std::string urlDecode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 && hexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

json parseForm(std::string_view body) {
  json root = json::object();
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view pair = body.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) {
      if (amp == body.size()) break;
      continue;
    }
    size_t eq = pair.find('=');
    std::string key = urlDecode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? "" : urlDecode(pair.substr(eq + 1), true);
    std::vector<std::string> segs;
    if (!splitKey(key, segs)) continue;
    insertValue(root, segs, value);
    if (amp == body.size()) break;
  }
  return root;
}

std::string hmacSha256Hex(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(mac_len * 2);
  for (unsigned int i = 0; i < mac_len; ++i) {
    out.push_back(hex[mac[i] >> 4]);
    out.push_back(hex[mac[i] & 15]);
  }
  return out;
}

std::string randomTail(size_t length) {
  static const char* alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out(length, '0');
  for (auto& c : out)
    c = alphabet[rng() % 62];
  return out;
}

std::string newId(std::string_view prefix, size_t length) {
  std::string id(prefix);
  id += '_';
  id += randomTail(length);
  return id;
}

std::string maskKey(const std::string& key) {
  size_t prefix = key.rfind('_');
  prefix = prefix == std::string::npos ? 0 : prefix + 1;
  if (key.size() <= prefix + 4) return key.substr(0, prefix) + std::string(key.size() - prefix, '*');
  return key.substr(0, prefix) + std::string(key.size() - prefix - 4, '*') + key.substr(key.size() - 4);
}

}  // namespace detail

std::string StripeDouble::signatureHeader(const std::string& secret, int64_t timestamp,
                                          const std::string& payload) {
  const std::string t = std::to_string(timestamp);
  return "t=" + t + ",v1=" + detail::hmacSha256Hex(secret, t + "." + payload);
}

Reply stripeError(int status, const std::string& type, const std::string& code, const std::string& message,
                  const std::string& param) {
  Reply r;
  r.status = status;
  json e = {{"type", type}, {"message", message}};
  if (!code.empty()) {
    e["code"] = code;
    e["doc_url"] = "https://stripe.com/docs/error-codes/" + [&] {
      std::string s = code;
      for (auto& ch : s)
        if (ch == '_') ch = '-';
      return s;
    }();
  }
  if (!param.empty()) e["param"] = param;
  r.body = {{"error", e}};
  return r;
}

Reply missingParam(const std::string& param) {
  return stripeError(400, "invalid_request_error", "parameter_missing",
                     "Missing required param: " + param + ".", param);
}

Reply invalidParam(const std::string& param, const std::string& message) {
  return stripeError(400, "invalid_request_error", "parameter_invalid", message, param);
}

Reply noSuch(const std::string& what, const std::string& id, const std::string& param) {
  return stripeError(404, "invalid_request_error", "resource_missing", "No such " + what + ": '" + id + "'",
                     param);
}

Reply ok(json body) {
  Reply r;
  r.body = std::move(body);
  return r;
}

Reply unrecognized(const Ctx& c) {
  std::string path = "/v1";
  for (const auto& s : c.seg)
    path += "/" + s;
  return stripeError(
      404, "invalid_request_error", "",
      "Unrecognized request URL (" + c.method + ": " + path +
          "). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.");
}

std::optional<int64_t> asInt(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty()) return std::nullopt;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size() || s.size() > 19) return std::nullopt;
  for (size_t j = i; j < s.size(); ++j)
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return std::nullopt;
  int64_t out = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;  // beyond int64 range
  return out;
}

std::optional<bool> asBool(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v == "true") return true;
  if (v == "false") return false;
  return std::nullopt;
}

std::string str(const json& params, const std::string& key) {
  auto it = params.find(key);
  if (it == params.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

void applyMetadata(json& obj, const json& params) {
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  auto it = params.find("metadata");
  if (it == params.end()) return;
  if (it->is_string()) {
    if (it->get<std::string>().empty()) obj["metadata"] = json::object();
    return;
  }
  if (!it->is_object()) return;
  for (auto& [k, v] : it->items()) {
    if (v.is_string() && v.get<std::string>().empty())
      obj["metadata"].erase(k);
    else if (v.is_string())
      obj["metadata"][k] = v;
  }
}

std::optional<Reply> checkMetadata(const json& params) {
  auto it = params.find("metadata");
  if (it == params.end() || !it->is_object()) return std::nullopt;
  if (it->size() > 50) return invalidParam("metadata", "Metadata can have up to 50 keys.");
  for (auto& [k, v] : it->items()) {
    if (k.size() > 40) return invalidParam("metadata", "Metadata keys can have up to 40 characters.");
    if (!v.is_string()) return invalidParam("metadata[" + k + "]", "Metadata values must be strings.");
    if (v.get<std::string>().size() > 500)
      return invalidParam("metadata[" + k + "]", "Metadata values can have up to 500 characters.");
  }
  return std::nullopt;
}

std::optional<Reply> intParam(const json& params, const std::string& key, std::optional<int64_t>& out) {
  out.reset();
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  out = asInt(*it);
  if (!out)
    return stripeError(400, "invalid_request_error", "parameter_invalid_integer",
                       "Invalid integer: " + (it->is_string() ? it->get<std::string>() : it->dump()), key);
  return std::nullopt;
}

std::optional<Reply> boolParam(const json& params, const std::string& key, bool def, bool& out) {
  out = def;
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  auto b = asBool(*it);
  if (!b)
    return invalidParam(key, "Invalid boolean: " + (it->is_string() ? it->get<std::string>() : it->dump()));
  out = *b;
  return std::nullopt;
}

void setString(json& obj, const json& params, const std::string& key) {
  if (params.contains(key) && params[key].is_string())
    obj[key] = params[key].get<std::string>().empty() ? json(nullptr) : params[key];
}

std::optional<Reply> parseLimit(const json& params, int64_t& limit) {
  limit = 10;
  auto it = params.find("limit");
  if (it == params.end()) return std::nullopt;
  auto v = asInt(*it);
  if (!v)
    return stripeError(400, "invalid_request_error", "parameter_invalid_integer",
                       "Invalid integer: " + (it->is_string() ? it->get<std::string>() : it->dump()),
                       "limit");
  if (*v < 1 || *v > 100)
    return invalidParam("limit", *v < 1 ? "This value must be greater than or equal to 1."
                                        : "This value must be less than or equal to 100.");
  limit = *v;
  return std::nullopt;
}

std::vector<std::string> stringList(const json& v) {
  std::vector<std::string> out;
  if (v.is_string()) out.push_back(v.get<std::string>());
  if (v.is_array())
    for (auto& e : v)
      if (e.is_string()) out.push_back(e.get<std::string>());
  if (v.is_object())
    for (auto& [k, e] : v.items())
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

json diff(const json& before, const json& after) {
  json prev = json::object();
  for (auto& [k, v] : after.items()) {
    auto it = before.find(k);
    if (it == before.end())
      prev[k] = nullptr;
    else if (*it != v)
      prev[k] = *it;
  }
  return prev;
}

}  // namespace ih::stripe_double
