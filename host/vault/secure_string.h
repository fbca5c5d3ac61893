// Secret bytes and the small crypto helpers every secret-handling module needs (random bytes, strict base64,
// random tokens). Everything here is backed by OpenSSL; nothing here logs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ih::vault {

// Owns secret bytes in one fixed heap buffer that never reallocates, so no stray copy is left behind; the
// buffer is zeroed (OPENSSL_cleanse) before it is freed. Move transfers the buffer and leaves the source
// empty. Copying is deliberately explicit (clone()). Not thread-safe for mutation; const use from many
// threads is fine.
class SecureString {
 public:
  SecureString() = default;
  // Copies `bytes`. The caller still owns (and should wipe) its own copy.
  explicit SecureString(std::string_view bytes);
  // Takes the bytes of `bytes` and wipes the source string (including its spare capacity).
  explicit SecureString(std::string&& bytes);
  // A zero-filled buffer of `size` bytes, to be written through data().
  static SecureString zeroed(size_t size);
  ~SecureString();

  SecureString(SecureString&& other) noexcept;
  SecureString& operator=(SecureString&& other) noexcept;
  SecureString(const SecureString&) = delete;
  SecureString& operator=(const SecureString&) = delete;

  SecureString clone() const { return SecureString(view()); }
  // Valid until this object is destroyed, moved from or cleared.
  std::string_view view() const { return {data_, size_}; }
  const char* data() const { return data_; }
  char* data() { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Zeroes and frees the bytes now.
  void clear();

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

// Zeroes a std::string's whole buffer (size and spare capacity), then clears it. For temporaries that held
// secrets (parsed text, rendered files) before they go out of scope.
void wipe(std::string& text);

// `n` bytes from the OpenSSL CSPRNG (RAND_bytes). Fails only if the CSPRNG is not seeded.
Result<SecureString> randomBytes(size_t n);

// Standard base64 with padding (EVP_EncodeBlock), no line breaks. The output is as secret as the input.
SecureString base64Encode(std::string_view bytes);
// Strict decode: only the standard alphabet, length a multiple of 4, '=' only as final padding, canonical
// encoding (no whitespace, no stray bits). Bad input is kInvalidArgument; the message never quotes the input.
Result<SecureString> base64Decode(std::string_view text);

// `prefix` followed by the base62 encoding ([0-9A-Za-z], fixed width) of `bytes` random bytes, e.g.
// randomToken("ihk_live_", 32) → "ihk_live_" + 43 characters. Base62 keeps the token one "word" for
// ih::redact and for double-click selection. Fails only if the CSPRNG fails.
Result<SecureString> randomToken(std::string_view prefix, size_t bytes);

}  // namespace ih::vault
