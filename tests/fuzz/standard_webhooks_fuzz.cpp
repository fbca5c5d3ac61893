// Standard Webhooks signing of outbound deliveries (host/endpoints/signature.*): base64 against an RFC 4648
// reference decoder, whsec_ secrets, and the signature header (space-separated "v1,<base64>" entries) against
// the specification's reading: a signature we produce always verifies, one made for another message id,
// timestamp, body or secret never does, and verify() agrees with the reference on any header.
#include <fuzzer/FuzzedDataProvider.h>

#include <optional>
#include <string>

#include "common/digest.h"
#include "endpoints/signature.h"
#include "fuzz_check.h"

namespace {

using namespace ih::endpoints;
using ih::base64Decode;
using ih::base64Encode;

// RFC 4648 section 4 with padding, strict as section 3.5 allows: the bits after the last byte must be zero
// (one value, one text), as ih::base64Decode (common/digest.h) promises.
std::optional<std::string> referenceBase64Decode(std::string_view text) {
  if (text.empty()) return std::string();
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text[text.size() - 2] == '=') ++padding;
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    const int v = value(text[i]);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical
  return out;
}

bool referenceVerify(std::string_view expected, std::string_view header) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(' ', start);
    if (end == std::string_view::npos) end = header.size();
    if (header.substr(start, end - start) == expected) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>() % 3;

  if (mode == 0) {  // base64 and secrets from raw text
    const std::string text = in.ConsumeRemainingBytesAsString();
    auto decoded = base64Decode(text);
    const auto reference = referenceBase64Decode(text);
    if (decoded.isOk()) {
      IH_FUZZ_CHECK(reference.has_value(), "base64Decode accepted text RFC 4648 refuses");
      IH_FUZZ_CHECK(*decoded == *reference, "base64Decode gave other bytes than the reference");
    } else {
      IH_FUZZ_CHECK(!reference.has_value(), "base64Decode refused valid base64");
    }
    auto key = secretKey(text);
    if (key.isOk()) {
      IH_FUZZ_CHECK(text.substr(0, kSecretPrefix.size()) == kSecretPrefix);
      const auto ref = referenceBase64Decode(std::string_view(text).substr(kSecretPrefix.size()));
      IH_FUZZ_CHECK(ref && !ref->empty() && *ref == *key);
    }
    auto prefixed = secretKey(std::string(kSecretPrefix) + text);
    IH_FUZZ_CHECK(prefixed.isOk() == (reference.has_value() && !reference->empty()));
    return 0;
  }

  if (mode == 1) {  // round trip of bytes through base64
    const std::string bytes = in.ConsumeRemainingBytesAsString();
    const std::string encoded = base64Encode(bytes);
    IH_FUZZ_CHECK(encoded.size() == 4 * ((bytes.size() + 2) / 3));
    if (!bytes.empty()) {
      auto back = base64Decode(encoded);
      IH_FUZZ_CHECK(back.isOk() && *back == bytes, "base64 round trip failed");
      auto key = secretKey(std::string(kSecretPrefix) + encoded);
      IH_FUZZ_CHECK(key.isOk() && *key == bytes);
    }
    return 0;
  }

  // mode 2: sign and verify
  const std::string key_bytes = in.ConsumeRandomLengthString(48);
  const std::string msg_id = in.ConsumeRandomLengthString(40);
  const int64_t timestamp = in.ConsumeIntegral<int64_t>();
  const std::string header_noise = in.ConsumeRandomLengthString(200);
  const std::string body = in.ConsumeRemainingBytesAsString();
  if (key_bytes.empty()) return 0;
  const std::string secret = std::string(kSecretPrefix) + base64Encode(key_bytes);
  const std::string signature = sign(key_bytes, msg_id, timestamp, body);
  IH_FUZZ_CHECK(signature.rfind("v1,", 0) == 0 && signature.size() == 3 + 44);
  IH_FUZZ_CHECK(verify(secret, msg_id, timestamp, body, signature), "our own signature does not verify");
  // Rolling secrets: several entries, any may match; the noise is another entry.
  IH_FUZZ_CHECK(verify(secret, msg_id, timestamp, body, header_noise + " " + signature));
  IH_FUZZ_CHECK(verify(secret, msg_id, timestamp, body, signature + " " + header_noise));
  IH_FUZZ_CHECK(!verify(secret, msg_id + "x", timestamp, body, signature), "another message id verified");
  const int64_t other_timestamp = timestamp == INT64_MAX ? timestamp - 1 : timestamp + 1;
  IH_FUZZ_CHECK(!verify(secret, msg_id, other_timestamp, body, signature), "another timestamp verified");
  IH_FUZZ_CHECK(!verify(secret, msg_id, timestamp, body + "x", signature), "another body verified");
  const std::string other_secret = std::string(kSecretPrefix) + base64Encode(key_bytes + "x");
  IH_FUZZ_CHECK(!verify(other_secret, msg_id, timestamp, body, signature), "another secret verified");
  // Any header: verify() agrees with the specification's reading.
  IH_FUZZ_CHECK(verify(secret, msg_id, timestamp, body, header_noise) ==
                referenceVerify(signature, header_noise));
  return 0;
}
