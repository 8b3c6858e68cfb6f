// systemd's watchdog (WatchdogSec=): WATCHDOG=1 keep-alives sent by the
// engine thread itself, at half the interval systemd asks for, so that an
// engine that stalls stops them and systemd restarts coapd.
#pragma once

#include "coap/time.h"

namespace coapd {

class Watchdog {
 public:
  // Reads the interval from the environment systemd sets (WATCHDOG_USEC);
  // disabled without it.
  Watchdog();

  bool enabled() const { return interval_ > coap::Duration::zero(); }
  // Engine thread, on every pass of its loop: sends a keep-alive when due.
  void on_pass(coap::TimePoint now);
  // When the engine must wake for the next keep-alive; kNever when disabled.
  coap::TimePoint next_deadline() const { return next_; }

 private:
  coap::Duration interval_{};
  coap::TimePoint next_ = coap::kNever;
};

}  // namespace coapd
