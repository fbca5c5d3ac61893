#include "vault/secure_string.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/digest.h"

namespace ih::vault {

SecureString::SecureString(std::string_view bytes) {
  if (bytes.empty()) return;
  data_ = new char[bytes.size()];
  size_ = bytes.size();
  std::memcpy(data_, bytes.data(), bytes.size());
}

SecureString::SecureString(std::string&& bytes) : SecureString(std::string_view(bytes)) {
  wipe(bytes);
}

SecureString SecureString::zeroed(size_t size) {
  SecureString out;
  if (size == 0) return out;
  out.data_ = new char[size]();
  out.size_ = size;
  return out;
}

SecureString::~SecureString() {
  clear();
}

SecureString::SecureString(SecureString&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecureString& SecureString::operator=(SecureString&& other) noexcept {
  if (this != &other) {
    clear();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void SecureString::clear() {
  if (data_ != nullptr) {
    OPENSSL_cleanse(data_, size_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
}

void wipe(std::string& text) {
  // Cleanse the whole allocation: a shrunk string may still hold secret bytes past size().
  text.resize(text.capacity());
  if (!text.empty()) OPENSSL_cleanse(text.data(), text.size());
  text.clear();
}

Result<SecureString> randomBytes(size_t n) {
  SecureString out = SecureString::zeroed(n);
  if (n == 0) return out;
  if (n > static_cast<size_t>(INT_MAX)) return Status::invalidArgument("randomBytes: request too large");
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Status::internal("the OpenSSL random generator failed (RAND_bytes); cannot create secrets");
  }
  return out;
}

SecureString base64Encode(std::string_view bytes) {
  SecureString out = SecureString::zeroed(ih::base64EncodedLength(bytes.size()));
  ih::base64EncodeTo(bytes, out.data());
  return out;
}

Result<SecureString> base64Decode(std::string_view text) {
  SecureString buffer = SecureString::zeroed(3 * (text.size() / 4));
  auto written = ih::base64DecodeTo(text, buffer.data());
  if (!written.isOk()) return written.status();
  return SecureString(buffer.view().substr(0, *written));
}

Result<SecureString> randomToken(std::string_view prefix, size_t bytes) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  Result<SecureString> random = randomBytes(bytes);
  if (!random.isOk()) return random.status();
  // Fixed width: the number of base62 digits needed for any value of `bytes` bytes.
  size_t width = static_cast<size_t>(std::ceil(static_cast<double>(bytes) * 8.0 / std::log2(62.0)));
  SecureString digits = SecureString::zeroed(prefix.size() + width);
  std::memcpy(digits.data(), prefix.data(), prefix.size());
  // Schoolbook division of the big-endian number by 62, one digit per pass, least significant digit last.
  std::vector<unsigned char> number(random->view().begin(), random->view().end());
  for (size_t pos = width; pos > 0; --pos) {
    unsigned remainder = 0;
    for (unsigned char& byte : number) {
      unsigned value = (remainder << 8) | byte;
      byte = static_cast<unsigned char>(value / 62);
      remainder = value % 62;
    }
    digits.data()[prefix.size() + pos - 1] = kAlphabet[remainder];
  }
  if (!number.empty()) OPENSSL_cleanse(number.data(), number.size());
  return digits;
}

}  // namespace ih::vault
