#include "isolation/protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/crypto.h>

namespace ih::isolation {
namespace {

constexpr size_t kHeaderBytes = 1 + 4 + 8 + 8 + 8 + 4;  // after the u32 length

void put(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get(const char* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return value;
}

bool writeAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// 1: read, 0: end of stream, -1: error.
int readAll(int fd, char* data, size_t len) {
  while (len > 0) {
    const ssize_t n = ::read(fd, data, len);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return 1;
}

}  // namespace

Channel::~Channel() {
  if (fd_ >= 0) ::close(fd_);
}

bool Channel::send(const Frame& frame) {
  size_t size = kHeaderBytes;
  for (const std::string& part : frame.parts)
    size += 4 + part.size();
  if (size > kMaxFrameBytes || frame.parts.size() > kMaxParts) return false;
  std::string header;
  header.reserve(4 + kHeaderBytes + 4 * frame.parts.size());
  put(header, size, 4);
  put(header, static_cast<uint8_t>(frame.kind), 1);
  put(header, frame.op, 4);
  put(header, frame.call, 8);
  put(header, frame.req, 8);
  put(header, static_cast<uint64_t>(frame.num), 8);
  put(header, frame.parts.size(), 4);
  std::lock_guard lock(send_mu_);
  // Small parts travel in the header buffer (one write); large ones are written as they are, not copied.
  std::string pending = std::move(header);
  for (const std::string& part : frame.parts) {
    put(pending, part.size(), 4);
    if (part.size() <= 4096) {
      pending.append(part);
      continue;
    }
    if (!writeAll(fd_, pending.data(), pending.size())) return false;
    pending.clear();
    if (!writeAll(fd_, part.data(), part.size())) return false;
  }
  return pending.empty() || writeAll(fd_, pending.data(), pending.size());
}

Result<Frame> Channel::receive() {
  char length_bytes[4];
  const int got = readAll(fd_, length_bytes, 4);
  if (got == 0) return Status::unavailable("the peer closed the channel");
  if (got < 0) return Status::unavailable(std::string("reading the channel failed: ") + std::strerror(errno));
  const uint64_t size = get(length_bytes, 4);
  if (size < kHeaderBytes || size > kMaxFrameBytes)
    return Status::invalidArgument("frame of " + std::to_string(size) +
                                   " bytes is outside the protocol's limits");
  std::string body(size, '\0');
  if (readAll(fd_, body.data(), body.size()) != 1) return Status::unavailable("the channel closed mid-frame");
  Frame frame;
  const char* p = body.data();
  frame.kind = static_cast<Kind>(static_cast<uint8_t>(p[0]));
  if (frame.kind < Kind::kHello || frame.kind > Kind::kLog)
    return Status::invalidArgument("unknown frame kind " + std::to_string(static_cast<int>(p[0])));
  frame.op = static_cast<uint32_t>(get(p + 1, 4));
  frame.call = get(p + 5, 8);
  frame.req = get(p + 13, 8);
  frame.num = static_cast<int64_t>(get(p + 21, 8));
  const uint64_t count = get(p + 29, 4);
  if (count > kMaxParts) return Status::invalidArgument("frame with " + std::to_string(count) + " parts");
  size_t at = kHeaderBytes;
  for (uint64_t i = 0; i < count; ++i) {
    if (body.size() - at < 4) return Status::invalidArgument("frame truncated in a part's length");
    const uint64_t len = get(p + at, 4);
    at += 4;
    if (len > body.size() - at) return Status::invalidArgument("frame part runs past the frame");
    frame.parts.emplace_back(p + at, len);
    at += len;
  }
  if (at != body.size()) return Status::invalidArgument("frame has trailing bytes");
  OPENSSL_cleanse(body.data(), body.size());
  return frame;
}

void Channel::shutdown() {
  ::shutdown(fd_, SHUT_RDWR);
}

void wipe(Frame& frame) {
  for (std::string& part : frame.parts)
    if (!part.empty()) OPENSSL_cleanse(part.data(), part.size());
}

}  // namespace ih::isolation
