// The Endpoint as a CoAP-over-TCP server (RFC 8323): CSM exchange, requests,
// signaling (Ping/Pong, Release, Abort), limits, back-pressure and the exact
// sequence of session events for every way a connection ends.
#include <gtest/gtest.h>

#include <random>

#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

class EndpointTcpTest : public EndpointTest {
 protected:
  static std::vector<uint8_t> get(std::string_view path, const Token& t,
                                  const std::vector<Opt>& extra = {}) {
    return tcp_msg(codes::kGet, t, path_opts(path) + extra);
  }
  static std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  }
  // Stores body in /echo over an established session with a large peer MMS
  // and drains the answer.
  void put_echo(ConnId c, const std::string& body) {
    tcp_in(c, tcp_msg(codes::kPut, tok({0x0e}), path_opts("/echo"), body));
    const auto f = frames(c);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].code, codes::kChanged);
  }
};

TEST_F(EndpointTcpTest, AcceptedConnectionGetsOurCsmFirst) {
  const ConnId c = accept();
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected"}));
  EXPECT_EQ(net.ops(c, /*all=*/true), std::vector<std::string>{"want_write"});
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kCsm);
  EXPECT_EQ(f[0].token.len, 0);
  EXPECT_EQ(f[0].uint(opt::kCsmMaxMessageSize), config.max_message_size);
  ASSERT_TRUE(f[0].has(opt::kCsmBlockWiseTransfer));
  EXPECT_TRUE(f[0].value(opt::kCsmBlockWiseTransfer)->empty());
  EXPECT_TRUE(f[0].payload.empty());
  const auto s = ep().sessions(now);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].proto, Proto::kTcp);
  EXPECT_EQ(s[0].state, SessionState::kCsmWait);
  EXPECT_EQ(s[0].peer, kTcpPeer);
  EXPECT_EQ(s[0].local, kLocal);
  EXPECT_FALSE(s[0].outgoing);
  EXPECT_EQ(ep().counters().tcp_accepted, 1u);
}

TEST_F(EndpointTcpTest, RequestBeforeCsmAbortsTheConnection) {
  const ConnId c = accept();
  frames(c);
  events();
  tcp_in(c, get("/time", tok({1})));
  EXPECT_EQ(events(), Events{"bad_packet"});
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kAbort);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_failed", "server_session_del"}));
  EXPECT_EQ(ep().session_count(), 0u);
  EXPECT_EQ(ep().counters().responses, 0u);
}

TEST_F(EndpointTcpTest, CsmThenGetIsAnswered) {
  const ConnId c = accept();
  EXPECT_EQ(frames(c).size(), 1u);
  tcp_in(c, cat({csm(), get("/time", tok({1, 2, 3}))}));
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected", "session_connected"}));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kContent);
  EXPECT_EQ(f[0].token, tok({1, 2, 3}));
  EXPECT_EQ(f[0].body(), "2026-11-29T01:31:18Z");
  EXPECT_EQ(ep().sessions(now)[0].state, SessionState::kEstablished);
  EXPECT_EQ(ep().counters().requests, 1u);
  EXPECT_EQ(ep().counters().responses, 1u);
}

TEST_F(EndpointTcpTest, OurCsmPrecedesAnswersEvenWhenUnwritten) {
  const ConnId c = accept();
  tcp_in(c, cat({csm(), get("/time", tok({1})), get("/nope", tok({2}))}));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].code, codes::kCsm);
  EXPECT_EQ(f[1].code, codes::kContent);
  EXPECT_EQ(f[2].code, codes::kNotFound);
  EXPECT_EQ(f[2].token, tok({2}));
}

TEST_F(EndpointTcpTest, EmptyMessagesAreIgnored) {
  const ConnId c = accept_established();
  tcp_in(c, tcp_msg(codes::kEmpty, Token{}));
  EXPECT_TRUE(ep().tcp_pending(c).empty());
  EXPECT_EQ(events(), Events{});
  tcp_in(c, get("/time", tok({1})));
  EXPECT_EQ(frames(c).size(), 1u);
}

TEST_F(EndpointTcpTest, PingGetsPongWithTheSameToken) {
  const ConnId c = accept_established();
  tcp_in(c, tcp_msg(codes::kPing, tok({9, 9})));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kPong);
  EXPECT_EQ(f[0].token, tok({9, 9}));
  EXPECT_EQ(ep().counters().pings, 1u);
  // A Pong from the peer needs no answer.
  tcp_in(c, tcp_msg(codes::kPong, tok({1})));
  EXPECT_TRUE(ep().tcp_pending(c).empty());
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointTcpTest, PongOvertakesFramesNotYetStarted) {
  const ConnId c = accept_established(1 << 20, true);
  put_echo(c, pattern(5000));
  // Three large answers queued; TCP takes only 100 bytes of the first.
  tcp_in(c, cat({get("/echo", tok({1})), get("/echo", tok({2})), get("/echo", tok({3}))}));
  const auto queued = ep().tcp_pending(c);
  std::vector<uint8_t> stream(queued.begin(), queued.begin() + 100);
  ep().tcp_written(c, 100, now);
  tcp_in(c, tcp_msg(codes::kPing, tok({0x99})));
  const auto rest = write_all(c);
  stream.insert(stream.end(), rest.begin(), rest.end());
  const auto f = decode_tcp(stream);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].token, tok({1}));  // the frame being written is not cut
  EXPECT_EQ(f[0].body(), pattern(5000));
  EXPECT_EQ(f[1].code, codes::kPong);
  EXPECT_EQ(f[1].token, tok({0x99}));
  EXPECT_EQ(f[2].token, tok({2}));
  EXPECT_EQ(f[3].token, tok({3}));

  // When nothing is partly written, the Pong goes first.
  tcp_in(c, get("/echo", tok({4})));
  tcp_in(c, tcp_msg(codes::kPing, tok({0x98})));
  const auto g = frames(c);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].code, codes::kPong);
  EXPECT_EQ(g[1].token, tok({4}));
}

TEST_F(EndpointTcpTest, WantWriteOnlyWhenTheQueueBecomesNonEmpty) {
  const ConnId c = accept();
  tcp_in(c, cat({csm(), get("/time", tok({1})), get("/time", tok({2}))}));
  EXPECT_EQ(net.count("want_write", c), 1u);
  ep().tcp_written(c, 3, now);
  ep().on_tcp_writable(c, now);
  EXPECT_EQ(net.count("want_write", c), 2u);  // still bytes left: asked again
  write_all(c);
  ep().on_tcp_writable(c, now);
  EXPECT_EQ(net.count("want_write", c), 2u);
  tcp_in(c, get("/time", tok({3})));
  EXPECT_EQ(net.count("want_write", c), 3u);
  events();
}

TEST_F(EndpointTcpTest, ReleaseClosesAfterTheQueueDrains) {
  const ConnId c = accept_established();
  tcp_in(c, cat({get("/time", tok({1})), tcp_msg(codes::kRelease, Token{})}));
  EXPECT_EQ(net.count("close", c), 0u);
  EXPECT_EQ(events(), Events{});
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kContent);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed", "server_session_del"}));
  EXPECT_EQ(listener.events[listener.events.size() - 2].reason, "released by peer");
  EXPECT_EQ(ep().session_count(), 0u);
}

TEST_F(EndpointTcpTest, ReleaseWithNothingQueuedClosesAtOnce) {
  const ConnId c = accept_established();
  // Frames behind the Release are not processed.
  tcp_in(c, cat({tcp_msg(codes::kRelease, Token{}), get("/time", tok({1}))}));
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed", "server_session_del"}));
  EXPECT_EQ(ep().counters().requests, 0u);
  EXPECT_EQ(net.consumed[c], fed(c));
}

TEST_F(EndpointTcpTest, PeerAbortEndsTheSession) {
  const ConnId c = accept_established();
  tcp_in(c, get("/time", tok({1})));  // answer queued, dropped by the Abort
  tcp_in(c, tcp_msg(codes::kAbort, Token{}, {}, "bye"));
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_failed", "server_session_del"}));
  EXPECT_EQ(listener.events[listener.events.size() - 2].reason, "aborted by peer: bye");
}

// Found by the endpoint_tcp fuzz target: a peer's Abort dropped the whole
// queue, the rest of a frame partly handed to TCP included, and the FIN
// then cut that frame. The frame under way is finished; those not started
// are dropped.
TEST_F(EndpointTcpTest, PeerAbortDoesNotCutAFrameInHalf) {
  const ConnId c = accept_established();
  tcp_in(c, get("/time", tok({1})));
  tcp_in(c, get("/time", tok({2})));
  const auto pending = ep().tcp_pending(c);
  std::vector<uint8_t> stream(pending.begin(), pending.begin() + 3);
  ep().tcp_written(c, 3, now);
  tcp_in(c, tcp_msg(codes::kAbort, Token{}));
  EXPECT_EQ(net.count("close", c), 0u) << "not before the frame under way is complete";
  const auto rest = write_all(c);
  stream.insert(stream.end(), rest.begin(), rest.end());
  EXPECT_EQ(net.count("close", c), 1u);
  const auto f = decode_tcp(stream);
  ASSERT_EQ(f.size(), 1u) << "the frame under way, and none not yet started";
  EXPECT_EQ(f[0].token, tok({1}));
}

TEST_F(EndpointTcpTest, CsmTimeoutAbortsAndCloses) {
  ASSERT_EQ(config.csm_timeout, seconds(5));
  const ConnId c = accept();
  frames(c);
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected"}));
  advance(seconds(5) - milliseconds(1));
  EXPECT_TRUE(ep().tcp_pending(c).empty());
  advance(milliseconds(1));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kAbort);
  EXPECT_EQ(f[0].body(), "CSM not received in time");
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_failed", "server_session_del"}));
  EXPECT_EQ(listener.events[listener.events.size() - 2].reason, "csm timeout");
}

TEST_F(EndpointTcpTest, CloseThatCannotFlushBecomesAnAbort) {
  const ConnId c = accept();  // the peer reads nothing, not even our CSM
  advance(config.csm_timeout);
  EXPECT_EQ(net.count("close", c), 0u);
  advance(config.close_linger - milliseconds(1));
  EXPECT_EQ(net.ops(c), std::vector<std::string>{});
  advance(milliseconds(1));
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"abort"});
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected", "tcp_failed", "session_failed",
                              "server_session_del"}));
}

TEST_F(EndpointTcpTest, UnknownCriticalCsmOptionAborts) {
  const ConnId c = accept();
  frames(c);
  tcp_in(c, tcp_msg(codes::kCsm, Token{}, {opt_empty(9)}));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kAbort);
  EXPECT_EQ(f[0].uint(opt::kAbortBadCsmOption), 9u);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected", "tcp_closed", "session_failed",
                              "server_session_del"}));
}

TEST_F(EndpointTcpTest, UnknownElectiveCsmOptionIsIgnored) {
  const ConnId c = accept();
  tcp_in(c, tcp_msg(codes::kCsm, Token{}, {opt_empty(6), opt_uint(opt::kCsmMaxMessageSize, 2000)}));
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected", "session_connected"}));
  frames(c);
}

TEST_F(EndpointTcpTest, FrameTooLargeAborts) {
  config.max_message_size = 2048;
  const ConnId c = accept();
  const auto f0 = frames(c);
  ASSERT_EQ(f0.size(), 1u);
  EXPECT_EQ(f0[0].uint(opt::kCsmMaxMessageSize), 2048u);
  tcp_in(c, csm());
  events();
  const auto big = tcp_msg(codes::kPut, tok({1}), path_opts("/echo"), pattern(4000));
  tcp_in(c, std::span<const uint8_t>(big).first(3));  // the header alone is enough
  EXPECT_EQ(events(), Events{"bad_packet"});
  EXPECT_NE(listener.last().reason.find("exceeds Max-Message-Size"), std::string::npos);
  EXPECT_EQ(ep().counters().bad_packets, 1u);
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kAbort);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_failed", "server_session_del"}));
  EXPECT_EQ(net.consumed[c], fed(c));
}

TEST_F(EndpointTcpTest, FourGigabyteHeaderIsRefusedWithoutBuffering) {
  const ConnId c = accept_established();
  tcp_in(c, std::vector<uint8_t>{0xf0, 0xff, 0xff, 0xff, 0xff, 0x01});
  EXPECT_EQ(events(), Events{"bad_packet"});
  EXPECT_EQ(frames(c).at(0).code, codes::kAbort);
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_failed", "server_session_del"}));
}

TEST_F(EndpointTcpTest, MalformedFrameAborts) {
  const ConnId c = accept_established();
  tcp_in(c, std::vector<uint8_t>{0x20, 0x01, 0xf1, 'a'});  // option delta nibble 15
  EXPECT_EQ(events(), Events{"bad_packet"});
  EXPECT_EQ(frames(c).at(0).code, codes::kAbort);
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_failed", "server_session_del"}));
  const ConnId d = accept_established();
  tcp_in(d, std::vector<uint8_t>{0x09});  // TKL 9
  EXPECT_EQ(events(), Events{"bad_packet"});
  EXPECT_EQ(frames(d).at(0).code, codes::kAbort);
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_failed", "server_session_del"}));
}

TEST_F(EndpointTcpTest, TcpErrorEndsTheSessionAndTheConnIsNeverUsedAgain) {
  const ConnId c = accept_established();
  tcp_in(c, get("/time", tok({1})));  // an answer still queued
  const std::size_t calls_before = net.calls.size();
  tcp_error(c, TcpError::kReset);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed", "server_session_del"}));
  EXPECT_EQ(listener.last().session, listener.events[0].session);
  EXPECT_EQ(listener.events[listener.events.size() - 2].reason, "reset");
  EXPECT_EQ(net.calls.size(), calls_before);
  // Late callbacks for the dead connection change nothing.
  EXPECT_TRUE(ep().tcp_pending(c).empty());
  tcp_in(c, get("/time", tok({2})));
  ep().on_tcp_writable(c, now);
  ep().tcp_written(c, 5, now);
  ep().on_tcp_peer_closed(c, now);
  ep().on_tcp_error(c, TcpError::kOther, now);
  advance(seconds(3600));
  EXPECT_EQ(net.calls.size(), calls_before);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(ep().session_count(), 0u);
}

TEST_F(EndpointTcpTest, TcpErrorBeforeCsm) {
  const ConnId c = accept();
  tcp_error(c, TcpError::kTimeout);
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected", "tcp_failed", "session_failed",
                              "server_session_del"}));
  advance(seconds(60));  // the CSM and idle timers find nothing to do
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(net.ops(c), std::vector<std::string>{});
}

TEST_F(EndpointTcpTest, ConsumedBytesEqualBytesFed) {
  const ConnId c = accept();
  std::vector<uint8_t> stream = csm(1 << 20, true);
  for (int i = 0; i < 60; ++i) {
    const auto f = i % 3 ? get("/time", Token::from_u64(i, 2))
                         : tcp_msg(codes::kPut, Token::from_u64(i, 2), path_opts("/echo"),
                                   pattern(static_cast<std::size_t>(i) * 40));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  const auto tail = get("/time", tok({0xff}));
  stream.insert(stream.end(), tail.begin(), tail.begin() + 4);  // ends inside a frame
  std::mt19937 rng(5);
  std::size_t pos = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 300, stream.size() - pos);
    tcp_in(c, std::span<const uint8_t>(stream).subspan(pos, n));
    pos += n;
  }
  EXPECT_EQ(fed(c), stream.size());
  EXPECT_EQ(net.consumed[c], stream.size());
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 61u);  // our CSM and 60 answers
  for (int i = 0; i < 60; ++i) EXPECT_EQ(f[1 + i].token, Token::from_u64(i, 2));
  EXPECT_EQ(ep().sessions(now)[0].bytes_in, stream.size());
  events();
}

TEST_F(EndpointTcpTest, SessionsOverTheLimitAreRejected) {
  config.max_tcp_sessions = 2;
  const ConnId a = accept_established();
  const ConnId b = accept_established();
  const ConnId c = accept();
  EXPECT_EQ(events(), Events{"session_rejected"});
  EXPECT_NE(listener.last().reason.find("max TCP sessions"), std::string::npos);
  EXPECT_EQ(ep().sessions(now).size(), 2u) << "a rejected connection is not listed";
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].code, codes::kCsm);
  EXPECT_EQ(f[1].code, codes::kAbort);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), Events{});  // the rejected connection has no other event
  EXPECT_EQ(ep().counters().tcp_rejected, 1u);
  EXPECT_EQ(ep().sessions(now).size(), 2u);
  EXPECT_EQ(ep().session_count(), 2u);

  // With one session gone there is room again.
  tcp_in(a, tcp_msg(codes::kRelease, Token{}));
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed", "server_session_del"}));
  accept_established();
  (void)b;
}

TEST_F(EndpointTcpTest, RejectedConnectionThatNeverReadsIsAborted) {
  config.max_tcp_sessions = 1;
  accept_established();
  const ConnId c = accept();
  EXPECT_EQ(events(), Events{"session_rejected"});
  advance(config.close_linger);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"abort"});
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointTcpTest, RejectedConnectionThatFailsHasNoEvents) {
  config.max_tcp_sessions = 1;
  accept_established();
  const ConnId c = accept();
  EXPECT_EQ(events(), Events{"session_rejected"});
  tcp_in(c, csm());  // whatever the peer sends is discarded
  tcp_error(c, TcpError::kReset);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(ep().session_count(), 1u);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{});
  EXPECT_EQ(net.consumed[c], fed(c));
}

TEST_F(EndpointTcpTest, SendQueueOverflowAborts) {
  config.max_queued_bytes = 8192;
  const ConnId c = accept_established(1 << 20, true);
  put_echo(c, pattern(3000));
  // The peer stops reading; three 3000-byte answers exceed 8192 bytes.
  tcp_in(c, cat({get("/echo", tok({1})), get("/echo", tok({2}))}));
  EXPECT_EQ(net.ops(c), std::vector<std::string>{});
  tcp_in(c, cat({get("/echo", tok({3})), get("/echo", tok({4}))}));
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"abort"});
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed", "server_session_del"}));
  EXPECT_NE(listener.events[listener.events.size() - 2].reason.find("send queue overflow"),
            std::string::npos);
}

TEST_F(EndpointTcpTest, IdleSessionIsReleasedAndClosed) {
  config.tcp_idle_timeout = seconds(30);
  const TimePoint t0 = now;
  const ConnId c = accept_established();
  advance(seconds(20));
  tcp_in(c, tcp_msg(codes::kPing, tok({1})));  // activity postpones the timeout
  frames(c);
  advance_to(t0 + seconds(50) - milliseconds(1));
  EXPECT_TRUE(ep().tcp_pending(c).empty());
  advance_to(t0 + seconds(50));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kRelease);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed", "server_session_del"}));
  EXPECT_EQ(listener.events[listener.events.size() - 2].reason, "idle timeout");
}

TEST_F(EndpointTcpTest, BytesOfAnUnfinishedMessageDoNotPostponeTheIdleTimeout) {
  // A slowloris peer: one byte of a request every 10 s never completes it,
  // and must not hold its session (and a slot under --max-tcp-sessions).
  config.tcp_idle_timeout = seconds(30);
  const TimePoint t0 = now;
  const ConnId c = accept_established();
  const auto g = get("/time", tok({1}));
  for (std::size_t i = 0; i + 1 < g.size() && now < t0 + seconds(29); ++i) {
    advance(seconds(10));
    tcp_in(c, std::span<const uint8_t>(g).subspan(i, 1));
  }
  advance_to(t0 + seconds(30));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kRelease);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(listener.events[listener.events.size() - 2].reason, "idle timeout");
}

TEST_F(EndpointTcpTest, PeerFinInsideAFrame) {
  const ConnId c = accept_established();
  const auto g = get("/time", tok({1}));
  tcp_in(c, std::span<const uint8_t>(g).first(3));
  ep().on_tcp_peer_closed(c, now);
  EXPECT_EQ(events(), (Events{"bad_packet", "tcp_closed", "session_closed", "server_session_del"}));
  EXPECT_NE(listener.events[listener.events.size() - 4].reason.find("inside a frame"),
            std::string::npos);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(ep().counters().bad_packets, 1u);
}

TEST_F(EndpointTcpTest, PeerFinAfterARequestStillGetsTheAnswer) {
  const ConnId c = accept_established();
  tcp_in(c, get("/time", tok({1})));
  ep().on_tcp_peer_closed(c, now);
  EXPECT_EQ(net.count("close", c), 0u);
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kContent);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed", "server_session_del"}));
}

TEST_F(EndpointTcpTest, PeerFinBeforeCsmFailsTheSession) {
  const ConnId c = accept();
  frames(c);
  ep().on_tcp_peer_closed(c, now);
  EXPECT_EQ(events(), (Events{"server_session_new", "tcp_connected", "tcp_closed", "session_failed",
                              "server_session_del"}));
}

TEST_F(EndpointTcpTest, CloseSessionOfAnAcceptedSession) {
  const ConnId c = accept_established();
  const SessionId id = listener.last().session;
  EXPECT_TRUE(ep().close_session(id, now));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].code, codes::kRelease);
  EXPECT_EQ(net.ops(c), std::vector<std::string>{"close"});
  EXPECT_EQ(events(), (Events{"tcp_closed", "session_closed", "server_session_del"}));
  EXPECT_FALSE(ep().close_session(id, now));
}

TEST_F(EndpointTcpTest, ALaterCsmUpdatesThePeerLimits) {
  const ConnId c = accept_established(1 << 20, true);
  put_echo(c, pattern(3000));
  tcp_in(c, get("/echo", tok({1})));
  EXPECT_FALSE(frames(c).at(0).has(opt::kBlock2));
  tcp_in(c, csm(600, true));  // RFC 8323 5.3: CSM may be sent again at any time
  EXPECT_EQ(events(), Events{}) << "session_connected only once";
  tcp_in(c, get("/echo", tok({2})));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(f[0].has(opt::kBlock2));
  EXPECT_LE(f[0].wire_size, 600u);
}

TEST_F(EndpointTcpTest, AnswersRespectThePeerMaxMessageSize) {
  const ConnId c = accept_established(600, true);
  const std::string body = pattern(2000);
  tcp_in(c, tcp_msg(codes::kPut, tok({0x0e}), path_opts("/echo"), body));
  for (const auto& f : frames(c)) EXPECT_LE(f.wire_size, 600u);
  std::string got;
  uint32_t num = 0;
  uint8_t szx = 6;
  for (int i = 0; i < 20; ++i) {
    tcp_in(c,
           get("/echo", tok({2}), {opt_uint(opt::kBlock2, BlockOption{num, false, szx}.encode())}));
    const auto f = frames(c);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].code, codes::kContent);
    EXPECT_LE(f[0].wire_size, 600u);
    const auto b = BlockOption::decode(f[0].uint(opt::kBlock2).value_or(0xffffffff));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->offset(), got.size());
    got += f[0].body();
    if (!b->more) break;
    szx = b->szx;
    num = static_cast<uint32_t>(got.size() / b->unit());
  }
  EXPECT_EQ(got, body);
}

TEST_F(EndpointTcpTest, DefaultPeerMaxMessageSizeIs1152) {
  const ConnId c = accept_established();  // CSM without Max-Message-Size
  tcp_in(c, tcp_msg(codes::kPut, tok({0x0e}), path_opts("/echo"), pattern(1500)));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_LE(f[0].wire_size, 1152u);
  // Without Block-Wise-Transfer in the peer's CSM, no blocks: an error that fits.
  EXPECT_EQ(f[0].code, codes::kInternalServerError);
  tcp_in(c, get("/echo", tok({1})));
  const auto g = frames(c);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].code, codes::kInternalServerError);
  EXPECT_LE(g[0].wire_size, 1152u);
}

TEST_F(EndpointTcpTest, LargePeerMaxMessageSizeAllowsOneLargeFrame) {
  const ConnId c = accept_established(1 << 20, true);
  const std::string body = pattern(100000);
  tcp_in(c, tcp_msg(codes::kPut, tok({0x0e}), path_opts("/echo"), body));
  frames(c);
  tcp_in(c, get("/echo", tok({1})));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_FALSE(f[0].has(opt::kBlock2));
  EXPECT_EQ(f[0].body(), body);
}

TEST_F(EndpointTcpTest, SessionCountersTrackTraffic) {
  const ConnId c = accept_established();
  tcp_in(c, get("/time", tok({1})));
  const auto out = write_all(c);
  const auto s = ep().sessions(now);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].bytes_in, fed(c));
  EXPECT_EQ(s[0].msgs_in, 2u);   // CSM, GET
  EXPECT_EQ(s[0].msgs_out, 2u);  // CSM, 2.05
  EXPECT_EQ(s[0].queued_bytes, 0u);
}

}  // namespace
}  // namespace coap

namespace coap {
namespace {

using namespace coap::test;

class EndpointTcpReviewTest : public EndpointTest {};

// A frame completed from the partial-frame buffer whose handler ends the
// connection must not leave the decoder running on freed memory (ASan).
TEST_F(EndpointTcpReviewTest, AbortOrReleaseSplitAcrossSegments) {
  for (Code code : {codes::kAbort, codes::kRelease}) {
    const ConnId c = accept_established();
    const auto msg = tcp_msg(code, Token{});
    tcp_in(c, std::span(msg).first(1));
    tcp_in(c, std::span(msg).subspan(1));
    frames(c);
    EXPECT_TRUE(net.ended(c)) << code.str();
    events();  // consumed: the next round starts from an empty trail
  }
}

TEST_F(EndpointTcpReviewTest, PongNeverPrecedesOurCsm) {
  const ConnId c = accept();
  auto in = csm();
  const auto ping = tcp_msg(codes::kPing, tok({7}));
  in.insert(in.end(), ping.begin(), ping.end());
  tcp_in(c, in);
  const auto f = frames(c);
  ASSERT_GE(f.size(), 2u);
  EXPECT_EQ(f[0].code, codes::kCsm);
  EXPECT_EQ(f[1].code, codes::kPong);
}

}  // namespace
}  // namespace coap
