#include "stripe_common/webhook_signature.h"

#include <charconv>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "ih/hmac.hpp"

namespace ih::stripe {
namespace {

// At most 15 digits: stripe-node reads `t` into a JavaScript number and signs its decimal form, which is the
// same text only below 2^53 (and 15 digits is more than 30 million years of unix time).
constexpr size_t kMaxTimestampDigits = 15;

// Canonical decimal only (no sign, spaces or leading zero): then stripe-node's `${parseInt(t)}` and
// stripe-python's "%d" % int(t) sign exactly the text we sign.
bool parseTimestamp(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > kMaxTimestampDigits) return false;
  if (text.size() > 1 && text[0] == '0') return false;
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
  // Read as stripe-node (split(','), split('='), the last `t` wins) and stripe-python (split(','),
  // split('=', 2), the first `t` wins, an item "t" or "v1" without '=' raises) read it, refusing whatever
  // the two would read differently or one of them refuses: nothing is trimmed (" v1=…" is not a v1
  // signature for either), a second `t` and a bare "t"/"v1" item fail the header.
  std::string_view timestamp_text;
  int timestamps = 0;
  bool malformed = false;
  std::vector<std::string_view> signatures;
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    if (comma == std::string_view::npos) comma = header.size();
    const std::string_view item = header.substr(start, comma - start);
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    if (eq == std::string_view::npos) {
      if (key == "t" || key == "v1") malformed = true;
    } else {
      const std::string_view value = item.substr(eq + 1);
      if (key == "t") {
        timestamp_text = value;
        ++timestamps;
      } else if (key == "v1") {
        signatures.push_back(value);
      }  // v0 and unknown keys are ignored
    }
    start = comma + 1;
  }
  int64_t timestamp = 0;
  if (malformed || timestamps != 1 || !parseTimestamp(timestamp_text, timestamp)) {
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

ih::sdk::Result<std::string> verifiedEventMeta(std::string_view body, int64_t signed_at, bool with_account) {
  namespace sj = ih::sdk::json;
  const auto fields = sj::rawPaths(body, {"id", "type", "created", "data.object.id", "account"});
  const auto text = [&](size_t k) {
    return fields && (*fields)[k] ? sj::unquote(*(*fields)[k]) : std::optional<std::string>();
  };
  const auto id = text(0);
  const auto type = text(1);
  if (!fields || !id || id->empty() || !type || type->empty())
    return ih::sdk::Status::invalidArgument("webhook body is not a Stripe event");
  int64_t created = signed_at;
  if (const auto& raw = (*fields)[2]) {
    int64_t value = 0;
    const char* end = raw->data() + raw->size();
    const auto parsed = std::from_chars(raw->data(), end, value);
    if (parsed.ec == std::errc() && parsed.ptr == end) created = value;
  }
  std::string meta = "{\"event_id\":" + sj::quote(*id) + ",\"type\":" + sj::quote(*type) +
                     ",\"occurred_at\":" + std::to_string(created);
  if (const auto object_id = text(3)) meta += ",\"object_id\":" + sj::quote(*object_id);
  if (with_account) {
    if (const auto account = text(4); account && !account->empty()) meta += ",\"account\":" + sj::quote(*account);
  }
  meta += '}';
  return meta;
}

std::string signatureHeader(std::string_view secret, int64_t timestamp, std::string_view payload) {
  const std::string t = std::to_string(timestamp);
  std::string signed_payload = t + ".";
  signed_payload.append(payload.data(), payload.size());
  return "t=" + t + ",v1=" + ih::sdk::hmacSha256Hex(secret, signed_payload);
}

}  // namespace ih::stripe
