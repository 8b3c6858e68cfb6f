// Keepalive: a ping after a whole quiet interval and never before, a dead
// peer after exactly keepalive_misses unanswered pings, any message from
// the peer as an answer, and a session that reconnects after the peer died.
#include <gtest/gtest.h>

#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

class EndpointKeepaliveTest : public EndpointTest {
 protected:
  void SetUp() override {
    EndpointTest::SetUp();
    config.keepalive = seconds(10);
    config.keepalive_misses = 2;
    config.tcp_idle_timeout = Duration::zero();
  }
  // The Ping signals among the frames written to c since the last call.
  std::size_t pings(ConnId c) {
    std::size_t n = 0;
    for (const Decoded& f : frames(c)) n += f.code == codes::kPing;
    return n;
  }
  const Event* last(EventKind kind) const {
    for (auto it = listener.events.rbegin(); it != listener.events.rend(); ++it)
      if (it->kind == kind) return &*it;
    return nullptr;
  }
};

TEST_F(EndpointKeepaliveTest, APingGoesOutAfterAWholeQuietIntervalNeverBefore) {
  const ConnId c = accept_established();
  advance(seconds(6));
  tcp_in(c, tcp_msg(codes::kGet, Token::from_u64(1, 2), {opt_str(opt::kUriPath, "time")}));
  EXPECT_EQ(pings(c), 0u);  // the response only
  advance(seconds(9));      // 9 s since the peer's request: still quiet for less than 10
  EXPECT_EQ(pings(c), 0u);
  advance(seconds(1));
  EXPECT_EQ(pings(c), 1u);
  EXPECT_EQ(ep().counters().keepalive_pings, 1u);
}

TEST_F(EndpointKeepaliveTest, APongAnswersAndThePeerStaysUp) {
  const ConnId c = accept_established();
  for (int i = 0; i < 5; ++i) {
    advance(seconds(10));
    ASSERT_EQ(pings(c), 1u) << "round " << i;
    tcp_in(c, tcp_msg(codes::kPong, Token{}));
  }
  EXPECT_EQ(ep().counters().keepalive_misses, 0u);
  EXPECT_EQ(ep().session_count(), 1u);
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointKeepaliveTest, ThePeerIsDeadAfterExactlyTheConfiguredMisses) {
  const ConnId c = accept_established();
  advance(seconds(10));
  EXPECT_EQ(pings(c), 1u);
  advance(seconds(10));  // the first missed: a second ping
  EXPECT_EQ(pings(c), 1u);
  EXPECT_EQ(ep().counters().keepalive_misses, 1u);
  EXPECT_EQ(ep().session_count(), 1u);
  advance(seconds(9));
  EXPECT_EQ(ep().session_count(), 1u) << "not before the second interval ran out";
  advance(seconds(1));
  EXPECT_EQ(ep().counters().keepalive_misses, 2u);
  EXPECT_EQ(ep().counters().keepalive_pings, 2u);
  EXPECT_EQ(net.count("abort", c), 1u);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed", "server_session_del"}));
  const Event* failed = last(EventKind::kSessionFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->reason, "keepalive");
}

TEST_F(EndpointKeepaliveTest, AnyMessageFromThePeerCountsAsAnAnswer) {
  const ConnId c = accept_established();
  advance(seconds(10));
  EXPECT_EQ(pings(c), 1u);
  tcp_in(c, tcp_msg(codes::kGet, Token::from_u64(7, 2), {opt_str(opt::kUriPath, "time")}));
  frames(c);
  advance(seconds(30));  // pings again and again, each unanswered ...
  advance(seconds(100));
  EXPECT_EQ(ep().session_count(), 0u) << "... until the misses add up";
  EXPECT_EQ(ep().counters().keepalive_misses, 2u);
}

TEST_F(EndpointKeepaliveTest, OffByDefaultAndPerOutgoingSession) {
  config.keepalive = Duration::zero();
  const ConnId quiet = accept_established();
  SessionSpec spec;
  spec.peer = kServerPeer;
  spec.keepalive = seconds(5);
  ASSERT_TRUE(ep().open_session(spec, now).ok());
  const ConnId out = net.last_connect();
  ep().on_tcp_connected(out, kLocal, now);
  frames(out);
  tcp_in(out, csm());
  events();
  advance(seconds(5));
  EXPECT_EQ(pings(out), 1u);
  EXPECT_EQ(pings(quiet), 0u);
  advance(seconds(10));  // two misses: dead, and it reconnects
  EXPECT_EQ(net.count("abort", out), 1u);
  const Event* failed = last(EventKind::kSessionFailed);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->reason, "keepalive");
  advance(seconds(2));
  EXPECT_NE(net.last_connect(), out) << "the outgoing session reconnects";
  advance(seconds(600));
  EXPECT_EQ(pings(quiet), 0u);
}

}  // namespace
}  // namespace coap
