#include "common/ip_network.h"

#include <arpa/inet.h>

#include <cstring>

#include "common/text.h"

namespace ih {
namespace {

// `text` in quotes for a message (bounded, valid UTF-8).
std::string quoted(std::string_view text) {
  std::string out = "\"";
  out += toValidUtf8(text.substr(0, 64));
  out += '"';
  return out;
}

}  // namespace

Result<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 64) return Status::invalidArgument("not an IP address");
  const std::string s(text);
  IpAddress a;
  uint8_t v4[4];
  if (inet_pton(AF_INET, s.c_str(), v4) == 1) {
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    std::memcpy(a.bytes.data() + 12, v4, 4);
    a.is_v4 = true;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return Status::invalidArgument(quoted(text) + " is not an IP address");
}

bool IpAddress::isMappedV4() const {
  for (size_t i = 0; i < 10; ++i)
    if (bytes[i] != 0) return false;
  return bytes[10] == 0xff && bytes[11] == 0xff;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4 || isMappedV4()) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

Result<Network> Network::parse(std::string_view text) {
  const size_t slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address.isOk()) {
    return Status::invalidArgument(quoted(text) + " is not a network (write e.g. 10.0.0.0/8)");
  }
  Network n;
  n.base = *address;
  const int width = address->is_v4 ? 32 : 128;
  int prefix = width;
  if (slash != std::string_view::npos) {
    auto parsed = parseInt64InRange(text.substr(slash + 1), 0, width);
    if (!parsed) {
      return Status::invalidArgument(quoted(text) + " has a prefix length outside 0-" +
                                     std::to_string(width));
    }
    prefix = static_cast<int>(*parsed);
  }
  n.prefix = address->is_v4 ? 96 + prefix : prefix;
  // Keep only the network bits, so "10.1.2.3/8" means 10.0.0.0/8.
  for (int bit = n.prefix; bit < 128; ++bit)
    n.base.bytes[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  return n;
}

bool Network::contains(const IpAddress& address) const {
  int bits = prefix;
  size_t i = 0;
  for (; bits >= 8; bits -= 8, ++i)
    if (address.bytes[i] != base.bytes[i]) return false;
  if (bits == 0) return true;
  const auto mask = static_cast<uint8_t>(0xffu << (8 - bits));
  return (address.bytes[i] & mask) == (base.bytes[i] & mask);
}

std::string Network::toString() const {
  const bool v4 = base.is_v4;
  return base.toString() + "/" + std::to_string(v4 ? prefix - 96 : prefix);
}

}  // namespace ih
