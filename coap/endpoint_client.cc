// Endpoint: requests coapd sends as a client, over UDP (CON with
// retransmission) or TCP, including Block1 uploads and Block2 downloads.
#include <algorithm>
#include <cassert>

#include "coap/block.h"
#include "coap/endpoint_internal.h"

namespace coap {
namespace {

uint64_t token_key(const Token& t) {
  uint64_t v = 0;
  for (int i = 0; i < t.len; ++i) v = (v << 8) | t.bytes[i];
  return v;
}

// splitmix64: a bijection, so distinct counters give distinct tokens.
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A response as the caller sees it: its options (less Block2 when the body
// was put together from blocks) and the whole body.
ClientResult response_result(SessionId session, const Message& m, std::vector<uint8_t> body,
                             bool assembled) {
  ClientResult r;
  r.status = ClientResult::Status::kResponse;
  r.code = m.code;
  r.session = session;
  for (const OptionView& o : m.options)
    if (!assembled || o.number != opt::kBlock2)
      r.options.emplace_back(o.number, std::vector<uint8_t>(o.data, o.data + o.length));
  r.payload = std::move(body);
  return r;
}

}  // namespace

Token Endpoint::new_token() { return Token::from_u64(mix(token_counter_++), 8); }

Endpoint::Session* Endpoint::tcp_session_for_request(const ClientRequest& r, TimePoint now,
                                                     std::string* error) {
  const Address& peer = r.uri.peer;
  // A session where coapd is the client, to exactly this peer.
  for (const auto& [id, s] : sessions_)
    if (s->proto == Proto::kTcp && s->role == Role::kClient && s->peer == peer &&
        s->state != SessionState::kClosing)
      return s.get();
  // A device that called home connects from a port of its choosing: match
  // its address alone.
  for (const auto& [id, s] : sessions_)
    if (s->proto == Proto::kTcp && s->call_home_client && s->role == Role::kClient &&
        s->peer.same_host(peer) && s->state == SessionState::kEstablished)
      return s.get();
  SessionSpec spec;
  spec.peer = peer;
  spec.reconnect = false;
  const SessionId id = open_session(spec, now, error);
  return id ? find_session(id) : nullptr;
}

void Endpoint::start_request(RequestId id, ClientRequest request, TimePoint now) {
  now_ = now;
  ++counters_.client_requests;
  auto fail = [&](std::string why) {
    ClientResult r;
    r.status = ClientResult::Status::kError;
    r.error = std::move(why);
    listener_.on_request_done(id, std::move(r));
    reap();
  };
  assert(!exchanges_.count(id) && "request ids must be unique among outstanding requests");
  Session* s = nullptr;
  if (request.session) {
    s = find_session(request.session);
    if (!s) return fail("no session " + std::to_string(request.session));
    if (s->proto == Proto::kTcp && s->role != Role::kClient)
      return fail("session " + std::to_string(s->id) + " is a server session: coapd answers requests on it");
  } else if (request.uri.is_tcp()) {
    std::string err;
    s = tcp_session_for_request(request, now, &err);
    if (!s) return fail(err);
  } else {
    s = &udp_session(request.uri.peer, Role::kClient, now);
  }
  auto x = std::make_unique<Exchange>();
  x->id = id;
  x->req = std::move(request);
  x->session = s->id;
  x->token = new_token();
  x->deadline = now + x->req.timeout;
  x->block1_szx = szx_for(config_.udp_block_size);
  exchange_by_token_[token_key(x->token)] = id;
  arm(x->deadline, kTimerRequest, id, 0);
  Exchange& ref = *x;
  exchanges_.emplace(id, std::move(x));
  if (s->proto == Proto::kUdp || s->state == SessionState::kEstablished) {
    s->exchanges.push_back(id);
    send_exchange(ref, now);
  } else {
    s->waiting.push_back(id);
  }
  reap();
}

void Endpoint::send_exchange(Exchange& x, TimePoint now) {
  Session* s = find_session(x.session);
  if (!s) return;
  const ClientRequest& r = x.req;
  OptionList opts;
  for (const auto& seg : r.uri.path) opts.add(opt::kUriPath, seg);
  for (const auto& q : r.uri.query) opts.add(opt::kUriQuery, q);
  if (r.content_format && !r.payload.empty()) opts.add_uint(opt::kContentFormat, *r.content_format);
  if (r.accept) opts.add_uint(opt::kAccept, *r.accept);

  std::span<const uint8_t> payload = r.payload;
  // Whether the message as built so far, with a payload of n bytes, may go
  // as one: over TCP the whole frame counts against the peer's
  // Max-Message-Size (RFC 8323 5.3.1), over UDP the payload against our
  // block size.
  auto fits = [&](std::size_t n) {
    if (s->proto == Proto::kUdp) return n <= config_.udp_block_size;
    return tcp_frame_size(x.token.len, options_and_payload_size(opts, n)) <= s->peer_mms;
  };
  if (x.next_block2 > 0) {
    payload = {};  // later Block2 requests carry no body
    opts.add_uint(opt::kBlock2, BlockOption{x.next_block2, false, x.block2_szx}.encode());
  } else if (!payload.empty() && !fits(payload.size())) {
    // Block1: split the body.
    const std::size_t off = x.block1_offset;
    if (off == 0) {
      opts.add_uint(opt::kSize1, static_cast<uint32_t>(r.payload.size()));
      // The block size is chosen on block 0, the largest message of the
      // transfer: it alone carries Size1, which outweighs the bytes NUM
      // grows by later. Block 0's Block1 is one byte whatever the SZX.
      opts.add_uint(opt::kBlock1, BlockOption{0, true, x.block1_szx}.encode());
      while (x.block1_szx > 0 && !fits(std::size_t{1} << (x.block1_szx + 4))) --x.block1_szx;
      opts.remove(opt::kBlock1);
    }
    const std::size_t bs = std::size_t{1} << (x.block1_szx + 4);
    const std::size_t len = std::min(bs, r.payload.size() - off);
    BlockOption b1{static_cast<uint32_t>(off / bs), off + len < r.payload.size(), x.block1_szx};
    opts.add_uint(opt::kBlock1, b1.encode());
    payload = payload.subspan(off, len);
  }
  if (s->proto == Proto::kTcp && !fits(payload.size())) {
    // The options alone (a long Uri-Query, say) leave no room.
    return complete_exchange(
        x.id, client_error(s->id, "request does not fit the peer's Max-Message-Size of " +
                                      std::to_string(s->peer_mms) + " bytes"));
  }
  x.sent = true;
  if (s->proto == Proto::kUdp) {
    const uint16_t mid = next_mid(*s);
    wire_.clear();
    write_udp(wire_, Type::kCon, r.method, mid, x.token, opts, payload);
    if (x.con_id) remove_con(x.con_id);
    x.con_id = send_udp_con(*s, wire_, mid, ConTransmission::kRequest, x.id, now);
  } else {
    tcp_send(*s, r.method, x.token, opts, payload);
  }
}

bool Endpoint::handle_client_response(Session& s, const Message& m, TimePoint now) {
  if (m.token.len != 8) return false;
  auto t = exchange_by_token_.find(token_key(m.token));
  if (t == exchange_by_token_.end()) return false;
  auto it = exchanges_.find(t->second);
  if (it == exchanges_.end() || it->second->session != s.id) return false;
  Exchange& x = *it->second;
  ++counters_.client_responses;
  if (x.con_id) {
    remove_con(x.con_id);
    x.con_id = 0;
  }
  // Block1: the peer wants the next block.
  if (m.code == codes::kContinue) {
    auto b1 = BlockOption::decode(m.uint_option(opt::kBlock1).value_or(0xffffffff));
    if (b1) {
      const std::size_t bs = std::size_t{1} << (std::min<uint8_t>(b1->szx, 6) + 4);
      // Smaller when the peer asks for it, never larger than what fits.
      x.block1_szx = std::min(x.block1_szx, b1->szx);
      x.block1_offset = (std::size_t{b1->num} + 1) * bs;
      if (x.block1_offset < x.req.payload.size()) {
        send_exchange(x, now);
        return true;
      }
    }
  }
  // Block2: collect the body block by block.
  if (auto v = m.uint_option(opt::kBlock2); v && m.code.is_success()) {
    const auto b2 = BlockOption::decode(*v);
    if (!b2 || b2->offset() != x.body.size()) {
      // Not the block asked for: appending it would corrupt the body.
      complete_exchange(
          x.id, client_error(s.id, "Block2 response is not the block at offset " +
                                       std::to_string(x.body.size()) + " that was asked for"));
      return true;
    }
    if (x.body.size() + m.payload.size() > config_.max_body_size) {
      complete_exchange(x.id,
                        client_error(s.id, "response body exceeds " +
                                               std::to_string(config_.max_body_size) + " bytes"));
      return true;
    }
    x.body.insert(x.body.end(), m.payload.begin(), m.payload.end());
    if (b2->more) {
      x.block2_szx = b2->szx;
      x.next_block2 = static_cast<uint32_t>(x.body.size() / b2->unit());
      send_exchange(x, now);
      return true;
    }
    complete_exchange(x.id, response_result(s.id, m, std::move(x.body), /*assembled=*/true));
    return true;
  }
  complete_exchange(x.id, response_result(s.id, m, {m.payload.begin(), m.payload.end()},
                                          /*assembled=*/false));
  return true;
}

void Endpoint::complete_exchange(RequestId id, ClientResult result) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return;
  std::unique_ptr<Exchange> x = std::move(it->second);
  exchanges_.erase(it);
  exchange_by_token_.erase(token_key(x->token));
  if (x->con_id) remove_con(x->con_id);
  if (Session* s = find_session(x->session)) {
    std::erase(s->exchanges, id);
    std::erase(s->waiting, id);
  }
  if (result.session == 0) result.session = x->session;
  listener_.on_request_done(id, std::move(result));
}

void Endpoint::fail_session_exchanges(Session& s, const std::string& why, bool include_waiting) {
  std::vector<RequestId> ids = s.exchanges;
  if (include_waiting) ids.insert(ids.end(), s.waiting.begin(), s.waiting.end());
  for (RequestId id : ids) complete_exchange(id, client_error(s.id, why));
}

}  // namespace coap
