// Confirmable messages awaiting their ACK (RFC 7252 section 4.2): each is
// kept with its bytes and retransmitted with exponential back-off until it is
// acknowledged, rejected (RST) or MAX_RETRANSMIT is used up.
//
// The tracker decides; the endpoint sends and arms the timers. A timer names
// a transmission by id and generation (its retransmission count), so a timer
// for a transmission that was acknowledged, or already retransmitted, finds
// nothing to do.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "coap/endpoint_types.h"

namespace coap {

class ConTracker {
 public:
  // What a CON carries: a client request (ref: RequestId) or an Observe
  // notification (ref: observation id).
  // kResponse: a separate response (RFC 7252 5.2.2), retransmitted until
  // acknowledged; nothing waits for its outcome.
  enum class Kind : uint8_t { kRequest, kNotification, kResponse };

  struct Transmission {
    uint64_t id = 0;
    SessionId session = 0;
    uint16_t mid = 0;
    Kind kind = Kind::kRequest;
    uint64_t ref = 0;
    std::vector<uint8_t> wire;
    unsigned retransmits = 0;
    Duration timeout{};  // until the next retransmission
  };

  // What a retransmission timer calls for.
  struct TimerOutcome {
    enum class Action : uint8_t { kNothing, kResend, kGiveUp } action = Action::kNothing;
    const Transmission* transmission = nullptr;  // kResend: send its wire again
    // kGiveUp: the transmission is gone; this is what it was.
    Kind kind = Kind::kRequest;
    uint64_t ref = 0;
    SessionId session = 0;
    unsigned transmissions = 0;
  };

  ConTracker(Duration ack_timeout, double ack_random_factor, unsigned max_retransmit)
      : ack_timeout_(ack_timeout),
        random_factor_(ack_random_factor),
        max_retransmit_(max_retransmit) {}

  // Tracks a CON just sent. Its first timeout is random in
  // [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR].
  const Transmission& add(SessionId session, uint16_t mid, Kind kind, uint64_t ref,
                          std::span<const uint8_t> wire, std::mt19937_64& rng);
  // An ACK or RST for (session, mid): the transmission it answers, no longer
  // tracked; nullopt when none matches.
  std::optional<Transmission> answered(SessionId session, uint16_t mid);
  void remove(uint64_t id);

  // The timer armed for (id, generation) fired. kResend doubles the timeout
  // (the caller arms the next timer with the transmission's retransmits as
  // generation); kGiveUp forgets the transmission. session_alive false gives
  // up at once (there is nobody to send to).
  TimerOutcome on_timer(uint64_t id, uint64_t generation, bool session_alive);

  const Transmission* find(uint64_t id) const;
  std::size_t size() const { return by_id_.size(); }

 private:
  static uint64_t key(SessionId session, uint16_t mid) { return (session << 16) | mid; }

  Duration ack_timeout_;
  double random_factor_;
  unsigned max_retransmit_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Transmission> by_id_;
  std::unordered_map<uint64_t, uint64_t> by_mid_;  // key(session, mid) -> id
};

}  // namespace coap
