// Endpoint: DTLS (coaps://) and TLS (coaps+tcp://) sessions. A secure
// session's channel sits between its transport and the CoAP codec: DTLS
// records carry whole CoAP datagrams, TLS records carry the CoAP-over-TCP
// byte stream. Handshakes are bounded in number (max_handshakes) and time
// (handshake_timeout); a DTLS peer gets state only after the cookie
// exchange (DtlsListener).
#include <cstdio>

#include "coap/endpoint.h"

namespace coap {

// Brings a channel's events back into the endpoint by session id: one that
// arrives for a session already gone does nothing.
class Endpoint::ChannelSink final : public SecureChannel::Sink {
 public:
  ChannelSink(Endpoint& ep, SessionId id) : ep_(ep), id_(id) {}
  void send_ciphertext(std::span<const uint8_t> b) override { ep_.secure_send(id_, b); }
  void on_plaintext(std::span<const uint8_t> b) override { ep_.secure_plaintext(id_, b); }
  void on_established(const PeerSecurity& p) override { ep_.secure_established(id_, p); }
  void on_failed(HandshakeFailure kind, const std::string& why) override {
    ep_.secure_failed(id_, kind, why);
  }
  void on_peer_closed() override { ep_.secure_peer_closed(id_); }

 private:
  Endpoint& ep_;
  SessionId id_;
};

Status Endpoint::set_security(SecurityContext* context) {
  security_ = context;
  dtls_listener_.reset();
  if (!context || !context->can_serve()) return {};
  auto listener = DtlsListener::create(*context);
  if (!listener) return std::move(listener).take_error();
  dtls_listener_ = std::move(*listener);
  return {};
}

bool Endpoint::handshake_refused(const Address& peer) {
  if (handshaking_ < config_.max_handshakes) return false;
  handshake_failed(nullptr, peer, HandshakeFailure::kLimit,
                   "max handshakes (" + std::to_string(config_.max_handshakes) + ") under way");
  return true;
}

void Endpoint::attach_channel(Session& s, std::unique_ptr<SecureChannel> channel) {
  s.secure->channel = std::move(channel);
  s.secure->channel->set_sink(*s.secure->sink);
}

// The secure part of a new handshake, counted and timed.
static SecurePart& begin_secure(Session& s, uint64_t epoch) {
  s.secure = std::make_unique<SecurePart>();
  s.secure->epoch = epoch;
  s.secure->handshaking = true;
  s.state = SessionState::kHandshaking;
  return *s.secure;
}

Status Endpoint::start_secure_client(Session& s, const ClientSecurity& options) {
  if (!security_) return error("coapd has no DTLS/TLS support set up");
  SecurePart& part = begin_secure(s, ++secure_serial_);
  part.sink = std::make_unique<ChannelSink>(*this, s.id);
  ++handshaking_;
  arm(now_ + config_.handshake_timeout, kTimerHandshake, s.id, part.epoch);
  const auto transport = s.proto == Proto::kUdp ? SecureChannel::Transport::kDatagram
                                                : SecureChannel::Transport::kStream;
  auto channel = SecureChannel::client(*security_, transport, options, *part.sink, now_);
  if (!channel) {
    handshake_over(s);
    return std::move(channel).take_error();
  }
  // The ClientHello went out while the channel was made (secure_send finds
  // the session and part by id already).
  part.channel = std::move(*channel);
  arm_channel_timer(s);
  return {};
}

Status Endpoint::start_secure_server(Session& s) {
  if (!security_ || !security_->can_serve()) return error("coapd has no credentials to serve TLS");
  SecurePart& part = begin_secure(s, ++secure_serial_);
  part.sink = std::make_unique<ChannelSink>(*this, s.id);
  ++handshaking_;
  arm(now_ + config_.handshake_timeout, kTimerHandshake, s.id, part.epoch);
  auto channel = SecureChannel::server(*security_, *part.sink);
  if (!channel) {
    handshake_over(s);
    return std::move(channel).take_error();
  }
  part.channel = std::move(*channel);
  return {};
}

void Endpoint::handle_dtls(const Address& from, std::span<const uint8_t> bytes) {
  if (Session* s = sessions_.by_udp_peer(from, UdpSocket::kSecure)) {
    // An outgoing session between DTLS sessions (waiting to reconnect) has
    // no channel to take this.
    if (s->state != SessionState::kHandshaking && s->state != SessionState::kEstablished)
      return bad_packet(from, s->id, "DTLS datagram while the session waits to reconnect");
    s->last_activity = now_;
    s->secure->last_received = now_;
    s->last_rx = now_;
    s->pings_unanswered = 0;
    s->secure->channel->feed(bytes, now_);
    if (!s->dead && s->secure) arm_channel_timer(*s);
    return;
  }
  accept_dtls(from, bytes);
}

void Endpoint::accept_dtls(const Address& from, std::span<const uint8_t> bytes) {
  if (!dtls_listener_)
    return bad_packet(from, 0, "DTLS datagram, but coapd has no DTLS credentials");
  auto send = [&](std::span<const uint8_t> b) {
    io_.send_datagram(UdpSocket::kSecure, from, b);
    ++counters_.datagrams_out;
  };
  // Only a peer that returned its cookie counts against the limit (spoofed
  // addresses never get that far); beyond it, it is refused before anything
  // is computed or sent for its handshake.
  const bool room = handshaking_ < config_.max_handshakes;
  DtlsListener::Outcome o = dtls_listener_->accept(from, bytes, now_, room, send);
  using Kind = DtlsListener::Outcome::Kind;
  if (o.kind == Kind::kCookieSent) {
    ++counters_.dtls_cookies_sent;
    return;
  }
  if (o.kind == Kind::kDropped) return bad_packet(from, 0, "DTLS: " + o.why);
  if (o.kind == Kind::kRefused) {
    handshake_refused(from);  // says so: handshake_failed, reason limit
    return;
  }
  Session& s = new_session(Proto::kUdp, Role::kServer, from);
  s.accepted = true;
  s.udp->socket = UdpSocket::kSecure;
  sessions_.bind_udp(s);
  emit(EventKind::kServerSessionNew, s);
  SecurePart& part = begin_secure(s, ++secure_serial_);
  part.sink = std::make_unique<ChannelSink>(*this, s.id);
  ++handshaking_;
  arm(now_ + config_.handshake_timeout, kTimerHandshake, s.id, part.epoch);
  attach_channel(s, std::move(o.channel));
  arm_channel_timer(s);
  arm_sweep(now_ + config_.udp_session_timeout);
}

void Endpoint::secure_send(SessionId id, std::span<const uint8_t> bytes) {
  Session* s = sessions_.find(id);
  if (!s) return;
  if (s->proto == Proto::kUdp) {
    io_.send_datagram(UdpSocket::kSecure, s->peer, bytes);
    ++counters_.datagrams_out;
    return;
  }
  tcp_queue(*s, bytes, /*priority=*/false);
}

void Endpoint::secure_plaintext(SessionId id, std::span<const uint8_t> bytes) {
  Session* s = sessions_.find(id);
  if (!s || s->dead) return;
  if (s->proto == Proto::kUdp) return handle_udp(s->peer, s, bytes);
  tcp_decode(*s, bytes);
}

void Endpoint::secure_established(SessionId id, const PeerSecurity& peer) {
  Session* s = sessions_.find(id);
  if (!s || !s->secure) return;
  handshake_over(*s);
  s->secure->established = true;
  s->security = peer;
  ++counters_.handshakes;
  Event e{now_, EventKind::kHandshakeDone, s->id, s->peer, {}, 0};
  e.security = security_mode_name(peer.mode);
  e.peer_identity = peer.peer_identity;
  e.cipher = peer.cipher;
  if (!peer.verified) e.reason = "server not verified (--insecure)";
  listener_.on_event(e);
  if (s->proto == Proto::kTcp) {
    s->state = SessionState::kCsmWait;
    return tcp_connection_up(*s);
  }
  s->state = SessionState::kEstablished;
  if (s->outgoing) outgoing_up(*s);
  send_waiting_exchanges(*s);
  if (!s->dead && s->outgoing) renotify_observers(*s);
}

void Endpoint::handshake_failed(Session* s, const Address& peer, HandshakeFailure kind,
                                const std::string& why) {
  ++counters_.handshake_failures;
  if (s) handshake_over(*s);
  Event e{now_, EventKind::kHandshakeFailed, s ? s->id : 0, peer, handshake_failure_name(kind), 0};
  e.detail = why;
  listener_.on_event(e);
}

void Endpoint::secure_failed(SessionId id, HandshakeFailure kind, const std::string& why) {
  Session* s = sessions_.find(id);
  if (!s || !s->secure || s->secure->failed) return;
  s->secure->failed = true;
  const bool in_handshake = !s->secure->established;
  if (in_handshake) {
    handshake_failed(s, s->peer, kind, why);
  } else {
    bad_packet(s->peer, s->id, std::string(s->proto == Proto::kUdp ? "DTLS" : "TLS") + ": " + why);
  }
  if (s->proto == Proto::kTcp) {
    // The alert mbedTLS queued goes out, then FIN.
    return tcp_begin_close(*s, false, in_handshake ? "handshake" : "TLS failure: " + why, true);
  }
  if (s->outgoing)
    return dtls_session_ended(*s, true, in_handshake ? "handshake" : "DTLS failure: " + why);
  fail_session_exchanges(*s, "DTLS handshake with " + s->peer.to_string() + " failed: " + why,
                         /*include_waiting=*/true);
  remove_session(*s);
}

void Endpoint::secure_peer_closed(SessionId id) {
  Session* s = sessions_.find(id);
  if (!s || s->dead) return;
  if (s->proto == Proto::kTcp) return tcp_begin_close(*s, false, "closed by peer", false);
  if (s->secure) s->secure->established = false;  // no close_notify back
  if (s->outgoing) return dtls_session_ended(*s, false, "closed by peer");
  remove_session(*s);
}

void Endpoint::handshake_over(Session& s) {
  if (!s.secure || !s.secure->handshaking) return;
  s.secure->handshaking = false;
  --handshaking_;
}

void Endpoint::arm_channel_timer(Session& s) {
  if (!s.secure || !s.secure->channel) return;
  const TimePoint t = s.secure->channel->next_timer();
  if (t == kNever || t == s.secure->timer_at) return;
  s.secure->timer_at = t;
  s.secure->timer_generation = ++secure_serial_;
  arm(t, kTimerSecure, s.id, s.secure->timer_generation);
}

void Endpoint::on_secure_timer(const Timer& t) {
  Session* s = sessions_.find(t.key);
  if (!s || !s->secure || !s->secure->channel) return;
  SecurePart& part = *s->secure;
  if (t.kind == kTimerSecure) {
    if (part.timer_generation != t.generation) return;
    part.timer_at = kNever;
    part.channel->on_timer(now_);
    if (!s->dead && s->secure) arm_channel_timer(*s);
    return;
  }
  // kTimerHandshake
  if (part.epoch != t.generation || part.established || part.failed) return;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", to_seconds(config_.handshake_timeout));
  secure_failed(s->id, HandshakeFailure::kTimeout,
                std::string("no handshake within ") + secs + " s");
}

}  // namespace coap
