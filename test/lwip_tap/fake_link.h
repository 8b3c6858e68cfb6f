// The far end of the netif's wire: a FrameSink that keeps every frame lwIP
// sends until the test takes it. lwIP writes from whichever thread holds the
// core lock (the test thread, or tcpip_thread for its timers), so the queue
// has a mutex of its own; it is only ever taken after the core lock, never
// before it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "lwip_tap/frame_sink.h"

namespace lwip_tap::test {

class FakeLink final : public FrameSink {
 public:
  bool write_frame(std::span<const uint8_t> frame) override;

  // Every frame written since the last call, oldest first; waits up to
  // `wait` for the first one. Call without the core lock.
  std::vector<std::vector<uint8_t>> take(std::chrono::milliseconds wait);
  // While failing, writes are refused (and nothing is kept).
  void set_failing(bool failing);
  // Frames taken in by write_frame, and refused by it.
  uint64_t accepted() const;
  uint64_t refused() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Protected by mu_.
  std::deque<std::vector<uint8_t>> frames_;
  bool failing_ = false;
  uint64_t accepted_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace lwip_tap::test
