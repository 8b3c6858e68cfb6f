#include "coap/tx_queue.h"

#include <cassert>

namespace coap {

void TxQueue::push(std::span<const uint8_t> frame) {
  buf_.insert(buf_.end(), frame.begin(), frame.end());
  frames_.push_back(Frame{static_cast<uint32_t>(frame.size()), false});
}

void TxQueue::push_priority(std::span<const uint8_t> frame) {
  // After the frame being written, then after priority frames already
  // waiting there (so that they keep their order), before everything else.
  std::size_t pos = head_;
  std::size_t idx = first_frame_;
  if (written_of_first_ > 0) {
    pos += frames_[idx].size - written_of_first_;
    ++idx;
  }
  while (idx < frames_.size() && frames_[idx].priority) pos += frames_[idx++].size;
  buf_.insert(buf_.begin() + static_cast<std::ptrdiff_t>(pos), frame.begin(), frame.end());
  frames_.insert(frames_.begin() + static_cast<std::ptrdiff_t>(idx),
                 Frame{static_cast<uint32_t>(frame.size()), true});
}

void TxQueue::consume(std::size_t n) {
  assert(n <= size());
  head_ += n;
  while (n > 0) {
    const std::size_t left = frames_[first_frame_].size - written_of_first_;
    if (n < left) {
      written_of_first_ += n;
      break;
    }
    n -= left;
    written_of_first_ = 0;
    ++first_frame_;
  }
  if (head_ == buf_.size()) {
    clear();
  } else if (head_ > 65536 && head_ > buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
    frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(first_frame_));
    first_frame_ = 0;
  }
}

void TxQueue::drop_unstarted() {
  if (written_of_first_ == 0) return clear();
  buf_.resize(head_ + frames_[first_frame_].size - written_of_first_);
  frames_.resize(first_frame_ + 1);
}

void TxQueue::clear() {
  buf_.clear();
  frames_.clear();
  head_ = 0;
  first_frame_ = 0;
  written_of_first_ = 0;
}

}  // namespace coap
