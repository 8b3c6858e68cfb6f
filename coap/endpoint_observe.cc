// Endpoint: the server side of Observe (RFC 7641). Observations belong to a
// session; those of an outgoing session that reconnects survive the
// reconnect and resume with a fresh notification.
#include <algorithm>

#include "coap/endpoint_internal.h"

namespace coap {
namespace {

// Over UDP every this many notifications is sent CON, to learn whether the
// observer is still there (RFC 7641 4.5)...
constexpr unsigned kConEvery = 20;
// ...and at least one this often, even for a resource that does not change:
// an observer that is gone then answers RST or nothing, and is removed.
constexpr Duration kConInterval = std::chrono::hours(24);
// Observations a peer may hold (per session) and all peers together: past
// these a GET with Observe is answered without registering (RFC 7641 4.1
// lets a server decline), so a peer cannot grow the list without bound.
constexpr std::size_t kMaxPerSession = 64;
constexpr std::size_t kMaxTotal = 4096;

}  // namespace

std::optional<uint32_t> Endpoint::observe_register(Session& s, Resource& r, const Token& token,
                                                   TimePoint now) {
  Observation* found = nullptr;
  for (uint64_t oid : s.observations) {
    auto it = observations_.find(oid);
    if (it != observations_.end() && it->second->token == token) found = it->second.get();
  }
  if (!found && (s.observations.size() >= kMaxPerSession || observations_.size() >= kMaxTotal))
    return std::nullopt;
  if (!found) {
    auto o = std::make_unique<Observation>();
    o->id = next_observation_id_++;
    o->session = s.id;
    o->token = token;
    found = o.get();
    s.observations.push_back(o->id);
    observations_.emplace(o->id, std::move(o));
  }
  found->resource = &r;
  ++found->sent;
  if (s.proto == Proto::kUdp) {
    found->con_due = now + kConInterval;
    arm_sweep(found->con_due);
  }
  for (std::size_t i = 0; i < ticking_.size(); ++i) {
    if (ticking_[i].resource == &r && !ticking_[i].armed) {
      ticking_[i].armed = true;
      arm(now + r.notify_interval(), kTimerObserve, i, 0);
    }
  }
  observe_seq_ = (observe_seq_ + 1) & 0xffffff;
  return observe_seq_;
}

void Endpoint::observe_deregister(Session& s, const Token& token) {
  for (uint64_t oid : std::vector<uint64_t>(s.observations)) {
    auto it = observations_.find(oid);
    if (it != observations_.end() && it->second->token == token) remove_observation(oid);
  }
}

void Endpoint::remove_observation(uint64_t id) {
  auto it = observations_.find(id);
  if (it == observations_.end()) return;
  if (it->second->pending_con) remove_con(it->second->pending_con);
  if (Session* s = find_session(it->second->session)) std::erase(s->observations, id);
  observations_.erase(it);
}

void Endpoint::drop_observations(Session& s) {
  for (uint64_t oid : std::vector<uint64_t>(s.observations)) remove_observation(oid);
}

std::size_t Endpoint::observation_count() const { return observations_.size(); }

void Endpoint::on_observe_tick(uint64_t index, TimePoint now) {
  if (index >= ticking_.size()) return;
  Resource* r = ticking_[index].resource;
  std::vector<uint64_t> ids;
  for (const auto& [id, o] : observations_)
    if (o->resource == r) ids.push_back(id);
  if (ids.empty()) {
    ticking_[index].armed = false;  // nobody observes: stay idle
    return;
  }
  for (uint64_t id : ids)
    if (auto it = observations_.find(id); it != observations_.end()) notify(*it->second, now);
  arm(now + r->notify_interval(), kTimerObserve, index, 0);
}

void Endpoint::notify(Observation& o, TimePoint now) {
  Session* s = find_session(o.session);
  if (!s || s->dead) return;
  if (s->proto == Proto::kTcp && s->state != SessionState::kEstablished) return;
  DispatchLimits limits;
  if (s->proto == Proto::kUdp) {
    limits.max_payload = config_.udp_block_size;
  } else {
    limits = tcp_limits(*s);
  }
  dispatcher_.render_notification(*o.resource, s->peer, s->proto, s->id, limits, &out_);
  const bool ends = !out_.code.is_success();  // an error ends the observation
  observe_seq_ = (observe_seq_ + 1) & 0xffffff;
  if (!ends) out_.options.add_uint(opt::kObserve, observe_seq_);
  ++counters_.notifications;
  ++o.sent;
  const uint64_t oid = o.id;
  if (s->proto == Proto::kTcp) {
    tcp_send(*s, out_.code, o.token, out_.options, out_.payload);
  } else {
    const uint16_t mid = next_mid(*s);
    wire_.clear();
    if (!o.pending_con && (o.sent % kConEvery == 0 || o.con_due <= now)) {
      write_udp(wire_, Type::kCon, out_.code, mid, o.token, out_.options, out_.payload);
      o.pending_con = send_udp_con(*s, wire_, mid, ConTransmission::kNotification, o.id, now);
      o.con_due = now + kConInterval;
      arm_sweep(o.con_due);
    } else {
      write_udp(wire_, Type::kNon, out_.code, mid, o.token, out_.options, out_.payload);
      io_.send_datagram(s->peer, wire_);
      ++counters_.datagrams_out;
      ++s->msgs_out;
      s->bytes_out += wire_.size();
    }
    o.last_mid = mid;
  }
  if (ends) remove_observation(oid);
}

TimePoint Endpoint::recheck_observers(TimePoint now) {
  // Due, and no notification came along to carry the CON (the resource did
  // not change): send one now. One with a CON in flight is being checked.
  TimePoint next = kNever;
  std::vector<uint64_t> due;
  for (const auto& [id, o] : observations_) {
    const Session* s = find_session(o->session);
    if (!s || s->proto != Proto::kUdp || o->pending_con) continue;
    if (o->con_due <= now) {
      due.push_back(id);
    } else {
      next = std::min(next, o->con_due);
    }
  }
  for (uint64_t id : due) {
    if (auto it = observations_.find(id); it != observations_.end()) notify(*it->second, now);
    next = std::min(next, now + kConInterval);
  }
  return next;
}

}  // namespace coap
