#include "daemon/coapd/watchdog.h"

#include <systemd/sd-daemon.h>

#include <chrono>

namespace coapd {

Watchdog::Watchdog() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    interval_ = std::chrono::microseconds(usec / 2);
    next_ = coap::Clock::now();
  }
}

void Watchdog::on_pass(coap::TimePoint now) {
  if (!enabled() || now < next_) return;
  sd_notify(0, "WATCHDOG=1");  // only a running engine thread gets here
  next_ = now + interval_;
}

}  // namespace coapd
