// Endpoint: sessions coapd opens itself (RFC 8323 connections it initiates,
// including call-home), their attempts and reconnects; closing sessions on
// request and at shutdown.
#include <algorithm>
#include <cassert>

#include "coap/endpoint.h"

namespace coap {

Result<Endpoint::OpenedSession> Endpoint::open_session(const SessionSpec& spec, TimePoint now) {
  Entry entry(*this, now);
  return open_outgoing(spec);
}

Result<Endpoint::OpenedSession> Endpoint::open_outgoing(const SessionSpec& spec) {
  if (spec.peer.family == Address::Family::kNone || spec.peer.port == 0)
    return error("a session needs an IP address and a port");
  for (SessionId id : sessions_.ids()) {
    const Session& s = *sessions_.find(id);
    if (s.outgoing && !s.outgoing->close_requested && s.state != SessionState::kClosing &&
        s.peer == spec.peer && s.outgoing->spec.call_home == spec.call_home &&
        s.outgoing->spec.secure == spec.secure)
      return OpenedSession{id, true};
  }
  Session& s =
      new_session(Proto::kTcp, spec.call_home ? Role::kServer : Role::kClient, spec.peer);
  s.outgoing.emplace(OutgoingPart{spec});
  start_attempt(s);
  return OpenedSession{s.id, false};
}

void Endpoint::start_attempt(Session& s) {
  assert(!s.connected());
  OutgoingPart& out = *s.outgoing;
  if (out.attempt > 0) emit(EventKind::kReconnecting, s, {}, out.attempt);
  s.state = SessionState::kConnecting;
  s.tcp = std::make_unique<TcpConnectionPart>(config_.max_message_size);
  if (s.secure) {  // the last connection's TLS
    handshake_over(s);
    s.secure.reset();
  }
  if (out.spec.call_home) s.role = Role::kServer;
  sessions_.bind_conn(s, io_.tcp_connect(s.peer));
  arm(now_ + config_.connect_timeout, kTimerConnect, s.id, s.conn());
}

void Endpoint::attempt_failed(Session& s, const std::string& reason) {
  const OutgoingPart& out = *s.outgoing;
  emit(EventKind::kTcpFailed, s, reason);
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
  if (s.proto == Proto::kUdp) return remove_session(s);
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
    case SessionState::kEstablished:
      tcp_begin_close(s, true, "closed by request", false);
      break;
    case SessionState::kClosing: break;
  }
}

void Endpoint::shutdown(TimePoint now) {
  Entry entry(*this, now);
  // Requests first, so that they end as cancelled rather than failed by the
  // sessions closing under them.
  for (RequestId id : exchanges_.ids())
    complete_exchange(id, ClientResult::failed(ClientResult::Status::kCancelled, 0,
                                               "coapd is shutting down"));
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

}  // namespace coap
