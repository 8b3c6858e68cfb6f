// Endpoint: CoAP over TCP (RFC 8323): connection lifecycle, CSM, signaling,
// framing, back-pressure, reconnect.
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

#include "coap/endpoint_internal.h"

namespace coap {
namespace {

// Room for the frame header, token and options around a payload.
constexpr std::size_t kFrameOverhead = 96;

}  // namespace

DispatchLimits Endpoint::tcp_limits(const Session& s) const {
  DispatchLimits l;
  l.max_payload = s.peer_mms > kFrameOverhead + 16 ? s.peer_mms - kFrameOverhead : 16;
  l.blockwise = s.peer_bwt;
  l.bert = s.peer_bwt && s.peer_mms > 1152;
  return l;
}

void Endpoint::tcp_send(Session& s, Code code, const Token& token, const OptionList& options,
                        std::span<const uint8_t> payload, bool priority) {
  if (!s.conn) return;
  wire_.clear();
  write_tcp(wire_, code, token, options, payload);
  const bool was_empty = s.tx.empty();
  if (priority) {
    s.tx.push_priority(wire_);
  } else {
    s.tx.push(wire_);
  }
  ++s.msgs_out;
  s.bytes_out += wire_.size();
  s.last_activity = now_;
  if (s.tx.size() > config_.max_queued_bytes) {
    // The peer does not read: past the bound the session ends (documented).
    const std::size_t queued = s.tx.size();
    s.tx.clear();
    io_.tcp_abort(s.conn);
    conn_sessions_.erase(s.conn);
    s.conn = 0;
    tcp_connection_ended(s, /*tcp_failed=*/true, /*session_failed=*/true,
                         "send queue overflow: " + std::to_string(queued) +
                             " bytes queued, limit " + std::to_string(config_.max_queued_bytes),
                         now_);
    return;
  }
  if (was_empty) io_.tcp_want_write(s.conn);
}

void Endpoint::tcp_send_csm(Session& s) {
  OptionList o;
  o.add_uint(opt::kCsmMaxMessageSize, static_cast<uint32_t>(config_.max_message_size));
  o.add(opt::kCsmBlockWiseTransfer, std::span<const uint8_t>{});
  // Queued as a priority frame: a Pong answering an early Ping then goes
  // after it, never before (RFC 8323 5.3: the CSM is the first message).
  tcp_send(s, codes::kCsm, Token{}, o, {}, /*priority=*/true);
}

void Endpoint::on_tcp_accepted(ConnId conn, ListenerKind kind, const Address& peer,
                               const Address& local, TimePoint now) {
  now_ = now;
  ++counters_.tcp_accepted;
  const bool over_limit = tcp_session_count() >= config_.max_tcp_sessions;
  Session& s = new_session(Proto::kTcp, Role::kServer, peer, now);
  s.conn = conn;
  s.local = local;
  s.accepted = true;
  s.call_home_client = kind == ListenerKind::kCallHome;
  s.state = SessionState::kCsmWait;
  conn_sessions_[conn] = s.id;
  if (over_limit) {
    // Tell the peer why, then close: CSM, Abort, FIN. Only this event.
    ++counters_.tcp_rejected;
    s.rejected = true;
    emit("session_rejected", s, now,
         "max TCP sessions (" + std::to_string(config_.max_tcp_sessions) + ") reached");
    tcp_send_csm(s);
    tcp_abort_session(s, "too many sessions", "rejected", now);
    return reap();
  }
  emit("server_session_new", s, now);
  emit("tcp_connected", s, now);
  tcp_send_csm(s);
  arm(now + config_.csm_timeout, kTimerCsm, s.id, conn);
  if (config_.tcp_idle_timeout > Duration::zero())
    arm(now + config_.tcp_idle_timeout, kTimerIdle, s.id, conn);
  reap();
}

void Endpoint::on_tcp_connected(ConnId conn, const Address& local, TimePoint now) {
  now_ = now;
  Session* s = session_for_conn(conn);
  if (!s || s->state != SessionState::kConnecting) return reap();
  s->local = local;
  s->state = SessionState::kCsmWait;
  s->last_activity = now;
  emit("tcp_connected", *s, now);
  tcp_send_csm(*s);
  arm(now + config_.csm_timeout, kTimerCsm, s->id, conn);
  if (config_.tcp_idle_timeout > Duration::zero() && !(s->spec.reconnect))
    arm(now + config_.tcp_idle_timeout, kTimerIdle, s->id, conn);
  reap();
}

void Endpoint::on_tcp_data(ConnId conn, std::span<const uint8_t> bytes, TimePoint now) {
  now_ = now;
  if (Session* s = session_for_conn(conn)) tcp_feed(*s, bytes, now);
  reap();
}

void Endpoint::tcp_feed(Session& s, std::span<const uint8_t> bytes, TimePoint now) {
  s.bytes_in += bytes.size();
  // No last_activity here: bytes of a message still incomplete are no sign
  // of life (a peer sending one byte a second would hold its session for
  // ever). Each complete message is, in tcp_handle_frame().
  // Every byte handed over is consumed here: parsed now, or held in the
  // decoder (at most one partial frame, bounded by our Max-Message-Size).
  io_.tcp_consumed(s.conn, bytes.size());
  if (s.state == SessionState::kClosing) return;  // closing: the rest is discarded
  uint64_t announced = 0;
  const FrameError err = s.decoder->feed(
      bytes,
      [&](const Message& m, std::size_t size) { return tcp_handle_frame(s, m, size, now); },
      &announced);
  if (err == FrameError::kNone || s.dead || s.state == SessionState::kClosing) return;
  if (err == FrameError::kTooLarge) {
    bad_packet(s.peer, s.id,
               "frame of " + std::to_string(announced) + " bytes exceeds Max-Message-Size " +
                   std::to_string(config_.max_message_size),
               now);
    tcp_abort_session(s, "message larger than Max-Message-Size", "message too large", now);
  } else {
    bad_packet(s.peer, s.id,
               err == FrameError::kBadTokenLength ? "bad token length" : "malformed message", now);
    tcp_abort_session(s, "malformed message", "malformed message", now);
  }
}

bool Endpoint::tcp_handle_frame(Session& s, const Message& m, std::size_t size, TimePoint now) {
  (void)size;
  ++s.msgs_in;
  s.last_activity = now;
  if (!s.csm_received && m.code != codes::kCsm) {
    // RFC 8323 5.3: the first message of each side is its CSM.
    bad_packet(s.peer, s.id, "first message is " + m.code.str() + ", not a CSM", now);
    tcp_abort_session(s, "expected CSM", "protocol error: no CSM", now);
    return false;
  }
  if (m.code.is_signaling()) {
    tcp_handle_signal(s, m, now);
  } else if (m.code.is_empty()) {
    // RFC 8323 3.4: empty messages are ignored.
  } else if (m.code.is_request()) {
    ++counters_.requests;
    serve(s, m, now);
    if (!s.dead && s.conn) {
      tcp_send(s, out_.code, m.token, out_.options, out_.payload);
      ++counters_.responses;
    }
  } else if (m.code.is_response()) {
    handle_client_response(s, m, now);
  } else {
    bad_packet(s.peer, s.id, "reserved code " + m.code.str(), now);
  }
  return !s.dead && s.conn && s.state != SessionState::kClosing;
}

void Endpoint::tcp_handle_signal(Session& s, const Message& m, TimePoint now) {
  if (m.code == codes::kCsm) {
    for (std::size_t i = 0; i < m.options.size(); ++i) {
      const OptionView& o = m.options[i];
      if (o.number == opt::kCsmMaxMessageSize) {
        if (auto v = decode_uint(o.value())) s.peer_mms = std::max<std::size_t>(*v, 64);
      } else if (o.number == opt::kCsmBlockWiseTransfer) {
        s.peer_bwt = true;
      } else if (is_critical(o.number)) {
        // RFC 8323 5.3: an unknown critical CSM option aborts, naming it.
        OptionList ab;
        ab.add_uint(opt::kAbortBadCsmOption, o.number);
        tcp_send(s, codes::kAbort, Token{}, ab, as_bytes("unsupported critical CSM option"));
        tcp_begin_close(s, false, "unsupported critical CSM option", true, now);
        return;
      }
    }
    if (!s.csm_received) {
      s.csm_received = true;
      tcp_session_established(s, now);
    }
    return;
  }
  if (m.code == codes::kPing) {
    // RFC 8323 5.4: answer at once, ahead of queued messages not yet started.
    ++counters_.pings;
    OptionList none;
    tcp_send(s, codes::kPong, m.token, none, {}, /*priority=*/true);
    return;
  }
  if (m.code == codes::kPong) return;
  if (m.code == codes::kRelease) {
    tcp_begin_close(s, false, "released by peer", false, now);
    return;
  }
  if (m.code == codes::kAbort) {
    s.tx.clear();
    std::string why = "aborted by peer";
    if (!m.payload.empty()) why += ": " + std::string(as_string(m.payload.first(std::min<std::size_t>(m.payload.size(), 128))));
    tcp_begin_close(s, false, why, true, now);
    return;
  }
  // Unknown signaling codes are ignored.
}

void Endpoint::tcp_session_established(Session& s, TimePoint now) {
  s.state = SessionState::kEstablished;
  s.ever_established = true;
  emit("session_connected", s, now);
  if (s.outgoing && s.spec.call_home) emit("server_session_connected", s, now);
  if (s.call_home_client && s.role == Role::kServer) {
    s.role = Role::kClient;
    emit("role_changed", s, now, "client");
  }
  if (s.attempt > 0) {
    emit("reconnect_success", s, now, {}, s.attempt);
    s.attempt = 0;
  }
  std::vector<RequestId> waiting;
  waiting.swap(s.waiting);
  for (std::size_t i = 0; i < waiting.size(); ++i) {
    auto it = exchanges_.find(waiting[i]);
    if (it == exchanges_.end()) continue;
    s.exchanges.push_back(waiting[i]);
    send_exchange(*it->second, now);
    if (s.dead || !s.conn) {
      // Sending ended the session (queue overflow): the rest never went out.
      for (std::size_t j = i + 1; j < waiting.size(); ++j)
        complete_exchange(waiting[j], client_error(s.id, "session " + std::to_string(s.id) +
                                                             " ended before the request was sent"));
      return;
    }
  }
  // Observations made before a reconnect carry on with a fresh notification.
  for (uint64_t oid : std::vector<uint64_t>(s.observations))
    if (auto o = observations_.find(oid); o != observations_.end() && o->second->sent > 0)
      notify(*o->second, now);
}

void Endpoint::tcp_abort_session(Session& s, std::string_view diagnostic, std::string reason,
                                 TimePoint now) {
  OptionList none;
  tcp_send(s, codes::kAbort, Token{}, none, as_bytes(diagnostic));
  if (!s.dead && s.conn) tcp_begin_close(s, false, std::move(reason), true, now);
}

void Endpoint::tcp_begin_close(Session& s, bool release, std::string reason, bool failed,
                               TimePoint now) {
  if (s.state == SessionState::kClosing || !s.conn) return;
  if (release) {
    OptionList none;
    tcp_send(s, codes::kRelease, Token{}, none, {});
    if (s.dead || !s.conn) return;
  }
  s.state = SessionState::kClosing;
  s.close_reason = std::move(reason);
  s.close_failed = failed;
  if (s.tx.empty()) return tcp_finish_close(s, now);
  arm(now + config_.close_linger, kTimerLinger, s.id, s.conn);
}

void Endpoint::tcp_finish_close(Session& s, TimePoint now) {
  io_.tcp_close(s.conn);
  conn_sessions_.erase(s.conn);
  s.conn = 0;
  // A session that never got the peer's CSM failed, unless its close was
  // asked for (coapctl close during the CSM wait is a close like any other).
  tcp_connection_ended(s, /*tcp_failed=*/false,
                       s.close_failed || (!s.ever_established && !s.close_requested),
                       s.close_reason, now);
}

void Endpoint::on_tcp_peer_closed(ConnId conn, TimePoint now) {
  now_ = now;
  Session* s = session_for_conn(conn);
  if (!s) return reap();
  if (s->decoder->buffered() > 0 && s->state != SessionState::kClosing) {
    bad_packet(s->peer, s->id,
               "connection closed inside a frame (" + std::to_string(s->decoder->buffered()) +
                   " bytes of it received)",
               now);
  }
  // Answers already queued still go out, then our FIN.
  tcp_begin_close(*s, false, "closed by peer", !s->ever_established, now);
  reap();
}

void Endpoint::on_tcp_error(ConnId conn, TcpError error, TimePoint now) {
  now_ = now;
  Session* s = session_for_conn(conn);
  if (!s) return reap();  // an earlier connection of a session, or one already closed
  conn_sessions_.erase(conn);
  s->conn = 0;
  if (s->state == SessionState::kConnecting) {
    attempt_failed(*s, tcp_error_name(error), now);
  } else {
    s->tx.clear();
    tcp_connection_ended(*s, /*tcp_failed=*/true, /*session_failed=*/true, tcp_error_name(error),
                         now);
  }
  reap();
}

void Endpoint::on_tcp_writable(ConnId conn, TimePoint now) {
  now_ = now;
  if (Session* s = session_for_conn(conn); s && !s->tx.empty()) io_.tcp_want_write(conn);
  reap();
}

std::span<const uint8_t> Endpoint::tcp_pending(ConnId conn) const {
  Session* s = session_for_conn(conn);
  return s ? s->tx.pending() : std::span<const uint8_t>{};
}

void Endpoint::tcp_written(ConnId conn, std::size_t n, TimePoint now) {
  now_ = now;
  Session* s = session_for_conn(conn);
  if (!s) return reap();
  s->tx.consume(n);
  if (n) s->last_activity = now;
  if (s->state == SessionState::kClosing && s->tx.empty()) tcp_finish_close(*s, now);
  reap();
}

void Endpoint::tcp_connection_ended(Session& s, bool tcp_failed, bool session_failed,
                                    std::string reason, TimePoint now) {
  assert(s.conn == 0);
  s.tx.clear();
  // The decoder is not replaced here: this may run inside its feed() (a
  // frame handler ending the connection). start_attempt() gives the next
  // connection a fresh one.
  if (s.rejected) return remove_session(s, now);
  // A reconnect attempt whose connection came up but never got the peer's
  // CSM failed like one that did not connect: it keeps its number, for the
  // backoff and the reconnect_attempts limit.
  const bool failed_attempt = s.outgoing && s.attempt > 0 && !s.ever_established &&
                              !s.close_requested;
  emit(tcp_failed ? "tcp_failed" : "tcp_closed", s, now, reason);
  if (failed_attempt) {
    emit("reconnect_failed", s, now, reason, s.attempt);
  } else {
    emit(session_failed ? "session_failed" : "session_closed", s, now, reason);
  }
  // Requests already sent on this connection will get no answer.
  fail_session_exchanges(s, "session " + std::to_string(s.id) + " ended: " + reason,
                         /*include_waiting=*/false);
  dispatcher_.forget_session(s.id);
  if (s.outgoing && s.spec.reconnect && !s.close_requested) {
    if (s.ever_established) s.attempt = 0;
    schedule_reconnect(s, now);
  } else {
    remove_session(s, now);
  }
}

void Endpoint::attempt_failed(Session& s, const std::string& reason, TimePoint now) {
  emit("tcp_failed", s, now, reason);
  if (s.attempt == 0) {
    emit("session_failed", s, now, reason);
  } else {
    emit("reconnect_failed", s, now, reason, s.attempt);
  }
  if (s.close_requested || !s.spec.reconnect) {
    fail_session_exchanges(s, "could not connect to " + s.peer.to_string() + ": " + reason,
                           /*include_waiting=*/true);
    return remove_session(s, now);
  }
  schedule_reconnect(s, now);
}

void Endpoint::schedule_reconnect(Session& s, TimePoint now) {
  const SessionSpec& spec = s.spec;
  if (spec.reconnect_attempts && s.attempt >= spec.reconnect_attempts) {
    emit("reconnect_no_more", s, now, {}, s.attempt);
    return remove_session(s, now);
  }
  // Delay before attempt k = attempt + 1: the interval, doubled per failed
  // attempt when a larger cap is configured.
  Duration delay = spec.reconnect_interval;
  if (spec.reconnect_max_interval > spec.reconnect_interval) {
    for (uint32_t i = 1; i <= s.attempt && delay < spec.reconnect_max_interval; ++i) delay *= 2;
    delay = std::min(delay, spec.reconnect_max_interval);
  }
  s.state = SessionState::kReconnectWait;
  ++s.reconnect_epoch;
  arm(now + delay, kTimerReconnect, s.id, s.reconnect_epoch);
}

void Endpoint::start_attempt(Session& s, TimePoint now) {
  assert(s.conn == 0);
  if (s.attempt > 0) emit("reconnecting", s, now, {}, s.attempt);
  s.state = SessionState::kConnecting;
  s.decoder = std::make_unique<FrameDecoder>(config_.max_message_size);
  s.csm_received = false;
  s.peer_mms = 1152;
  s.peer_bwt = false;
  s.ever_established = false;
  s.close_reason.clear();
  s.close_failed = false;
  if (s.spec.call_home) s.role = Role::kServer;
  s.conn = io_.tcp_connect(s.peer);
  conn_sessions_[s.conn] = s.id;
  arm(now + config_.connect_timeout, kTimerConnect, s.id, s.conn);
}

void Endpoint::on_tcp_timer(const Timer& t, TimePoint now) {
  Session* s = find_session(t.key);
  if (!s) return;
  switch (t.kind) {
    case kTimerCsm:
      if (s->conn == t.generation && s->state == SessionState::kCsmWait)
        tcp_abort_session(*s, "CSM not received in time", "csm timeout", now);
      break;
    case kTimerIdle: {
      if (s->conn != t.generation || (s->state != SessionState::kEstablished &&
                                      s->state != SessionState::kCsmWait))
        break;
      const TimePoint expiry = s->last_activity + config_.tcp_idle_timeout;
      if (expiry <= now) {
        tcp_begin_close(*s, true, "idle timeout", false, now);
      } else {
        arm(expiry, kTimerIdle, s->id, s->conn);
      }
      break;
    }
    case kTimerConnect:
      if (s->conn == t.generation && s->state == SessionState::kConnecting) {
        // The attempt's pcb is closed before anything else happens, so a late
        // callback for it finds nothing.
        io_.tcp_abort(s->conn);
        conn_sessions_.erase(s->conn);
        s->conn = 0;
        attempt_failed(*s, "timeout", now);
      }
      break;
    case kTimerReconnect:
      if (s->state == SessionState::kReconnectWait && s->reconnect_epoch == t.generation) {
        ++s->attempt;
        start_attempt(*s, now);
      }
      break;
    case kTimerLinger:
      if (s->conn == t.generation && s->state == SessionState::kClosing) {
        const std::size_t left = s->tx.size();
        io_.tcp_abort(s->conn);
        conn_sessions_.erase(s->conn);
        s->conn = 0;
        tcp_connection_ended(*s, true, true,
                             "close timed out with " + std::to_string(left) + " bytes unsent",
                             now);
      }
      break;
    default: break;
  }
}

// --- outgoing sessions ------------------------------------------------------------

SessionId Endpoint::open_session(const SessionSpec& spec, TimePoint now, std::string* error,
                                 bool* existed) {
  now_ = now;
  if (existed) *existed = false;
  if (spec.peer.family == Address::Family::kNone || spec.peer.port == 0) {
    if (error) *error = "a session needs an IP address and a port";
    return 0;
  }
  for (const auto& [id, s] : sessions_) {
    if (s->outgoing && !s->close_requested && s->state != SessionState::kClosing &&
        s->peer == spec.peer && s->spec.call_home == spec.call_home) {
      if (existed) *existed = true;
      return id;
    }
  }
  Session& s = new_session(Proto::kTcp, spec.call_home ? Role::kServer : Role::kClient, spec.peer,
                           now);
  s.outgoing = true;
  s.spec = spec;
  start_attempt(s, now);
  const SessionId id = s.id;
  reap();
  return id;
}

bool Endpoint::close_session(SessionId id, TimePoint now) {
  now_ = now;
  Session* s = find_session(id);
  if (!s) return false;
  s->close_requested = true;
  if (s->proto == Proto::kUdp) {
    remove_session(*s, now);
  } else {
    switch (s->state) {
      case SessionState::kConnecting:
        // Still in SYN_SENT: closing frees the pcb at once, nothing is sent.
        io_.tcp_abort(s->conn);
        conn_sessions_.erase(s->conn);
        s->conn = 0;
        [[fallthrough]];
      case SessionState::kReconnectWait:
        emit("session_closed", *s, now, "closed by request");
        remove_session(*s, now);
        break;
      case SessionState::kCsmWait:
      case SessionState::kEstablished:
        tcp_begin_close(*s, true, "closed by request", false, now);
        break;
      case SessionState::kClosing: break;
    }
  }
  reap();
  return true;
}

void Endpoint::shutdown(TimePoint now) {
  now_ = now;
  // Requests first, so that they end as cancelled rather than failed by the
  // sessions closing under them.
  std::vector<RequestId> pending;
  for (const auto& [id, x] : exchanges_) pending.push_back(id);
  std::sort(pending.begin(), pending.end());
  for (RequestId id : pending) {
    ClientResult r;
    r.status = ClientResult::Status::kCancelled;
    r.error = "coapd is shutting down";
    complete_exchange(id, std::move(r));
  }
  std::vector<SessionId> ids;
  for (const auto& [id, s] : sessions_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (SessionId id : ids) {
    Session* s = find_session(id);
    if (!s) continue;
    s->close_requested = true;
    if (s->proto == Proto::kTcp && (s->state == SessionState::kEstablished ||
                                    s->state == SessionState::kCsmWait)) {
      tcp_begin_close(*s, true, "shutting down", false, now);
    } else if (s->state != SessionState::kClosing) {
      close_session(id, now);
    }
  }
  reap();
}

}  // namespace coap
