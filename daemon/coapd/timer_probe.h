// A debug probe of the engine's own timer (coapctl debug timer-probe): a
// series of timers on the same wait as every other engine timer, measuring
// how late each fired (never early, by construction of the wait).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "coap/time.h"
#include "daemon/control/messages.h"

namespace coapd {

struct TimerProbeResult {
  coap::Duration interval{};
  std::vector<int64_t> lateness_ns;  // fire time minus deadline, per firing
};

// The result as the control protocol reports it.
control::TimerProbeResult summarize(const TimerProbeResult& r);

// Engine thread only.
class TimerProbe {
 public:
  using Done = std::function<void(TimerProbeResult)>;
  // `count` timers of `interval`, each armed when the previous one fired.
  // While one probe runs another is refused: done gets an empty result.
  void start(coap::Duration interval, int count, coap::TimePoint now, Done done);
  // Every pass of the engine loop: records a due timer, arms the next, and
  // calls done after the last.
  void on_pass(coap::TimePoint now);
  // When the engine must wake for the probe; kNever when none runs.
  coap::TimePoint deadline() const { return running_ ? running_->deadline : coap::kNever; }

 private:
  struct Running {
    coap::Duration interval;
    int remaining;
    coap::TimePoint deadline;
    TimerProbeResult result;
    Done done;
  };
  std::optional<Running> running_;
};

}  // namespace coapd
