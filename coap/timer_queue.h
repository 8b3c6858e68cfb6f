// A min-heap of timers. Timers are never removed: each carries a key and a
// generation, and the owner ignores a timer whose generation no longer
// matches (lazy cancellation). Pushing does not allocate once the heap has
// grown to its working size.
#pragma once

#include <cstdint>
#include <queue>
#include <vector>

#include "coap/time.h"

namespace coap {

struct Timer {
  TimePoint when;
  uint8_t kind;
  uint64_t key;
  uint64_t generation;
  bool operator>(const Timer& o) const { return when > o.when; }
};

class TimerQueue {
 public:
  void push(const Timer& t) { heap_.push(t); }
  TimePoint next() const { return heap_.empty() ? kNever : heap_.top().when; }
  // Pops the earliest timer due at `now` into *out; false when none is due.
  bool pop_due(TimePoint now, Timer* out) {
    if (heap_.empty() || heap_.top().when > now) return false;
    *out = heap_.top();
    heap_.pop();
    return true;
  }
  std::size_t size() const { return heap_.size(); }

 private:
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> heap_;
};

}  // namespace coap
