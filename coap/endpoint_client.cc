// Endpoint: requests coapd sends as a client, over UDP (CON with
// retransmission) or TCP, including Block1 uploads and Block2 downloads.
#include <algorithm>
#include <cstdint>

#include "coap/block.h"
#include "coap/endpoint.h"

namespace coap {

Result<Session*> Endpoint::tcp_session_for_request(const ClientRequest& r) {
  const Address& peer = r.uri.peer;
  Session* found = nullptr;
  Session* called_home = nullptr;
  for (SessionId id : sessions_.ids()) {
    Session* s = sessions_.find(id);
    if (s->proto != Proto::kTcp || (s->role != Role::kClient && !s->outgoing)) continue;
    // A session coapd opened (as the client, or calling home), or one where
    // it is the client, to exactly this peer, secured as the URI says.
    const bool secure = s->outgoing ? s->outgoing->spec.secure : s->is_secure();
    if (s->peer == peer && secure == r.uri.is_secure() && s->state != SessionState::kClosing &&
        !found)
      found = s;
    // A device that called home connects from a port of its choosing: match
    // its address alone.
    if (s->call_home_client && s->peer.same_host(peer) && s->state == SessionState::kEstablished &&
        !called_home)
      called_home = s;
  }
  if (found) return found;
  if (called_home) return called_home;
  SessionSpec spec;
  spec.peer = peer;
  spec.reconnect = false;
  spec.secure = r.uri.is_secure();
  spec.security = r.security;
  if (spec.security.host.empty()) spec.security.host = r.uri.host;
  Result<OpenedSession> opened = open_outgoing(spec);
  if (!opened) return std::move(opened).take_error();
  return sessions_.find(opened->id);
}

Result<Session*> Endpoint::session_for_request(const ClientRequest& r) {
  if (r.session) {
    Session* s = sessions_.find(r.session);
    if (!s) return error("no session ", std::to_string(r.session));
    // RFC 8323 lets either end of a connection send requests; coapd sends
    // its own on the connections it opened (its call-home ones included:
    // a device that coapd called home to can be observed over them), not
    // on those its clients opened to it.
    if (s->proto == Proto::kTcp && s->role != Role::kClient && !s->outgoing)
      return error("session ", std::to_string(s->id),
                   " is a server session a client opened: coapd answers requests on it");
    return s;
  }
  if (r.uri.is_tcp()) return tcp_session_for_request(r);
  if (r.uri.is_secure()) return dtls_session_for_request(r);
  return &udp_session(r.uri.peer, Role::kClient);
}

Result<Session*> Endpoint::dtls_session_for_request(const ClientRequest& r) {
  if (Session* s = sessions_.by_udp_peer(r.uri.peer, UdpSocket::kSecure)) return s;
  if (!security_) return error("coaps:// needs DTLS, which this endpoint has not set up");
  if (handshake_refused(r.uri.peer))
    return error("too many DTLS handshakes under way (max ", std::to_string(config_.max_handshakes),
                 ")");
  Session& s = udp_session(r.uri.peer, Role::kClient, UdpSocket::kSecure);
  ClientSecurity options = r.security;
  if (options.host.empty()) options.host = r.uri.host;
  if (Status st = start_secure_client(s, options); !st) {
    remove_session(s);
    return error("cannot start DTLS with ", r.uri.peer.to_string(), ": ", st.error());
  }
  return &s;
}

void Endpoint::start_request(RequestId id, ClientRequest request, TimePoint now) {
  Entry entry(*this, now);
  begin_exchange(id, std::move(request), /*observe=*/false);
}

void Endpoint::begin_exchange(RequestId id, ClientRequest request, bool observe) {
  ++counters_.client_requests;
  Result<Session*> found = session_for_request(request);
  if (!found) return listener_.on_request_done(id, client_error(0, found.error()));
  Session& s = **found;
  if (request.token && exchanges_.token_in_use(*request.token))
    return listener_.on_request_done(
        id, client_error(0, "token " + request.token->hex() + " is in use by another request"));
  Exchange& x = exchanges_.add(id, std::move(request), s.id, now_);
  if (observe) x.observe.emplace();
  x.block1_szx =
      x.req.block_szx ? std::min<uint8_t>(*x.req.block_szx, 7) : szx_for(config_.udp_block_size);
  x.block2_szx = x.block1_szx;
  arm(x.deadline, kTimerRequest, id, 0);
  const bool ready = s.proto == Proto::kUdp ? !s.secure || s.secure->established
                                            : s.state == SessionState::kEstablished;
  if (ready) {
    s.exchanges.push_back(id);
    send_exchange(x);
  } else {
    s.waiting.push_back(id);
  }
}

static std::size_t block_bytes(uint8_t szx) { return std::size_t{16} << szx; }

// RFC 8323 6: BERT only over TCP, under the rule coapd's server follows too.
static bool bert_allowed(const Session& s) { return s.proto == Proto::kTcp && s.tcp->bert(); }

// BERT: the caller's cap on the bytes of one message (none: SIZE_MAX).
static std::size_t bert_cap(const Exchange& x) {
  return x.req.bert_bytes ? x.req.bert_bytes : SIZE_MAX;
}

// The most a request asks to go in one message before it is sent in blocks.
static std::size_t wanted_block_bytes(const Exchange& x) {
  return x.block1_szx < 7 ? block_bytes(x.block1_szx) : bert_cap(x);
}

// BERT: the largest multiple of 1024 bytes, at most the caller's cap, that
// fits one message with these options; 0 when not even 1024 does.
std::size_t Endpoint::bert_chunk(const Exchange& x, const Session& s,
                                 const OptionList& opts) const {
  const std::size_t body = (x.req.payload.size() + 1023) / 1024 * 1024;
  std::size_t n = std::min({bert_cap(x), body, s.tcp->peer_mms}) / 1024 * 1024;
  while (n >= 1024 && !message_fits(x, s, opts, n)) n -= 1024;  // the options' few bytes
  return n;
}

bool Endpoint::message_fits(const Exchange& x, const Session& s, const OptionList& opts,
                            std::size_t n) const {
  if (s.proto == Proto::kUdp) return n <= config_.udp_block_size;
  return tcp_frame_size(x.token.len, options_and_payload_size(opts, n)) <= s.tcp->peer_mms;
}

void Endpoint::build_block1(Exchange& x, const Session& s, OptionList& opts,
                            std::span<const uint8_t>* payload) {
  const std::vector<uint8_t>& body = x.req.payload;
  auto fits = [&](std::size_t n) { return message_fits(x, s, opts, n); };
  // RFC 9175 3.4: every block of one upload carries the same Request-Tag,
  // and concurrent uploads differ in it (the request's own id; unless the
  // caller set one with -O 292), so that a server keeps them apart.
  if (!opts.find(opt::kRequestTag)) opts.add_uint(opt::kRequestTag, static_cast<uint32_t>(x.id));
  const std::size_t off = x.block1_offset;
  if (off == 0) {
    opts.add_uint(opt::kSize1, static_cast<uint32_t>(body.size()));
    // The block size is chosen on block 0, the largest message of the
    // transfer: it alone carries Size1, which outweighs the bytes NUM
    // grows by later. Block 0's Block1 is one byte whatever the SZX.
    opts.add_uint(opt::kBlock1, BlockOption{0, true, x.block1_szx}.encode());
    if (x.block1_szx == 7) x.block1_bert = bert_chunk(x, s, opts);
    if (x.block1_szx == 7 && x.block1_bert == 0) x.block1_szx = 6;
    while (x.block1_szx > 0 && x.block1_szx < 7 && !fits(block_bytes(x.block1_szx))) --x.block1_szx;
    opts.remove(opt::kBlock1);
  }
  const bool bert = x.block1_szx == 7;
  const std::size_t bs = bert ? x.block1_bert : block_bytes(x.block1_szx);
  const std::size_t len = std::min(bs, body.size() - off);
  BlockOption b1{static_cast<uint32_t>(off / (bert ? 1024 : bs)), off + len < body.size(),
                 x.block1_szx};
  x.block1_sent_end = off + len;
  opts.add_uint(opt::kBlock1, b1.encode());
  *payload = payload->subspan(off, len);
}

void Endpoint::send_exchange(Exchange& x) {
  Session* s = sessions_.find(x.session);
  if (!s) return;
  const ClientRequest& r = x.req;
  OptionList opts;
  for (const auto& seg : r.uri.path) opts.add(opt::kUriPath, seg);
  for (const auto& q : r.uri.query) opts.add(opt::kUriQuery, q);
  if (r.content_format && !r.payload.empty()) opts.add_uint(opt::kContentFormat, *r.content_format);
  if (r.accept) opts.add_uint(opt::kAccept, *r.accept);
  if (!x.echo.empty()) opts.add(opt::kEcho, std::span<const uint8_t>(x.echo));
  // Later Block2 requests of a notification carry no Observe (RFC 7959 2.6).
  if (x.observe && !x.observe->plain && x.next_block2 == 0)
    opts.add_uint(opt::kObserve, x.observe->deregistering ? 1 : 0);
  for (const auto& [number, value] : r.options) opts.add(number, std::span<const uint8_t>(value));

  std::span<const uint8_t> payload = r.payload;
  auto fits = [&](std::size_t n) { return message_fits(x, *s, opts, n); };
  if (!bert_allowed(*s)) {
    x.block1_szx = std::min<uint8_t>(x.block1_szx, 6);
    x.block2_szx = std::min<uint8_t>(x.block2_szx, 6);
  }
  if (x.next_block2 > 0) {
    payload = {};  // later Block2 requests carry no body
    opts.add_uint(opt::kBlock2, BlockOption{x.next_block2, false, x.block2_szx}.encode());
  } else if (!payload.empty() && (!fits(payload.size()) || x.block1_offset > 0 ||
                                  (r.block_szx && payload.size() > wanted_block_bytes(x)))) {
    build_block1(x, *s, opts, &payload);
  } else if (r.block_szx && !opts.find(opt::kBlock2)) {
    // Early negotiation: the block size we want the response in.
    opts.add_uint(opt::kBlock2, BlockOption{0, false, x.block2_szx}.encode());
  }
  if (s->proto == Proto::kTcp && !fits(payload.size())) {
    // The options alone (a long Uri-Query, say) leave no room.
    return complete_exchange(
        x.id, client_error(s->id, "request does not fit the peer's Max-Message-Size of " +
                                      std::to_string(s->tcp->peer_mms) + " bytes"));
  }
  if (s->proto == Proto::kTcp) return tcp_send(*s, r.method, x.token, opts, payload);
  const std::optional<uint16_t> mid = next_mid(*s);
  if (!mid) {
    // RFC 7252 4.4: IDs are not reused towards a peer within EXCHANGE_LIFETIME.
    return complete_exchange(
        x.id, client_error(s->id,
                           "no Message ID towards the peer is free: all were used within "
                           "EXCHANGE_LIFETIME"));
  }
  wire_.clear();
  write_udp(wire_, r.confirmable ? Type::kCon : Type::kNon, r.method, *mid, x.token, opts, payload);
  if (x.con_id) cons_.remove(x.con_id);
  x.con_id = 0;
  if (!r.confirmable) return send_udp(*s, wire_);  // the request's own timeout still applies
  x.con_id = send_udp_con(*s, wire_, *mid, ConTracker::Kind::kRequest, x.id);
}

bool Endpoint::handle_client_response(Session& s, const Message& m) {
  Exchange* found = exchanges_.by_token(m.token);
  if (!found || found->session != s.id) return false;
  Exchange& x = *found;
  ++counters_.client_responses;
  // A notification answers our registration, not the deregistration or
  // block request that may be in flight: that one is still retransmitted.
  const bool answers_ours =
      !x.observe || !m.find(opt::kObserve) || (x.observe->registering && !x.observe->deregistering);
  if (x.con_id && answers_ours) {
    cons_.remove(x.con_id);
    x.con_id = 0;
  }
  // RFC 9175 2.4: the server wants our address proven first; once.
  if (const OptionView* echo = m.find(opt::kEcho);
      echo && m.code == codes::kUnauthorized && x.echo.empty() && echo->length > 0) {
    x.echo.assign(echo->data, echo->data + echo->length);
    send_exchange(x);
    return true;
  }
  // Block1: the peer wants the next block.
  if (m.code == codes::kContinue) {
    if (auto b1 = BlockOption::decode(m.uint_option(opt::kBlock1).value_or(0xffffffff))) {
      if (b1->bert() && x.block1_szx == 7) {
        // RFC 8323 6: the server took the whole BERT message it confirms.
        x.block1_offset = x.block1_sent_end;
      } else {
        const std::size_t bs = block_bytes(std::min<uint8_t>(b1->szx, 6));
        // Smaller when the peer asks for it, never larger than what fits.
        x.block1_szx = std::min<uint8_t>(x.block1_szx, std::min<uint8_t>(b1->szx, 6));
        x.block1_offset = (std::size_t{b1->num} + 1) * bs;
      }
      if (x.block1_offset < x.req.payload.size()) {
        send_exchange(x);
        return true;
      }
    }
  }
  if (x.observe && !x.observe->plain && handle_observe_response(x, s, m)) return true;
  if (m.uint_option(opt::kBlock2) && m.code.is_success()) return handle_block2(x, s, m);
  complete_exchange(x.id, response_result(s.id, m, {m.payload.begin(), m.payload.end()},
                                          /*assembled=*/false));
  return true;
}

bool Endpoint::collect_block2(Exchange& x, const Message& m, std::string* error) {
  const auto b2 = BlockOption::decode(m.uint_option(opt::kBlock2).value_or(0xffffffff));
  if (!b2 || b2->offset() != x.body.size()) {
    // Not the block asked for: appending it would corrupt the body.
    *error = "Block2 response is not the block at offset " + std::to_string(x.body.size()) +
             " that was asked for";
    return true;
  }
  if (x.body.size() + m.payload.size() > config_.max_body_size) {
    *error = "response body exceeds " + std::to_string(config_.max_body_size) + " bytes";
    return true;
  }
  x.body.insert(x.body.end(), m.payload.begin(), m.payload.end());
  if (!b2->more) return true;
  x.block2_szx = b2->szx;
  x.next_block2 = static_cast<uint32_t>(x.body.size() / b2->unit());
  send_exchange(x);
  return false;
}

bool Endpoint::handle_block2(Exchange& x, Session& s, const Message& m) {
  // Block2: collect the body block by block.
  std::string error;
  if (!collect_block2(x, m, &error)) return true;
  if (!error.empty()) {
    complete_exchange(x.id, client_error(s.id, error));
    return true;
  }
  complete_exchange(x.id, response_result(s.id, m, std::move(x.body), /*assembled=*/true));
  return true;
}

void Endpoint::complete_exchange(RequestId id, ClientResult result) {
  std::unique_ptr<Exchange> x = exchanges_.take(id);
  if (!x) return;
  if (x->con_id) cons_.remove(x->con_id);
  if (Session* s = sessions_.find(x->session)) {
    std::erase(s->exchanges, id);
    std::erase(s->waiting, id);
  }
  if (result.session == 0) result.session = x->session;
  if (x->observe && x->observe->deregistering &&
      result.status != ClientResult::Status::kDeregistered) {
    // Unanswered, or the session ended first: the observation is over all
    // the same.
    const std::string why = result.status == ClientResult::Status::kResponse
                                ? std::string()
                                : "deregistration unanswered: " + result.error;
    result = ClientResult::failed(ClientResult::Status::kDeregistered, x->session, why);
  }
  listener_.on_request_done(id, std::move(result));
}

void Endpoint::fail_session_exchanges(Session& s, const std::string& why, bool include_waiting) {
  std::vector<RequestId> ids = s.exchanges;
  if (include_waiting) ids.insert(ids.end(), s.waiting.begin(), s.waiting.end());
  for (RequestId id : ids) {
    Exchange* x = exchanges_.find(id);
    // Not include_waiting: the session lives on (it reconnects), and so do
    // its observations.
    if (x && !include_waiting && x->observe && !x->observe->plain && !x->observe->deregistering) {
      park_observation(s, *x);
      continue;
    }
    complete_exchange(id, client_error(s.id, why));
  }
}

void Endpoint::send_waiting_exchanges(Session& s) {
  std::vector<RequestId> waiting;
  waiting.swap(s.waiting);
  for (std::size_t i = 0; i < waiting.size(); ++i) {
    Exchange* x = exchanges_.find(waiting[i]);
    if (!x) continue;
    s.exchanges.push_back(waiting[i]);
    if (x->observe && !x->observe->plain) {
      reregister(*x);  // the first registration, or one after a reconnect
    } else {
      send_exchange(*x);
    }
    if (s.dead || !s.connected()) {
      // Sending ended the session (queue overflow): the rest never went out.
      for (std::size_t j = i + 1; j < waiting.size(); ++j)
        complete_exchange(waiting[j], client_error(s.id, "session " + std::to_string(s.id) +
                                                             " ended before the request was sent"));
      return;
    }
  }
}

}  // namespace coap
