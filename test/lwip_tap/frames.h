// Ethernet, ARP, IPv4 and TCP frames built and parsed by hand, with real
// checksums, for the test peer on the fake link. Only what the tests need:
// no IP options, no fragments, the MSS option alone.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace lwip_tap::test {

using Mac = std::array<uint8_t, 6>;
using Ip4 = std::array<uint8_t, 4>;

inline constexpr Mac kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// TCP header flags.
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;

struct Arp {
  static constexpr uint16_t kRequest = 1;
  static constexpr uint16_t kReply = 2;
  uint16_t op = kRequest;
  Mac sender_mac{};
  Ip4 sender_ip{};
  Mac target_mac{};
  Ip4 target_ip{};
};

struct TcpSegment {
  Ip4 src{};
  Ip4 dst{};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  std::optional<uint16_t> mss;  // the MSS option, on SYNs
  std::vector<uint8_t> payload;

  bool has(uint8_t flag) const { return (flags & flag) != 0; }
  // Sequence space the segment uses (payload, SYN and FIN count one each).
  uint32_t seq_len() const { return static_cast<uint32_t>(payload.size()) + has(kSyn) + has(kFin); }
};

// What a received frame is. Frames of other kinds (IPv6, for lwIP's MLD
// reports and router solicitations) come back with neither arp nor tcp.
struct Frame {
  Mac dst{};
  Mac src{};
  uint16_t ethertype = 0;
  std::optional<Arp> arp;
  std::optional<TcpSegment> tcp;
  bool checksums_ok = true;  // IPv4 header and TCP checksums verified
};

std::vector<uint8_t> build_arp(const Mac& src, const Mac& dst, const Arp& arp);
std::vector<uint8_t> build_tcp(const Mac& src, const Mac& dst, const TcpSegment& s);
Frame parse_frame(std::span<const uint8_t> bytes);

}  // namespace lwip_tap::test
