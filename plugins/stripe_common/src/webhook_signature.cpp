#include "stripe_common/webhook_signature.h"

#include <string>
#include <vector>

#include "ih/hmac.hpp"

namespace ih::stripe {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool parseTimestamp(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

}  // namespace

ih::sdk::Result<int64_t> verifySignature(std::string_view header, std::string_view payload,
                                         std::string_view secret, int64_t tolerance_s, int64_t now_s) {
  using ih::sdk::Status;
  std::string_view timestamp_text;
  bool has_timestamp = false;
  std::vector<std::string_view> signatures;
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    if (comma == std::string_view::npos) comma = header.size();
    const std::string_view item = trim(header.substr(start, comma - start));
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      const std::string_view key = item.substr(0, eq);
      const std::string_view value = item.substr(eq + 1);
      if (key == "t" && !has_timestamp) {
        timestamp_text = value;
        has_timestamp = true;
      } else if (key == "v1") {
        signatures.push_back(value);
      }  // v0 and unknown keys are ignored
    }
    start = comma + 1;
  }
  int64_t timestamp = 0;
  if (!has_timestamp || !parseTimestamp(timestamp_text, timestamp)) {
    return Status::signature("Unable to extract timestamp and signatures from header");
  }
  if (signatures.empty()) return Status::signature("No signatures found with expected scheme");
  if (secret.empty()) return Status::signature("No webhook signing secret is configured");

  std::string signed_payload(timestamp_text);
  signed_payload.push_back('.');
  signed_payload.append(payload.data(), payload.size());
  const std::string expected = ih::sdk::hmacSha256Hex(secret, signed_payload);
  bool matched = false;
  for (std::string_view candidate : signatures) {
    // Every candidate is compared (no early exit) so timing does not reveal which one matched.
    if (candidate.size() == expected.size() && ih::sdk::constantTimeEquals(candidate, expected))
      matched = true;
  }
  if (!matched) return Status::signature("No signatures found matching the expected signature for payload");
  if (tolerance_s > 0 && now_s - timestamp > tolerance_s) {
    return Status::signature("Timestamp outside the tolerance zone");
  }
  return timestamp;
}

std::string signatureHeader(std::string_view secret, int64_t timestamp, std::string_view payload) {
  const std::string t = std::to_string(timestamp);
  std::string signed_payload = t + ".";
  signed_payload.append(payload.data(), payload.size());
  return "t=" + t + ",v1=" + ih::sdk::hmacSha256Hex(secret, signed_payload);
}

}  // namespace ih::stripe
