#include "store/payload_codec.h"

#include <zstd.h>

#include <memory>

namespace ih::store {
namespace {

constexpr std::string_view kZstd = "zstd";
constexpr int kLevel = 1;  // fastest standard level: ~3.5x on Stripe event JSON at ~5 us per 2 KB

struct CctxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

}  // namespace

EncodedPayload encodePayload(std::string_view raw) {
  if (raw.size() < kMinCompressBytes) return {std::string(raw), ""};
  thread_local std::unique_ptr<ZSTD_CCtx, CctxDeleter> cctx(ZSTD_createCCtx());
  if (!cctx) return {std::string(raw), ""};
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const size_t n = ZSTD_compressCCtx(cctx.get(), out.data(), out.size(), raw.data(), raw.size(), kLevel);
  if (ZSTD_isError(n) || n > raw.size() - raw.size() / 8) return {std::string(raw), ""};
  out.resize(n);
  return {std::move(out), kZstd};
}

Result<std::string> decodePayload(std::string bytes, std::string_view codec) {
  if (codec.empty()) return bytes;
  if (codec != kZstd)
    return Status::internal("stored webhook payload has an unknown codec \"" + std::string(codec) + "\"");
  const unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxDecodedPayloadBytes)
    return Status::internal("stored webhook payload is not a valid zstd frame");
  thread_local std::unique_ptr<ZSTD_DCtx, DctxDeleter> dctx(ZSTD_createDCtx());
  if (!dctx) return Status::internal("out of memory decoding a stored webhook payload");
  std::string out(static_cast<size_t>(size), '\0');
  const size_t n = ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), bytes.data(), bytes.size());
  if (ZSTD_isError(n) || n != out.size())
    return Status::internal(std::string("stored webhook payload cannot be decoded: ") +
                            (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch"));
  return out;
}

}  // namespace ih::store
