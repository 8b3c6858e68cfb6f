// The host's network as rtnetlink shows it, and the kernel side of coapd's
// TAP set through it (libmnl): a thin layer of I/O with no policy. What
// coapd decides from these lists lives in daemon/coapd/host_network.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "coap/result.h"

namespace lwip_tap::netlink {

// An IPv4 (family 4, first 4 bytes used) or IPv6 (family 6) prefix.
struct Prefix {
  int family = 4;
  std::array<uint8_t, 16> addr{};
  uint8_t len = 0;
  bool operator==(const Prefix&) const = default;
};

// One address of one interface (RTM_GETADDR).
struct InterfaceAddress {
  std::string ifname;
  int ifindex = 0;
  Prefix prefix;  // the address and its prefix length
  bool operator==(const InterfaceAddress&) const = default;
};

// One route of the main table (RTM_GETROUTE).
struct Route {
  std::string ifname;  // of the output interface; "" if none
  int ifindex = 0;
  Prefix dst;  // len 0: a default route
  bool has_gateway = false;
  std::array<uint8_t, 16> gateway{};
  bool operator==(const Route&) const = default;
};

// The namespace's addresses and main-table routes, IPv4 and IPv6.
coap::Result<std::vector<InterfaceAddress>> dump_addresses();
coap::Result<std::vector<Route>> dump_routes();

// Adds an address to interface `ifindex`. `nodad` (IPv6): usable at once,
// never tentative. Returns false (and no error) when the interface already
// had exactly that address: then it is not coapd's to remove.
coap::Result<bool> add_address(int ifindex, const Prefix& p, bool nodad);
coap::Status remove_address(int ifindex, const Prefix& p);
// Sets the MTU and brings the link up.
coap::Status set_link_up(int ifindex, uint32_t mtu);

// "192.0.2.1/24", "fd00::1/64"; without the length when `with_len` is false.
std::string to_string(const Prefix& p, bool with_len = true);

}  // namespace lwip_tap::netlink
