// Sees every Ethernet frame the stack receives from the TAP and sends to it
// (coapd's packet capture, daemon/coapd/capture.h). While inactive it costs
// one atomic load per frame.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

namespace lwip_tap {

class FrameObserver {
 public:
  enum class Direction : uint8_t { kIn, kOut };
  virtual ~FrameObserver() = default;
  bool active() const { return active_.load(std::memory_order_acquire); }
  // Called from any thread that moves frames (the io thread for received
  // ones; whichever thread makes lwIP send, core lock held or not, for sent
  // ones), possibly two at once. Implementations copy what they keep, take
  // no lock that is held for long and never take the core lock.
  virtual void on_frame(Direction d, std::span<const uint8_t> frame) = 0;

 protected:
  std::atomic<bool> active_{false};
};

}  // namespace lwip_tap
