#include "daemon/coapd/host_network.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coapd {
namespace {

using lwip_tap::netlink::InterfaceAddress;
using lwip_tap::netlink::Prefix;
using lwip_tap::netlink::Route;

Prefix prefix(const std::string& text) {
  const auto slash = text.find('/');
  const std::string addr = text.substr(0, slash);
  Prefix p;
  p.family = addr.find(':') == std::string::npos ? 4 : 6;
  EXPECT_EQ(inet_pton(p.family == 6 ? AF_INET6 : AF_INET, addr.c_str(), p.addr.data()), 1) << text;
  p.len = static_cast<uint8_t>(slash == std::string::npos ? (p.family == 6 ? 128 : 32)
                                                          : std::stoi(text.substr(slash + 1)));
  return p;
}

InterfaceAddress addr(const std::string& ifname, const std::string& text) {
  return {ifname, 2, prefix(text)};
}
Route onlink(const std::string& ifname, const std::string& dst) {
  return {ifname, 2, prefix(dst), false, {}};
}
Route via(const std::string& ifname, const std::string& dst, const std::string& gw) {
  Route r{ifname, 2, prefix(dst), true, {}};
  r.gateway = prefix(gw).addr;
  return r;
}

// A machine on 192.0.2.0/24 with its gateway at 192.0.2.1 (the issue's).
HostNetwork lan_on(const std::string& net3, const std::string& ifname = "eth0") {
  return {{addr("lo", "127.0.0.1/8"), addr(ifname, net3 + ".2/24"), addr(ifname, "fe80::1/64")},
          {onlink(ifname, net3 + ".0/24"), via(ifname, "0.0.0.0/0", net3 + ".1"),
           onlink(ifname, "fe80::/64")}};
}

HostNetwork merge(HostNetwork a, const HostNetwork& b) {
  a.addresses.insert(a.addresses.end(), b.addresses.begin(), b.addresses.end());
  a.routes.insert(a.routes.end(), b.routes.begin(), b.routes.end());
  return a;
}

config::Config with(const std::vector<std::pair<std::string, std::string>>& options) {
  config::Config c;
  std::vector<std::string> args{"coapd"};
  for (const auto& [k, v] : options) {
    args.push_back("--" + k);
    args.push_back(v);
  }
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  const config::ParseResult r = config::parse(static_cast<int>(argv.size()), argv.data(), c);
  EXPECT_TRUE(r.run) << r.output;
  return c;
}

struct Case {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;
  HostNetwork host;
  // Expected: the address coapd uses and the note, or the error text.
  std::string address, host_address, note, error;
};

std::vector<Case> cases() {
  const HostNetwork empty;
  return {
      {"DefaultsOnAnEmptyNamespace", {}, empty, "192.0.2.2/24", "192.0.2.1/24", "", ""},
      {"DefaultsMoveOffATakenTestNet1",
       {},
       lan_on("192.0.2"),
       "198.51.100.2/24",
       "198.51.100.1/24",
       "192.0.2.0/24 is taken (overlaps 192.0.2.2/24 on eth0); using 198.51.100.0/24",
       ""},
      {"DefaultsTakeTheThirdWhenTwoAreTaken",
       {},
       merge(lan_on("192.0.2"), lan_on("198.51.100", "eth1")),
       "203.0.113.2/24",
       "203.0.113.1/24",
       "192.0.2.0/24 is taken (overlaps 192.0.2.2/24 on eth0), 198.51.100.0/24 is taken "
       "(overlaps 198.51.100.2/24 on eth1); using 203.0.113.0/24",
       ""},
      {"DefaultsAllTaken",
       {},
       merge(merge(lan_on("192.0.2"), lan_on("198.51.100", "eth1")), lan_on("203.0.113", "eth2")),
       "",
       "",
       "",
       "no free subnet for coapd's default addresses: 192.0.2.0/24 is taken (overlaps "
       "192.0.2.2/24 on eth0), 198.51.100.0/24 is taken (overlaps 198.51.100.2/24 on eth1), "
       "203.0.113.0/24 is taken (overlaps 203.0.113.2/24 on eth2); choose addresses with "
       "--address and --host-address"},
      {"AnOnLinkRouteAloneTakesASubnet",
       {},
       {{}, {onlink("wlan0", "192.0.0.0/16")}},
       "198.51.100.2/24",
       "198.51.100.1/24",
       "192.0.2.0/24 is taken (overlaps the on-link route 192.0.0.0/16 on wlan0); using "
       "198.51.100.0/24",
       ""},
      {"ARouteViaAGatewayDoesNotTakeASubnet",
       {},
       {{}, {via("eth0", "192.0.2.0/24", "10.0.0.1")}},
       "192.0.2.2/24",
       "192.0.2.1/24",
       "",
       ""},
      {"TheTapItselfDoesNotCount",
       {},
       {{addr("coap0", "192.0.2.1/24")}, {onlink("coap0", "192.0.2.0/24")}},
       "192.0.2.2/24",
       "192.0.2.1/24",
       "",
       ""},
      {"ExplicitAddressInATakenSubnet",
       {{"address", "192.0.2.50/24"}, {"host-address", "10.9.0.1/24"}},
       lan_on("192.0.2"),
       "",
       "",
       "",
       "--address 192.0.2.50/24 overlaps 192.0.2.2/24 on eth0; choose a free subnet with "
       "--address and --host-address"},
      {"ExplicitHostAddressOverlapsAWiderSubnet",
       {{"address", "172.16.2.2/24"}, {"host-address", "10.1.2.1/24"}},
       {{addr("eth0", "10.0.0.5/8")}, {}},
       "",
       "",
       "",
       "--host-address 10.1.2.1/24 overlaps 10.0.0.5/8 on eth0; choose a free subnet with "
       "--address and --host-address"},
      {"ExplicitHostAddressIsTheDefaultGateway",
       {{"address", "10.1.2.2/32"}, {"host-address", "192.0.2.1/32"}},
       {{}, {via("eth0", "0.0.0.0/0", "192.0.2.1")}},
       "",
       "",
       "",
       "--host-address 192.0.2.1/32 is the host's default gateway (via eth0); choose a free "
       "subnet with --address and --host-address"},
      {"ExplicitFreeAddressesAreKept",
       {{"address", "10.1.2.2/24"}, {"host-address", "10.1.2.1/24"}},
       lan_on("192.0.2"),
       "10.1.2.2/24",
       "10.1.2.1/24",
       "",
       ""},
      {"ExplicitHostAddressNoneChecksOnlyCoapdsAddress",
       {{"host-address", "none"}},
       lan_on("192.0.2"),
       "",
       "",
       "",
       "--address 192.0.2.2/24 overlaps 192.0.2.2/24 on eth0; choose a free subnet with "
       "--address and --host-address"},
      {"AGatewayOptionPinsTheDefaults",
       {{"gateway", "192.0.2.1"}},
       lan_on("192.0.2"),
       "",
       "",
       "",
       "--address 192.0.2.2/24 overlaps 192.0.2.2/24 on eth0; choose a free subnet with "
       "--address and --host-address"},
      {"HostIpv6OverlapsAnotherInterface",
       {{"ipv6", "fd00:c0a9::2/64"}, {"host-ipv6", "fd00:c0a9::1/64"}},
       {{addr("eth0", "fd00:c0a9::77/64")}, {}},
       "",
       "",
       "",
       "--ipv6 fd00:c0a9::2/64 overlaps fd00:c0a9::77/64 on eth0; choose a free prefix"},
      {"Ipv6LinkLocalAndOtherPrefixesAreFree",
       {{"ipv6", "fd00:c0a9::2/64"}, {"host-ipv6", "fd00:c0a9::1/64"}},
       {{addr("eth0", "fe80::1/64"), addr("eth0", "fd00:1::1/64")},
        {onlink("eth0", "fe80::/64"), via("eth0", "::/0", "fe80::1")}},
       "192.0.2.2/24",
       "192.0.2.1/24",
       "",
       ""},
      {"Ipv6OnLinkRouteTakesAPrefix",
       {{"host-ipv6", "fd00:c0a9::1/64"}},
       {{}, {onlink("eth0", "fd00::/16")}},
       "",
       "",
       "",
       "--host-ipv6 fd00:c0a9::1/64 overlaps the on-link route fd00::/16 on eth0; choose a free "
       "prefix"},
  };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ChooseNetwork : public testing::TestWithParam<Case> {};

TEST_P(ChooseNetwork, Decides) {
  const Case& c = GetParam();
  const config::Config cfg = with(c.options);
  const auto choice = choose_network(cfg, c.host);
  if (!c.error.empty()) {
    ASSERT_FALSE(choice);
    EXPECT_EQ(choice.error(), c.error);
    return;
  }
  ASSERT_TRUE(choice) << choice.error();
  EXPECT_EQ(choice->address.str(), c.address);
  ASSERT_TRUE(choice->host_address);
  EXPECT_EQ(choice->host_address->str(), c.host_address);
  EXPECT_EQ(choice->note, c.note);
}

INSTANTIATE_TEST_SUITE_P(Table, ChooseNetwork, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& i) { return i.param.name; });

}  // namespace
}  // namespace coapd
