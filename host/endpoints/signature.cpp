#include "endpoints/signature.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/digest.h"

namespace ih::endpoints {

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
  return "v1," + base64Encode(hmacSha256(key, content));
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
