#include "test/lwip_tap/frames.h"

#include <algorithm>

namespace lwip_tap::test {
namespace {

constexpr std::size_t kEthLen = 14;
constexpr std::size_t kIpLen = 20;
constexpr std::size_t kTcpLen = 20;
constexpr uint16_t kTypeIp4 = 0x0800;
constexpr uint16_t kTypeArp = 0x0806;
constexpr uint8_t kProtoTcp = 6;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) { return uint32_t{get16(p)} << 16 | get16(p + 2); }

// One's complement sum of 16-bit words (RFC 1071), not yet inverted.
uint32_t sum16(const uint8_t* p, std::size_t n, uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += get16(p + i);
  if (n % 2) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Checksum of a TCP segment (header and payload at `tcp`, `len` bytes)
// over the IPv4 pseudo header. 0 when a segment with its checksum is valid.
uint16_t tcp_checksum(const Ip4& src, const Ip4& dst, const uint8_t* tcp, std::size_t len) {
  uint32_t sum = sum16(src.data(), 4) + sum16(dst.data(), 4) + kProtoTcp + len;
  return fold(sum16(tcp, len, sum));
}

std::vector<uint8_t> ethernet(const Mac& src, const Mac& dst, uint16_t type, std::size_t body) {
  std::vector<uint8_t> f(kEthLen + body);
  std::copy(dst.begin(), dst.end(), f.begin());
  std::copy(src.begin(), src.end(), f.begin() + 6);
  put16(&f[12], type);
  return f;
}

std::optional<Arp> parse_arp(const uint8_t* a, std::size_t len) {
  if (len < 28 || get16(a) != 1 || get16(a + 2) != kTypeIp4 || a[4] != 6 || a[5] != 4)
    return std::nullopt;
  Arp arp;
  arp.op = get16(a + 6);
  std::copy(a + 8, a + 14, arp.sender_mac.begin());
  std::copy(a + 14, a + 18, arp.sender_ip.begin());
  std::copy(a + 18, a + 24, arp.target_mac.begin());
  std::copy(a + 24, a + 28, arp.target_ip.begin());
  return arp;
}

std::optional<uint16_t> parse_mss(const uint8_t* opt, std::size_t len) {
  for (std::size_t i = 0; i < len;) {
    if (opt[i] == 0) break;  // end of options
    if (opt[i] == 1) {       // no-op
      ++i;
      continue;
    }
    if (i + 1 >= len || opt[i + 1] < 2) break;
    if (opt[i] == 2 && opt[i + 1] == 4 && i + 4 <= len) return get16(opt + i + 2);
    i += opt[i + 1];
  }
  return std::nullopt;
}

// The TCP segment of an IPv4 packet; clears `ok` on a bad checksum.
std::optional<TcpSegment> parse_tcp(const uint8_t* ip, std::size_t len, bool& ok) {
  if (len < kIpLen) return std::nullopt;
  const std::size_t ihl = (ip[0] & 0x0f) * 4u;
  if ((ip[0] >> 4) != 4 || ihl < kIpLen || len < ihl) return std::nullopt;
  const std::size_t total = std::min<std::size_t>(get16(ip + 2), len);
  ok = ok && fold(sum16(ip, ihl)) == 0;
  if (ip[9] != kProtoTcp || total < ihl + kTcpLen) return std::nullopt;
  TcpSegment s;
  std::copy(ip + 12, ip + 16, s.src.begin());
  std::copy(ip + 16, ip + 20, s.dst.begin());
  const uint8_t* t = ip + ihl;
  const std::size_t tcp_len = total - ihl;
  const std::size_t off = (t[12] >> 4) * 4u;
  if (off < kTcpLen || off > tcp_len) return std::nullopt;
  ok = ok && tcp_checksum(s.src, s.dst, t, tcp_len) == 0;
  s.src_port = get16(t);
  s.dst_port = get16(t + 2);
  s.seq = get32(t + 4);
  s.ack = get32(t + 8);
  s.flags = t[13];
  s.window = get16(t + 14);
  s.mss = parse_mss(t + kTcpLen, off - kTcpLen);
  s.payload.assign(t + off, t + tcp_len);
  return s;
}

}  // namespace

std::vector<uint8_t> build_arp(const Mac& src, const Mac& dst, const Arp& arp) {
  std::vector<uint8_t> f = ethernet(src, dst, kTypeArp, 28);
  uint8_t* a = &f[kEthLen];
  put16(a, 1);  // Ethernet
  put16(a + 2, kTypeIp4);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, arp.op);
  std::copy(arp.sender_mac.begin(), arp.sender_mac.end(), a + 8);
  std::copy(arp.sender_ip.begin(), arp.sender_ip.end(), a + 14);
  std::copy(arp.target_mac.begin(), arp.target_mac.end(), a + 18);
  std::copy(arp.target_ip.begin(), arp.target_ip.end(), a + 24);
  return f;
}

std::vector<uint8_t> build_tcp(const Mac& src, const Mac& dst, const TcpSegment& s) {
  const std::size_t opt_len = s.mss ? 4 : 0;
  const std::size_t tcp_len = kTcpLen + opt_len + s.payload.size();
  std::vector<uint8_t> f = ethernet(src, dst, kTypeIp4, kIpLen + tcp_len);
  uint8_t* ip = &f[kEthLen];
  ip[0] = 0x45;
  put16(ip + 2, static_cast<uint16_t>(kIpLen + tcp_len));
  put16(ip + 6, 0x4000);  // don't fragment
  ip[8] = 64;             // TTL
  ip[9] = kProtoTcp;
  std::copy(s.src.begin(), s.src.end(), ip + 12);
  std::copy(s.dst.begin(), s.dst.end(), ip + 16);
  put16(ip + 10, fold(sum16(ip, kIpLen)));
  uint8_t* t = ip + kIpLen;
  put16(t, s.src_port);
  put16(t + 2, s.dst_port);
  put32(t + 4, s.seq);
  put32(t + 8, s.ack);
  t[12] = static_cast<uint8_t>((kTcpLen + opt_len) / 4 << 4);
  t[13] = s.flags;
  put16(t + 14, s.window);
  if (s.mss) {
    t[20] = 2;
    t[21] = 4;
    put16(t + 22, *s.mss);
  }
  std::copy(s.payload.begin(), s.payload.end(), t + kTcpLen + opt_len);
  put16(t + 16, tcp_checksum(s.src, s.dst, t, tcp_len));
  return f;
}

Frame parse_frame(std::span<const uint8_t> bytes) {
  Frame f;
  if (bytes.size() < kEthLen) {
    f.checksums_ok = false;
    return f;
  }
  std::copy(bytes.begin(), bytes.begin() + 6, f.dst.begin());
  std::copy(bytes.begin() + 6, bytes.begin() + 12, f.src.begin());
  f.ethertype = get16(&bytes[12]);
  const uint8_t* body = bytes.data() + kEthLen;
  const std::size_t len = bytes.size() - kEthLen;
  if (f.ethertype == kTypeArp) f.arp = parse_arp(body, len);
  if (f.ethertype == kTypeIp4) f.tcp = parse_tcp(body, len, f.checksums_ok);
  return f;
}

}  // namespace lwip_tap::test
