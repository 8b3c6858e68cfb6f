// The Endpoint observing as a client (RFC 7641): registration, the ordering
// of notifications (3.4: reordered, duplicate and wrapped sequence
// numbers), re-registration when Max-Age runs out and after a reconnect,
// deregistration, RST for notifications nobody asked for, and Block2
// notifications put together (RFC 7959 2.6). Fake clock and fake peers.
#include <gtest/gtest.h>

#include "coap/client_observe.h"
#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

constexpr std::string_view kObsUri = "coap://192.0.2.10:40000/obs";

class ClientObserveTest : public EndpointTest {
 protected:
  // Observation `id` of kObsUri; returns the registration that went out.
  Decoded start(RequestId id, Duration timeout = seconds(30), bool con = true) {
    ClientRequest r = get_request(kObsUri);
    r.timeout = timeout;
    r.confirmable = con;
    observe(id, std::move(r));
    return one_udp();
  }
  // A NON notification with Observe seq and payload body.
  void notify_non(const Token& t, uint32_t seq, std::string_view body, std::vector<Opt> more = {}) {
    udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kContent, mid_++, t,
                             std::vector<Opt>{opt_uint(opt::kObserve, seq)} + more, body));
  }
  std::vector<std::string> payloads() const {
    std::vector<std::string> out;
    for (const auto& n : listener.notifications) out.push_back(string_of(n.result.payload));
    return out;
  }
  std::vector<uint32_t> seqs() const {
    std::vector<uint32_t> out;
    for (const auto& n : listener.notifications) out.push_back(n.seq);
    return out;
  }
  uint16_t mid_ = 7000;
};

TEST(ObserveNewerTest, Rfc7641Section34) {
  const TimePoint t = kStart;
  EXPECT_TRUE(observe_newer(5, t, 6, t));
  EXPECT_FALSE(observe_newer(6, t, 5, t));
  EXPECT_FALSE(observe_newer(6, t, 6, t));  // a duplicate
  // Ahead by less than 2^23 is newer; by 2^23 or more it is older (wrapped).
  EXPECT_TRUE(observe_newer(0, t, (1u << 23) - 1, t));
  EXPECT_FALSE(observe_newer(0, t, 1u << 23, t));
  EXPECT_TRUE(observe_newer(0xfffffe, t, 2, t));  // the 24-bit space wrapped
  EXPECT_FALSE(observe_newer(2, t, 0xfffffe, t));
  // More than 128 s later anything is newer (the server may have restarted).
  EXPECT_FALSE(observe_newer(100, t, 3, t + seconds(128)));
  EXPECT_TRUE(observe_newer(100, t, 3, t + seconds(128) + milliseconds(1)));
}

TEST_F(ClientObserveTest, NotificationsInOrderOlderAndDuplicatesDropped) {
  const Decoded reg = start(1);
  EXPECT_EQ(reg.type, Type::kCon);
  EXPECT_EQ(reg.code, codes::kGet);
  EXPECT_EQ(reg.uint(opt::kObserve), 0u);
  EXPECT_EQ(reg.path(), "/obs");
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, reg.mid, reg.token,
                           {opt_uint(opt::kObserve, 5), opt_uint(opt::kContentFormat, 0)}, "a"));
  notify_non(reg.token, 7, "b");
  notify_non(reg.token, 6, "late");  // reordered: older than 7
  notify_non(reg.token, 7, "dup");   // a duplicate of 7
  // A CON notification is acknowledged, fresh or not.
  udp_in(kUdpPeer,
         udp_msg(Type::kCon, codes::kContent, 9000, reg.token, {opt_uint(opt::kObserve, 8)}, "c"));
  const Decoded ack = one_udp();
  EXPECT_EQ(ack.type, Type::kAck);
  EXPECT_EQ(ack.mid, 9000);
  udp_in(kUdpPeer,
         udp_msg(Type::kCon, codes::kContent, 9001, reg.token, {opt_uint(opt::kObserve, 4)}, "x"));
  EXPECT_EQ(one_udp().type, Type::kAck);
  EXPECT_EQ(payloads(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(seqs(), (std::vector<uint32_t>{5, 7, 8}));
  EXPECT_EQ(listener.notifications[0].result.code, codes::kContent);
  EXPECT_EQ(listener.count(1), 0u);  // still observing
  const auto list = ep().client_observations();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, 1u);
  EXPECT_EQ(list[0].uri, kObsUri);
  EXPECT_EQ(list[0].notifications, 3u);
  EXPECT_EQ(list[0].last_seq, 8u);
  EXPECT_EQ(list[0].token, reg.token);
  // Past the request's own timeout it still observes.
  advance(seconds(40));
  EXPECT_EQ(listener.count(1), 0u);
}

TEST_F(ClientObserveTest, SequenceWrapsAndOldNumberAcceptedAfter128Seconds) {
  const Decoded reg = start(1);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, reg.mid, reg.token,
                           {opt_uint(opt::kObserve, 0xfffffe), opt_uint(opt::kMaxAge, 600)}, "a"));
  const std::vector<Opt> long_max_age{opt_uint(opt::kMaxAge, 600)};
  notify_non(reg.token, 1, "wrapped", long_max_age);
  notify_non(reg.token, 0xffffff, "older", long_max_age);
  advance(seconds(129));
  notify_non(reg.token, 0, "after a pause", long_max_age);  // lower, but 128 s later
  EXPECT_EQ(payloads(), (std::vector<std::string>{"a", "wrapped", "after a pause"}));
}

TEST_F(ClientObserveTest, MaxAgeRunningOutReregistersWithTheSameToken) {
  const Decoded reg = start(1);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, reg.mid, reg.token,
                           {opt_uint(opt::kObserve, 40), opt_uint(opt::kMaxAge, 10)}, "a"));
  advance(seconds(10) + kReregisterMargin - milliseconds(1));
  EXPECT_TRUE(take_udp().empty()) << "re-registered before Max-Age ran out";
  advance(milliseconds(1));
  const Decoded again = one_udp();
  EXPECT_EQ(again.code, codes::kGet);
  EXPECT_EQ(again.uint(opt::kObserve), 0u);
  EXPECT_EQ(again.token, reg.token);
  EXPECT_NE(again.mid, reg.mid);
  // The answer to the re-registration counts whatever its number (the
  // server restarted and counts from 1).
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, again.mid, again.token,
                           {opt_uint(opt::kObserve, 1), opt_uint(opt::kMaxAge, 10)}, "b"));
  EXPECT_EQ(payloads(), (std::vector<std::string>{"a", "b"}));
  // A notification in time pushes the next re-registration out.
  advance(seconds(8));
  notify_non(reg.token, 2, "c", {opt_uint(opt::kMaxAge, 10)});
  advance(seconds(8));
  EXPECT_TRUE(take_udp().empty());
  advance(seconds(4));
  EXPECT_EQ(one_udp().uint(opt::kObserve), 0u);
  EXPECT_TRUE(ep().client_observations().at(0).registered == false);
}

TEST_F(ClientObserveTest, CancelDeregistersThenNotificationsGetRst) {
  const Decoded reg = start(1);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, reg.mid, reg.token,
                           {opt_uint(opt::kObserve, 3)}, "a"));
  ASSERT_TRUE(ep().cancel_observe(1, now));
  EXPECT_FALSE(ep().cancel_observe(1, now));  // under way already
  const Decoded dereg = one_udp();
  EXPECT_EQ(dereg.code, codes::kGet);
  EXPECT_EQ(dereg.uint(opt::kObserve), 1u);
  EXPECT_EQ(dereg.token, reg.token);
  EXPECT_EQ(dereg.path(), "/obs");
  notify_non(reg.token, 4, "in flight");  // sent before the server saw it
  EXPECT_EQ(listener.count(1), 0u);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, dereg.mid, dereg.token, {}, "last"));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kDeregistered);
  EXPECT_EQ(payloads(), std::vector<std::string>{"a"});
  EXPECT_TRUE(ep().client_observations().empty());
  take_udp();
  // Cancelled: the next notification is rejected, NON as well as CON.
  notify_non(reg.token, 5, "again");
  const Decoded rst = one_udp();
  EXPECT_EQ(rst.type, Type::kRst);
  EXPECT_EQ(rst.mid, mid_ - 1);
  EXPECT_FALSE(ep().cancel_observe(1, now));
}

TEST_F(ClientObserveTest, UnansweredDeregistrationStillEnds) {
  const Decoded reg = start(1, seconds(5), /*con=*/false);
  udp_in(kUdpPeer,
         udp_msg(Type::kNon, codes::kContent, 1, reg.token, {opt_uint(opt::kObserve, 3)}));
  ASSERT_TRUE(ep().cancel_observe(1, now));
  EXPECT_EQ(one_udp().type, Type::kNon);
  advance(seconds(5));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kDeregistered);
}

TEST_F(ClientObserveTest, NotificationForATokenNeverRegisteredGetsRst) {
  // From a peer coapd has no session with, and from one it has.
  const Token stranger = tok({0xde, 0xad});
  udp_in(kUdpPeer2,
         udp_msg(Type::kNon, codes::kContent, 55, stranger, {opt_uint(opt::kObserve, 9)}));
  const Decoded r1 = one_udp(kUdpPeer2);
  EXPECT_EQ(r1.type, Type::kRst);
  EXPECT_EQ(r1.mid, 55);
  const Decoded reg = start(1);
  udp_in(kUdpPeer,
         udp_msg(Type::kNon, codes::kContent, 56, stranger, {opt_uint(opt::kObserve, 9)}));
  const Decoded r2 = one_udp();
  EXPECT_EQ(r2.type, Type::kRst);
  EXPECT_EQ(r2.mid, 56);
  EXPECT_TRUE(listener.notifications.empty());
  // A NON response without Observe to nobody is just dropped.
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kContent, 57, stranger, {}));
  EXPECT_TRUE(take_udp().empty());
  (void)reg;
}

TEST_F(ClientObserveTest, ResourceNotObservableEndsWithItsResponse) {
  const Decoded reg = start(1);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, reg.mid, reg.token, {}, "plain"));
  const ClientResult& r = listener.result(1);
  EXPECT_EQ(r.status, ClientResult::Status::kResponse);
  EXPECT_EQ(r.code, codes::kContent);
  EXPECT_EQ(string_of(r.payload), "plain");
  EXPECT_TRUE(listener.notifications.empty());
}

TEST_F(ClientObserveTest, ErrorResponseEndsTheObservation) {
  const Decoded reg = start(1);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kNotFound, reg.mid, reg.token, {}));
  EXPECT_EQ(listener.result(1).code, codes::kNotFound);
}

TEST_F(ClientObserveTest, UnansweredRegistrationTimesOut) {
  start(1, seconds(5), /*con=*/false);
  advance(seconds(5) - milliseconds(1));
  EXPECT_EQ(listener.count(1), 0u);
  advance(milliseconds(1));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kTimeout);
}

TEST_F(ClientObserveTest, Block2NotificationIsPutTogether) {
  const Decoded reg = start(1);
  const std::string body = pattern(40);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, reg.mid, reg.token,
                           {opt_uint(opt::kObserve, 11), opt_uint(opt::kContentFormat, 0),
                            opt_uint(opt::kBlock2, BlockOption{0, true, 0}.encode())},
                           body.substr(0, 16)));
  EXPECT_TRUE(listener.notifications.empty());
  for (uint32_t n = 1; n <= 2; ++n) {
    const Decoded next = one_udp();
    EXPECT_EQ(next.code, codes::kGet);
    EXPECT_FALSE(next.has(opt::kObserve)) << "block " << n << " must not re-register";
    const auto b = BlockOption::decode(next.uint(opt::kBlock2).value_or(0xffffffff));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->num, n);
    const bool more = n < 2;
    udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, next.mid, next.token,
                             {opt_uint(opt::kContentFormat, 0),
                              opt_uint(opt::kBlock2, BlockOption{n, more, 0}.encode())},
                             body.substr(n * 16, 16)));
  }
  ASSERT_EQ(listener.notifications.size(), 1u);
  const auto& n = listener.notifications[0];
  EXPECT_EQ(n.seq, 11u);
  EXPECT_EQ(string_of(n.result.payload), body);
  bool has_block2 = false, has_observe = false;
  for (const auto& [number, value] : n.result.options) {
    has_block2 |= number == opt::kBlock2;
    has_observe |= number == opt::kObserve;
  }
  EXPECT_FALSE(has_block2);
  EXPECT_TRUE(has_observe);
  EXPECT_EQ(listener.count(1), 0u);
  // The next notification, in one block, still comes.
  notify_non(reg.token, 12, "short");
  EXPECT_EQ(payloads(), (std::vector<std::string>{body, "short"}));
}

TEST_F(ClientObserveTest, PersistentSessionReregistersAfterEveryReconnect) {
  SessionSpec spec;
  spec.peer = kServerPeer;
  auto opened = ep().open_session(spec, now);
  ASSERT_TRUE(opened.ok());
  const SessionId sid = opened->id;
  auto bring_up = [&] {
    const ConnId c = net.last_connect();
    ep().on_tcp_connected(c, kLocal, now);
    EXPECT_EQ(frames(c).at(0).code, codes::kCsm);
    tcp_in(c, csm());
    return c;
  };
  ConnId c = bring_up();
  ClientRequest r = get_request("coap+tcp://198.51.100.5/obs");
  observe(1, std::move(r));
  auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].uint(opt::kObserve), 0u);
  const Token token = f[0].token;
  tcp_in(c, tcp_msg(codes::kContent, token, {opt_uint(opt::kObserve, 2)}, "one"));
  events();
  for (int round = 0; round < 2; ++round) {
    tcp_error(c);
    EXPECT_EQ(listener.count(1), 0u) << "the observation ended with the connection";
    advance(seconds(1));
    c = bring_up();
    f = frames(c);
    ASSERT_EQ(f.size(), 1u) << "round " << round;
    EXPECT_EQ(f[0].uint(opt::kObserve), 0u);
    EXPECT_EQ(f[0].token, token);
    bool reregistered = false;
    for (const Event& e : listener.peek())
      if (e.kind == EventKind::kObserveReregistered) {
        reregistered = true;
        EXPECT_EQ(e.session, sid);
        EXPECT_NE(e.detail.find("observation 1 of coap+tcp://198.51.100.5"), std::string::npos)
            << e.detail;
      }
    EXPECT_TRUE(reregistered) << "round " << round;
    events();
    tcp_in(c, tcp_msg(codes::kContent, token, {opt_uint(opt::kObserve, 1)}, "back"));
  }
  EXPECT_EQ(payloads(), (std::vector<std::string>{"one", "back", "back"}));
  ASSERT_EQ(ep().client_observations().size(), 1u);
  EXPECT_EQ(ep().client_observations()[0].session, sid);
}

TEST_F(ClientObserveTest, SessionThatDoesNotReconnectEndsTheObservation) {
  ClientRequest r = get_request("coap+tcp://198.51.100.5/obs");
  observe(1, std::move(r));
  const ConnId out = net.last_connect();
  ep().on_tcp_connected(out, kLocal, now);
  frames(out);
  tcp_in(out, csm());
  const auto f = frames(out);
  ASSERT_EQ(f.size(), 1u);
  tcp_in(out, tcp_msg(codes::kContent, f[0].token, {opt_uint(opt::kObserve, 2)}, "one"));
  tcp_error(out);
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kError);
}

}  // namespace
}  // namespace coap
