#include "outbound/network_policy.h"

#include <cstring>

namespace ih::outbound {
namespace {

// The IPv4 address embedded in IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96, deprecated), NAT64
// (64:ff9b::/96) or 6to4 (2002::/16) forms, so a wrapped private address is judged as what it reaches.
bool embeddedV4(const IpAddress& a, uint8_t out[4]) {
  const auto& b = a.bytes;
  if (a.isMappedV4()) {
    std::memcpy(out, b.data() + 12, 4);
    return true;
  }
  static const uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b.data(), kNat64, 12) == 0) {
    std::memcpy(out, b.data() + 12, 4);
    return true;
  }
  bool compatible = true;
  for (int i = 0; i < 12; ++i)
    compatible = compatible && b[static_cast<size_t>(i)] == 0;
  if (compatible && (b[12] | b[13] | b[14]) != 0) {  // not :: or ::1
    std::memcpy(out, b.data() + 12, 4);
    return true;
  }
  if (b[0] == 0x20 && b[1] == 0x02) {
    std::memcpy(out, b.data() + 2, 4);
    return true;
  }
  return false;
}

std::string v4Range(const uint8_t v[4]) {
  const uint8_t a = v[0], b = v[1], c = v[2];
  if (a == 0) return "unspecified";  // 0.0.0.0/8 ("this network"; 0.0.0.0 reaches the local host)
  if (a == 127) return "loopback";
  if (a == 10 || (a == 172 && (b & 0xf0) == 16) || (a == 192 && b == 168)) return "private";
  if (a == 169 && b == 254) return "link-local";  // includes 169.254.169.254, the cloud metadata service
  if (a == 100 && (b & 0xc0) == 64) return "cgnat";
  if (a == 192 && b == 0 && c == 0) return "reserved";  // IETF protocol assignments (192.0.0.0/24)
  if ((a == 192 && b == 0 && c == 2) || (a == 198 && b == 51 && c == 100) || (a == 203 && b == 0 && c == 113))
    return "documentation";
  if (a == 198 && (b & 0xfe) == 18) return "reserved";  // benchmarking 198.18.0.0/15
  if (a >= 224 && a <= 239) return "multicast";
  if (a == 255 && v[1] == 255 && v[2] == 255 && v[3] == 255) return "broadcast";
  if (a >= 240) return "reserved";
  return "";
}

}  // namespace

Result<NetworkPolicy> NetworkPolicy::make(const std::vector<std::string>& allowed) {
  NetworkPolicy policy;
  for (const std::string& text : allowed) {
    auto network = Network::parse(text);
    if (!network.isOk()) return network.status();
    policy.allowed_.push_back(*network);
  }
  return policy;
}

NetworkPolicy NetworkPolicy::allowAll() {
  NetworkPolicy policy;
  policy.allow_all_ = true;
  return policy;
}

std::string specialRange(const IpAddress& address) {
  uint8_t v4[4];
  if (embeddedV4(address, v4)) return v4Range(v4);
  const auto& b = address.bytes;
  bool zero_prefix = true;
  for (int i = 0; i < 15; ++i)
    zero_prefix = zero_prefix && b[static_cast<size_t>(i)] == 0;
  if (zero_prefix && b[15] == 0) return "unspecified";
  if (zero_prefix && b[15] == 1) return "loopback";
  if ((b[0] & 0xfe) == 0xfc) return "private";  // fc00::/7 unique local (fd00:ec2::254 too)
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "private";     // fec0::/10 site-local (deprecated)
  if (b[0] == 0xff) return "multicast";
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return "documentation";  // 2001:db8::/32
  if (b[0] == 0x01 && b[1] == 0x00 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 &&
      b[7] == 0)
    return "reserved";                           // 100::/64 discard
  if ((b[0] & 0xe0) != 0x20) return "reserved";  // outside 2000::/3, the global unicast space
  return "";
}

std::string NetworkPolicy::refusal(const IpAddress& address) const {
  if (allow_all_) return "";
  const std::string range = specialRange(address);
  if (range.empty()) return "";
  for (const Network& network : allowed_)
    if (network.contains(address)) return "";
  return range;
}

}  // namespace ih::outbound
