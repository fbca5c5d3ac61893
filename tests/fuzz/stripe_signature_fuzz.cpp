// The Stripe-Signature verifier (plugins/stripe_common) against re-implementations of the two official
// libraries most used to verify Stripe webhooks, stripe-node (Webhooks.ts: split(','), split('='),
// parseInt(t, 10), last `t` wins, `${timestamp}.${payload}`) and stripe-python (WebhookSignature: split(','),
// split('=', 2), int(first t), "%d.%s"; an item "t" or "v1" without '=' raises). Property: whatever our
// verifier accepts, both libraries accept too, with the same timestamp (never more lenient than either).
// And: a header we produce always verifies; a secret, payload or timestamp change never does.
//
// Input: byte 0 picks the mode.
//   mode 0: a header template. Bytes \x01..\x04 expand to pieces the fuzzer cannot guess: \x01 the v1
//           signature over "<T>.<payload>", \x02 the decimal T, \x03 the signature over the raw text that
//           follows the first "t=" (up to ','), \x04 a wrong signature of the right length.
//   mode 1: round trip of signatureHeader() with a fuzzed secret, timestamp and payload, then one edit.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "ih/hmac.hpp"
#include "stripe_common/webhook_signature.h"

namespace {

std::vector<std::string> split(std::string_view text, char separator, size_t max_parts = SIZE_MAX) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() + 1 < max_parts) {
    const size_t at = text.find(separator, start);
    if (at == std::string_view::npos) break;
    parts.emplace_back(text.substr(start, at - start));
    start = at + 1;
  }
  parts.emplace_back(text.substr(start));
  return parts;
}

std::string hmacHex(std::string_view secret, std::string_view timestamp_text, std::string_view payload) {
  std::string content(timestamp_text);
  content.push_back('.');
  content.append(payload);
  return ih::sdk::hmacSha256Hex(secret, content);
}

// The decimal form of a non-negative integer value that both references print exactly (JavaScript numbers
// print exact integers up to 2^53; beyond that stripe-node signs a rounded value, which we call unsupported).
constexpr int kMaxExactDigits = 15;

// stripe-node. Returns the accepted timestamp, nullopt when it rejects. `unsupported` is set when the
// header relies on number formatting this model does not reproduce (then our verifier must reject).
std::optional<int64_t> nodeVerify(std::string_view header, std::string_view payload, std::string_view secret,
                                  int64_t tolerance, int64_t now, bool& unsupported) {
  bool has_number = false;  // timestamp stays -1 (rejected) unless a `t` item is seen
  bool is_nan = false;
  int64_t timestamp = -1;
  std::vector<std::optional<std::string>> signatures;
  for (const std::string& item : split(header, ',')) {
    const std::vector<std::string> kv = split(item, '=');
    const std::optional<std::string> value = kv.size() > 1 ? std::optional<std::string>(kv[1]) : std::nullopt;
    if (kv[0] == "t") {
      has_number = true;
      // parseInt(value, 10): leading whitespace, a sign, then digits up to the first non-digit.
      is_nan = true;
      if (value) {
        std::string_view s = *value;
        while (!s.empty() &&
               (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r' || s[0] == '\v' || s[0] == '\f'))
          s.remove_prefix(1);
        if (!s.empty() && static_cast<unsigned char>(s[0]) >= 0x80) unsupported = true;  // Unicode spaces
        bool negative = false;
        if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
          negative = s[0] == '-';
          s.remove_prefix(1);
        }
        size_t digits = 0;
        while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
          ++digits;
        std::string_view number = s.substr(0, digits);
        while (number.size() > 1 && number[0] == '0')
          number.remove_prefix(1);
        if (digits > 0) {
          is_nan = false;
          if (number.size() > kMaxExactDigits) {
            unsupported = true;
            timestamp = 0;
          } else {
            int64_t v = 0;
            for (char c : number)
              v = v * 10 + (c - '0');
            timestamp = negative ? -v : v;
          }
        }
      }
    }
    if (kv[0] == "v1") signatures.push_back(value);
  }
  if (!has_number) return std::nullopt;  // timestamp === -1
  if (!is_nan && timestamp == -1) return std::nullopt;
  if (signatures.empty()) return std::nullopt;
  const std::string expected = hmacHex(secret, is_nan ? "NaN" : std::to_string(timestamp), payload);
  bool found = false;
  for (const auto& candidate : signatures)
    if (candidate && *candidate == expected) found = true;
  if (!found) return std::nullopt;
  if (is_nan) {
    unsupported = true;  // NaN age comparisons are false: node accepts; we must not
    return std::nullopt;
  }
  if (tolerance > 0 && now - timestamp > tolerance) return std::nullopt;
  return timestamp;
}

// stripe-python. Same conventions as nodeVerify.
std::optional<int64_t> pythonVerify(std::string_view header, std::string_view payload,
                                    std::string_view secret, int64_t tolerance, int64_t now,
                                    bool& unsupported) {
  std::vector<std::vector<std::string>> items;
  for (const std::string& item : split(header, ','))
    items.push_back(split(item, '=', 3));
  std::optional<std::string> timestamp_text;
  std::vector<std::string> signatures;
  for (const auto& parts : items) {
    if (parts[0] == "t") {
      if (parts.size() < 2) return std::nullopt;  // IndexError
      if (!timestamp_text) timestamp_text = parts[1];
    }
  }
  for (const auto& parts : items) {
    if (parts[0] == "v1") {
      if (parts.size() < 2) return std::nullopt;  // IndexError
      signatures.push_back(parts[1]);
    }
  }
  if (!timestamp_text) return std::nullopt;
  // int(text): surrounding whitespace, a sign, digits with single underscores between them.
  std::string_view s = *timestamp_text;
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
           (c >= 0x1c && c <= 0x1f);
  };
  while (!s.empty() && space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && space(s.back()))
    s.remove_suffix(1);
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) unsupported = true;  // Unicode digits and spaces
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits.push_back(s[i]);
    } else if (s[i] == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_' && s[i + 1] >= '0' &&
               s[i + 1] <= '9') {
      continue;
    } else {
      return std::nullopt;  // ValueError
    }
  }
  if (digits.empty()) return std::nullopt;
  std::string_view number = digits;
  while (number.size() > 1 && number[0] == '0')
    number.remove_prefix(1);
  if (number.size() > 18) {
    unsupported = true;
    return std::nullopt;
  }
  int64_t v = 0;
  for (char c : number)
    v = v * 10 + (c - '0');
  const int64_t timestamp = negative ? -v : v;
  if (signatures.empty()) return std::nullopt;
  const std::string expected = hmacHex(secret, std::to_string(timestamp), payload);
  bool found = false;
  for (const auto& candidate : signatures)
    if (candidate == expected) found = true;
  if (!found) return std::nullopt;
  if (tolerance > 0 && timestamp < now - tolerance) return std::nullopt;
  return timestamp;
}

// Our verifier, checked against both references. Returns what ours returned.
bool checkedVerify(std::string_view header, std::string_view payload, std::string_view secret,
                   int64_t tolerance, int64_t now) {
  const auto ours = ih::stripe::verifySignature(header, payload, secret, tolerance, now);
  if (!ours.isOk()) {
    IH_FUZZ_CHECK(ours.status().code() == IH_ERR_SIGNATURE);
    return false;
  }
  IH_FUZZ_CHECK(!secret.empty(), "accepted with an empty secret");
  bool unsupported = false;
  const auto node = nodeVerify(header, payload, secret, tolerance, now, unsupported);
  const auto python = pythonVerify(header, payload, secret, tolerance, now, unsupported);
  const std::string shown(header.substr(0, 300));
  IH_FUZZ_CHECK(!unsupported, "accepted a header whose timestamp the official libraries read differently: %s",
                shown.c_str());
  IH_FUZZ_CHECK(node.has_value(), "accepted a header stripe-node rejects: [%s]", shown.c_str());
  IH_FUZZ_CHECK(python.has_value(), "accepted a header stripe-python rejects: [%s]", shown.c_str());
  IH_FUZZ_CHECK(*node == *ours && *python == *ours, "timestamp differs from the official libraries: [%s]",
                shown.c_str());
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>() % 2;
  const int64_t tolerance = in.ConsumeBool() ? ih::stripe::kDefaultWebhookToleranceSeconds : 0;

  if (mode == 0) {
    static const std::string kSecret = "whsec_test_secret_for_adapter_vectors_0123456789";
    const int64_t t = in.ConsumeIntegralInRange<int64_t>(0, 99999999999);
    const int64_t now = t + in.ConsumeIntegralInRange<int64_t>(-1000, 1000);
    const std::string payload = in.ConsumeRandomLengthString(256);
    const std::string raw = in.ConsumeRemainingBytesAsString();
    // Expand \x01, \x02, \x04 first; \x03 needs the text after the first "t=".
    // Each piece is computed once (an input may hold thousands of \x01: one HMAC each made runs slow).
    const std::string t_text = std::to_string(t);
    const std::string signed_v1 =
        raw.find('\x01') != std::string::npos ? hmacHex(kSecret, t_text, payload) : std::string();
    static const std::string kWrongSignature(64, 'a');
    std::string header;
    header.reserve(raw.size() * 2);
    for (char c : raw) {
      if (c == '\x01') {
        header += signed_v1;
      } else if (c == '\x02') {
        header += t_text;
      } else if (c == '\x04') {
        header += kWrongSignature;
      } else {
        header.push_back(c);
      }
    }
    if (header.find('\x03') != std::string::npos) {
      std::string timestamp_text;
      if (size_t at = header.find("t="); at != std::string::npos) {
        const size_t end = header.find_first_of(",\x03", at + 2);
        timestamp_text = header.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
      }
      const std::string signature = hmacHex(kSecret, timestamp_text, payload);
      std::string expanded;
      expanded.reserve(header.size() * 2);
      for (char c : header) {
        if (c == '\x03') {
          expanded += signature;
        } else {
          expanded.push_back(c);
        }
      }
      header = std::move(expanded);
    }
    checkedVerify(header, payload, kSecret, tolerance, now);
    checkedVerify(header, payload, "", tolerance, now);
    return 0;
  }

  // mode 1: round trip and one edit.
  const std::string secret = in.ConsumeRandomLengthString(64);
  const int64_t t = in.ConsumeIntegralInRange<int64_t>(0, 99999999999);
  const int64_t age = in.ConsumeIntegralInRange<int64_t>(-1000, 1000);
  const size_t edit_at = in.ConsumeIntegral<uint16_t>();
  const uint8_t edit_kind = in.ConsumeIntegral<uint8_t>() % 3;
  const char edit_byte = in.ConsumeIntegral<char>();
  const std::string payload = in.ConsumeRemainingBytesAsString();

  const std::string header = ih::stripe::signatureHeader(secret, t, payload);
  const bool ok = checkedVerify(header, payload, secret, tolerance, t + age);
  const bool expected_ok = !secret.empty() && (tolerance == 0 || age <= tolerance);
  IH_FUZZ_CHECK(ok == expected_ok, "a header we signed did %sverify", ok ? "" : "not ");
  if (!secret.empty()) {
    IH_FUZZ_CHECK(!checkedVerify(header, payload + "x", secret, 0, t), "a changed payload verified");
    IH_FUZZ_CHECK(!checkedVerify(header, payload, secret + "x", 0, t), "another secret verified");
    const std::string other = ih::stripe::signatureHeader(secret, t + 1, payload);
    const std::string spliced = header.substr(0, header.find(',')) + other.substr(other.find(','));
    IH_FUZZ_CHECK(!checkedVerify(spliced, payload, secret, 0, t),
                  "a signature of another timestamp verified");
  }
  std::string edited = header;
  const size_t at = edit_at % (header.size() + 1);
  if (edit_kind == 0 && at < edited.size()) {
    edited[at] = edit_byte;
  } else if (edit_kind == 1) {
    edited.insert(edited.begin() + static_cast<std::ptrdiff_t>(at), edit_byte);
  } else if (at < edited.size()) {
    edited.erase(at, 1);
  }
  checkedVerify(edited, payload, secret, tolerance, t + age);
  return 0;
}
