// Which IP addresses outbound HTTP may connect to. URLs come from tenants (endpoint URLs) and plugins, so by
// default the host refuses every address that is not on the public internet: loopback, private (RFC 1918,
// fc00::/7), link-local (169.254/16 with the cloud metadata service, fe80::/10), CGNAT (100.64/10),
// unspecified, multicast, broadcast and reserved ranges, also when wrapped in IPv4-mapped or NAT64 IPv6.
// The operator lists networks to allow anyway (`[outbound] allow_networks`, e.g. "127.0.0.1/32" for a local
// Stripe double). The check is made on the resolved address the client then connects to, so a DNS name
// that resolves differently later (rebinding) gains nothing. Immutable once built; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/ip_network.h"
#include "common/status.h"

namespace ih::outbound {

class NetworkPolicy {
 public:
  // Refuses every non-public address (see above).
  NetworkPolicy() = default;
  // Also allows `allowed` networks ("127.0.0.1/32", "10.1.0.0/16"). Fails naming the first malformed entry.
  static Result<NetworkPolicy> make(const std::vector<std::string>& allowed);
  // Allows every address (tests of the client itself and tools that never see tenant URLs).
  static NetworkPolicy allowAll();

  // Empty when `address` may be reached; otherwise why not ("loopback", "private", "link-local", ...).
  std::string refusal(const IpAddress& address) const;
  const std::vector<Network>& allowed() const { return allowed_; }

 private:
  std::vector<Network> allowed_;
  bool allow_all_ = false;
};

// The kind of special-purpose range `address` is in ("loopback", "private", "link-local", "cgnat",
// "unspecified", "multicast", "reserved", "broadcast", "documentation"), or empty for a public address.
std::string specialRange(const IpAddress& address);

}  // namespace ih::outbound
