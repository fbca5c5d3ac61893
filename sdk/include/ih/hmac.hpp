// ihost plugin SDK: HMAC helpers for webhook signature checks. Header-only, but unlike ih/plugin.hpp it needs
// OpenSSL 3 (link OpenSSL::Crypto). Kept apart so that plugin.hpp stays dependency-free.
// All functions are pure and thread-safe; none throws except std::bad_alloc.
#ifndef IH_HMAC_HPP
#define IH_HMAC_HPP

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ih::sdk {

// Constant-time equality (CRYPTO_memcmp) for signatures. Leaks only whether the lengths differ.
inline bool constantTimeEquals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Raw HMAC-SHA256(key, data): 32 bytes, or empty if OpenSSL fails (never expected).
inline std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  static const unsigned char kEmpty[1] = {0};
  const void* key_ptr = key.empty() ? static_cast<const void*>(kEmpty) : static_cast<const void*>(key.data());
  const unsigned char* data_ptr = data.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), digest, &digest_len) ==
      nullptr) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(digest), digest_len);
}

// Lowercase hex of HMAC-SHA256(key, data). Returns an empty string if OpenSSL fails (never expected).
inline std::string hmacSha256Hex(std::string_view key, std::string_view data) {
  static const char* const kHex = "0123456789abcdef";
  const std::string digest = hmacSha256(key, data);
  std::string out;
  out.reserve(digest.size() * 2);
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xF]);
  }
  return out;
}

// Standard base64 (RFC 4648, with padding).
inline std::string base64Encode(std::string_view bytes) {
  static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                       uint32_t(uint8_t(bytes[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// Strict standard base64 (RFC 4648 section 3.5): length a multiple of 4, padding only at the end, no whitespace,
// and the bits after the last byte zero, so each byte string has one text. nullopt otherwise.
inline std::optional<std::string> base64Decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[k] = value(c);
      if (v[k] < 0) return std::nullopt;
    }
    if ((pad == 1 && (v[2] & 0x3) != 0) || (pad == 2 && (v[1] & 0xF) != 0)) return std::nullopt;
    const uint32_t n =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out += char((n >> 16) & 0xFF);
    if (pad < 2) out += char((n >> 8) & 0xFF);
    if (pad < 1) out += char(n & 0xFF);
  }
  return out;
}

// Standard Webhooks (standardwebhooks.com): the signature of one delivery, "v1,<base64 HMAC-SHA256 of
// '<msg id>.<timestamp>.<body>'>", where `key` is the secret's bytes (the base64 after "whsec_", decoded).
inline std::string standardWebhookSignature(std::string_view key, std::string_view msg_id, int64_t timestamp,
                                            std::string_view body) {
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content.append(msg_id.data(), msg_id.size());
  content += '.';
  content += std::to_string(timestamp);
  content += '.';
  content.append(body.data(), body.size());
  return "v1," + base64Encode(hmacSha256(key, content));
}

// The key bytes of a Standard Webhooks secret ("whsec_<base64>", or the bare base64). nullopt when malformed.
inline std::optional<std::string> standardWebhookKey(std::string_view secret) {
  if (secret.substr(0, 6) == "whsec_") secret.remove_prefix(6);
  auto key = base64Decode(secret);
  if (!key || key->empty()) return std::nullopt;
  return key;
}

// Whether `signature_header` (space-separated "v1,<base64>" entries; other versions are ignored) holds the
// signature of this delivery. Constant-time per entry.
inline bool standardWebhookSignatureMatches(std::string_view key, std::string_view msg_id, int64_t timestamp,
                                            std::string_view body, std::string_view signature_header) {
  const std::string expected = standardWebhookSignature(key, msg_id, timestamp, body);
  bool matched = false;
  while (!signature_header.empty()) {
    const size_t space = signature_header.find(' ');
    const std::string_view entry = signature_header.substr(0, space);
    if (entry.substr(0, 3) == "v1," && constantTimeEquals(entry, expected)) matched = true;
    if (space == std::string_view::npos) break;
    signature_header.remove_prefix(space + 1);
  }
  return matched;
}

}  // namespace ih::sdk

#endif  // IH_HMAC_HPP
