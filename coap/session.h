// The state the endpoint keeps per peer, and the table that finds it.
//
// A Session is a common part (identity, state, traffic, the client exchanges
// and observations that belong to it) plus the parts of its kind: a UDP peer
// (one per peer address), a TCP connection (accepted or outgoing), and for
// sessions coapd opened itself the outgoing part (what to connect to, and the
// reconnect state). An outgoing session keeps its id across reconnects; each
// connection gets a fresh TCP part.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "coap/address.h"
#include "coap/endpoint_types.h"
#include "coap/security.h"
#include "coap/tcp_framing.h"
#include "coap/tx_queue.h"

namespace coap {

// Bytes and messages a session has carried.
struct Traffic {
  uint64_t bytes_in = 0, bytes_out = 0, msgs_in = 0, msgs_out = 0;
  void received(std::size_t bytes) {
    ++msgs_in;
    bytes_in += bytes;
  }
  void sent(std::size_t bytes) {
    ++msgs_out;
    bytes_out += bytes;
  }
};

struct UdpPeerPart {
  uint16_t next_mid = 0;  // next Message ID for messages coapd originates
  // When each block of 4096 Message IDs was last used: a block is entered
  // again only EXCHANGE_LIFETIME after its last use (RFC 7252 4.4), however
  // fast messages are produced. TimePoint::min(): never.
  std::array<TimePoint, 16> mid_block_used;
  UdpPeerPart() { mid_block_used.fill(TimePoint::min()); }
  // Until when a Message ID coapd sent the peer may not be reused: the
  // session is kept that long (a new one would start at a random ID).
  TimePoint mids_live_until(Duration exchange_lifetime) const {
    const TimePoint last = mid_block_used[static_cast<uint16_t>(next_mid - 1) >> 12];
    return last == TimePoint::min() ? last : last + exchange_lifetime;
  }
  // Place in SessionTable's order of plain UDP sessions, quietest first.
  std::list<SessionId>::iterator quiet_order;
  UdpSocket socket = UdpSocket::kPlain;
  // The peer's address is proven (RFC 9175 2.4): it echoed our Echo value,
  // or answered a message of ours. Until then responses are at most
  // EndpointConfig::amplification_factor times the size of the request.
  bool verified = false;
  std::array<uint8_t, 8> echo{};  // the Echo value issued to it
  bool echo_issued = false;
};

// The DTLS or TLS layer of a session (of its current connection, for TCP).
struct SecurePart {
  std::unique_ptr<SecureChannel> channel;
  std::unique_ptr<SecureChannel::Sink> sink;  // the channel's way back into the endpoint
  TimePoint timer_at = kNever;                // the channel's timer, as armed last
  uint64_t timer_generation = 0;
  uint64_t epoch = 0;         // names this channel in its handshake timer
  TimePoint last_received{};  // ciphertext last came from the peer
  bool handshaking = false;   // counted in Endpoint::handshaking_
  bool established = false;
  bool failed = false;
};

// One TCP connection of a session (RFC 8323).
struct TcpConnectionPart {
  explicit TcpConnectionPart(std::size_t max_message_size) : decoder(max_message_size) {}

  ConnId conn = 0;  // 0 once the connection is detached
  FrameDecoder decoder;
  TxQueue tx;
  bool csm_received = false;
  std::size_t peer_mms = 1152;  // RFC 8323 5.3.1: the default until the peer's CSM says more
  bool peer_bwt = false;
  // BERT (RFC 8323 6) both ways: the peer's CSM offered block-wise
  // transfers, and a message can hold more than one 1024-byte block.
  bool bert() const { return peer_bwt && peer_mms > 1152; }
  bool established = false;  // the peer's CSM arrived on this connection
  std::string close_reason;
  bool close_failed = false;
};

// A session coapd opened itself (coapctl connect, the config file, or a
// request to a TCP peer with no session yet).
struct OutgoingPart {
  SessionSpec spec;
  bool close_requested = false;  // coapctl close / shutdown: no reconnect
  uint32_t attempt = 0;          // reconnect attempt under way or last failed; 0: none
  uint64_t reconnect_epoch = 0;  // names the reconnect timer armed last
  // The peer's last Release (RFC 8323 5.5): wait at least this long before
  // the next attempt, and make it to this address.
  Duration hold_off = Duration::zero();
  std::optional<Address> alternative;
};

struct Session {
  SessionId id = 0;
  Proto proto = Proto::kUdp;
  Role role = Role::kServer;
  SessionState state = SessionState::kEstablished;
  Address peer;
  Address local;
  TimePoint created;
  TimePoint last_activity;
  Traffic traffic;
  // Keepalive: when the peer last sent a whole message (or, for DTLS, any
  // record), pings sent since without an answer, and which keepalive timer
  // is the live one.
  TimePoint last_rx;
  uint32_t pings_unanswered = 0;
  uint64_t keepalive_epoch = 0;
  // Came in from a peer (a UDP request, a TCP listener), as opposed to coapd
  // talking to the peer first.
  bool accepted = false;
  bool rejected = false;          // TCP, over the session limit: Abort, then gone
  bool call_home_client = false;  // accepted on the call-home listener: becomes a client
  // Retired from the table; destroyed once the current entry point returns,
  // so that code further up the stack may still look at it.
  bool dead = false;

  // Client exchanges using this session: sent, and waiting for it to come up.
  std::vector<RequestId> exchanges;
  std::vector<RequestId> waiting;
  std::vector<uint64_t> observations;  // ids in the ObserveRegistry

  std::optional<UdpPeerPart> udp;
  std::unique_ptr<TcpConnectionPart> tcp;  // TCP sessions; replaced per connection
  std::optional<OutgoingPart> outgoing;
  std::unique_ptr<SecurePart> secure;  // DTLS/TLS sessions; replaced per connection
  PeerSecurity security;               // what the last handshake established

  ConnId conn() const { return tcp ? tcp->conn : 0; }
  bool connected() const { return conn() != 0; }
  // Requests and observations keep a UDP session alive however quiet it is.
  bool busy() const { return !observations.empty() || !exchanges.empty(); }
  bool close_requested() const { return outgoing && outgoing->close_requested; }
  bool is_secure() const { return secure != nullptr; }
  // The UDP socket this session's datagrams use.
  UdpSocket socket() const { return udp ? udp->socket : UdpSocket::kPlain; }
};

// Every session, by id, by TCP connection and by UDP peer address.
class SessionTable {
 public:
  explicit SessionTable(uint64_t hash_secret)
      : udp_(0, AddressHash(hash_secret)), dtls_(0, AddressHash(hash_secret)) {}

  Session& create(Proto proto, Role role, const Address& peer, TimePoint now);
  Session* find(SessionId id) const;
  Session* by_conn(ConnId conn) const;
  Session* by_udp_peer(const Address& peer, UdpSocket socket = UdpSocket::kPlain) const;

  // A TCP session's connection, for by_conn().
  void bind_conn(Session& s, ConnId conn);
  // Forgets the session's connection (s.tcp->conn becomes 0).
  void unbind_conn(Session& s);
  // A UDP session (of its udp->socket), for by_udp_peer().
  void bind_udp(Session& s);
  // The session has just heard from its peer (or sent to it).
  void touch(Session& s, TimePoint now);

  // Takes s out of every index. It stays valid until reap().
  void retire(Session& s);
  // Frees retired sessions.
  void reap() { graveyard_.clear(); }

  std::size_t size() const { return sessions_.size(); }
  std::size_t udp_count() const { return udp_.size() + dtls_.size(); }
  std::size_t tcp_count() const;  // TCP sessions, not counting rejected ones
  // Ids in ascending order (the order sessions were created in).
  std::vector<SessionId> ids() const;
  // The plain UDP session silent longest that nothing keeps alive, or
  // nullptr. Costs one step per busy session quieter than it, not one per
  // session: plain UDP sessions are kept in the order they were last
  // touched.
  Session* quietest_udp() const;
  // UDP and DTLS sessions silent for `timeout` at `now`, not busy, and
  // with no Message ID of coapd's still live (UdpPeerPart::mids_live_until
  // for `lifetime`); *next is lowered to the earliest time another one
  // expires.
  std::vector<Session*> expired_udp(TimePoint now, Duration timeout, Duration lifetime,
                                    TimePoint* next) const;

  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [id, s] : sessions_) f(*s);
  }

 private:
  SessionId next_id_ = 1;
  std::unordered_map<SessionId, std::unique_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<Session>> graveyard_;
  std::unordered_map<ConnId, SessionId> conns_;
  std::unordered_map<Address, SessionId, AddressHash> udp_;
  std::unordered_map<Address, SessionId, AddressHash> dtls_;
  std::list<SessionId> quiet_order_;  // plain UDP sessions, least recently touched first
};

}  // namespace coap
