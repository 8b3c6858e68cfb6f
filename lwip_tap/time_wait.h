// lwIP's TIME_WAIT pcbs, kept in check.
//
// When coapd closes a connection first, lwIP keeps its pcb in TIME_WAIT for
// 2·MSL (120 s). Two things lwIP 2.1.3 does not do:
//  - let a peer reopen the same connection (same addresses and ports) in
//    that time. Its TIME_WAIT code answers a new SYN inside the old window
//    with RST, so a client that reuses its port (a device with a fixed
//    source port, a reconnect loop) is refused for two minutes. RFC 1122
//    4.2.2.13 allows accepting such a SYN when its sequence number is beyond
//    anything the old connection received, as Linux and BSD do;
//  - bound how many there are. With MEMP_MEM_MALLOC, pcbs come from malloc
//    and TIME_WAIT pcbs are only reclaimed when an allocation fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lwip_tap/thread_safety.h"

namespace lwip_tap {

// REQUIRES core lock. If `frame` (Ethernet, IPv4 or IPv6) is a TCP SYN for
// the addresses and ports of a pcb in TIME_WAIT and its sequence number is
// beyond the old connection's, frees that pcb so that the SYN opens a new
// connection. Returns whether it did. Cheap when there is nothing to do.
bool reopen_time_wait(std::span<const uint8_t> frame) REQUIRES(core_lock);

// REQUIRES core lock. Frees the oldest TIME_WAIT pcbs beyond `max`; returns
// how many.
std::size_t trim_time_wait(std::size_t max) REQUIRES(core_lock);

}  // namespace lwip_tap
