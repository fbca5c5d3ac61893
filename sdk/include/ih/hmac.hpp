// ihost plugin SDK: HMAC helpers for webhook signature checks. Header-only, but unlike ih/plugin.hpp it needs
// OpenSSL 3 (link OpenSSL::Crypto). Kept apart so that plugin.hpp stays dependency-free.
// All functions are pure and thread-safe; none throws except std::bad_alloc.
#ifndef IH_HMAC_HPP
#define IH_HMAC_HPP

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace ih::sdk {

// Lowercase hex of HMAC-SHA256(key, data). Returns an empty string if OpenSSL fails (never expected).
inline std::string hmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  // HMAC() rejects a NULL key pointer even with length 0; give it a valid empty buffer.
  static const unsigned char kEmpty[1] = {0};
  const void* key_ptr = key.empty() ? static_cast<const void*>(kEmpty) : static_cast<const void*>(key.data());
  const unsigned char* data_ptr = data.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr, data.size(), digest, &digest_len) ==
      nullptr) {
    return std::string();
  }
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(digest_len * 2);
  for (unsigned int i = 0; i < digest_len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

// Constant-time equality (CRYPTO_memcmp) for signatures. Leaks only whether the lengths differ.
inline bool constantTimeEquals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ih::sdk

#endif  // IH_HMAC_HPP
