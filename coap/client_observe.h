// Observations coapd holds as a client (RFC 7641): the state an Exchange
// carries while it observes a remote resource, and the freshness rule of
// RFC 7641 section 3.4 that orders its notifications.
#pragma once

#include <cstdint>

#include "coap/time.h"

namespace coap {

// RFC 7641 3.4: a notification with sequence number v2 received at t2 is
// newer than the newest one seen so far (v1, received at t1) when v2 is
// ahead of v1 in the 24-bit sequence space by less than 2^23, or when more
// than 128 s have passed since t1 (the sequence space may have wrapped or the
// server restarted). An equal number is a duplicate: not newer.
bool observe_newer(uint32_t v1, TimePoint t1, uint32_t v2, TimePoint t2);

// How long after Max-Age ran out without a notification coapd re-registers
// (the notification may still be on its way).
inline constexpr Duration kReregisterMargin = seconds(2);

struct ClientObserve {
  // The next response is the answer to a registration (the first one, one
  // after Max-Age, one after a reconnect): it is taken whatever its number.
  bool registering = true;
  bool registered = false;     // a notification arrived: the server observes us
  bool plain = false;          // the server answered without Observe: a plain GET now
  bool deregistering = false;  // the GET with Observe 1 went out
  // The session reconnected (or will): the next registration is a
  // re-registration, reported with observe_reregistered.
  bool reconnected = false;
  uint32_t last_seq = 0;
  TimePoint last_time{};
  uint64_t notifications = 0;  // delivered
  uint64_t dropped = 0;        // older than the newest, or duplicates
  // A Block2 notification being put together: its sequence number.
  uint32_t block_seq = 0;
  // Max-Age timer generation: a notification re-arms it.
  uint64_t timer_epoch = 0;
};

}  // namespace coap
