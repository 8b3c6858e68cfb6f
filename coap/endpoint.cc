// Endpoint: construction, sessions, timers, and CoAP over UDP (RFC 7252).
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>

#include "coap/endpoint_internal.h"

namespace coap {

Duration EndpointConfig::exchange_lifetime() const {
  // MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY (RFC 7252 4.8.2).
  const double span = to_seconds(ack_timeout) * (std::pow(2.0, max_retransmit) - 1) * ack_random_factor;
  return from_seconds(span + 2 * 100.0 + to_seconds(ack_timeout));
}

Duration EndpointConfig::max_transmit_wait() const {
  return from_seconds(to_seconds(ack_timeout) * (std::pow(2.0, max_retransmit + 1) - 1) *
                      ack_random_factor);
}

const char* tcp_error_name(TcpError e) {
  switch (e) {
    case TcpError::kReset: return "reset";
    case TcpError::kTimeout: return "timeout";
    case TcpError::kUnreachable: return "unreachable";
    case TcpError::kAborted: return "aborted";
    case TcpError::kOther: return "error";
  }
  return "error";
}

const char* client_status_name(ClientResult::Status s) {
  switch (s) {
    case ClientResult::Status::kResponse: return "response";
    case ClientResult::Status::kTimeout: return "timeout";
    case ClientResult::Status::kCancelled: return "cancelled";
    case ClientResult::Status::kError: return "error";
  }
  return "error";
}

const char* role_name(Role r) { return r == Role::kClient ? "client" : "server"; }

const char* session_state_name(SessionState s) {
  switch (s) {
    case SessionState::kConnecting: return "connecting";
    case SessionState::kCsmWait: return "csm-wait";
    case SessionState::kEstablished: return "established";
    case SessionState::kClosing: return "closing";
    case SessionState::kReconnectWait: return "reconnect-wait";
  }
  return "?";
}

Endpoint::Endpoint(const EndpointConfig& config, ResourceDirectory& resources, NetworkIo& io,
                   EndpointListener& listener, uint64_t random_seed)
    : config_(config),
      resources_(resources),
      io_(io),
      listener_(listener),
      rng_(random_seed),
      dispatcher_(resources, Dispatcher::Options{config.max_body_size, 64,
                                                 config.exchange_lifetime()}),
      dedup_(config.dedup_entries, config.dedup_max_response, config.exchange_lifetime(), rng_()),
      udp_sessions_(0, AddressHash(rng_())),
      token_counter_(rng_()) {
  for (const auto& r : resources_.all()) {
    if (!r->observable()) continue;
    r->set_change_listener([this](Resource& changed) { changed_resources_.push_back(&changed); });
    if (r->notify_interval() > Duration::zero()) ticking_.push_back({r.get(), false});
  }
}

Endpoint::~Endpoint() {
  for (const auto& r : resources_.all()) r->set_change_listener(nullptr);
}

// --- sessions ---------------------------------------------------------------

Endpoint::Session* Endpoint::find_session(SessionId id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

Endpoint::Session* Endpoint::session_for_conn(ConnId conn) const {
  auto it = conn_sessions_.find(conn);
  return it == conn_sessions_.end() ? nullptr : find_session(it->second);
}

Endpoint::Session& Endpoint::new_session(Proto proto, Role role, const Address& peer,
                                         TimePoint now) {
  auto s = std::make_unique<Session>();
  s->id = next_session_id_++;
  s->proto = proto;
  s->role = role;
  s->peer = peer;
  s->created = now;
  s->last_activity = now;
  s->next_mid = static_cast<uint16_t>(rng_());
  if (proto == Proto::kTcp) s->decoder = std::make_unique<FrameDecoder>(config_.max_message_size);
  Session& ref = *s;
  sessions_.emplace(ref.id, std::move(s));
  return ref;
}

void Endpoint::remove_session(Session& s, TimePoint now) {
  if (s.dead) return;
  s.dead = true;
  if (s.conn) {
    // Only reached for a connection that must not linger (shutdown paths).
    io_.tcp_abort(s.conn);
    conn_sessions_.erase(s.conn);
    s.conn = 0;
  }
  if (s.proto == Proto::kUdp) udp_sessions_.erase(s.peer);
  fail_session_exchanges(s, "session " + std::to_string(s.id) + " ended", /*include_waiting=*/true);
  drop_observations(s);
  dispatcher_.forget_session(s.id);
  if (s.accepted && !s.rejected) emit("server_session_del", s, now);
  auto it = sessions_.find(s.id);
  graveyard_.push_back(std::move(it->second));
  sessions_.erase(it);
}

void Endpoint::reap() {
  // Notifications for resources that changed while a request was handled.
  while (!changed_resources_.empty()) {
    Resource* r = changed_resources_.back();
    changed_resources_.pop_back();
    std::vector<uint64_t> ids;
    for (const auto& [id, o] : observations_)
      if (o->resource == r) ids.push_back(id);
    for (uint64_t id : ids)
      if (auto it = observations_.find(id); it != observations_.end()) notify(*it->second, now_);
  }
  graveyard_.clear();
}

void Endpoint::emit(const char* name, const Session& s, TimePoint now, std::string reason,
                    uint32_t attempt) {
  listener_.on_event(Event{now, name, s.id, s.peer, std::move(reason), attempt});
}

void Endpoint::arm(TimePoint when, TimerKind kind, uint64_t key, uint64_t generation) {
  timers_.push(Timer{when, kind, key, generation});
}

std::size_t Endpoint::session_count() const { return sessions_.size(); }

std::size_t Endpoint::tcp_session_count() const {
  std::size_t n = 0;
  for (const auto& [id, s] : sessions_) n += s->proto == Proto::kTcp && !s->rejected;
  return n;
}

std::vector<SessionInfo> Endpoint::sessions(TimePoint now) const {
  std::vector<SessionInfo> out;
  out.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) {
    if (s->rejected) continue;
    out.push_back(SessionInfo{s->id, s->proto, s->role, s->state, s->peer, s->local,
                              now - s->created, s->bytes_in, s->bytes_out, s->msgs_in,
                              s->msgs_out, s->outgoing, s->outgoing && s->spec.call_home,
                              s->attempt, s->tx.size(), s->observations.size()});
  }
  std::sort(out.begin(), out.end(), [](const SessionInfo& a, const SessionInfo& b) { return a.id < b.id; });
  return out;
}

// --- timers -------------------------------------------------------------------

TimePoint Endpoint::next_deadline() const { return timers_.next(); }

void Endpoint::on_timer(TimePoint now) {
  now_ = now;
  Timer t;
  while (timers_.pop_due(now, &t)) {
    switch (t.kind) {
      case kTimerRetransmit: on_retransmit_timer(t.key, t.generation, now); break;
      case kTimerRequest:
        if (auto it = exchanges_.find(t.key); it != exchanges_.end() && it->second->deadline <= now) {
          ClientResult r;
          r.status = ClientResult::Status::kTimeout;
          r.session = it->second->session;
          char secs[32];
          std::snprintf(secs, sizeof secs, "%g", to_seconds(it->second->req.timeout));
          r.error = std::string("no response within ") + secs + " s";
          complete_exchange(t.key, std::move(r));
        }
        break;
      case kTimerSweep:
        // A sweep armed earlier supersedes this one (lazy cancellation):
        // running both would keep two sweep timers alive from then on.
        if (t.when == sweep_at_) sweep(now);
        break;
      case kTimerObserve: on_observe_tick(t.key, now); break;
      default: on_tcp_timer(t, now); break;
    }
  }
  reap();
}

void Endpoint::arm_sweep(TimePoint when) {
  if (sweep_at_ <= when) return;
  sweep_at_ = when;
  arm(when, kTimerSweep, 0, 0);
}

void Endpoint::sweep(TimePoint now) {
  sweep_at_ = kNever;
  TimePoint next = std::min(dispatcher_.expire(now), recheck_observers(now));
  std::vector<Session*> expired;
  for (const auto& [peer, id] : udp_sessions_) {
    Session* s = find_session(id);
    // A session that observes, or has requests of ours outstanding, is alive.
    if (!s->observations.empty() || !s->exchanges.empty()) continue;
    const TimePoint expiry = s->last_activity + config_.udp_session_timeout;
    if (expiry <= now) {
      expired.push_back(s);
    } else {
      next = std::min(next, expiry);
    }
  }
  for (Session* s : expired) remove_session(*s, now);
  if (!udp_sessions_.empty()) next = std::min(next, now + config_.udp_session_timeout);
  if (next != kNever) arm_sweep(next);
}

// --- UDP ------------------------------------------------------------------------

uint16_t Endpoint::next_mid(Session& s) { return s.next_mid++; }

Endpoint::Session& Endpoint::udp_session(const Address& peer, Role role, TimePoint now) {
  if (auto it = udp_sessions_.find(peer); it != udp_sessions_.end()) {
    Session& s = *find_session(it->second);
    s.last_activity = now;
    return s;
  }
  if (udp_sessions_.size() >= config_.max_udp_sessions) {
    // Full: forget the peer that has been silent longest.
    Session* oldest = nullptr;
    for (const auto& [p, id] : udp_sessions_) {
      Session* s = find_session(id);
      if (s->observations.empty() && s->exchanges.empty() &&
          (!oldest || s->last_activity < oldest->last_activity))
        oldest = s;
    }
    if (oldest) remove_session(*oldest, now);
  }
  Session& s = new_session(Proto::kUdp, role, peer, now);
  s.accepted = role == Role::kServer;
  udp_sessions_.emplace(peer, s.id);
  if (s.accepted) emit("server_session_new", s, now);
  arm_sweep(now + config_.udp_session_timeout);
  return s;
}

void Endpoint::send_rst(const Address& to, uint16_t mid) {
  wire_.clear();
  write_udp_empty(wire_, Type::kRst, mid);
  io_.send_datagram(to, wire_);
  ++counters_.rst_sent;
  ++counters_.datagrams_out;
}

void Endpoint::bad_packet(const Address& from, SessionId session, std::string reason,
                          TimePoint now) {
  ++counters_.bad_packets;
  listener_.on_event(Event{now, "bad_packet", session, from, std::move(reason), 0});
}

void Endpoint::on_datagram(const Address& from, std::span<const uint8_t> bytes, TimePoint now) {
  now_ = now;
  ++counters_.datagrams_in;
  Message& m = msg_;
  const ParseError err = parse_udp(bytes, m);
  auto known = udp_sessions_.find(from);
  const SessionId known_id = known == udp_sessions_.end() ? 0 : known->second;
  if (err != ParseError::kNone) {
    // RFC 7252 4.2/4.3: a CON that cannot be processed gets RST; others are dropped.
    const bool header_ok = err != ParseError::kTruncated && err != ParseError::kBadVersion;
    if (header_ok && m.type == Type::kCon) send_rst(from, m.mid);
    bad_packet(from, known_id, std::string("malformed datagram: ") + parse_error_name(err), now);
    return reap();
  }
  switch (m.type) {
    case Type::kCon:
    case Type::kNon:
      if (m.code.is_empty()) {
        if (m.type == Type::kCon) {
          send_rst(from, m.mid);  // CoAP ping (RFC 7252 4.3)
          ++counters_.pings;
        } else {
          bad_packet(from, known_id, "empty NON message", now);
        }
      } else if (m.code.is_request()) {
        Session* s = known_id ? find_session(known_id) : nullptr;
        if (s) {
          s->last_activity = now;
        } else {
          s = &udp_session(from, Role::kServer, now);
        }
        handle_udp_request(*s, m, bytes, now);
      } else if (m.code.is_response() && known_id) {
        handle_udp_response(*find_session(known_id), m, bytes.size(), now);
      } else if (m.code.is_response()) {
        if (m.type == Type::kCon) send_rst(from, m.mid);  // a response nobody asked for
      } else {
        if (m.type == Type::kCon) send_rst(from, m.mid);
        bad_packet(from, known_id, "code " + m.code.str() + " is not valid over UDP", now);
      }
      break;
    case Type::kAck:
    case Type::kRst:
      if ((m.type == Type::kRst && !m.code.is_empty()) || m.code.is_request() ||
          m.code.is_signaling()) {
        bad_packet(from, known_id, std::string(type_name(m.type)) + " carrying code " + m.code.str(), now);
      } else if (known_id) {
        handle_udp_ack_rst(*find_session(known_id), m, bytes.size(), now);
      }
      break;
  }
  reap();
}

void Endpoint::handle_udp_request(Session& s, const Message& m, std::span<const uint8_t> raw,
                                  TimePoint now) {
  ++counters_.requests;
  ++s.msgs_in;
  s.bytes_in += raw.size();
  std::span<const uint8_t> cached;
  switch (dedup_.lookup(s.peer, m.mid, now, &cached)) {
    case DedupCache::Hit::kSeenWithResponse:
      ++counters_.duplicates;
      if (m.type == Type::kCon) {
        io_.send_datagram(s.peer, cached);
        ++counters_.datagrams_out;
        ++s.msgs_out;
        s.bytes_out += cached.size();
      }
      return;
    case DedupCache::Hit::kSeen:  // the response was too large to keep: answer again
    case DedupCache::Hit::kMiss:
      break;
  }
  if (m.type == Type::kNon) {
    // RFC 7252 5.4.1 and 4.3: a NON with an unrecognized critical option is
    // rejected (RST, nothing else); 4.02 is the answer to a CON only.
    if (const uint16_t n = Dispatcher::unusable_critical_option(m)) {
      dedup_.insert(s.peer, m.mid, {}, now);
      send_rst(s.peer, m.mid);
      bad_packet(s.peer, s.id, "NON request with unrecognized critical option " + std::to_string(n), now);
      return;
    }
  }
  serve(s, m, now);
  wire_.clear();
  if (m.type == Type::kCon) {
    write_udp(wire_, Type::kAck, out_.code, m.mid, m.token, out_.options, out_.payload);
  } else {
    write_udp(wire_, Type::kNon, out_.code, next_mid(s), m.token, out_.options, out_.payload);
  }
  dedup_.insert(s.peer, m.mid, wire_, now);
  io_.send_datagram(s.peer, wire_);
  ++counters_.responses;
  ++counters_.datagrams_out;
  ++s.msgs_out;
  s.bytes_out += wire_.size();
}

void Endpoint::handle_udp_response(Session& s, const Message& m, std::size_t size, TimePoint now) {
  ++s.msgs_in;
  s.bytes_in += size;
  s.last_activity = now;
  std::span<const uint8_t> cached;
  if (dedup_.lookup(s.peer, m.mid, now, &cached) == DedupCache::Hit::kSeenWithResponse) {
    if (m.type == Type::kCon) io_.send_datagram(s.peer, cached);  // our ACK was lost
    return;
  }
  // Copy the header fields: handling the response may send and reuse buffers.
  const Type type = m.type;
  const uint16_t mid = m.mid;
  const bool matched = handle_client_response(s, m, now);
  if (type != Type::kCon) return;
  wire_.clear();
  write_udp_empty(wire_, matched ? Type::kAck : Type::kRst, mid);
  if (matched) dedup_.insert(s.peer, mid, wire_, now);
  io_.send_datagram(s.peer, wire_);
  ++counters_.datagrams_out;
  if (!matched) ++counters_.rst_sent;
}

void Endpoint::handle_udp_ack_rst(Session& s, const Message& m, std::size_t size, TimePoint now) {
  ++s.msgs_in;
  s.bytes_in += size;
  s.last_activity = now;
  auto it = con_by_mid_.find(con_key(s.id, m.mid));
  if (it == con_by_mid_.end()) {
    // A RST may reject a NON notification (RFC 7641 3.6).
    if (m.type == Type::kRst) {
      for (uint64_t oid : std::vector<uint64_t>(s.observations)) {
        auto o = observations_.find(oid);
        if (o != observations_.end() && o->second->last_mid == m.mid) remove_observation(oid);
      }
    }
    return;
  }
  auto c = con_transmissions_.find(it->second);
  const ConTransmission::Kind kind = c->second->kind;
  const uint64_t ref = c->second->ref;
  remove_con(it->second);
  if (kind == ConTransmission::kNotification) {
    if (auto o = observations_.find(ref); o != observations_.end()) o->second->pending_con = 0;
    if (m.type == Type::kRst) remove_observation(ref);
    return;
  }
  // kRequest
  auto x = exchanges_.find(ref);
  if (x == exchanges_.end()) return;
  x->second->con_id = 0;
  if (m.type == Type::kRst)
    return complete_exchange(ref, client_error(s.id, "the peer rejected the request with RST"));
  // An empty ACK: the response follows separately (RFC 7252 5.2.2).
  if (!m.code.is_empty()) handle_client_response(s, m, now);
}

uint64_t Endpoint::con_key(SessionId session, uint16_t mid) { return (session << 16) | mid; }

uint64_t Endpoint::send_udp_con(Session& s, std::span<const uint8_t> wire, uint16_t mid,
                            uint8_t kind, uint64_t ref, TimePoint now) {
  auto c = std::make_unique<ConTransmission>();
  c->id = next_con_id_++;
  c->session = s.id;
  c->mid = mid;
  c->kind = static_cast<ConTransmission::Kind>(kind);
  c->ref = ref;
  c->wire.assign(wire.begin(), wire.end());
  // Initial timeout: random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR].
  std::uniform_real_distribution<double> factor(1.0, config_.ack_random_factor);
  c->timeout = from_seconds(to_seconds(config_.ack_timeout) * factor(rng_));
  io_.send_datagram(s.peer, c->wire);
  ++counters_.datagrams_out;
  ++s.msgs_out;
  s.bytes_out += c->wire.size();
  arm(now + c->timeout, kTimerRetransmit, c->id, 0);
  con_by_mid_[con_key(s.id, mid)] = c->id;
  const uint64_t id = c->id;
  con_transmissions_.emplace(id, std::move(c));
  return id;
}

void Endpoint::remove_con(uint64_t id) {
  auto it = con_transmissions_.find(id);
  if (it == con_transmissions_.end()) return;
  con_by_mid_.erase(con_key(it->second->session, it->second->mid));
  con_transmissions_.erase(it);
}

void Endpoint::on_retransmit_timer(uint64_t id, uint64_t generation, TimePoint now) {
  auto it = con_transmissions_.find(id);
  if (it == con_transmissions_.end() || it->second->retransmits != generation) return;
  ConTransmission& c = *it->second;
  Session* s = find_session(c.session);
  if (s && c.retransmits < config_.max_retransmit) {
    ++c.retransmits;
    c.timeout *= 2;
    io_.send_datagram(s->peer, c.wire);
    ++counters_.retransmissions;
    ++counters_.datagrams_out;
    ++s->msgs_out;
    s->bytes_out += c.wire.size();
    arm(now + c.timeout, kTimerRetransmit, c.id, c.retransmits);
    return;
  }
  const ConTransmission::Kind kind = c.kind;
  const uint64_t ref = c.ref;
  const unsigned tries = c.retransmits + 1;
  const SessionId session = c.session;
  remove_con(id);
  if (kind == ConTransmission::kNotification) {
    remove_observation(ref);  // the observer is gone (RFC 7641 4.5)
    return;
  }
  if (exchanges_.count(ref)) {
    ClientResult r;
    r.status = ClientResult::Status::kTimeout;
    r.session = session;
    r.error = "no ACK after " + std::to_string(tries) + " transmissions";
    complete_exchange(ref, std::move(r));
  }
}

// --- server ------------------------------------------------------------------------

void Endpoint::serve(Session& s, const Message& m, TimePoint now) {
  DispatchLimits limits;
  if (s.proto == Proto::kUdp) {
    limits.max_payload = config_.udp_block_size;
  } else {
    limits = tcp_limits(s);
  }
  dispatcher_.dispatch(m, s.peer, s.proto, s.id, limits, now, &out_);
  if (out_.observe == DispatchOutput::Observe::kRegister) {
    if (auto seq = observe_register(s, *out_.resource, m.token, now))
      out_.options.add_uint(opt::kObserve, *seq);
  } else if (out_.observe == DispatchOutput::Observe::kDeregister) {
    observe_deregister(s, m.token);
  }
}

}  // namespace coap
