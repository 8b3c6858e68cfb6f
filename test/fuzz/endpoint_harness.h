// The stateful harness of the endpoint_udp and endpoint_tcp targets: one
// coap::Endpoint with the builtin resources, a fake clock, and fakes at the
// environment boundary (as test/coap/endpoint_fixture.h, without gtest),
// driven by operations the target decodes from the input.
//
// After every operation it checks, and traps with a message when one breaks:
//  - every datagram sent is non-empty, parses, and goes to a known peer;
//  - a Message ID the endpoint originates (CON, NON) is not used again
//    towards that peer within EXCHANGE_LIFETIME for another message
//    (RFC 7252 4.4); a retransmission is the same bytes. Forgetting a peer
//    on the endpoint's own schedule (a timer) keeps this promise; losing the
//    peer's state otherwise (evicted for the session limit, closed, shut
//    down) is like a restart, which RFC 7252 4.4 covers with a random
//    initial ID, so the history of that peer starts again;
//  - a duplicate CON request (same peer and MID, within EXCHANGE_LIFETIME)
//    whose first response was cached gets exactly those bytes and nothing
//    else happens (RFC 7252 4.5);
//  - every frame queued on a connection decodes, the first is a CSM
//    (RFC 8323 5.3), none is larger than the Max-Message-Size the peer
//    announced (5.3.1); queued bytes are announced with tcp_want_write; an
//    orderly close never cuts a frame;
//  - nothing is done to a connection after the endpoint closed or aborted
//    it, or after on_tcp_error; every received byte is reported consumed;
//  - every client request completes exactly once (also at shutdown);
//  - server_session_new and server_session_del pair up per session;
//  - counters match what the fakes saw;
//  - memory stays bounded: sessions, exchanges, duplicate-cache entries and
//    observations within the configured limits;
//  - after on_timer(now) no timer is due at now any more.
// At the end (destructor) it shuts the endpoint down, lets it flush, and
// checks that no session, exchange or observation is left; LeakSanitizer
// then checks the memory.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "coap/builtin_resources.h"
#include "coap/endpoint.h"
#include "test/fuzz/fuzz_util.h"

namespace coap::fuzz {

inline constexpr int kPeers = 4;
// Peers for UDP, accepted connections and outgoing sessions alike: three
// hosts, one of them IPv6, and one host with two ports.
const Address& peer_address(int i);

struct Conn {
  ConnId id = 0;
  Address peer;
  bool outgoing = false;
  bool connected = false;    // accepted, or on_tcp_connected delivered
  bool peer_closed = false;  // on_tcp_peer_closed delivered: no more data
  bool ended = false;        // closed or aborted by the endpoint, or on_tcp_error
  const char* end_reason = "";
  bool write_requested = false;  // tcp_want_write since the queue was last empty
  std::size_t fed = 0, consumed = 0;
  FrameDecoder written{std::size_t{1} << 30};  // the bytes handed to "TCP"
  std::size_t frames = 0;
  // The queued bytes as last checked, and the decoder after them (that is,
  // after `written` and `checked`).
  std::vector<uint8_t> checked;
  FrameDecoder after_checked{std::size_t{1} << 30};
  std::size_t frames_checked = 0;
  void forget_checked() {
    checked.clear();
    after_checked = written;
    frames_checked = frames;
  }
  std::deque<OwnedMessage> recent;  // last frames written, for answers
  // The peer's side: what it sent, decoded, for the Max-Message-Size it
  // announced. The limit is the largest it announced (1152 before any);
  // none is checked once it announced less than 1152, sent Release or
  // Abort, or sent bytes that do not decode.
  FrameDecoder sent{std::size_t{1} << 30};
  std::size_t peer_mms = 1152;
  bool mms_unknown = false;
};

class FuzzNet final : public NetworkIo {
 public:
  struct Datagram {
    Address to;
    std::vector<uint8_t> bytes;
  };
  void send_datagram(UdpSocket socket, const Address& to, std::span<const uint8_t> bytes) override;
  ConnId tcp_connect(const Address& to) override;
  void tcp_want_write(ConnId conn) override { live(conn, "tcp_want_write").write_requested = true; }
  void tcp_consumed(ConnId conn, std::size_t n) override;
  void tcp_close(ConnId conn) override;
  void tcp_abort(ConnId conn) override { end(live(conn, "tcp_abort"), "aborted by the endpoint"); }

  static void end(Conn& c, const char* why) {
    c.ended = true;
    c.end_reason = why;
  }

  std::vector<Datagram> datagrams;  // sent since the last check
  uint64_t datagrams_total = 0;
  std::map<ConnId, Conn> conns;

 private:
  Conn& live(ConnId conn, const char* op);
  ConnId next_conn_ = 1;
};

class FuzzListener final : public EndpointListener {
 public:
  void on_event(const Event& e) override;
  void on_request_done(RequestId id, ClientResult result) override;

  std::set<RequestId> outstanding;
  std::set<SessionId> server_sessions;  // server_session_new without _del yet
};

class Harness {
 public:
  explicit Harness(Reader& setup);  // random seed and configuration
  ~Harness();
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  const EndpointConfig& config() const { return config_; }

  // UDP: a datagram from peer i; the datagrams the endpoint sent to it
  // lately (for answers); a fresh Message ID of that peer.
  void datagram(int peer, std::span<const uint8_t> bytes);
  const std::deque<std::vector<uint8_t>>& sent_to(int peer) const { return recent_[peer]; }
  uint16_t peer_mid(int peer) { return peer_mids_[peer]++; }

  // TCP. pick() chooses among the connections for which `usable` holds.
  void accept(int peer, ListenerKind kind);
  template <typename F>
  Conn* pick(uint8_t choice, F usable) {
    std::vector<Conn*> ok;
    for (auto& [id, c] : net_.conns)
      if (!c.ended && usable(c)) ok.push_back(&c);
    return ok.empty() ? nullptr : ok[choice % ok.size()];
  }
  void tcp_data(Conn& c, std::span<const uint8_t> bytes);
  void tcp_peer_closed(Conn& c);
  void tcp_error(Conn& c, TcpError e);
  void tcp_writable(Conn& c);
  void tcp_write(Conn& c, std::size_t n);  // n is capped at what is pending
  void tcp_connected(Conn& c);

  // Time: run every timer at its own deadline up to now + d; or, as an
  // engine that was stalled, once at now + d; or the next timer only.
  void advance(Duration d);
  void jump(Duration d);
  void next_timer();

  // Client and sessions.
  void request(ClientRequest r);
  void open_session(const SessionSpec& spec);
  void close_session(uint8_t choice);  // one of the sessions, or an unknown id
  void shutdown();

 private:
  struct DedupRecord {
    TimePoint first;     // the request that made the cache entry
    uint64_t index = 0;  // datagrams received before it
    bool known = false;  // `bytes` is the cached response
    std::vector<uint8_t> bytes;
  };
  struct MidUse {
    TimePoint first;
    uint64_t digest;  // of the message's bytes
  };

  void begin();
  void check();
  void check_datagrams();
  void check_originated(int peer, const Message& m, std::span<const uint8_t> bytes);
  void check_duplicate(int peer, const Message& in, uint64_t duplicates_before);
  void check_conns();
  void check_pending(Conn& c, std::span<const uint8_t> pending);
  void check_bounds();
  void check_counters();
  void track_udp_sessions();
  void on_written_frame(Conn& c, const Message& m);
  void track_peer_mms(Conn& c, std::span<const uint8_t> bytes);
  void finish();

  EndpointConfig config_;
  Duration lifetime_;  // EXCHANGE_LIFETIME
  TimePoint now_;
  ResourceDirectory dir_;
  FuzzNet net_;
  FuzzListener listener_;
  std::unique_ptr<Endpoint> ep_;

  RequestId next_request_ = 1;
  uint64_t datagrams_in_ = 0, accepts_ = 0, requests_ = 0;
  ConnId next_accept_ = 1000000;
  std::size_t pinned_peak_ = 0;
  std::array<uint16_t, kPeers> peer_mids_{};
  std::array<std::deque<std::vector<uint8_t>>, kPeers> recent_;
  std::map<std::pair<int, uint16_t>, DedupRecord> dedup_;
  std::set<std::pair<int, uint16_t>> dedup_tainted_;
  std::unordered_map<uint32_t, MidUse> mids_;  // peer << 16 | MID
  std::size_t mids_prune_at_ = 8192;
  std::array<SessionId, kPeers> udp_session_{};  // as of the last check
  bool in_timer_ = false;                        // an advance, jump or next_timer
};

}  // namespace coap::fuzz
