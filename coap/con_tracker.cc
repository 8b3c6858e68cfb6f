#include "coap/con_tracker.h"

namespace coap {

const ConTracker::Transmission& ConTracker::add(SessionId session, uint16_t mid, Kind kind,
                                                uint64_t ref, std::span<const uint8_t> wire,
                                                std::mt19937_64& rng) {
  Transmission t;
  t.id = next_id_++;
  t.session = session;
  t.mid = mid;
  t.kind = kind;
  t.ref = ref;
  t.wire.assign(wire.begin(), wire.end());
  std::uniform_real_distribution<double> factor(1.0, random_factor_);
  t.timeout = from_seconds(to_seconds(ack_timeout_) * factor(rng));
  by_mid_[key(session, mid)] = t.id;
  return by_id_.emplace(t.id, std::move(t)).first->second;
}

std::optional<ConTracker::Transmission> ConTracker::answered(SessionId session, uint16_t mid) {
  auto m = by_mid_.find(key(session, mid));
  if (m == by_mid_.end()) return std::nullopt;
  auto it = by_id_.find(m->second);
  Transmission t = std::move(it->second);
  by_id_.erase(it);
  by_mid_.erase(m);
  return t;
}

void ConTracker::remove(uint64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  by_mid_.erase(key(it->second.session, it->second.mid));
  by_id_.erase(it);
}

ConTracker::TimerOutcome ConTracker::on_timer(uint64_t id, uint64_t generation,
                                              bool session_alive) {
  TimerOutcome out;
  auto it = by_id_.find(id);
  if (it == by_id_.end() || it->second.retransmits != generation) return out;
  Transmission& t = it->second;
  if (session_alive && t.retransmits < max_retransmit_) {
    ++t.retransmits;
    t.timeout *= 2;
    out.action = TimerOutcome::Action::kResend;
    out.transmission = &t;
    return out;
  }
  out.action = TimerOutcome::Action::kGiveUp;
  out.kind = t.kind;
  out.ref = t.ref;
  out.session = t.session;
  out.transmissions = t.retransmits + 1;
  remove(id);
  return out;
}

const ConTracker::Transmission* ConTracker::find(uint64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

}  // namespace coap
