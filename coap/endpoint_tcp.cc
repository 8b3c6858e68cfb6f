// Endpoint: CoAP over TCP (RFC 8323): connection lifecycle, CSM, signaling,
// framing, back-pressure.
//
// Event order for one TCP session (each fires once per occurrence):
//   accepted:  server_session_new, tcp_connected, session_connected [, role_changed]
//   outgoing:  [reconnecting,] tcp_connected, session_connected
//              [, server_session_connected] [, reconnect_success]
//   end:       tcp_closed | tcp_failed, session_closed | session_failed
//              [, server_session_del]   (accepted sessions)
//   an outgoing attempt that fails (no connection, or no CSM on it):
//   tcp_failed | tcp_closed, then session_failed (first attempt) or
//   reconnect_failed (attempt k >= 1); reconnect_no_more when the attempts
//   are used up.
#include <algorithm>
#include <cassert>

#include "coap/endpoint.h"

namespace coap {

void Endpoint::tcp_send(Session& s, Code code, const Token& token, const OptionList& options,
                        std::span<const uint8_t> payload, bool priority) {
  if (!s.connected()) return;
  if (s.secure && !s.secure->established) return;  // nothing but the handshake yet
  wire_.clear();
  write_tcp(wire_, code, token, options, payload);
  s.traffic.sent(wire_.size());
  // Through TLS the records keep their order (a Pong cannot overtake them):
  // the channel's ciphertext reaches tcp_queue through secure_send.
  if (s.secure) {
    (void)s.secure->channel->write(wire_, now_);
    return;
  }
  tcp_queue(s, wire_, priority);
}

void Endpoint::tcp_queue(Session& s, std::span<const uint8_t> bytes, bool priority) {
  if (!s.connected()) return;
  TxQueue& tx = s.tcp->tx;
  const bool was_empty = tx.empty();
  if (priority) {
    tx.push_priority(bytes);
  } else {
    tx.push(bytes);
  }
  s.last_activity = now_;
  if (tx.size() > config_.max_queued_bytes) {
    // The peer does not read: past the bound the session ends (documented).
    const std::size_t queued = tx.size();
    tx.clear();
    detach(s, Detach::kAbort);
    tcp_connection_ended(s, /*tcp_failed=*/true, /*session_failed=*/true,
                         "send queue overflow: " + std::to_string(queued) +
                             " bytes queued, limit " + std::to_string(config_.max_queued_bytes));
    return;
  }
  if (was_empty) io_.tcp_want_write(s.conn());
}

void Endpoint::tcp_send_csm(Session& s) {
  OptionList o;
  o.add_uint(opt::kCsmMaxMessageSize, static_cast<uint32_t>(config_.max_message_size));
  o.add(opt::kCsmBlockWiseTransfer, std::span<const uint8_t>{});
  // Queued as a priority frame: a Pong answering an early Ping then goes
  // after it, never before (RFC 8323 5.3: the CSM is the first message).
  tcp_send(s, codes::kCsm, Token{}, o, {}, /*priority=*/true);
}

void Endpoint::tcp_connection_up(Session& s) {
  tcp_send_csm(s);
  arm(now_ + config_.csm_timeout, kTimerCsm, s.id, s.conn());
  // A persistent outgoing session is never closed for being idle.
  const bool persistent = s.outgoing && s.outgoing->spec.reconnect;
  if (config_.tcp_idle_timeout > Duration::zero() && !persistent)
    arm(now_ + config_.tcp_idle_timeout, kTimerIdle, s.id, s.conn());
}

void Endpoint::on_tcp_accepted(ConnId conn, ListenerKind kind, const Address& peer,
                               const Address& local, TimePoint now) {
  Entry entry(*this, now);
  ++counters_.tcp_accepted;
  const bool over_limit = sessions_.tcp_count() >= config_.max_tcp_sessions;
  Session& s = new_session(Proto::kTcp, Role::kServer, peer);
  s.local = local;
  s.accepted = true;
  s.call_home_client = kind == ListenerKind::kCallHome;
  s.state = SessionState::kCsmWait;
  sessions_.bind_conn(s, conn);
  if (over_limit) {
    // Tell the peer why, then close: CSM, Abort, FIN. Only this event.
    ++counters_.tcp_rejected;
    s.rejected = true;
    emit(EventKind::kSessionRejected, s,
         "max TCP sessions (" + std::to_string(config_.max_tcp_sessions) + ") reached");
    // On the TLS port there is no TLS yet to say it in: FIN only, never
    // plaintext CoAP a TLS client would read as a broken record.
    if (kind == ListenerKind::kSecure) return tcp_begin_close(s, false, "rejected", true);
    tcp_send_csm(s);
    return tcp_abort_session(s, "too many sessions", "rejected");
  }
  emit(EventKind::kServerSessionNew, s);
  emit(EventKind::kTcpConnected, s);
  if (kind != ListenerKind::kSecure) return tcp_connection_up(s);
  // Beyond --max-handshakes: FIN before a byte of TLS is spent on it.
  if (handshake_refused(peer)) return tcp_begin_close(s, false, "handshake limit", true);
  if (Status st = start_secure_server(s); !st) {
    bad_packet(peer, s.id, st.error());
    tcp_begin_close(s, false, "no TLS: " + st.error(), true);
  }
}

void Endpoint::on_tcp_connected(ConnId conn, const Address& local, TimePoint now) {
  Entry entry(*this, now);
  Session* s = sessions_.by_conn(conn);
  if (!s || s->state != SessionState::kConnecting) return;
  s->local = local;
  s->state = SessionState::kCsmWait;
  s->last_activity = now;
  emit(EventKind::kTcpConnected, *s);
  if (!s->outgoing->spec.secure) return tcp_connection_up(*s);
  // coapd's own TLS handshakes count against --max-handshakes as well.
  if (handshake_refused(s->peer)) {
    const std::string why =
        "too many TLS handshakes under way (max " + std::to_string(config_.max_handshakes) + ")";
    fail_session_exchanges(*s, why, /*include_waiting=*/true);
    return tcp_begin_close(*s, false, why, true);
  }
  ClientSecurity options = s->outgoing->spec.security;
  if (Status st = start_secure_client(*s, options); !st)
    tcp_begin_close(*s, false, "handshake: " + st.error(), true);
}

void Endpoint::on_tcp_data(ConnId conn, std::span<const uint8_t> bytes, TimePoint now) {
  Entry entry(*this, now);
  if (Session* s = sessions_.by_conn(conn)) tcp_feed(*s, bytes);
}

void Endpoint::tcp_feed(Session& s, std::span<const uint8_t> bytes) {
  s.traffic.bytes_in += bytes.size();
  // No last_activity here: bytes of a message still incomplete are no sign
  // of life (a peer sending one byte a second would hold its session for
  // ever). Each complete message is, in tcp_handle_frame().
  // Every byte handed over is consumed here: parsed now, or held in the
  // decoder (at most one partial frame, bounded by our Max-Message-Size), or
  // by TLS (at most one partial record).
  io_.tcp_consumed(s.conn(), bytes.size());
  if (s.state == SessionState::kClosing) return;  // closing: the rest is discarded
  if (!s.secure) return tcp_decode(s, bytes);
  s.secure->channel->feed(bytes, now_);
  if (!s.dead && s.secure) arm_channel_timer(s);
}

void Endpoint::tcp_decode(Session& s, std::span<const uint8_t> bytes) {
  if (s.state == SessionState::kClosing) return;
  uint64_t announced = 0;
  const FrameError err = s.tcp->decoder.feed(
      bytes, [&](const Message& m, std::size_t) { return tcp_handle_frame(s, m); }, &announced);
  if (err == FrameError::kNone || s.dead || s.state == SessionState::kClosing) return;
  if (err == FrameError::kTooLarge) {
    bad_packet(s.peer, s.id,
               "frame of " + std::to_string(announced) + " bytes exceeds Max-Message-Size " +
                   std::to_string(config_.max_message_size));
    return tcp_abort_session(s, "message larger than Max-Message-Size", "message too large");
  }
  bad_packet(s.peer, s.id,
             err == FrameError::kBadTokenLength ? "bad token length" : "malformed message");
  tcp_abort_session(s, "malformed message", "malformed message");
}

bool Endpoint::tcp_handle_frame(Session& s, const Message& m) {
  ++s.traffic.msgs_in;
  s.last_activity = now_;
  s.last_rx = now_;
  s.pings_unanswered = 0;
  if (!s.tcp->csm_received && m.code != codes::kCsm) {
    // RFC 8323 5.3: the first message of each side is its CSM.
    bad_packet(s.peer, s.id, "first message is " + m.code.str() + ", not a CSM");
    tcp_abort_session(s, "expected CSM", "protocol error: no CSM");
    return false;
  }
  if (m.code.is_signaling()) {
    tcp_handle_signal(s, m);
  } else if (m.code.is_empty()) {
    // RFC 8323 3.4: empty messages are ignored.
  } else if (m.code.is_request()) {
    ++counters_.requests;
    serve(s, m);
    const bool wanted = !Dispatcher::suppressed(m, out_.code);  // No-Response, RFC 7967
    if (!wanted) ++counters_.responses_suppressed;
    if (wanted && !s.dead && s.connected() && !defer_response(s, m, 0)) {
      tcp_send(s, out_.code, m.token, out_.options, out_.payload);
      ++counters_.responses;
    }
  } else if (m.code.is_response()) {
    handle_client_response(s, m);
  } else {
    bad_packet(s.peer, s.id, "reserved code " + m.code.str());
  }
  return !s.dead && s.connected() && s.state != SessionState::kClosing;
}

void Endpoint::tcp_handle_csm(Session& s, const Message& m) {
  TcpConnectionPart& tcp = *s.tcp;
  for (const OptionView& o : m.options) {
    if (o.number == opt::kCsmMaxMessageSize) {
      if (auto v = decode_uint(o.value())) tcp.peer_mms = std::max<std::size_t>(*v, 64);
    } else if (o.number == opt::kCsmBlockWiseTransfer) {
      tcp.peer_bwt = true;
    } else if (is_critical(o.number)) {
      // RFC 8323 5.3: an unknown critical CSM option aborts, naming it.
      OptionList ab;
      ab.add_uint(opt::kAbortBadCsmOption, o.number);
      tcp_send(s, codes::kAbort, Token{}, ab, as_bytes("unsupported critical CSM option"));
      return tcp_begin_close(s, false, "unsupported critical CSM option", true);
    }
  }
  if (!tcp.csm_received) {
    tcp.csm_received = true;
    tcp_session_established(s);
  }
}

void Endpoint::tcp_handle_signal(Session& s, const Message& m) {
  if (m.code == codes::kCsm) return tcp_handle_csm(s, m);
  if (m.code == codes::kPing) {
    // RFC 8323 5.4: answer at once, ahead of queued messages not yet started.
    ++counters_.pings;
    OptionList none;
    return tcp_send(s, codes::kPong, m.token, none, {}, /*priority=*/true);
  }
  if (m.code == codes::kRelease) return tcp_handle_release(s, m);
  if (m.code == codes::kAbort) {
    s.tcp->tx.drop_unstarted();  // nothing more for this peer, but no half frame
    std::string why = "aborted by peer";
    if (!m.payload.empty())
      why += ": " +
             std::string(as_string(m.payload.first(std::min<std::size_t>(m.payload.size(), 128))));
    return tcp_begin_close(s, false, why, true);
  }
  // Pong and unknown signaling codes are ignored.
}

void Endpoint::tcp_session_established(Session& s) {
  s.state = SessionState::kEstablished;
  s.tcp->established = true;
  if (s.outgoing) {
    outgoing_up(s);
  } else {
    emit(EventKind::kSessionConnected, s);
  }
  start_keepalive(s);
  if (s.call_home_client && s.role == Role::kServer) {
    s.role = Role::kClient;
    emit(EventKind::kRoleChanged, s, "client");
  }
  send_waiting_exchanges(s);
  if (s.dead || !s.connected()) return;
  renotify_observers(s);
}

void Endpoint::tcp_abort_session(Session& s, std::string_view diagnostic, std::string reason) {
  OptionList none;
  tcp_send(s, codes::kAbort, Token{}, none, as_bytes(diagnostic));
  if (!s.dead && s.connected()) tcp_begin_close(s, false, std::move(reason), true);
}

void Endpoint::tcp_begin_close(Session& s, bool release, std::string reason, bool failed) {
  if (s.state == SessionState::kClosing || !s.connected()) return;
  if (release) {
    OptionList none;
    tcp_send(s, codes::kRelease, Token{}, none, {});
    if (s.dead || !s.connected()) return;
  }
  // TLS: close_notify, then FIN (never RST).
  if (s.secure && s.secure->channel) s.secure->channel->close(now_);
  if (s.dead || !s.connected()) return;
  s.state = SessionState::kClosing;
  s.tcp->close_reason = std::move(reason);
  s.tcp->close_failed = failed;
  if (s.tcp->tx.empty()) return tcp_finish_close(s);
  arm(now_ + config_.close_linger, kTimerLinger, s.id, s.conn());
}

void Endpoint::tcp_finish_close(Session& s) {
  detach(s, Detach::kClose);
  // A session that never got the peer's CSM failed, unless its close was
  // asked for (coapctl close during the CSM wait is a close like any other).
  tcp_connection_ended(s, /*tcp_failed=*/false,
                       s.tcp->close_failed || (!s.tcp->established && !s.close_requested()),
                       s.tcp->close_reason);
}

void Endpoint::detach(Session& s, Detach how) {
  const ConnId conn = s.conn();
  if (!conn) return;
  if (how == Detach::kClose) io_.tcp_close(conn);
  if (how == Detach::kAbort) io_.tcp_abort(conn);
  sessions_.unbind_conn(s);
}

void Endpoint::on_tcp_peer_closed(ConnId conn, TimePoint now) {
  Entry entry(*this, now);
  Session* s = sessions_.by_conn(conn);
  if (!s) return;
  const std::size_t partial = s->tcp->decoder.buffered();
  if (partial > 0 && s->state != SessionState::kClosing) {
    bad_packet(
        s->peer, s->id,
        "connection closed inside a frame (" + std::to_string(partial) + " bytes of it received)");
  }
  // Answers already queued still go out, then our FIN.
  tcp_begin_close(*s, false, "closed by peer", !s->tcp->established);
}

void Endpoint::on_tcp_error(ConnId conn, TcpError error, TimePoint now) {
  Entry entry(*this, now);
  Session* s = sessions_.by_conn(conn);
  if (!s) return;  // an earlier connection of a session, or one already closed
  detach(*s, Detach::kGone);
  if (s->state == SessionState::kConnecting) return attempt_failed(*s, tcp_error_name(error));
  s->tcp->tx.clear();
  tcp_connection_ended(*s, /*tcp_failed=*/true, /*session_failed=*/true, tcp_error_name(error));
}

void Endpoint::on_tcp_writable(ConnId conn, TimePoint now) {
  Entry entry(*this, now);
  if (Session* s = sessions_.by_conn(conn); s && !s->tcp->tx.empty()) io_.tcp_want_write(conn);
}

std::span<const uint8_t> Endpoint::tcp_pending(ConnId conn) const {
  Session* s = sessions_.by_conn(conn);
  return s ? s->tcp->tx.pending() : std::span<const uint8_t>{};
}

void Endpoint::tcp_written(ConnId conn, std::size_t n, TimePoint now) {
  Entry entry(*this, now);
  Session* s = sessions_.by_conn(conn);
  if (!s) return;
  s->tcp->tx.consume(n);
  if (n) s->last_activity = now;
  if (s->state == SessionState::kClosing && s->tcp->tx.empty()) tcp_finish_close(*s);
}

void Endpoint::tcp_connection_ended(Session& s, bool tcp_failed, bool session_failed,
                                    std::string reason) {
  assert(!s.connected());
  s.tcp->tx.clear();
  // The TCP part is not replaced here: this may run inside its decoder's
  // feed() (a frame handler ending the connection). start_attempt() gives the
  // next connection a fresh one.
  if (s.rejected) return remove_session(s);
  if (s.secure && s.secure->handshaking)
    handshake_failed(&s, s.peer, HandshakeFailure::kProtocol,
                     "the connection ended during the handshake: " + reason);
  // A reconnect attempt whose connection came up but never got the peer's
  // CSM failed like one that did not connect: it keeps its number, for the
  // backoff and the reconnect_attempts limit.
  const bool failed_attempt =
      s.outgoing && s.outgoing->attempt > 0 && !s.tcp->established && !s.outgoing->close_requested;
  emit(tcp_failed ? EventKind::kTcpFailed : EventKind::kTcpClosed, s, reason);
  if (failed_attempt) {
    emit(EventKind::kReconnectFailed, s, reason, s.outgoing->attempt);
  } else {
    emit(session_failed ? EventKind::kSessionFailed : EventKind::kSessionClosed, s, reason);
  }
  // Requests already sent on this connection will get no answer.
  fail_session_exchanges(s, "session " + std::to_string(s.id) + " ended: " + reason,
                         /*include_waiting=*/false);
  dispatcher_.forget_session(s.id);
  if (s.outgoing && s.outgoing->spec.reconnect && !s.outgoing->close_requested) {
    if (s.tcp->established) s.outgoing->attempt = 0;
    return schedule_reconnect(s);
  }
  remove_session(s);
}

Session* Endpoint::tcp_timer_session(const Timer& t, SessionState state) const {
  Session* s = sessions_.find(t.key);
  // A timer armed for an earlier connection of the session names its id.
  return s && s->state == state && s->conn() == t.generation ? s : nullptr;
}

void Endpoint::on_tcp_timer(const Timer& t) {
  switch (t.kind) {
    case kTimerCsm:
      if (Session* s = tcp_timer_session(t, SessionState::kCsmWait))
        tcp_abort_session(*s, "CSM not received in time", "csm timeout");
      break;
    case kTimerIdle: {
      Session* s = tcp_timer_session(t, SessionState::kEstablished);
      if (!s) s = tcp_timer_session(t, SessionState::kCsmWait);
      if (!s) break;
      const TimePoint expiry = s->last_activity + config_.tcp_idle_timeout;
      if (expiry > now_) return arm(expiry, kTimerIdle, s->id, s->conn());
      tcp_begin_close(*s, true, "idle timeout", false);
      break;
    }
    case kTimerConnect:
      if (Session* s = tcp_timer_session(t, SessionState::kConnecting)) {
        // The attempt's pcb is closed before anything else happens, so a late
        // callback for it finds nothing.
        detach(*s, Detach::kAbort);
        attempt_failed(*s, "timeout");
      }
      break;
    case kTimerReconnect:
      if (Session* s = sessions_.find(t.key); s && s->state == SessionState::kReconnectWait &&
                                              s->outgoing->reconnect_epoch == t.generation) {
        ++s->outgoing->attempt;
        start_attempt(*s);
      }
      break;
    case kTimerLinger:
      if (Session* s = tcp_timer_session(t, SessionState::kClosing)) {
        const std::size_t left = s->tcp->tx.size();
        detach(*s, Detach::kAbort);
        tcp_connection_ended(*s, true, true,
                             "close timed out with " + std::to_string(left) + " bytes unsent");
      }
      break;
    default: break;
  }
}

}  // namespace coap
