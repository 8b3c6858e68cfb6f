#include "lwip_tap/frame_filter.h"

namespace lwip_tap {
namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr uint16_t kIpv4 = 0x0800;
constexpr uint16_t kIpv6 = 0x86dd;
constexpr uint8_t kUdpLite = 136;
constexpr uint8_t kHopByHop = 0;
constexpr uint8_t kRouting = 43;
constexpr uint8_t kFragment = 44;
constexpr uint8_t kDestinationOptions = 60;
constexpr std::size_t kIpv6Header = 40;

bool is_extension_header(uint8_t next) {
  return next == kHopByHop || next == kRouting || next == kFragment || next == kDestinationOptions;
}

const char* check_ipv6(std::span<const uint8_t> ip) {
  if (ip.size() < kIpv6Header) return nullptr;  // lwIP drops it
  uint8_t next = ip[6];
  std::size_t at = kIpv6Header;
  // The extension headers lwIP's ip6_input() walks, in the order given.
  while (is_extension_header(next)) {
    if (ip.size() < at + 2) return nullptr;  // truncated: lwIP drops it
    if (next == kFragment) {
      const uint8_t after = ip[at];
      if (after == kUdpLite) return "UDP-Lite (IPv6 fragment)";
      if (is_extension_header(after)) return "IPv6 fragment followed by an extension header";
      return nullptr;
    }
    const std::size_t length = (std::size_t{ip[at + 1]} + 1) * 8;
    next = ip[at];
    at += length;
  }
  return next == kUdpLite ? "UDP-Lite (IPv6)" : nullptr;
}

}  // namespace

const char* refuse_reason(std::span<const uint8_t> frame) {
  if (frame.size() < kEthernetHeader + 1) return nullptr;
  const uint16_t type = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
  const std::span<const uint8_t> ip = frame.subspan(kEthernetHeader);
  if (type == kIpv4) {
    // Protocol at byte 9, whatever the rest says (lwIP validates the rest).
    return ip.size() > 9 && ip[9] == kUdpLite ? "UDP-Lite (IPv4)" : nullptr;
  }
  if (type == kIpv6) return check_ipv6(ip);
  return nullptr;
}

}  // namespace lwip_tap
