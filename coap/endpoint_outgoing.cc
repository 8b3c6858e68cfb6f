// Endpoint: sessions coapd opens itself (RFC 8323 connections it initiates,
// including call-home, and DTLS sessions it keeps up), their attempts and
// reconnects; closing sessions on request and at shutdown.
#include <algorithm>
#include <cassert>

#include "coap/endpoint.h"
#include "coap/uri.h"

namespace coap {

Result<Endpoint::OpenedSession> Endpoint::open_session(const SessionSpec& spec, TimePoint now) {
  Entry entry(*this, now);
  return open_outgoing(spec);
}

Result<Endpoint::OpenedSession> Endpoint::open_outgoing(const SessionSpec& spec) {
  if (spec.peer.family == Address::Family::kNone || spec.peer.port == 0)
    return error("a session needs an IP address and a port");
  if (spec.proto == Proto::kUdp && !spec.secure)
    return error("a session over UDP needs DTLS (coaps://); plain UDP has no connection to keep");
  for (SessionId id : sessions_.ids()) {
    const Session& s = *sessions_.find(id);
    if (s.outgoing && !s.outgoing->close_requested && s.state != SessionState::kClosing &&
        s.proto == spec.proto && s.peer == spec.peer &&
        s.outgoing->spec.call_home == spec.call_home && s.outgoing->spec.secure == spec.secure)
      return OpenedSession{id, true};
  }
  if (spec.proto == Proto::kUdp) return open_dtls_outgoing(spec);
  Session& s = new_session(Proto::kTcp, spec.call_home ? Role::kServer : Role::kClient, spec.peer);
  s.outgoing.emplace(OutgoingPart{spec});
  start_attempt(s);
  return OpenedSession{s.id, false};
}

// DTLS has one session per peer address: one coapd has with the peer
// already becomes the outgoing session if coapd started it (a coaps://
// request), and is in the way if the peer did.
Result<Endpoint::OpenedSession> Endpoint::open_dtls_outgoing(const SessionSpec& spec) {
  if (!security_) return error("coaps:// needs DTLS, which this endpoint has not set up");
  const Role role = spec.call_home ? Role::kServer : Role::kClient;
  if (Session* s = sessions_.by_udp_peer(spec.peer, UdpSocket::kSecure)) {
    if (s->accepted || s->outgoing)
      return error(spec.peer.to_string(), " has a DTLS session with coapd already (session ",
                   std::to_string(s->id), ", which it started)");
    s->outgoing.emplace(OutgoingPart{spec});
    s->role = role;
    if (s->secure && s->secure->established) outgoing_up(*s);
    return OpenedSession{s->id, false};
  }
  Session& s = udp_session(spec.peer, Role::kClient, UdpSocket::kSecure);
  s.role = role;
  s.outgoing.emplace(OutgoingPart{spec});
  start_attempt(s);
  return OpenedSession{s.id, false};
}

void Endpoint::start_attempt(Session& s) {
  assert(!s.connected());
  OutgoingPart& out = *s.outgoing;
  if (out.attempt > 0) emit(EventKind::kReconnecting, s, {}, out.attempt);
  if (s.secure) {  // the last connection's TLS, or the last DTLS session
    handshake_over(s);
    s.secure.reset();
  }
  if (out.spec.call_home) s.role = Role::kServer;
  if (out.alternative) {  // from the peer's Release: new connections go there
    s.peer = out.spec.peer = *out.alternative;
    out.alternative.reset();
  }
  if (s.proto == Proto::kUdp) {
    if (Status st = start_secure_client(s, out.spec.security); !st)
      attempt_failed(s, "handshake: " + st.error());
    return;
  }
  s.state = SessionState::kConnecting;
  s.tcp = std::make_unique<TcpConnectionPart>(config_.max_message_size);
  sessions_.bind_conn(s, io_.tcp_connect(s.peer));
  arm(now_ + config_.connect_timeout, kTimerConnect, s.id, s.conn());
}

void Endpoint::attempt_failed(Session& s, const std::string& reason) {
  const OutgoingPart& out = *s.outgoing;
  if (s.proto == Proto::kTcp) emit(EventKind::kTcpFailed, s, reason);
  if (out.attempt == 0) {
    emit(EventKind::kSessionFailed, s, reason);
  } else {
    emit(EventKind::kReconnectFailed, s, reason, out.attempt);
  }
  if (out.close_requested || !out.spec.reconnect) {
    fail_session_exchanges(s, "could not connect to " + s.peer.to_string() + ": " + reason,
                           /*include_waiting=*/true);
    return remove_session(s);
  }
  schedule_reconnect(s);
}

// A session coapd opened is up: on TCP the peer's CSM arrived, over DTLS the
// handshake is done.
void Endpoint::outgoing_up(Session& s) {
  if (s.proto == Proto::kUdp) start_keepalive(s);  // TCP: tcp_session_established()
  emit(EventKind::kSessionConnected, s);
  if (s.outgoing->spec.call_home) emit(EventKind::kServerSessionConnected, s);
  if (s.outgoing->attempt > 0) {
    emit(EventKind::kReconnectSuccess, s, {}, s.outgoing->attempt);
    s.outgoing->attempt = 0;
  }
}

// The DTLS session of an outgoing session ended: the handshake failed, the
// peer sent close_notify, or it stopped answering. Like a TCP connection's
// end, it is reported, and the session reconnects if it should.
void Endpoint::dtls_session_ended(Session& s, bool failed, const std::string& reason) {
  OutgoingPart& out = *s.outgoing;
  handshake_over(s);
  const bool was_up = s.secure && s.secure->established;
  if (s.secure) s.secure->established = false;  // nothing more goes through this channel
  if (out.attempt > 0 && !was_up && !out.close_requested) {
    emit(EventKind::kReconnectFailed, s, reason, out.attempt);
  } else {
    emit(failed ? EventKind::kSessionFailed : EventKind::kSessionClosed, s, reason);
  }
  const bool reconnect = out.spec.reconnect && !out.close_requested;
  fail_session_exchanges(s, "session " + std::to_string(s.id) + " ended: " + reason,
                         /*include_waiting=*/!reconnect);
  if (!reconnect) return remove_session(s);
  if (was_up) out.attempt = 0;
  schedule_reconnect(s);
}

// A DTLS session coapd started whose peer has stopped answering (it most
// likely restarted and lost the session): the next request, or the
// reconnect of an outgoing session, starts a new handshake.
void Endpoint::dtls_peer_lost(Session& s, const std::string& why) {
  if (s.dead || !s.secure || !s.secure->established) return;
  if (!s.outgoing) return remove_session(s);
  dtls_session_ended(s, true, "peer not answering: " + why);
}

void Endpoint::schedule_reconnect(Session& s) {
  OutgoingPart& out = *s.outgoing;
  const SessionSpec& spec = out.spec;
  if (spec.reconnect_attempts && out.attempt >= spec.reconnect_attempts) {
    emit(EventKind::kReconnectNoMore, s, {}, out.attempt);
    return remove_session(s);
  }
  // Delay before attempt k = attempt + 1: the interval, doubled per failed
  // attempt when a larger cap is configured.
  Duration delay = spec.reconnect_interval;
  if (spec.reconnect_max_interval > spec.reconnect_interval) {
    for (uint32_t i = 1; i <= out.attempt && delay < spec.reconnect_max_interval; ++i) delay *= 2;
    delay = std::min(delay, spec.reconnect_max_interval);
  }
  delay = std::max(delay, out.hold_off);  // the peer's Release said so
  out.hold_off = Duration::zero();
  s.state = SessionState::kReconnectWait;
  ++out.reconnect_epoch;
  arm(now_ + delay, kTimerReconnect, s.id, out.reconnect_epoch);
}

bool Endpoint::close_session(SessionId id, TimePoint now) {
  Entry entry(*this, now);
  Session* s = sessions_.find(id);
  if (!s) return false;
  close_on_request(*s);
  return true;
}

void Endpoint::close_on_request(Session& s) {
  if (s.outgoing) s.outgoing->close_requested = true;
  if (s.proto == Proto::kUdp) {
    if (s.outgoing) emit(EventKind::kSessionClosed, s, "closed by request");
    return remove_session(s);
  }
  switch (s.state) {
    case SessionState::kConnecting:
      // Still in SYN_SENT: closing frees the pcb at once, nothing is sent.
      detach(s, Detach::kAbort);
      [[fallthrough]];
    case SessionState::kReconnectWait:
      emit(EventKind::kSessionClosed, s, "closed by request");
      remove_session(s);
      break;
    case SessionState::kHandshaking:
    case SessionState::kCsmWait:
    case SessionState::kEstablished: tcp_begin_close(s, true, "closed by request", false); break;
    case SessionState::kClosing: break;
  }
}

void Endpoint::shutdown(TimePoint now) {
  Entry entry(*this, now);
  delayed_.clear();  // separate responses still waiting are not sent
  group_responses_.clear();
  while (!discoveries_.empty()) finish_discovery(discoveries_.begin()->first);
  // Requests first, so that they end as cancelled rather than failed by the
  // sessions closing under them.
  for (RequestId id : exchanges_.ids())
    complete_exchange(
        id, ClientResult::failed(ClientResult::Status::kCancelled, 0, "coapd is shutting down"));
  for (SessionId id : sessions_.ids()) {
    Session* s = sessions_.find(id);
    if (!s) continue;
    if (s->outgoing) s->outgoing->close_requested = true;  // also when already closing
    const bool connected = s->state == SessionState::kEstablished ||
                           s->state == SessionState::kCsmWait ||
                           s->state == SessionState::kHandshaking;
    if (s->proto == Proto::kTcp && connected) {
      tcp_begin_close(*s, true, "shutting down", false);
    } else if (s->state != SessionState::kClosing) {
      close_on_request(*s);
    }
  }
}

// RFC 8323 5.5: the peer closes the connection; on a session coapd keeps up,
// the next connection goes to the Alternative-Address, not before Hold-Off.
void Endpoint::tcp_handle_release(Session& s, const Message& m) {
  std::string why = "released by peer";
  for (const OptionView& o : m.options) {
    if (o.number == opt::kReleaseAlternativeAddress) {
      const std::string text(as_string(o.value()));
      auto uri = parse_uri((s.is_secure() ? "coaps+tcp://" : "coap+tcp://") + text);
      if (!uri || !uri->path.empty() || !uri->query.empty()) {
        why += ", alternative-address '" + text + "' unusable (not HOST[:PORT] of an IP address)";
        continue;
      }
      why += ", alternative-address " + uri->peer.to_string();
      if (s.outgoing) s.outgoing->alternative = uri->peer;
    } else if (o.number == opt::kReleaseHoldOff) {
      const uint32_t secs = decode_uint(o.value()).value_or(0);
      why += ", hold-off " + std::to_string(secs) + " s";
      if (s.outgoing) s.outgoing->hold_off = seconds(secs);
    }
  }
  tcp_begin_close(s, false, why, false);
}
}  // namespace coap
