// Host network safety: coapd must never take over an address or subnet the
// host already uses. Policy only (no I/O): given the namespace's addresses
// and routes (read through lwip_tap/netlink.h), decides whether coapd's
// addresses are free, and, on the embedded defaults, which of the three
// documentation subnets to use.
//
// A configured address conflicts when it equals or overlaps (either prefix
// contains the other) an address or an on-link route of another interface
// than coapd's TAP, or when it is the default route's gateway. IPv6
// link-local addresses and routes (fe80::/10, on every link) do not count.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "coap/result.h"
#include "config/config.h"
#include "lwip_tap/netlink.h"

namespace coapd {

struct HostNetwork {
  std::vector<lwip_tap::netlink::InterfaceAddress> addresses;
  std::vector<lwip_tap::netlink::Route> routes;
};

struct NetworkChoice {
  config::Ipv4Prefix address;
  std::optional<config::Ipv4Prefix> host_address;
  // "" when the configured addresses are used; else why and what instead:
  // "192.0.2.0/24 is taken (192.0.2.2/24 on eth0); using 198.51.100.0/24".
  std::string note;
};

// The subnets tried, in order, when no address was configured
// (cfg.address_given false): coapd at .2, the kernel side at .1, /24.
inline constexpr std::array<std::array<uint8_t, 3>, 3> kDefaultSubnets = {
    {{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}};

// The addresses coapd may use, or an error: one sentence naming the
// conflicting option, interface and address (coapd exits 2 with it).
coap::Result<NetworkChoice> choose_network(const config::Config& cfg, const HostNetwork& host);

}  // namespace coapd
