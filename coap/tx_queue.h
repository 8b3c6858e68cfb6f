// Bytes waiting to be handed to TCP for one session, kept as whole frames so
// that a signaling reply (Pong) can overtake frames not yet started.
// Buffers are reused, so a steady flow does not allocate.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace coap {

class TxQueue {
 public:
  // Appends a complete frame.
  void push(std::span<const uint8_t> frame);
  // Puts a complete frame right after the frame being written (or first, when
  // no frame is partly written), ahead of every frame not yet started.
  void push_priority(std::span<const uint8_t> frame);

  std::span<const uint8_t> pending() const { return {buf_.data() + head_, buf_.size() - head_}; }
  std::size_t size() const { return buf_.size() - head_; }
  bool empty() const { return size() == 0; }
  // n bytes were accepted by TCP.
  void consume(std::size_t n);
  void clear();
  // Drops every frame not yet started. The rest of a frame partly written
  // stays: cutting it would leave the peer half a frame.
  void drop_unstarted();

 private:
  std::vector<uint8_t> buf_;
  std::size_t head_ = 0;
  struct Frame {
    uint32_t size;
    bool priority;
  };
  std::vector<Frame> frames_;    // queued frames, oldest first
  std::size_t first_frame_ = 0;  // index of the oldest frame in frames_
  std::size_t written_of_first_ = 0;
};

}  // namespace coap
