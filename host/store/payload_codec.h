// Webhook payloads at rest. A payload of at least kMinCompressBytes is stored zstd-compressed (level 1, one
// frame with its content size) when that saves at least an eighth; otherwise as received. The codec name is
// stored beside the bytes (webhook_events.payload_codec: "" = as received, "zstd"). Readers always get the
// exact bytes received back. Why: every stored byte is written twice (WAL, then the database file), and
// Stripe-shaped JSON compresses ~3-4x, so intake writes ~40 % fewer bytes per event.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace ih::store {

inline constexpr size_t kMinCompressBytes = 512;
// Largest payload decodePayload() accepts (a corrupt frame cannot make it allocate more).
inline constexpr size_t kMaxDecodedPayloadBytes = 256u << 20;

struct EncodedPayload {
  std::string bytes;
  std::string_view codec;  // "" or "zstd" (static strings)
};

// Thread-safe (one compression context per thread).
EncodedPayload encodePayload(std::string_view raw);
// The bytes received; kInternal naming the codec when `bytes` cannot be decoded or the codec is unknown.
Result<std::string> decodePayload(std::string bytes, std::string_view codec);

}  // namespace ih::store
