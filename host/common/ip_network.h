// IP addresses and networks in text form ("10.0.0.0/8", "::1"), parsed strictly with inet_pton: no names,
// ports or zones. Pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ih {

// An IPv4 (as IPv4-mapped IPv6) or IPv6 address, 16 bytes in network order.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool is_v4 = false;  // written as IPv4 (bytes hold ::ffff:a.b.c.d)
  // "127.0.0.1", "::1"; kInvalidArgument for anything else (no names, no ports, no zones).
  static Result<IpAddress> parse(std::string_view text);
  std::string toString() const;
  // True for ::ffff:a.b.c.d (how IPv4 addresses are held).
  bool isMappedV4() const;
};

struct Network {
  IpAddress base;
  int prefix = 0;  // bits, counted on the 128-bit form (IPv4 /n is stored as /(96+n))
  // "10.0.0.0/8", "::1/128", "127.0.0.1" (a single address).
  static Result<Network> parse(std::string_view text);
  bool contains(const IpAddress& address) const;
  std::string toString() const;
};

}  // namespace ih
