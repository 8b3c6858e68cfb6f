#include "lwip_tap/time_wait.h"

#include <cstring>

#include "lwip_tap/lwip.h"

namespace lwip_tap {
namespace {

constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kRst = 0x04;
constexpr uint8_t kAck = 0x10;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

// The TCP header of a frame and where its addresses are, or nothing.
struct Segment {
  const uint8_t* src = nullptr;  // 4 or 16 bytes, network order
  const uint8_t* dst = nullptr;
  bool v6 = false;
  const uint8_t* tcp = nullptr;  // at least 20 bytes
};

bool parse(std::span<const uint8_t> f, Segment& s) {
  constexpr std::size_t kEth = 14;
  if (f.size() < kEth + 20) return false;
  const uint16_t type = be16(&f[12]);
  const uint8_t* ip = f.data() + kEth;
  const std::size_t left = f.size() - kEth;
  if (type == 0x0800) {
    const std::size_t ihl = (ip[0] & 0x0f) * 4u;
    const bool fragment = (be16(ip + 6) & 0x3fff) != 0;
    if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != IP_PROTO_TCP || fragment || left < ihl + 20)
      return false;
    s = {ip + 12, ip + 16, false, ip + ihl};
    return true;
  }
  if (type == 0x86dd) {
    // A SYN with extension headers is left to lwIP: it is never one of ours.
    if ((ip[0] >> 4) != 6 || ip[6] != IP_PROTO_TCP || left < 40 + 20) return false;
    s = {ip + 8, ip + 24, true, ip + 40};
    return true;
  }
  return false;
}

bool same_address(const ip_addr_t& a, const uint8_t* bytes, bool v6) {
  if (v6) return IP_IS_V6_VAL(a) && std::memcmp(ip_2_ip6(&a)->addr, bytes, 16) == 0;
  uint32_t v4;
  std::memcpy(&v4, bytes, 4);  // both in network order
  return IP_IS_V4_VAL(a) && ip4_addr_get_u32(ip_2_ip4(&a)) == v4;
}

}  // namespace

bool reopen_time_wait(std::span<const uint8_t> frame) {
  LWIP_ASSERT_CORE_LOCKED();
  if (!tcp_tw_pcbs) return false;
  Segment s;
  if (!parse(frame, s)) return false;
  const uint8_t flags = s.tcp[13];
  if ((flags & (kSyn | kAck | kRst)) != kSyn) return false;
  const uint16_t sport = be16(s.tcp), dport = be16(s.tcp + 2);
  const uint32_t seq = be32(s.tcp + 4);
  for (tcp_pcb* p = tcp_tw_pcbs; p; p = p->next) {
    if (p->remote_port != sport || p->local_port != dport ||
        !same_address(p->remote_ip, s.src, s.v6) || !same_address(p->local_ip, s.dst, s.v6))
      continue;
    // An old duplicate SYN stays lwIP's business (it gets an ACK or RST).
    if (!TCP_SEQ_GT(seq, p->rcv_nxt)) return false;
    tcp_abort(p);  // a TIME_WAIT pcb is just unlinked and freed: nothing is sent
    return true;
  }
  return false;
}

std::size_t trim_time_wait(std::size_t max) {
  LWIP_ASSERT_CORE_LOCKED();
  // New TIME_WAIT pcbs are put at the head: the oldest are at the tail.
  std::size_t n = 0;
  tcp_pcb* keep_last = nullptr;
  for (tcp_pcb* p = tcp_tw_pcbs; p; p = p->next)
    if (++n == max) keep_last = p;
  if (n <= max) return 0;
  std::size_t freed = 0;
  if (max == 0) {
    while (tcp_tw_pcbs) {
      tcp_abort(tcp_tw_pcbs);
      ++freed;
    }
    return freed;
  }
  while (tcp_pcb* victim = keep_last->next) {
    tcp_abort(victim);  // unlinks it from the list
    ++freed;
  }
  return freed;
}

}  // namespace lwip_tap
