// Endpoint: construction, the entry guard, sessions, timers, the sweep, and
// the accounting path every datagram takes.
#include "coap/endpoint.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

namespace coap {

Endpoint::Endpoint(const EndpointConfig& config, ResourceDirectory& resources, NetworkIo& io,
                   EndpointListener& listener, uint64_t random_seed)
    : config_(config),
      resources_(resources),
      io_(io),
      listener_(listener),
      rng_(random_seed),
      dispatcher_(resources,
                  Dispatcher::Options{config.max_body_size, 64, config.exchange_lifetime()}),
      dedup_(config.dedup_entries, config.dedup_max_response, config.exchange_lifetime(), rng_()),
      sessions_(rng_()),
      cons_(config.ack_timeout, config.ack_random_factor, config.max_retransmit),
      exchanges_(rng_()) {
  for (const auto& r : resources_.all()) {
    watch_resource(*r);
    if (r->observable() && r->notify_interval() > Duration::zero())
      observations_.add_ticking(r.get());
  }
}

Endpoint::~Endpoint() {
  for (const auto& r : resources_.all()) r->set_change_listener(nullptr);
}

Endpoint::Entry::Entry(Endpoint& ep, TimePoint now) : ep_(ep) {
  ep_.now_ = now;
  ++ep_.entry_depth_;
}

Endpoint::Entry::~Entry() {
  if (--ep_.entry_depth_ == 0) ep_.reap();
}

// --- sessions ---------------------------------------------------------------

Session& Endpoint::new_session(Proto proto, Role role, const Address& peer) {
  Session& s = sessions_.create(proto, role, peer, now_);
  if (proto == Proto::kUdp) {
    s.udp.emplace();
    s.udp->next_mid = static_cast<uint16_t>(rng_());
  } else {
    s.tcp = std::make_unique<TcpConnectionPart>(config_.max_message_size);
  }
  return s;
}

void Endpoint::remove_session(Session& s) {
  if (s.dead) return;
  s.dead = true;
  if (s.secure) {
    handshake_over(s);
    // A DTLS session ends with close_notify (a TLS one did in its close).
    if (s.proto == Proto::kUdp && s.secure->established && !s.secure->failed)
      s.secure->channel->close(now_);
  }
  // Only reached with a connection for one that must not linger (shutdown).
  if (s.connected()) detach(s, Detach::kAbort);
  fail_session_exchanges(s, "session " + std::to_string(s.id) + " ended",
                         /*include_waiting=*/true);
  drop_observations(s);
  dispatcher_.forget_session(s.id);
  if (s.accepted && !s.rejected) emit(EventKind::kServerSessionDel, s);
  sessions_.retire(s);
}

void Endpoint::reap() {
  // Notifications for resources that changed while a request was handled.
  while (!changed_resources_.empty()) {
    Resource* r = changed_resources_.back();
    changed_resources_.pop_back();
    notify_resource(r);
  }
  // Resources removed (DELETE, coapctl): after the response that removed them.
  while (!doomed_resources_.empty()) {
    Resource* r = doomed_resources_.back();
    doomed_resources_.pop_back();
    retire_resource(r);
  }
  sessions_.reap();
}

void Endpoint::emit(EventKind kind, const Session& s, std::string reason, uint32_t attempt) {
  listener_.on_event(Event{now_, kind, s.id, s.peer, std::move(reason), attempt});
}

void Endpoint::bad_packet(const Address& from, SessionId session, std::string reason) {
  ++counters_.bad_packets;
  listener_.on_event(Event{now_, EventKind::kBadPacket, session, from, std::move(reason), 0});
}

void Endpoint::send_udp(Session& s, std::span<const uint8_t> wire) {
  s.traffic.sent(wire.size());
  if (!s.secure) {
    io_.send_datagram(UdpSocket::kPlain, s.peer, wire);
    ++counters_.datagrams_out;
    return;
  }
  // Through DTLS: the records go out (and are counted) in secure_send.
  if (s.secure->established) (void)s.secure->channel->write(wire, now_);
}

std::optional<uint16_t> Endpoint::next_mid(Session& s) {
  UdpPeerPart& u = *s.udp;
  const uint16_t mid = u.next_mid;
  // Entering a block: every ID in it was last used at its time at the latest.
  if ((mid & 0xfff) == 0 && now_ < mid_free_at(s)) return std::nullopt;
  u.mid_block_used[mid >> 12] = now_;
  ++u.next_mid;
  return mid;
}

TimePoint Endpoint::mid_free_at(const Session& s) const {
  const TimePoint used = s.udp->mid_block_used[s.udp->next_mid >> 12];
  return used == TimePoint::min() ? used : used + config_.exchange_lifetime();
}

void Endpoint::send_udp_to(const Address& to, std::span<const uint8_t> wire) {
  io_.send_datagram(UdpSocket::kPlain, to, wire);
  ++counters_.datagrams_out;
}

std::vector<SessionInfo> Endpoint::sessions(TimePoint now) const {
  std::vector<SessionInfo> out;
  out.reserve(sessions_.size());
  for (SessionId id : sessions_.ids()) {
    const Session& s = *sessions_.find(id);
    if (s.rejected) continue;
    const Traffic& t = s.traffic;
    out.push_back(SessionInfo{
        s.id, s.proto, s.role, s.state, s.peer, s.local, now - s.created, t.bytes_in, t.bytes_out,
        t.msgs_in, t.msgs_out, s.outgoing.has_value(), s.outgoing && s.outgoing->spec.call_home,
        s.outgoing ? s.outgoing->attempt : 0, s.tcp ? s.tcp->tx.size() : 0, s.observations.size(),
        s.is_secure() || (s.outgoing && s.outgoing->spec.secure), s.security});
  }
  return out;
}

// --- timers -------------------------------------------------------------------

void Endpoint::arm(TimePoint when, TimerKind kind, uint64_t key, uint64_t generation) {
  timers_.push(Timer{when, kind, key, generation});
}

void Endpoint::on_timer(TimePoint now) {
  Entry entry(*this, now);
  Timer t;
  while (timers_.pop_due(now, &t)) run_timer(t);
}

void Endpoint::run_timer(const Timer& t) {
  switch (t.kind) {
    case kTimerRetransmit: return on_retransmit_timer(t.key, t.generation);
    case kTimerRequest:
      if (const Exchange* x = exchanges_.find(t.key); x && x->deadline <= now_)
        request_timed_out(*x);
      return;
    case kTimerSweep:
      // A sweep armed earlier supersedes this one (lazy cancellation):
      // running both would keep two sweep timers alive from then on.
      if (t.when == sweep_at_) sweep();
      return;
    case kTimerObserve: return on_observe_tick(t.key);
    case kTimerGroup: return send_group_response(t.key);
    case kTimerDiscovery: return finish_discovery(t.key);
    case kTimerSeparate: return send_delayed(t.key);
    case kTimerSecure:
    case kTimerHandshake: return on_secure_timer(t);
    case kTimerKeepalive: return on_keepalive_timer(t);
    case kTimerMaxAge: return on_max_age_timer(t.key, t.generation);
    default: return on_tcp_timer(t);
  }
}

void Endpoint::request_timed_out(const Exchange& x) {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", to_seconds(x.req.timeout));
  const TimePoint started = x.deadline - x.req.timeout;
  Session* s = sessions_.find(x.session);
  // Nothing at all came back over DTLS since the request went out: the peer
  // has most likely lost our session (it restarted), and the next request
  // must start a new handshake rather than vanish too.
  const bool stale = s && s->secure && s->proto == Proto::kUdp && !s->accepted &&
                     s->secure->established && s->secure->last_received < started;
  complete_exchange(x.id, ClientResult::failed(ClientResult::Status::kTimeout, x.session,
                                               std::string("no response within ") + secs + " s"));
  if (stale) dtls_peer_lost(*s, std::string("nothing received for ") + secs + " s");
}

void Endpoint::arm_sweep(TimePoint when) {
  if (sweep_at_ <= when) return;
  sweep_at_ = when;
  arm(when, kTimerSweep, 0, 0);
}

void Endpoint::sweep() {
  sweep_at_ = kNever;
  TimePoint next = std::min(dispatcher_.expire(now_), recheck_observers());
  for (Session* s :
       sessions_.expired_udp(now_, config_.udp_session_timeout, config_.exchange_lifetime(), &next))
    remove_session(*s);
  if (sessions_.udp_count() > 0) next = std::min(next, now_ + config_.udp_session_timeout);
  if (next != kNever) arm_sweep(next);
}

// --- server ------------------------------------------------------------------------

DispatchLimits Endpoint::limits_for(const Session& s) const {
  // Room for the frame header, token and options around a payload.
  constexpr std::size_t kFrameOverhead = 96;
  DispatchLimits l;
  if (s.proto == Proto::kUdp) {
    l.max_payload = config_.udp_block_size;
    return l;
  }
  const std::size_t mms = s.tcp->peer_mms;
  l.max_payload = mms > kFrameOverhead + 16 ? mms - kFrameOverhead : 16;
  l.blockwise = s.tcp->peer_bwt;
  l.bert = s.tcp->bert();
  return l;
}

void Endpoint::serve(Session& s, const Message& m) {
  dispatcher_.dispatch(m, s.peer, s.proto, s.id, limits_for(s), now_, &out_);
  if (out_.remove_resource && out_.resource &&
      std::find(doomed_resources_.begin(), doomed_resources_.end(), out_.resource) ==
          doomed_resources_.end())
    doomed_resources_.push_back(out_.resource);
  adopt_created();
  if (out_.observe == DispatchOutput::Observe::kRegister) {
    if (auto seq = observe_register(s, *out_.resource, m))
      out_.options.add_uint(opt::kObserve, *seq);
  } else if (out_.observe == DispatchOutput::Observe::kDeregister) {
    observe_deregister(s, m.token);
  }
}

}  // namespace coap
