// Moves frames from the TAP into lwIP, on the libuv loop that owns the TAP
// fd: when the fd is readable it reads up to a batch of frames, then feeds
// them all to netif->input (ethernet_input) under one core-lock acquisition.
// (tcpip_input() would go through a fixed-size mailbox and drop frames at
// high rates.) Frames lwIP sends are written to the TAP by the netif's
// linkoutput, in whichever thread holds the core lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "coap/result.h"
#include "lwip_tap/lwip.h"
#include "lwip_tap/stack.h"
#include "lwip_tap/transport_sink.h"

namespace lwip_tap {

// REQUIRES core lock. Hands one received Ethernet frame to lwIP as the pump
// does: a frame lwIP must not see (lwip_tap/frame_filter.h) is refused and
// false returned; a SYN that reopens a connection in TIME_WAIT frees the old
// pcb first (lwip_tap/time_wait.h), then netif->input. A frame lwIP has no
// memory for is lost, like on a wire.
bool input_frame(netif* iface, std::span<const uint8_t> frame) REQUIRES(core_lock);

class TapPump {
 public:
  // The sink learns where each batch begins and ends
  // (TransportSink::begin_input_batch), so that it wakes the engine once.
  TapPump(uv_loop_t* loop, int tap_fd, Stack& stack, TransportSink& sink);
  ~TapPump();

  coap::Status start();
  // TIME_WAIT pcbs kept at most (lwip_tap/time_wait.h); before start().
  void set_max_time_wait(std::size_t n) { max_time_wait_ = n; }
  // After a batch, how long the loop keeps looking for the next frame (and
  // its other handles' events) without sleeping, yielding the CPU at each
  // turn (0: it sleeps at once); before start().
  void set_busy_poll(std::chrono::microseconds d) { busy_poll_ = d; }
  // Stops reading. The handle closes on a later loop turn (uv_close).
  void stop();

  uint64_t rx_frames() const { return rx_frames_.load(std::memory_order_relaxed); }
  uint64_t rx_batches() const { return rx_batches_.load(std::memory_order_relaxed); }
  // Of those, the batches found while busy polling (no wake-up needed).
  uint64_t rx_polled_batches() const { return rx_polled_.load(std::memory_order_relaxed); }
  // Frames read but not given to lwIP (lwip_tap/frame_filter.h).
  uint64_t rx_refused() const { return rx_refused_.load(std::memory_order_relaxed); }

 private:
  static constexpr int kBatch = 64;
  static constexpr int kFrameMax = 2048;
  static void on_readable(uv_poll_t* handle, int status, int events);
  // Reads and feeds one batch; the number of frames read.
  int pump();
  static void on_idle(uv_idle_t* handle);

  uv_loop_t* loop_;
  int fd_;
  Stack& stack_;
  TransportSink& sink_;
  TxBatch tx_;
  uv_poll_t* poll_ = nullptr;  // freed in its close callback
  uv_idle_t* idle_ = nullptr;  // active while busy polling; freed in its close callback
  std::vector<std::array<uint8_t, kFrameMax>> frames_;
  std::array<int, kBatch> lengths_{};
  // lwIP puts new TIME_WAIT pcbs at the head of its list: the list is only
  // walked (to bound it) when the head changed.
  const void* time_wait_head_ = nullptr;
  std::size_t max_time_wait_ = 1024;
  std::chrono::microseconds busy_poll_{0};
  std::chrono::steady_clock::time_point poll_until_{};
  std::atomic<uint64_t> rx_frames_{0};
  std::atomic<uint64_t> rx_batches_{0};
  std::atomic<uint64_t> rx_polled_{0};
  std::atomic<uint64_t> rx_refused_{0};
};

}  // namespace lwip_tap
