#include "lwip_tap/stack.h"

#include <arpa/inet.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>

namespace lwip_tap {
Stack::~Stack() = default;

BatchedCoreLock::BatchedCoreLock(Stack& stack, TxBatch& batch) : stack_(stack), batch_(batch) {
  LOCK_TCPIP_CORE();
  stack_.open_batch_ = &batch_;
}

BatchedCoreLock::~BatchedCoreLock() {
  stack_.open_batch_ = nullptr;
  UNLOCK_TCPIP_CORE();
  stack_.write_batch(batch_);
}

bool Stack::write_frame(std::span<const uint8_t> frame) {
  observe(FrameObserver::Direction::kOut, frame);
  if (!frames_->write_frame(frame)) {
    tx_errors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  tx_frames_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Stack::write_batch(TxBatch& batch) {
  std::size_t off = 0;
  for (uint32_t len : batch.lengths_) {
    write_frame({batch.bytes_.data() + off, len});
    off += len;
  }
  batch.bytes_.clear();
  batch.lengths_.clear();
}

void Stack::start_tcpip() {
  // Ephemeral ports and other LWIP_RAND() uses would repeat on every run
  // otherwise. (The initial TCP sequence number is `iss += tcp_ticks` in this
  // build, with no hook: predictable, and documented in the README.)
  unsigned seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
    seed = static_cast<unsigned>(getpid() ^ time(nullptr));
  std::srand(seed);
  std::promise<void> ready;
  tcpip_init([](void* arg) { static_cast<std::promise<void>*>(arg)->set_value(); }, &ready);
  ready.get_future().wait();
}

err_t Stack::netif_init_cb(netif* n) {
  auto* self = static_cast<Stack*>(n->state);
  n->name[0] = 't';
  n->name[1] = 'p';
  n->mtu = static_cast<u16_t>(self->options_.mtu);
  n->hwaddr_len = ETH_HWADDR_LEN;
  std::memcpy(n->hwaddr, self->options_.mac.data(), ETH_HWADDR_LEN);
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP |
             NETIF_FLAG_MLD6;
  n->output = etharp_output;
  n->output_ip6 = ethip6_output;
  n->linkoutput = linkoutput_cb;
  return ERR_OK;
}

// Called with the core lock held, by whichever thread makes lwIP send.
err_t Stack::linkoutput_cb(netif* n, pbuf* p) {
  assume_core_locked();
  auto* self = static_cast<Stack*>(n->state);
  if (TxBatch* b = self->open_batch_) {
    const std::size_t off = b->bytes_.size();
    b->bytes_.resize(off + p->tot_len);
    pbuf_copy_partial(p, b->bytes_.data() + off, p->tot_len, 0);
    b->lengths_.push_back(p->tot_len);
    return ERR_OK;
  }
  uint8_t frame[2048];
  std::span<const uint8_t> bytes(static_cast<const uint8_t*>(p->payload), p->len);
  if (p->next) {  // rare with LWIP_NETIF_TX_SINGLE_PBUF, but allowed
    if (p->tot_len > sizeof frame) return ERR_BUF;
    bytes = {frame, pbuf_copy_partial(p, frame, p->tot_len, 0)};
  }
  return self->write_frame(bytes) ? ERR_OK : ERR_IF;
}

coap::Status Stack::add_netif(const NetifOptions& options, FrameSink& frames) {
  LWIP_ASSERT_CORE_LOCKED();
  options_ = options;
  frames_ = &frames;
  ip4_addr_t ip, mask, gw;
  IP4_ADDR(&ip, options.ipv4[0], options.ipv4[1], options.ipv4[2], options.ipv4[3]);
  const uint32_t m =
      options.ipv4_prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - options.ipv4_prefix_len);
  ip4_addr_set_u32(&mask, htonl(m));
  ip4_addr_set_zero(&gw);
  if (options.gateway) {
    const auto& g = *options.gateway;
    IP4_ADDR(&gw, g[0], g[1], g[2], g[3]);
  }
  if (!netif_add(&netif_, &ip, &mask, &gw, this, netif_init_cb, ethernet_input)) {
    return coap::error("lwIP refused the network interface");
  }
  added_ = true;
  netif_set_default(&netif_);
  // Link-local from the MAC. The TAP is a point-to-point link to the host
  // kernel, whose addresses differ from ours by construction, so duplicate
  // address detection is skipped and the addresses are usable at once.
  netif_.ip6_autoconfig_enabled = 0;
  netif_create_ip6_linklocal_address(&netif_, 1);
  netif_ip6_addr_set_state(&netif_, 0, IP6_ADDR_PREFERRED);
  if (options.ipv6) {
    ip6_addr_t a6;
    std::memcpy(a6.addr, options.ipv6->data(), 16);
    ip6_addr_clear_zone(&a6);
    s8_t idx = -1;
    if (netif_add_ip6_address(&netif_, &a6, &idx) != ERR_OK || idx < 0) {
      return coap::error("lwIP refused the IPv6 address");
    }
    netif_ip6_addr_set_state(&netif_, idx, IP6_ADDR_PREFERRED);
  }
  netif_set_up(&netif_);
  netif_set_link_up(&netif_);
  return {};
}

coap::Status Stack::join_coap_groups() {
  LWIP_ASSERT_CORE_LOCKED();
  if (!added_) return coap::error("no network interface to join groups on");
  ip4_addr_t v4;
  IP4_ADDR(&v4, 224, 0, 1, 187);
  if (const err_t e = igmp_joingroup_netif(&netif_, &v4); e != ERR_OK)
    return coap::error("cannot join 224.0.1.187: ", err_name(e));
  for (const char* text : {"ff02::fd", "ff05::fd"}) {
    ip6_addr_t v6;
    ip6addr_aton(text, &v6);
    ip6_addr_assign_zone(&v6, IP6_MULTICAST, &netif_);
    if (const err_t e = mld6_joingroup_netif(&netif_, &v6); e != ERR_OK)
      return coap::error("cannot join ", text, ": ", err_name(e));
  }
  return {};
}

void Stack::remove_netif() {
  LWIP_ASSERT_CORE_LOCKED();
  if (!added_) return;
  netif_set_link_down(&netif_);
  netif_set_down(&netif_);
  netif_remove(&netif_);
  added_ = false;
}

bool Stack::routable(const coap::Address& a) const {
  LWIP_ASSERT_CORE_LOCKED();
  if (!added_) return false;
  const ip_addr_t dst = to_lwip(a);
  if (a.is_v4()) {
    return ip4_addr_netcmp(ip_2_ip4(&dst), netif_ip4_addr(&netif_), netif_ip4_netmask(&netif_)) ||
           !ip4_addr_isany_val(*netif_ip4_gw(&netif_));
  }
  if (a.is_link_local() || ip6_addr_ismulticast(ip_2_ip6(&dst))) return true;
  for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i) {
    if (ip6_addr_isvalid(netif_ip6_addr_state(&netif_, i)) &&
        ip6_addr_netcmp(ip_2_ip6(&dst), netif_ip6_addr(&netif_, i)))
      return true;
  }
  return nd6_find_route(ip_2_ip6(&dst)) != nullptr;  // a default router from an RA
}

PcbCounts Stack::count_pcbs() const {
  LWIP_ASSERT_CORE_LOCKED();
  PcbCounts c;
  for (tcp_pcb* p = tcp_active_pcbs; p; p = p->next) ++c.tcp_active;
  for (tcp_pcb* p = tcp_tw_pcbs; p; p = p->next) ++c.tcp_time_wait;
  for (tcp_pcb_listen* p = tcp_listen_pcbs.listen_pcbs; p; p = p->next) ++c.tcp_listen;
  for (tcp_pcb* p = tcp_bound_pcbs; p; p = p->next) ++c.tcp_bound;
  for (udp_pcb* p = udp_pcbs; p; p = p->next) ++c.udp;
  return c;
}

std::size_t Stack::tcp_unsettled() const {
  LWIP_ASSERT_CORE_LOCKED();
  std::size_t n = 0;
  // SYN_RCVD: a handshake no session knows of; it ends on its own.
  for (tcp_pcb* p = tcp_active_pcbs; p; p = p->next)
    n += p->state != FIN_WAIT_2 && p->state != SYN_RCVD;
  return n;
}

std::vector<NetifAddress> Stack::addresses(const std::string& zone_name) const {
  LWIP_ASSERT_CORE_LOCKED();
  std::vector<NetifAddress> out;
  if (!added_) return out;
  char buf[64];
  ip4addr_ntoa_r(netif_ip4_addr(&netif_), buf, sizeof buf);
  out.push_back({std::string(buf) + "/" + std::to_string(options_.ipv4_prefix_len), "preferred"});
  for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i) {
    const u8_t st = netif_ip6_addr_state(&netif_, i);
    if (ip6_addr_isinvalid(st)) continue;
    const ip6_addr_t* a = netif_ip6_addr(&netif_, i);
    inet_ntop(AF_INET6, a->addr, buf, sizeof buf);  // lower case, RFC 5952 form
    std::string text = buf;
    if (ip6_addr_islinklocal(a)) text += "%" + zone_name;
    const char* state = ip6_addr_ispreferred(st)    ? "preferred"
                        : ip6_addr_istentative(st)  ? "tentative"
                        : ip6_addr_isdeprecated(st) ? "deprecated"
                                                    : "valid";
    out.push_back({text + "/64", state});
  }
  return out;
}

ip_addr_t Stack::to_lwip(const coap::Address& a) const {
  ip_addr_t ip;
  if (a.is_v4()) {
    IP_ADDR4(&ip, a.ip[0], a.ip[1], a.ip[2], a.ip[3]);
  } else {
    ip_addr_set_zero_ip6(&ip);
    std::memcpy(ip_2_ip6(&ip)->addr, a.ip.data(), 16);
    u8_t zone = a.zone;
    if (zone == 0 && a.is_link_local() && added_) zone = netif_get_index(&netif_);
    ip6_addr_set_zone(ip_2_ip6(&ip), zone);
  }
  return ip;
}

coap::Address Stack::from_lwip(const ip_addr_t* ip, uint16_t port) {
  coap::Address a;
  a.port = port;
  if (IP_IS_V4(ip)) {
    a.family = coap::Address::Family::kV4;
    std::memcpy(a.ip.data(), &ip_2_ip4(ip)->addr, 4);
  } else {
    a.family = coap::Address::Family::kV6;
    std::memcpy(a.ip.data(), ip_2_ip6(ip)->addr, 16);
    a.zone = ip6_addr_zone(ip_2_ip6(ip));
  }
  return a;
}

}  // namespace lwip_tap
