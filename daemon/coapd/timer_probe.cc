#include "daemon/coapd/timer_probe.h"

#include <algorithm>

#include "daemon/coapd/latency_histogram.h"

namespace coapd {

control::TimerProbeResult summarize(const TimerProbeResult& r) {
  LatencyHistogram h;
  uint64_t early = 0;
  for (int64_t ns : r.lateness_ns) {
    if (ns < 0) ++early;
    h.record(static_cast<uint64_t>(std::max<int64_t>(ns, 0)));
  }
  auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  control::TimerProbeResult out;
  out.interval_ms = coap::to_seconds(r.interval) * 1000.0;
  out.count = r.lateness_ns.size();
  out.early = early;
  out.lateness_us = {h.count(), us(h.quantile(0.5)), us(h.quantile(0.99)), us(h.max())};
  out.min_lateness_us = us(h.min());
  return out;
}

void TimerProbe::start(coap::Duration interval, int count, coap::TimePoint now, Done done) {
  if (running_ || count <= 0) {
    done(TimerProbeResult{interval, {}});
    return;
  }
  running_ =
      Running{interval, count, now + interval, TimerProbeResult{interval, {}}, std::move(done)};
}

void TimerProbe::on_pass(coap::TimePoint now) {
  if (!running_ || now < running_->deadline) return;
  running_->result.lateness_ns.push_back(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - running_->deadline).count());
  if (--running_->remaining > 0) {
    running_->deadline = now + running_->interval;
    return;
  }
  Running finished = std::move(*running_);
  running_.reset();
  finished.done(std::move(finished.result));
}

}  // namespace coapd
