#include "daemon/coapd/host_network.h"

#include <algorithm>
#include <cstring>

#include "daemon/coapd/daemon.h"

namespace coapd {
namespace {

using lwip_tap::netlink::InterfaceAddress;
using lwip_tap::netlink::Prefix;
using lwip_tap::netlink::Route;
using lwip_tap::netlink::to_string;

Prefix v4(const config::Ipv4Prefix& p) {
  Prefix out;
  out.family = 4;
  std::copy(p.addr.begin(), p.addr.end(), out.addr.begin());
  out.len = p.prefix_len;
  return out;
}

Prefix v6(const config::Ipv6Prefix& p) {
  Prefix out;
  out.family = 6;
  out.addr = p.addr;
  out.len = p.prefix_len;
  return out;
}

// The first `bits` bits of a and b are equal.
bool same_bits(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int i = 0;
  for (; bits >= 8; bits -= 8, ++i)
    if (a[i] != b[i]) return false;
  if (bits == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - bits));
  return (a[i] & mask) == (b[i] & mask);
}

// Either prefix contains the other (equal addresses included).
bool overlaps(const Prefix& a, const Prefix& b) {
  return a.family == b.family && same_bits(a.addr, b.addr, std::min(a.len, b.len));
}

bool same_address(const Prefix& a, const std::array<uint8_t, 16>& b) {
  return same_bits(a.addr, b, a.family == 6 ? 128 : 32);
}

bool link_local(const Prefix& p) {
  return p.family == 6 && p.addr[0] == 0xfe && p.addr[1] >> 6 == 2;
}

// One configured address under test: the option it came from.
struct Candidate {
  std::string option;  // "--host-address"
  Prefix prefix;
};

// Why `c` cannot be used, as "overlaps 192.0.2.2/24 on eth0"; "" if free.
std::string conflict(const Candidate& c, const std::string& tap, const HostNetwork& host) {
  // The gateway first: it is the most specific reason.
  for (const Route& r : host.routes)
    if (r.dst.family == c.prefix.family && r.dst.len == 0 && r.has_gateway &&
        same_address(c.prefix, r.gateway))
      return "is the host's default gateway (via " + r.ifname + ")";
  for (const InterfaceAddress& a : host.addresses) {
    if (a.ifname == tap || link_local(a.prefix)) continue;
    if (overlaps(c.prefix, a.prefix)) return "overlaps " + to_string(a.prefix) + " on " + a.ifname;
  }
  for (const Route& r : host.routes) {
    if (r.ifname == tap || r.dst.len == 0 || r.has_gateway || link_local(r.dst)) continue;
    if (overlaps(c.prefix, r.dst))
      return "overlaps the on-link route " + to_string(r.dst) + " on " + r.ifname;
  }
  return "";
}

// The first conflict among `cs`, as "--address 192.0.2.2/24 overlaps ...".
std::string first_conflict(const std::vector<Candidate>& cs, const std::string& tap,
                           const HostNetwork& host) {
  for (const Candidate& c : cs)
    if (std::string why = conflict(c, tap, host); !why.empty())
      return c.option + " " + to_string(c.prefix) + " " + why;
  return "";
}

std::vector<Candidate> ipv4_candidates(const config::Ipv4Prefix& address,
                                       const std::optional<config::Ipv4Prefix>& host_address) {
  std::vector<Candidate> cs{{"--address", v4(address)}};
  if (host_address) cs.push_back({"--host-address", v4(*host_address)});
  return cs;
}

config::Ipv4Prefix in_subnet(const std::array<uint8_t, 3>& net, uint8_t host) {
  return {{net[0], net[1], net[2], host}, 24};
}

std::string subnet_text(const std::array<uint8_t, 3>& net) {
  return std::to_string(net[0]) + "." + std::to_string(net[1]) + "." + std::to_string(net[2]) +
         ".0/24";
}

// On the embedded defaults: the first free documentation subnet.
coap::Result<NetworkChoice> choose_default(const config::Config& cfg, const HostNetwork& host) {
  std::string taken;
  for (const auto& net : kDefaultSubnets) {
    NetworkChoice choice{in_subnet(net, 2), in_subnet(net, 1), ""};
    std::string why;
    for (const Candidate& c : ipv4_candidates(choice.address, choice.host_address))
      if (why.empty()) why = conflict(c, cfg.tap, host);
    if (why.empty()) {
      if (!taken.empty()) choice.note = taken + "; using " + subnet_text(net);
      return choice;
    }
    taken += (taken.empty() ? "" : ", ") + subnet_text(net) + " is taken (" + why + ")";
  }
  return coap::error("no free subnet for coapd's default addresses: ", taken,
                     "; choose addresses with --address and --host-address");
}

}  // namespace

coap::Result<NetworkChoice> choose_network(const config::Config& cfg, const HostNetwork& host) {
  std::vector<Candidate> ipv6;
  if (cfg.ipv6) ipv6.push_back({"--ipv6", v6(*cfg.ipv6)});
  if (cfg.host_ipv6) ipv6.push_back({"--host-ipv6", v6(*cfg.host_ipv6)});
  if (std::string why = first_conflict(ipv6, cfg.tap, host); !why.empty())
    return coap::error(why, "; choose a free prefix");
  if (!cfg.address_given) return choose_default(cfg, host);
  if (std::string why =
          first_conflict(ipv4_candidates(cfg.address, cfg.host_address), cfg.tap, host);
      !why.empty())
    return coap::error(why, "; choose a free subnet with --address and --host-address");
  return NetworkChoice{cfg.address, cfg.host_address, ""};
}

// The one function here that does I/O: the netlink dumps, then the policy.
coap::Status settle_host_network(config::Config& config) {
  auto addresses = lwip_tap::netlink::dump_addresses();
  if (!addresses) return std::move(addresses).take_error();
  auto routes = lwip_tap::netlink::dump_routes();
  if (!routes) return std::move(routes).take_error();
  auto choice = choose_network(config, {std::move(*addresses), std::move(*routes)});
  if (!choice) return std::move(choice).take_error();
  config.address = choice->address;
  config.host_address = choice->host_address;
  config.address_note = choice->note;
  return {};
}

}  // namespace coapd
