// Keepalive: a CoAP ping on a session the peer has been quiet on, and a dead
// peer declared after EndpointConfig::keepalive_misses pings in a row went
// unanswered (TCP: the Ping signal, RFC 8323 5.4, answered by Pong; DTLS: an
// empty CON, RFC 7252 4.3, answered by RST). Anything the peer sends counts
// as an answer. A ping never goes out before the session was quiet for a
// whole interval.
#include "coap/endpoint.h"

namespace coap {

Duration Endpoint::keepalive_interval(const Session& s) const {
  // TCP and TLS sessions, and the DTLS sessions coapd keeps up; a plain UDP
  // peer has no session to keep.
  if (s.proto == Proto::kUdp && !(s.outgoing && s.outgoing->spec.secure)) return Duration::zero();
  if (s.outgoing && s.outgoing->spec.keepalive) return *s.outgoing->spec.keepalive;
  return config_.keepalive;
}

void Endpoint::start_keepalive(Session& s) {
  const Duration interval = keepalive_interval(s);
  s.last_rx = now_;
  s.pings_unanswered = 0;
  ++s.keepalive_epoch;  // a timer of an earlier connection is stale
  if (interval > Duration::zero()) arm(now_ + interval, kTimerKeepalive, s.id, s.keepalive_epoch);
}

void Endpoint::on_keepalive_timer(const Timer& t) {
  Session* s = sessions_.find(t.key);
  if (!s || s->dead || s->keepalive_epoch != t.generation) return;
  if (s->state != SessionState::kEstablished) return;  // it starts again once up
  const Duration interval = keepalive_interval(*s);
  if (interval <= Duration::zero()) return;
  if (s->pings_unanswered == 0 && s->last_rx + interval > now_)
    return arm(s->last_rx + interval, kTimerKeepalive, s->id, s->keepalive_epoch);
  if (s->pings_unanswered > 0) {
    ++counters_.keepalive_misses;
    if (s->pings_unanswered >= config_.keepalive_misses) return keepalive_dead(*s);
  }
  send_keepalive_ping(*s);
  if (s->dead) return;
  ++s->pings_unanswered;
  arm(now_ + interval, kTimerKeepalive, s->id, s->keepalive_epoch);
}

void Endpoint::send_keepalive_ping(Session& s) {
  ++counters_.keepalive_pings;
  if (s.proto == Proto::kTcp) {
    OptionList none;
    return tcp_send(s, codes::kPing, Token{}, none, {}, /*priority=*/true);
  }
  const std::optional<uint16_t> mid = next_mid(s);
  if (!mid) return;  // every ID is in use (RFC 7252 4.4): this ping is skipped
  wire_.clear();
  write_udp_empty(wire_, Type::kCon, *mid);
  send_udp(s, wire_);
}

void Endpoint::keepalive_dead(Session& s) {
  const std::string why = "keepalive";  // the event's reason, as documented
  if (s.proto == Proto::kUdp) return dtls_session_ended(s, true, why);
  // The peer is gone: nothing to flush, no close to wait for.
  detach(s, Detach::kAbort);
  tcp_connection_ended(s, /*tcp_failed=*/true, /*session_failed=*/true, why);
}

}  // namespace coap
