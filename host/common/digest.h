// Hashes and their text forms, one implementation each for the whole host (OpenSSL underneath): SHA-256,
// HMAC-SHA256, lowercase hex, and strict base64.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ih {

// SHA-256 of `bytes`: 32 raw bytes.
std::string sha256(std::string_view bytes);
// HMAC-SHA256 of `data` under `key`: 32 raw bytes. The stack copy of the MAC is wiped.
std::string hmacSha256(std::string_view key, std::string_view data);
// Lowercase hex, two characters per byte.
std::string hexEncode(std::string_view bytes);

// Standard base64 with padding (RFC 4648 section 4).
size_t base64EncodedLength(size_t bytes);
// Writes exactly base64EncodedLength(bytes.size()) characters to `out` (no NUL).
void base64EncodeTo(std::string_view bytes, char* out);
std::string base64Encode(std::string_view bytes);
// Strict decoding, so one value has one text: a length that is a multiple of 4, the alphabet only, at most two
// '=' and only at the end, and zero bits where the padding leaves some (canonical). Writes at most
// 3 * text.size() / 4 bytes to `out` and returns how many; kInvalidArgument naming the problem otherwise.
Result<size_t> base64DecodeTo(std::string_view text, char* out);
Result<std::string> base64Decode(std::string_view text);

}  // namespace ih
