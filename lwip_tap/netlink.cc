#include "lwip_tap/netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

namespace lwip_tap::netlink {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

int af_of(int family) { return family == 6 ? AF_INET6 : AF_INET; }
std::size_t bytes_of(int family) { return family == 6 ? 16 : 4; }

std::string ifname_of(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (ifindex > 0 && if_indextoname(static_cast<unsigned>(ifindex), name)) return name;
  return ifindex > 0 ? "ifindex " + std::to_string(ifindex) : "";
}

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using Socket = std::unique_ptr<mnl_socket, SocketCloser>;

// One request and its answers: a dump (cb sees every message) or a change
// (NLM_F_ACK; errno is the kernel's answer). Returns 0 or an errno value.
int transact(nlmsghdr* nlh, mnl_cb_t cb, void* data) {
  Socket nl(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) return errno ? errno : EIO;
  const unsigned seq = static_cast<unsigned>(time(nullptr));
  nlh->nlmsg_seq = seq;
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) return errno;
  const unsigned portid = mnl_socket_get_portid(nl.get());
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
    if (n < 0) return errno;
    const int rc = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, portid, cb, data);
    if (rc == MNL_CB_ERROR) return errno ? errno : EIO;
    if (rc == MNL_CB_STOP) return 0;
  }
}

bool copy_addr(const nlattr* a, int family, std::array<uint8_t, 16>& out) {
  if (mnl_attr_get_payload_len(a) != bytes_of(family)) return false;
  std::memcpy(out.data(), mnl_attr_get_payload(a), bytes_of(family));
  return true;
}

// A message's attributes by type (libmnl's iteration macro is C only).
using Attrs = std::array<const nlattr*, 64>;
Attrs attributes(const nlmsghdr* nlh, unsigned header_size) {
  Attrs t{};
  mnl_attr_parse(
      nlh, header_size,
      [](const nlattr* a, void* data) {
        auto& table = *static_cast<Attrs*>(data);
        if (const uint16_t type = mnl_attr_get_type(a); type < table.size()) table[type] = a;
        return int{MNL_CB_OK};
      },
      &t);
  return t;
}

int family_of(int af) { return af == AF_INET6 ? 6 : af == AF_INET ? 4 : 0; }

int on_address(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<std::vector<InterfaceAddress>*>(data);
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  const int family = family_of(ifa->ifa_family);
  if (!family) return MNL_CB_OK;
  InterfaceAddress a;
  a.ifindex = static_cast<int>(ifa->ifa_index);
  a.ifname = ifname_of(a.ifindex);
  a.prefix.family = family;
  a.prefix.len = ifa->ifa_prefixlen;
  // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on
  // point-to-point links); IPv6 has IFA_ADDRESS only.
  const Attrs t = attributes(nlh, sizeof *ifa);
  const nlattr* own = t[IFA_LOCAL] ? t[IFA_LOCAL] : t[IFA_ADDRESS];
  if (own && copy_addr(own, family, a.prefix.addr)) out->push_back(a);
  return MNL_CB_OK;
}

int on_route(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<std::vector<Route>*>(data);
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  const int family = family_of(rtm->rtm_family);
  if (!family || rtm->rtm_type != RTN_UNICAST) return MNL_CB_OK;
  uint32_t table = rtm->rtm_table;
  Route r;
  r.dst.family = family;
  r.dst.len = rtm->rtm_dst_len;
  const Attrs t = attributes(nlh, sizeof *rtm);
  if (t[RTA_TABLE]) table = mnl_attr_get_u32(t[RTA_TABLE]);
  if (t[RTA_DST]) copy_addr(t[RTA_DST], family, r.dst.addr);
  if (t[RTA_OIF]) r.ifindex = static_cast<int>(mnl_attr_get_u32(t[RTA_OIF]));
  if (t[RTA_GATEWAY]) r.has_gateway = copy_addr(t[RTA_GATEWAY], family, r.gateway);
  if (table != RT_TABLE_MAIN) return MNL_CB_OK;
  r.ifname = ifname_of(r.ifindex);
  out->push_back(r);
  return MNL_CB_OK;
}

template <typename Header>
Header* begin(char* buf, uint16_t type, uint16_t flags, nlmsghdr** nlh) {
  *nlh = mnl_nlmsg_put_header(buf);
  (*nlh)->nlmsg_type = type;
  (*nlh)->nlmsg_flags = flags;
  auto* h = static_cast<Header*>(mnl_nlmsg_put_extra_header(*nlh, sizeof(Header)));
  std::memset(h, 0, sizeof(Header));
  return h;
}

// RTM_NEWADDR / RTM_DELADDR for one address.
nlmsghdr* address_message(char* buf, uint16_t type, uint16_t flags, int ifindex, const Prefix& p,
                          bool nodad) {
  nlmsghdr* nlh;
  auto* ifa = begin<ifaddrmsg>(buf, type, flags, &nlh);
  ifa->ifa_family = static_cast<uint8_t>(af_of(p.family));
  ifa->ifa_prefixlen = p.len;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  if (nodad) ifa->ifa_flags = IFA_F_NODAD;
  const auto n = static_cast<uint16_t>(bytes_of(p.family));
  mnl_attr_put(nlh, IFA_ADDRESS, n, p.addr.data());
  if (p.family == 4) {
    mnl_attr_put(nlh, IFA_LOCAL, n, p.addr.data());
    if (p.len < 31) {
      uint32_t a;
      std::memcpy(&a, p.addr.data(), 4);
      const uint32_t host_bits = p.len == 0 ? ~0u : (~0u >> p.len);
      const uint32_t brd = a | htonl(host_bits);
      mnl_attr_put(nlh, IFA_BROADCAST, 4, &brd);
    }
  }
  return nlh;
}

}  // namespace

coap::Result<std::vector<InterfaceAddress>> dump_addresses() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh;
  begin<ifaddrmsg>(buf.data(), RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, &nlh)->ifa_family =
      AF_UNSPEC;
  std::vector<InterfaceAddress> out;
  if (const int e = transact(nlh, on_address, &out); e)
    return coap::error("cannot read the host's addresses (rtnetlink): ", errno_text(e));
  return out;
}

coap::Result<std::vector<Route>> dump_routes() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh;
  begin<rtmsg>(buf.data(), RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, &nlh)->rtm_family = AF_UNSPEC;
  std::vector<Route> out;
  if (const int e = transact(nlh, on_route, &out); e)
    return coap::error("cannot read the host's routes (rtnetlink): ", errno_text(e));
  return out;
}

coap::Result<bool> add_address(int ifindex, const Prefix& p, bool nodad) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh =
      address_message(buf.data(), RTM_NEWADDR,
                      NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, ifindex, p, nodad);
  const int e = transact(nlh, nullptr, nullptr);
  if (e == EEXIST) return false;
  if (e)
    return coap::error("cannot add ", to_string(p), " to ", ifname_of(ifindex), ": ",
                       errno_text(e));
  return true;
}

coap::Status remove_address(int ifindex, const Prefix& p) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh =
      address_message(buf.data(), RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, ifindex, p, false);
  if (const int e = transact(nlh, nullptr, nullptr); e)
    return coap::error("cannot remove ", to_string(p), " from ", ifname_of(ifindex), ": ",
                       errno_text(e));
  return {};
}

coap::Status set_link_up(int ifindex, uint32_t mtu) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh;
  auto* ifi = begin<ifinfomsg>(buf.data(), RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &nlh);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  if (const int e = transact(nlh, nullptr, nullptr); e)
    return coap::error("cannot bring ", ifname_of(ifindex), " up: ", errno_text(e));
  return {};
}

std::string to_string(const Prefix& p, bool with_len) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(af_of(p.family), p.addr.data(), text, sizeof text);
  return with_len ? std::string(text) + "/" + std::to_string(p.len) : std::string(text);
}

}  // namespace lwip_tap::netlink
