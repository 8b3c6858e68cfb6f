// Frames refused before they reach lwIP.
//
// Debian's lwIP 2.1.3 is built with LWIP_UDPLITE and with its asserts on
// (LWIP_PLATFORM_ASSERT aborts). Its UDP-Lite input checksums as many bytes
// as the packet's checksum-coverage field says; a coverage beyond the
// packet trips LWIP_ASSERT("delete me", ...) in inet_chksum.c and aborts the
// process. One 74-byte frame from the link would end coapd. coapd has no
// use for UDP-Lite, so such packets are dropped in front of ethernet_input().
#pragma once

#include <cstdint>
#include <span>

namespace lwip_tap {

// Why `frame` (Ethernet) must not reach lwIP, or nullptr when it may.
// Refused: IPv4 with protocol 136 (UDP-Lite, also in fragments, which carry
// the protocol in every header); IPv6 whose header chain names UDP-Lite
// anywhere, and IPv6 fragments whose Fragment header is followed by
// UDP-Lite or by another extension header (lwIP takes the next-header of
// the reassembled packet from the first fragment to arrive, whichever it
// is, so only a chain that ends at the Fragment header can be checked
// fragment by fragment; RFC 7112 lets a node drop such fragments). Pure:
// reads only `frame`, needs no lock.
const char* refuse_reason(std::span<const uint8_t> frame);

}  // namespace lwip_tap
