#include "common/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace ih {
namespace {

constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of a base64 character, or -1.
int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  std::string result(reinterpret_cast<const char*>(mac), length);
  OPENSSL_cleanse(mac, sizeof mac);
  return result;
}

std::string hexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

size_t base64EncodedLength(size_t bytes) {
  return 4 * ((bytes + 2) / 3);
}

void base64EncodeTo(std::string_view bytes, char* out) {
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    *out++ = kBase64Alphabet[(v >> 18) & 63];
    *out++ = kBase64Alphabet[(v >> 12) & 63];
    *out++ = kBase64Alphabet[(v >> 6) & 63];
    *out++ = kBase64Alphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return;
  uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
  if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
  *out++ = kBase64Alphabet[(v >> 18) & 63];
  *out++ = kBase64Alphabet[(v >> 12) & 63];
  *out++ = rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
  *out++ = '=';
}

std::string base64Encode(std::string_view bytes) {
  std::string out(base64EncodedLength(bytes.size()), '\0');
  base64EncodeTo(bytes, out.data());
  return out;
}

Result<size_t> base64DecodeTo(std::string_view text, char* out) {
  if (text.size() % 4 != 0) return Status::invalidArgument("not valid base64: length is not a multiple of 4");
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  if (padding == 1 && text.size() >= 2 && text[text.size() - 2] == '=') {
    return Status::invalidArgument("not valid base64: '=' before the end");
  }
  size_t written = 0;
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t data_chars = last ? 4 - padding : 4;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      int digit = 0;
      if (k < data_chars) {
        digit = base64Value(text[i + k]);
        if (digit < 0) {
          return Status::invalidArgument("not valid base64: unexpected character at position " +
                                         std::to_string(i + k));
        }
      }
      v = (v << 6) | static_cast<uint32_t>(digit);
    }
    // Canonical: the bits the padding leaves over must be zero ("QR==" and "QQ==" are not both "A").
    if (last && ((padding == 1 && (v & 0xFF) != 0) || (padding == 2 && (v & 0xFFFF) != 0))) {
      return Status::invalidArgument("not valid base64: non-canonical encoding");
    }
    out[written++] = static_cast<char>((v >> 16) & 0xFF);
    if (data_chars > 2) out[written++] = static_cast<char>((v >> 8) & 0xFF);
    if (data_chars > 3) out[written++] = static_cast<char>(v & 0xFF);
  }
  return written;
}

Result<std::string> base64Decode(std::string_view text) {
  std::string out(3 * (text.size() / 4), '\0');
  auto written = base64DecodeTo(text, out.data());
  if (!written.isOk()) return written.status();
  out.resize(*written);
  return out;
}

}  // namespace ih
