// Fakes at the Endpoint's environment boundary, and a fixture driving it:
//   FakeNetworkIo      records datagrams and TCP commands, hands out ConnIds,
//                      and fails the test when a connection is used after it
//                      ended or a second connect to one peer is started while
//                      one is in flight;
//   RecordingListener  records events in order and request results;
//   EndpointTest       owns a fake clock (`now`), the built-in resources and
//                      the Endpoint, and checks at the end of every test that
//                      shutdown leaves no session, exchange or observation
//                      behind and that every request completed exactly once.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "coap/block.h"
#include "coap/builtin_resources.h"
#include "coap/endpoint.h"
#include "test/coap/test_util.h"

namespace coap::test {

inline const TimePoint kStart = TimePoint{} + seconds(10000);
// 2026-11-29T01:31:18Z at kStart; the wall clock moves with the fake clock.
inline const std::chrono::system_clock::time_point kWallStart{seconds(1795915878)};

inline const Address kLocal = Address::v4(192, 0, 2, 1, 5683);
inline const Address kUdpPeer = Address::v4(192, 0, 2, 10, 40000);
inline const Address kUdpPeer2 = Address::v4(192, 0, 2, 11, 40001);
inline const Address kTcpPeer = Address::v4(192, 0, 2, 20, 50000);
inline const Address kServerPeer = Address::v4(198, 51, 100, 5, 5683);

class FakeNetworkIo final : public NetworkIo {
 public:
  struct Datagram {
    Address to;
    std::vector<uint8_t> bytes;
    TimePoint at;
    UdpSocket socket = UdpSocket::kPlain;
  };
  struct Call {
    std::string op;  // connect, want_write, consumed, close, abort
    ConnId conn;
    std::size_t n;
    TimePoint at;
  };

  explicit FakeNetworkIo(const TimePoint* clock) : clock_(clock) {}

  void send_datagram(UdpSocket socket, const Address& to, std::span<const uint8_t> bytes) override {
    datagrams.push_back({to, {bytes.begin(), bytes.end()}, *clock_, socket});
  }
  ConnId tcp_connect(const Address& to) override {
    for (const auto& [conn, peer] : in_flight)
      if (one_conn_per_peer && peer == to)
        ADD_FAILURE() << "tcp_connect to " << to.to_string() << " while conn " << conn
                      << " to it is still open";
    const ConnId c = next_conn++;
    in_flight[c] = to;
    connect_peer[c] = to;
    calls.push_back({"connect", c, 0, *clock_});
    return c;
  }
  void tcp_want_write(ConnId c) override { record("want_write", c, 0); }
  void tcp_consumed(ConnId c, std::size_t n) override {
    record("consumed", c, n);
    consumed[c] += n;
  }
  void tcp_close(ConnId c) override {
    record("close", c, 0);
    end(c);
  }
  void tcp_abort(ConnId c) override {
    record("abort", c, 0);
    end(c);
  }

  // The environment reports that a connection is gone (on_tcp_error).
  void gone(ConnId c) { end(c); }
  bool ended(ConnId c) const { return ended_.count(c) > 0; }

  // Commands for c, without want_write/consumed unless `all`.
  std::vector<std::string> ops(ConnId c, bool all = false) const {
    std::vector<std::string> out;
    for (const Call& k : calls)
      if (k.conn == c && (all || (k.op != "want_write" && k.op != "consumed"))) out.push_back(k.op);
    return out;
  }
  std::size_t count(const std::string& op) const {
    std::size_t n = 0;
    for (const Call& k : calls) n += k.op == op;
    return n;
  }
  std::size_t count(const std::string& op, ConnId c) const {
    std::size_t n = 0;
    for (const Call& k : calls) n += k.op == op && k.conn == c;
    return n;
  }
  // The connection ids handed out by tcp_connect, in order.
  std::vector<ConnId> connects() const {
    std::vector<ConnId> out;
    for (const Call& k : calls)
      if (k.op == "connect") out.push_back(k.conn);
    return out;
  }
  ConnId last_connect() const {
    const auto c = connects();
    return c.empty() ? 0 : c.back();
  }

  std::vector<Datagram> datagrams;
  std::vector<Call> calls;
  std::map<ConnId, std::size_t> consumed;
  std::map<ConnId, Address> connect_peer;
  ConnId next_conn = 1;
  // Fail a tcp_connect to a peer that another outgoing connection still uses
  // (one session never has two connections).
  bool one_conn_per_peer = true;

 private:
  void record(const char* op, ConnId c, std::size_t n) {
    EXPECT_FALSE(ended(c)) << op << " on conn " << c << " after it ended";
    calls.push_back({op, c, n, *clock_});
  }
  void end(ConnId c) {
    ended_.insert(c);
    in_flight.erase(c);
  }

  const TimePoint* clock_;
  std::set<ConnId> ended_;
  std::map<ConnId, Address> in_flight;  // outgoing connections not yet ended
};

class RecordingListener final : public EndpointListener {
 public:
  void on_event(const Event& e) override { events.push_back(e); }
  void on_request_done(RequestId id, ClientResult r) override {
    results.emplace_back(id, std::move(r));
  }
  void on_notification(RequestId id, uint32_t seq, const ClientResult& n) override {
    notifications.push_back({id, seq, n});
  }
  struct Notification {
    RequestId id;
    uint32_t seq;
    ClientResult result;
  };

  static std::string label(const Event& e) {
    std::string s = e.name();
    if (e.attempt) s += "(" + std::to_string(e.attempt) + ")";
    return s;
  }
  // Labels of the events since the last take(): "name", or "name(k)" for an
  // event with attempt number k.
  std::vector<std::string> take() {
    std::vector<std::string> out;
    for (; taken_ < events.size(); ++taken_) out.push_back(label(events[taken_]));
    return out;
  }
  // Events since the last take(), without consuming them.
  std::vector<Event> peek() const { return {events.begin() + taken_, events.end()}; }
  const Event& last() const { return events.back(); }

  std::size_t count(RequestId id) const {
    std::size_t n = 0;
    for (const auto& [rid, r] : results) n += rid == id;
    return n;
  }
  // The result of request id; fails the test unless there is exactly one.
  const ClientResult& result(RequestId id) const {
    static const ClientResult kNone;
    EXPECT_EQ(count(id), 1u) << "request " << id;
    for (const auto& [rid, r] : results)
      if (rid == id) return r;
    return kNone;
  }

  std::vector<Event> events;
  std::vector<std::pair<RequestId, ClientResult>> results;
  std::vector<Notification> notifications;

 private:
  std::size_t taken_ = 0;
};

// POST increments, GET reads: lets a test count how often a handler ran.
class CounterResource final : public Resource {
 public:
  CounterResource() : Resource("/counter", {}) {}
  bool allows(Code m) const override { return m == codes::kGet || m == codes::kPost; }
  void handle(const Request& req, Response& resp) override {
    if (req.method == codes::kPost) {
      ++hits;
      resp.code = codes::kChanged;
    }
    resp.set_payload(std::to_string(hits));
  }
  int hits = 0;
};

class EndpointTest : public ::testing::Test {
 protected:
  EndpointTest() : net(&now) {}

  void SetUp() override {
    BuiltinResourceOptions o;
    o.wall_clock = [this] {
      return kWallStart +
             std::chrono::duration_cast<std::chrono::system_clock::duration>(now - kStart);
    };
    add_builtin_resources(dir, o);
    auto counter_resource = std::make_unique<CounterResource>();
    counter = counter_resource.get();
    dir.add(std::move(counter_resource));
  }

  void TearDown() override {
    if (!ep_) return;
    // Leak check: shutting down ends every session, request and observation.
    ep_->shutdown(now);
    for (int round = 0; round < 3; ++round)
      for (ConnId c : known_conns())
        if (!net.ended(c) && !ep_->tcp_pending(c).empty()) write_all(c);
    advance(config.close_linger + seconds(1));
    EXPECT_EQ(ep_->session_count(), 0u) << "sessions left after shutdown";
    EXPECT_EQ(ep_->exchange_count(), 0u) << "exchanges left after shutdown";
    EXPECT_EQ(ep_->observation_count(), 0u) << "observations left after shutdown";
    for (RequestId id : started_) EXPECT_EQ(listener.count(id), 1u) << "request " << id;
    for (const auto& [id, r] : listener.results)
      EXPECT_TRUE(started_.count(id)) << "result for unknown request " << id;
    ep_.reset();
  }

  Endpoint& ep() {
    if (!ep_) ep_ = std::make_unique<Endpoint>(config, dir, net, listener, seed);
    return *ep_;
  }

  // Moves the fake clock to t, running every timer at its own deadline.
  void advance_to(TimePoint t) {
    while (ep().next_deadline() <= t) {
      now = std::max(now, ep().next_deadline());
      ep().on_timer(now);
    }
    now = t;
  }
  void advance(Duration d) { advance_to(now + d); }

  std::vector<std::string> events() { return listener.take(); }

  // --- UDP ---------------------------------------------------------------------------
  void udp_in(const Address& from, const std::vector<uint8_t>& bytes) {
    ep().on_datagram(from, bytes, now);
  }
  // Datagrams sent since the last call, decoded; all must go to `to`.
  std::vector<Decoded> take_udp(const Address& to = kUdpPeer) {
    std::vector<Decoded> out;
    for (const auto& d : net.datagrams) {
      EXPECT_EQ(d.to, to);
      out.push_back(decode_udp(d.bytes));
    }
    net.datagrams.clear();
    return out;
  }
  // Exactly one datagram must have been sent.
  Decoded one_udp(const Address& to = kUdpPeer) {
    auto v = take_udp(to);
    EXPECT_EQ(v.size(), 1u);
    return v.empty() ? Decoded{} : v.front();
  }

  // --- TCP ---------------------------------------------------------------------------
  ConnId accept(ListenerKind kind = ListenerKind::kServer, const Address& peer = kTcpPeer) {
    const ConnId c = next_accept_++;
    accepted_.push_back(c);
    ep().on_tcp_accepted(c, kind, peer, kLocal, now);
    return c;
  }
  void tcp_in(ConnId c, std::span<const uint8_t> bytes) {
    fed_[c] += bytes.size();
    ep().on_tcp_data(c, bytes, now);
  }
  void tcp_error(ConnId c, TcpError e = TcpError::kReset) {
    net.gone(c);
    ep().on_tcp_error(c, e, now);
  }
  // Hands everything queued for c to "TCP" and returns it.
  std::vector<uint8_t> write_all(ConnId c) {
    const auto p = ep().tcp_pending(c);
    std::vector<uint8_t> out(p.begin(), p.end());
    if (!out.empty()) ep().tcp_written(c, out.size(), now);
    return out;
  }
  std::vector<Decoded> frames(ConnId c) { return decode_tcp(write_all(c)); }
  std::size_t fed(ConnId c) const {
    auto it = fed_.find(c);
    return it == fed_.end() ? 0 : it->second;
  }

  static std::vector<uint8_t> csm(uint32_t mms = 0, bool bwt = false) {
    std::vector<Opt> o;
    if (mms) o.push_back(opt_uint(opt::kCsmMaxMessageSize, mms));
    if (bwt) o.push_back(opt_empty(opt::kCsmBlockWiseTransfer));
    return tcp_msg(codes::kCsm, Token{}, o);
  }
  // Peer CSM in, our CSM out: the session is established.
  void establish(ConnId c, uint32_t peer_mms = 0, bool peer_bwt = false) {
    tcp_in(c, csm(peer_mms, peer_bwt));
    const auto f = frames(c);
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(f.front().code, codes::kCsm);
  }
  // An accepted, established server session; its events are consumed.
  ConnId accept_established(uint32_t peer_mms = 0, bool peer_bwt = false) {
    const ConnId c = accept();
    establish(c, peer_mms, peer_bwt);
    EXPECT_EQ(events(), (std::vector<std::string>{"server_session_new", "tcp_connected",
                                                  "session_connected"}));
    return c;
  }

  // --- client ------------------------------------------------------------------------
  void request(RequestId id, ClientRequest r) {
    started_.insert(id);
    ep().start_request(id, std::move(r), now);
  }
  void observe(RequestId id, ClientRequest r) {
    started_.insert(id);
    ep().start_observe(id, std::move(r), now);
  }
  static ClientRequest get_request(std::string_view uri) {
    ClientRequest r;
    r.method = codes::kGet;
    auto u = parse_uri(uri);
    EXPECT_TRUE(u.ok()) << (u.ok() ? "" : u.error());
    if (u) r.uri = *u;
    return r;
  }

  std::vector<ConnId> known_conns() const {
    std::vector<ConnId> out = accepted_;
    for (ConnId c : net.connects()) out.push_back(c);
    return out;
  }

  // The amplification limit (RFC 9175 Echo) has tests of its own
  // (endpoint_echo_test.cc); the others see every response at once.
  static EndpointConfig unlimited() {
    EndpointConfig c;
    c.amplification_factor = 0;
    return c;
  }

  TimePoint now = kStart;
  EndpointConfig config = unlimited();
  uint64_t seed = 42;
  ResourceDirectory dir;
  CounterResource* counter = nullptr;
  FakeNetworkIo net;
  RecordingListener listener;

 private:
  std::unique_ptr<Endpoint> ep_;
  ConnId next_accept_ = 1000;
  std::vector<ConnId> accepted_;
  std::map<ConnId, std::size_t> fed_;
  std::set<RequestId> started_;
};

using Events = std::vector<std::string>;

}  // namespace coap::test
