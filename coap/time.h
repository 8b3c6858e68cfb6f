// Time as the protocol core sees it: a monotonic time point handed in by the
// caller. The core never reads a clock itself, so tests drive it with a fake
// one.
#pragma once

#include <chrono>
#include <cstdint>

namespace coap {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;
using std::chrono::milliseconds;
using std::chrono::seconds;

inline constexpr TimePoint kNever = TimePoint::max();

inline double to_seconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline Duration from_seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

}  // namespace coap
