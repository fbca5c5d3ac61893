#include "endpoints/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace ih::endpoints {

std::string base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

namespace {

bool isBase64Character(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

Result<std::string> base64Decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return Status::invalidArgument("not base64 (length)");
  // EVP_DecodeBlock alone takes '=' anywhere ("Qy=L" decoded to garbage) and skips whitespace: check the
  // alphabet first, with at most two '=' and only at the end.
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text[text.size() - 2] == '=') ++padding;
  if (padding == 1 && text[text.size() - 2] == '=') return Status::invalidArgument("not base64");
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (!isBase64Character(text[i])) return Status::invalidArgument("not base64");
  }
  std::string out(3 * (text.size() / 4), '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return Status::invalidArgument("not base64");
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

Result<std::string> generateSecret() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Status::internal("random generator failed");
  return std::string(kSecretPrefix) +
         base64Encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

Result<std::string> secretKey(std::string_view secret) {
  if (secret.substr(0, kSecretPrefix.size()) != kSecretPrefix) {
    return Status::invalidArgument("a signing secret starts with whsec_");
  }
  auto key = base64Decode(secret.substr(kSecretPrefix.size()));
  if (!key.isOk() || key->empty()) return Status::invalidArgument("the signing secret is not whsec_<base64>");
  return key;
}

std::string sign(std::string_view key, std::string_view msg_id, int64_t timestamp, std::string_view body) {
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content += msg_id;
  content += '.';
  content += std::to_string(timestamp);
  content += '.';
  content += body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len);
  return "v1," + base64Encode(std::string_view(reinterpret_cast<char*>(mac), mac_len));
}

bool verify(std::string_view secret, std::string_view msg_id, int64_t timestamp, std::string_view body,
            std::string_view signature_header) {
  auto key = secretKey(secret);
  if (!key.isOk()) return false;
  const std::string expected = sign(*key, msg_id, timestamp, body);
  size_t start = 0;
  while (start <= signature_header.size()) {
    size_t end = signature_header.find(' ', start);
    if (end == std::string_view::npos) end = signature_header.size();
    std::string_view candidate = signature_header.substr(start, end - start);
    if (candidate.size() == expected.size() &&
        CRYPTO_memcmp(candidate.data(), expected.data(), expected.size()) == 0) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

}  // namespace ih::endpoints
