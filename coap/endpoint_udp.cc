// Endpoint: CoAP over UDP (RFC 7252): message layer, duplicate detection,
// CON retransmission.
#include <algorithm>

#include "coap/endpoint.h"

namespace coap {

Session& Endpoint::udp_session(const Address& peer, Role role, UdpSocket socket) {
  if (Session* s = sessions_.by_udp_peer(peer, socket)) {
    sessions_.touch(*s, now_);
    return *s;
  }
  if (sessions_.udp_count() >= config_.max_udp_sessions) {
    // Full: forget the peer that has been silent longest.
    if (Session* quietest = sessions_.quietest_udp()) remove_session(*quietest);
  }
  Session& s = new_session(Proto::kUdp, role, peer);
  s.accepted = role == Role::kServer;
  s.udp->socket = socket;
  sessions_.bind_udp(s);
  if (s.accepted) emit(EventKind::kServerSessionNew, s);
  arm_sweep(now_ + config_.udp_session_timeout);
  return s;
}

void Endpoint::send_rst(Session* s, const Address& to, uint16_t mid) {
  wire_.clear();
  write_udp_empty(wire_, Type::kRst, mid);
  if (s) {
    send_udp(*s, wire_);
  } else {
    send_udp_to(to, wire_);
  }
  ++counters_.rst_sent;
}

void Endpoint::on_datagram(UdpSocket socket, const Address& from, std::span<const uint8_t> bytes,
                           TimePoint now) {
  Entry entry(*this, now);
  ++counters_.datagrams_in;
  if (socket == UdpSocket::kSecure) return handle_dtls(from, bytes);
  handle_udp(from, sessions_.by_udp_peer(from), bytes);
}

void Endpoint::handle_udp(const Address& from, Session* known, std::span<const uint8_t> bytes) {
  Message& m = msg_;
  const ParseError err = parse_udp(bytes, m);
  const SessionId known_id = known ? known->id : 0;
  if (err != ParseError::kNone) {
    // RFC 7252 4.2/4.3: a CON that cannot be processed gets RST; others are dropped.
    const bool header_ok = err != ParseError::kTruncated && err != ParseError::kBadVersion;
    if (header_ok && m.type == Type::kCon) send_rst(known, from, m.mid);
    return bad_packet(from, known_id, std::string("malformed datagram: ") + parse_error_name(err));
  }
  if (m.type == Type::kAck || m.type == Type::kRst) {
    // RFC 7252 4.2: an ACK carries a response or is Empty, a RST is Empty;
    // anything else (a request, a signal, a reserved class) is rejected.
    if ((m.type == Type::kRst && !m.code.is_empty()) ||
        (!m.code.is_empty() && !m.code.is_response()))
      return bad_packet(from, known_id,
                        std::string(type_name(m.type)) + " carrying code " + m.code.str());
    if (known) handle_udp_ack_rst(*known, m, bytes.size());
    return;
  }
  // CON or NON.
  if (m.code.is_empty()) {
    if (m.type == Type::kNon) return bad_packet(from, known_id, "empty NON message");
    send_rst(known, from, m.mid);  // CoAP ping (RFC 7252 4.3)
    ++counters_.pings;
  } else if (m.code.is_request()) {
    handle_udp_request(known ? *known : udp_session(from, Role::kServer), m, bytes);
  } else if (m.code.is_response()) {
    if (discovery_response(from, m)) return;
    if (known) return handle_udp_response(*known, m, bytes.size());
    // A response nobody asked for; a notification is rejected even as NON
    // (RFC 7641 3.6), or it would keep coming.
    if (m.type == Type::kCon || m.find(opt::kObserve)) send_rst(known, from, m.mid);
  } else {
    if (m.type == Type::kCon) send_rst(known, from, m.mid);
    bad_packet(from, known_id, "code " + m.code.str() + " is not valid over UDP");
  }
}

void Endpoint::handle_udp_request(Session& s, const Message& m, std::span<const uint8_t> raw) {
  ++counters_.requests;
  sessions_.touch(s, now_);
  s.traffic.received(raw.size());
  std::span<const uint8_t> cached;
  const uint8_t space = static_cast<uint8_t>(s.socket());
  switch (dedup_.lookup(s.peer, m.mid, now_, &cached, space)) {
    case DedupCache::Hit::kSeenWithResponse:
      ++counters_.duplicates;
      if (m.type == Type::kCon) send_udp(s, cached);
      return;
    case DedupCache::Hit::kSeen:  // the response was too large to keep: answer again
    case DedupCache::Hit::kMiss: break;
  }
  if (m.type == Type::kNon) {
    // RFC 7252 5.4.1 and 4.3: a NON with an unrecognized critical option is
    // rejected (RST, nothing else); 4.02 is the answer to a CON only.
    if (const uint16_t n = Dispatcher::unusable_critical_option(m)) {
      send_rst(&s, s.peer, m.mid);
      // wire_ holds the RST just sent: a duplicate of this MID gets it again.
      dedup_.insert(s.peer, m.mid, wire_, now_, space);
      return bad_packet(s.peer, s.id,
                        "NON request with unrecognized critical option " + std::to_string(n));
    }
  }
  std::optional<uint16_t> non_mid;
  // Every Message ID towards the peer was used within EXCHANGE_LIFETIME
  // (RFC 7252 4.4): no answer is possible; the NON is dropped unprocessed.
  if (m.type == Type::kNon && !(non_mid = next_mid(s))) return;
  serve(s, m);
  if (Dispatcher::suppressed(m, out_.code)) return acknowledge_only(s, m);
  if (defer_response(s, m, raw.size())) return;
  reply_udp(s, m, raw, non_mid.value_or(0));
}

void Endpoint::acknowledge_only(Session& s, const Message& m) {
  // No-Response (RFC 7967): nothing but the empty ACK a CON still needs.
  ++counters_.responses_suppressed;
  wire_.clear();
  if (m.type == Type::kCon) write_udp_empty(wire_, Type::kAck, m.mid);
  dedup_.insert(s.peer, m.mid, wire_, now_, static_cast<uint8_t>(s.socket()));
  if (!wire_.empty()) send_udp(s, wire_);
}

void Endpoint::reply_udp(Session& s, const Message& m, std::span<const uint8_t> raw,
                         uint16_t non_mid) {
  wire_.clear();
  if (m.type == Type::kCon) {
    write_udp(wire_, Type::kAck, out_.code, m.mid, m.token, out_.options, out_.payload);
  } else {
    write_udp(wire_, Type::kNon, out_.code, non_mid, m.token, out_.options, out_.payload);
  }
  if (!s.secure) limit_amplification(s, m, raw.size());
  dedup_.insert(s.peer, m.mid, wire_, now_, static_cast<uint8_t>(s.socket()));
  send_udp(s, wire_);
  ++counters_.responses;
}

void Endpoint::handle_udp_response(Session& s, const Message& m, std::size_t size) {
  s.traffic.received(size);
  sessions_.touch(s, now_);
  std::span<const uint8_t> cached;
  const uint8_t space = static_cast<uint8_t>(s.socket());
  if (dedup_.lookup(s.peer, m.mid, now_, &cached, space) == DedupCache::Hit::kSeenWithResponse) {
    if (m.type == Type::kCon) send_udp(s, cached);  // our ACK was lost
    return;
  }
  // Copy the header fields: handling the response may send and reuse buffers.
  const Type type = m.type;
  const uint16_t mid = m.mid;
  const bool notification = m.find(opt::kObserve) != nullptr;
  const bool matched = handle_client_response(s, m);
  if (matched && s.udp) s.udp->verified = true;  // it answered what we sent it
  if (type != Type::kCon) {
    // A NON notification for a token we do not observe (never registered,
    // or cancelled): RST, so that the server stops (RFC 7641 3.6).
    if (!matched && notification) send_rst(&s, s.peer, mid);
    return;
  }
  if (!matched) return send_rst(&s, s.peer, mid);
  wire_.clear();
  write_udp_empty(wire_, Type::kAck, mid);
  dedup_.insert(s.peer, mid, wire_, now_, space);
  send_udp(s, wire_);
}

void Endpoint::handle_udp_ack_rst(Session& s, const Message& m, std::size_t size) {
  s.traffic.received(size);
  sessions_.touch(s, now_);
  std::optional<ConTracker::Transmission> t = cons_.answered(s.id, m.mid);
  if (t && m.type == Type::kAck) s.udp->verified = true;  // it got our CON
  if (!t) {
    // A RST may reject a NON notification (RFC 7641 3.6).
    if (m.type == Type::kRst) on_rst_for_notification(s, m.mid);
    return;
  }
  if (t->kind == ConTracker::Kind::kResponse) return;  // a separate response arrived
  if (t->kind == ConTracker::Kind::kNotification) {
    if (Observation* o = observations_.find(t->ref)) o->pending_con = 0;
    if (m.type == Type::kRst) remove_observation(t->ref);
    return;
  }
  Exchange* x = exchanges_.find(t->ref);
  if (!x) return;
  x->con_id = 0;
  if (m.type == Type::kRst)
    return complete_exchange(t->ref, client_error(s.id, "the peer rejected the request with RST"));
  // An empty ACK: the response follows separately (RFC 7252 5.2.2).
  if (!m.code.is_empty()) handle_client_response(s, m);
}

bool Endpoint::echo_matches(const Session& s, const Message& m) const {
  if (!s.udp->echo_issued) return false;
  const OptionView* e = m.find(opt::kEcho);
  return e && e->length == s.udp->echo.size() &&
         std::equal(e->data, e->data + e->length, s.udp->echo.begin());
}

void Endpoint::limit_amplification(Session& s, const Message& m, std::size_t request_size) {
  UdpPeerPart& peer = *s.udp;
  if (!peer.verified && echo_matches(s, m)) peer.verified = true;
  // What the peer sent for this response: this datagram, and the Block1
  // blocks before it.
  request_size += out_.request_body - std::min(out_.request_body, m.payload.size());
  if (peer.verified || config_.amplification_factor == 0 ||
      wire_.size() <= config_.amplification_factor * request_size)
    return;
  // A request that changed something has been carried out: its outcome is
  // sent, without the representation (a GET fetches that, after an Echo
  // round trip), rather than a challenge that would have it done twice.
  if (m.code != codes::kGet && m.code != codes::kFetch) return trim_unsafe_response(m);
  // The request is not served after all: it must not leave an observation.
  if (out_.observe == DispatchOutput::Observe::kRegister) observe_deregister(s, m.token);
  // RFC 9175 2.4: an address not yet proven gets a small 4.01 with an Echo
  // value instead; repeating the request with it proves the address.
  if (!peer.echo_issued) {
    for (uint8_t& b : peer.echo) b = static_cast<uint8_t>(rng_());
    peer.echo_issued = true;
  }
  OptionList o;
  o.add(opt::kEcho, std::span<const uint8_t>(peer.echo));
  // The Message ID the full response was given (the peer's, or ours for
  // NON): that response is never sent, so its ID carries the 4.01.
  const auto mid = static_cast<uint16_t>(wire_[2] << 8 | wire_[3]);
  wire_.clear();
  write_udp(wire_, m.type == Type::kCon ? Type::kAck : Type::kNon, codes::kUnauthorized, mid,
            m.token, o, {});
  ++counters_.echo_challenges;
}

void Endpoint::trim_unsafe_response(const Message& m) {
  OptionList o;
  for (const OptionView& v : out_.options.items())
    if (v.number != opt::kBlock2 && v.number != opt::kSize2 && v.number != opt::kContentFormat)
      o.add(v.number, std::span<const uint8_t>(v.data, v.length));
  // The Message ID the full response was given (the peer's, or ours for NON).
  const auto mid = static_cast<uint16_t>(wire_[2] << 8 | wire_[3]);
  wire_.clear();
  write_udp(wire_, m.type == Type::kCon ? Type::kAck : Type::kNon, out_.code, mid, m.token, o, {});
}

uint64_t Endpoint::send_udp_con(Session& s, std::span<const uint8_t> wire, uint16_t mid,
                                ConTracker::Kind kind, uint64_t ref) {
  const ConTracker::Transmission& t = cons_.add(s.id, mid, kind, ref, wire, rng_);
  send_udp(s, t.wire);
  arm(now_ + t.timeout, kTimerRetransmit, t.id, 0);
  return t.id;
}

void Endpoint::on_retransmit_timer(uint64_t id, uint64_t generation) {
  const ConTracker::Transmission* t = cons_.find(id);
  Session* s = t ? sessions_.find(t->session) : nullptr;
  const ConTracker::TimerOutcome out = cons_.on_timer(id, generation, s != nullptr);
  using Action = ConTracker::TimerOutcome::Action;
  if (out.action == Action::kResend) {
    send_udp(*s, out.transmission->wire);
    ++counters_.retransmissions;
    arm(now_ + out.transmission->timeout, kTimerRetransmit, id, out.transmission->retransmits);
    return;
  }
  if (out.action != Action::kGiveUp || out.kind == ConTracker::Kind::kResponse) return;
  if (out.kind == ConTracker::Kind::kNotification) {
    remove_observation(out.ref);  // the observer is gone (RFC 7641 4.5)
    return;
  }
  if (exchanges_.find(out.ref)) {
    complete_exchange(out.ref,
                      ClientResult::failed(
                          ClientResult::Status::kTimeout, out.session,
                          "no ACK after " + std::to_string(out.transmissions) + " transmissions"));
  }
  // A DTLS peer that acknowledges nothing has most likely lost our session
  // (it restarted): the next request starts a new handshake.
  if (Session* s = sessions_.find(out.session); s && s->secure && !s->accepted)
    dtls_peer_lost(*s, "no ACK after " + std::to_string(out.transmissions) + " transmissions");
}

}  // namespace coap
