// Endpoint: the server side of Observe (RFC 7641). Observations belong to a
// session; those of an outgoing session that reconnects survive the
// reconnect and resume with a fresh notification. ObserveRegistry keeps them
// and decides; this file sends.
#include <algorithm>

#include "coap/endpoint.h"

namespace coap {

std::optional<uint32_t> Endpoint::observe_register(Session& s, Resource& r, const Message& m) {
  Observation* o = observations_.observe(s, r, m.token, now_);
  if (!o) return std::nullopt;
  // A re-registration with the same token takes the new query (RFC 8132 2.4).
  o->fetch = m.code == codes::kFetch;
  o->fetch_body.assign(m.payload.begin(), m.payload.end());
  o->fetch_format = o->fetch ? m.uint_option(opt::kContentFormat) : std::nullopt;
  if (o->udp) arm_sweep(o->con_due);
  if (auto tick = observations_.start_ticking(&r))
    arm(now_ + r.notify_interval(), kTimerObserve, *tick, 0);
  return observations_.next_sequence();
}

void Endpoint::observe_deregister(Session& s, const Token& token) {
  if (Observation* o = observations_.find(s, token)) remove_observation(o->id);
}

void Endpoint::remove_observation(uint64_t id) {
  const Observation* o = observations_.find(id);
  if (!o) return;
  if (const uint64_t pending = observations_.remove(id, sessions_.find(o->session)))
    cons_.remove(pending);
}

void Endpoint::drop_observations(Session& s) {
  for (uint64_t oid : std::vector<uint64_t>(s.observations)) remove_observation(oid);
}

void Endpoint::notify_resource(const Resource* r) {
  for (uint64_t id : observations_.of_resource(r))
    if (Observation* o = observations_.find(id)) notify(*o);
}

void Endpoint::on_observe_tick(uint64_t index) {
  Resource* r = observations_.ticking(index);
  if (!r) return;
  if (observations_.of_resource(r).empty()) {
    observations_.stop_ticking(index);  // nobody observes: stay idle
    return;
  }
  notify_resource(r);
  arm(now_ + r->notify_interval(), kTimerObserve, index, 0);
}

void Endpoint::notify(Observation& o) {
  Session* s = sessions_.find(o.session);
  if (!s || s->dead) return;
  if (s->proto == Proto::kTcp && s->state != SessionState::kEstablished) return;
  std::optional<uint16_t> mid;
  if (s->proto == Proto::kUdp && !(mid = next_mid(*s))) {
    // Every Message ID towards the peer was used within EXCHANGE_LIFETIME
    // (RFC 7252 4.4): this state is skipped (RFC 7641 lets a server skip
    // intermediate states); the sweep sends the then current state, as a
    // CON, once IDs are free again.
    const TimePoint free = mid_free_at(*s);
    o.con_due = o.con_due > now_ ? std::min(o.con_due, free) : free;
    arm_sweep(o.con_due);
    return;
  }
  const FetchQuery query{o.fetch_body, o.fetch_format};
  dispatcher_.render_notification(*o.resource, s->peer, s->proto, s->id, limits_for(*s), &out_,
                                  o.fetch ? &query : nullptr);
  send_notification(*s, o, mid);
}

void Endpoint::send_notification(Session& s, Observation& o, std::optional<uint16_t> mid) {
  const bool ends = !out_.code.is_success();  // an error ends the observation
  if (s.proto == Proto::kUdp && !mid && !(mid = next_mid(s))) {
    // No Message ID free (RFC 7252 4.4): an ending one ends without a word.
    if (ends) remove_observation(o.id);
    return;
  }
  const uint32_t seq = observations_.next_sequence();
  if (!ends) out_.options.add_uint(opt::kObserve, seq);
  ++counters_.notifications;
  ++o.sent;
  const uint64_t oid = o.id;
  if (s.proto == Proto::kTcp) {
    tcp_send(s, out_.code, o.token, out_.options, out_.payload);
  } else {
    notify_udp(s, o, *mid);
  }
  if (ends) remove_observation(oid);
}

void Endpoint::notify_udp(Session& s, Observation& o, uint16_t mid) {
  wire_.clear();
  if (ObserveRegistry::next_is_con(o, now_)) {
    write_udp(wire_, Type::kCon, out_.code, mid, o.token, out_.options, out_.payload);
    o.pending_con = send_udp_con(s, wire_, mid, ConTracker::Kind::kNotification, o.id);
    o.con_due = now_ + ObserveRegistry::kConInterval;
    arm_sweep(o.con_due);
  } else {
    write_udp(wire_, Type::kNon, out_.code, mid, o.token, out_.options, out_.payload);
    send_udp(s, wire_);
  }
  o.last_mid = mid;
}

void Endpoint::on_rst_for_notification(Session& s, uint16_t mid) {
  for (uint64_t oid : std::vector<uint64_t>(s.observations)) {
    const Observation* o = observations_.find(oid);
    if (o && o->last_mid == mid) remove_observation(oid);
  }
}

TimePoint Endpoint::recheck_observers() {
  // Due, and no notification came along to carry the CON (the resource did
  // not change): send one now. One with a CON in flight is being checked.
  TimePoint next = kNever;
  for (uint64_t id : observations_.due_for_check(now_, &next)) {
    if (Observation* o = observations_.find(id)) notify(*o);
    next = std::min(next, now_ + ObserveRegistry::kConInterval);
  }
  return next;
}

// Observations made before a reconnect carry on with a fresh notification.
void Endpoint::renotify_observers(Session& s) {
  for (uint64_t oid : std::vector<uint64_t>(s.observations))
    if (Observation* o = observations_.find(oid); o && o->sent > 0) notify(*o);
}

}  // namespace coap
