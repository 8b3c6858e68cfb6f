// Where the netif's outgoing Ethernet frames go: the TAP in coapd
// (TapDevice), a capturing fake link in the unit tests (test/lwip_tap).
#pragma once

#include <cstdint>
#include <span>

namespace lwip_tap {

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Sends one whole Ethernet frame (without FCS); returns whether it was
  // taken. A failure is a lost frame, never a partial one: TCP retransmits,
  // CoAP over UDP retransmits CONs. Called by the netif's linkoutput with the
  // core lock held, or by Stack::write_batch without it, from any thread and
  // possibly from two at once: implementations are thread-safe, do not keep
  // `frame` after returning and never take the core lock.
  virtual bool write_frame(std::span<const uint8_t> frame) = 0;
};

}  // namespace lwip_tap
