// The Endpoint as a CoAP-over-UDP server (RFC 7252): piggybacked and NON
// responses, ping, RST for what cannot be processed, duplicate detection,
// and the lifetime of per-peer sessions.
#include <gtest/gtest.h>

#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

class EndpointUdpTest : public EndpointTest {};

TEST_F(EndpointUdpTest, ConGetGetsPiggybackedAck) {
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 0x1234, tok({0xaa, 0xbb}), path_opts("/time")));
  const Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kAck);
  EXPECT_EQ(r.code, codes::kContent);
  EXPECT_EQ(r.mid, 0x1234);
  EXPECT_EQ(r.token, tok({0xaa, 0xbb}));
  EXPECT_EQ(r.body(), "2026-11-29T01:31:18Z");
  EXPECT_EQ(r.uint(opt::kContentFormat), content_format::kTextPlain);
  EXPECT_EQ(events(), Events{"server_session_new"});
  EXPECT_EQ(listener.last().peer, kUdpPeer);

  const EndpointCounters& c = ep().counters();
  EXPECT_EQ(c.datagrams_in, 1u);
  EXPECT_EQ(c.datagrams_out, 1u);
  EXPECT_EQ(c.requests, 1u);
  EXPECT_EQ(c.responses, 1u);
  const auto s = ep().sessions(now);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].proto, Proto::kUdp);
  EXPECT_EQ(s[0].role, Role::kServer);
  EXPECT_EQ(s[0].peer, kUdpPeer);
  EXPECT_EQ(s[0].msgs_in, 1u);
  EXPECT_EQ(s[0].msgs_out, 1u);
  EXPECT_EQ(s[0].id, listener.last().session);
}

TEST_F(EndpointUdpTest, ErrorsArePiggybackedToo) {
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 1, tok({1}), path_opts("/nope")));
  const Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kAck);
  EXPECT_EQ(r.code, codes::kNotFound);
  EXPECT_EQ(r.mid, 1);
  udp_in(kUdpPeer,
         udp_msg(Type::kCon, codes::kGet, 2, tok({2}), path_opts("/time") + opt_empty(9)));
  EXPECT_EQ(one_udp().code, codes::kBadOption);
}

TEST_F(EndpointUdpTest, NonRequestWithUnknownCriticalOptionIsRejected) {
  // RFC 7252 5.4.1: an unrecognized critical option in a NON message "MUST
  // cause the message to be rejected" (4.3: at most a RST, otherwise silence);
  // the 4.02 response is for CON requests only.
  udp_in(kUdpPeer,
         udp_msg(Type::kNon, codes::kGet, 0x3000, tok({7}), path_opts("/time") + opt_empty(9)));
  for (const Decoded& d : take_udp()) {
    EXPECT_EQ(d.type, Type::kRst);
    EXPECT_EQ(d.mid, 0x3000);
  }
}

// Seen in the code while writing the endpoint_udp fuzz target, whose "no
// empty datagram" check then failed on it: the rejected NON was remembered
// with an empty "response", which a CON carrying its MID then got as an
// empty datagram. A message with that MID is a duplicate (RFC 7252 4.5) and
// gets the same Reset.
TEST_F(EndpointUdpTest, ConWithTheMidOfARejectedNonGetsTheSameRst) {
  udp_in(kUdpPeer,
         udp_msg(Type::kNon, codes::kGet, 0x3000, tok({7}), path_opts("/time") + opt_empty(9)));
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 0x3000, tok({8}), path_opts("/time")));
  ASSERT_EQ(net.datagrams.size(), 2u);
  EXPECT_FALSE(net.datagrams[1].bytes.empty());
  EXPECT_EQ(net.datagrams[1].bytes, net.datagrams[0].bytes);
  EXPECT_EQ(decode_udp(net.datagrams[1].bytes).type, Type::kRst);
  net.datagrams.clear();
}

TEST_F(EndpointUdpTest, NonRequestGetsNonResponse) {
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, 0x2000, tok({7}), path_opts("/time")));
  const Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kNon);
  EXPECT_EQ(r.code, codes::kContent);
  EXPECT_EQ(r.token, tok({7}));
  EXPECT_EQ(r.body(), "2026-11-29T01:31:18Z");
  // Two NON responses carry distinct Message IDs of our own.
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, 0x2001, tok({8}), path_opts("/time")));
  EXPECT_NE(one_udp().mid, r.mid);
}

TEST_F(EndpointUdpTest, EmptyConIsAPingAnsweredWithRst) {
  udp_in(kUdpPeer, udp_empty(Type::kCon, 0x4242));
  ASSERT_EQ(net.datagrams.size(), 1u);
  EXPECT_EQ(net.datagrams[0].bytes, (std::vector<uint8_t>{0x70, 0x00, 0x42, 0x42}));
  const Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kRst);
  EXPECT_EQ(r.mid, 0x4242);
  EXPECT_EQ(events(), Events{});
  EXPECT_EQ(ep().counters().pings, 1u);
  EXPECT_EQ(ep().counters().rst_sent, 1u);
  EXPECT_EQ(ep().session_count(), 0u);
}

TEST_F(EndpointUdpTest, EmptyNonIsBadPacket) {
  udp_in(kUdpPeer, udp_empty(Type::kNon, 5));
  EXPECT_TRUE(take_udp().empty());
  EXPECT_EQ(events(), Events{"bad_packet"});
  EXPECT_EQ(ep().counters().bad_packets, 1u);
}

TEST_F(EndpointUdpTest, MalformedConGetsRstAndIsCounted) {
  // Option delta nibble 15.
  udp_in(kUdpPeer, {0x40, 0x01, 0x12, 0x34, 0xf1, 'a'});
  Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kRst);
  EXPECT_EQ(r.mid, 0x1234);
  EXPECT_EQ(events(), Events{"bad_packet"});
  EXPECT_EQ(listener.last().peer, kUdpPeer);
  EXPECT_EQ(listener.last().session, 0u);
  EXPECT_NE(listener.last().reason.find("bad option"), std::string::npos) << listener.last().reason;
  EXPECT_EQ(ep().counters().bad_packets, 1u);
  EXPECT_EQ(ep().counters().rst_sent, 1u);

  // TKL 9, an empty message with a token, a marker without payload.
  udp_in(kUdpPeer, {0x49, 0x01, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(one_udp().mid, 2);
  udp_in(kUdpPeer, {0x41, 0x00, 0x00, 0x03, 0xaa});
  EXPECT_EQ(one_udp().mid, 3);
  udp_in(kUdpPeer, {0x40, 0x01, 0x00, 0x04, 0xff});
  EXPECT_EQ(one_udp().mid, 4);
  EXPECT_EQ(events(), (Events{"bad_packet", "bad_packet", "bad_packet"}));
  EXPECT_EQ(ep().counters().bad_packets, 4u);
  // No handler ran and no session was made for malformed input.
  EXPECT_EQ(ep().counters().requests, 0u);
  EXPECT_EQ(ep().session_count(), 0u);
}

TEST_F(EndpointUdpTest, MalformedNonIsDroppedAndCounted) {
  udp_in(kUdpPeer, {0x50, 0x01, 0x12, 0x34, 0xf1, 'a'});
  EXPECT_TRUE(take_udp().empty());
  EXPECT_EQ(events(), Events{"bad_packet"});
  EXPECT_EQ(ep().counters().bad_packets, 1u);
  EXPECT_EQ(ep().counters().rst_sent, 0u);
}

TEST_F(EndpointUdpTest, UnreadableHeaderIsDroppedWithoutRst) {
  udp_in(kUdpPeer, {0x40, 0x01, 0x12});                   // truncated
  udp_in(kUdpPeer, {0x80, 0x01, 0x12, 0x34, 0xb1, 'a'});  // version 2
  udp_in(kUdpPeer, {0x44, 0x01, 0x12, 0x34, 0xaa});       // token cut short
  EXPECT_TRUE(take_udp().empty());
  EXPECT_EQ(events(), (Events{"bad_packet", "bad_packet", "bad_packet"}));
  EXPECT_EQ(ep().counters().bad_packets, 3u);
}

TEST_F(EndpointUdpTest, MessagesThatAreNotValidOverUdp) {
  // A signaling code in a CON: RST and counted.
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kCsm, 9, Token{}));
  EXPECT_EQ(one_udp().type, Type::kRst);
  // An ACK carrying a request code, a RST carrying a response: counted, no answer.
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kGet, 10, tok({1})));
  udp_in(kUdpPeer, udp_msg(Type::kRst, codes::kContent, 11, tok({1})));
  EXPECT_TRUE(take_udp().empty());
  EXPECT_EQ(events(), (Events{"bad_packet", "bad_packet", "bad_packet"}));
  // A response nobody asked for: RST for a CON, silence for NON/ACK.
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kContent, 12, tok({1})));
  const Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kRst);
  EXPECT_EQ(r.mid, 12);
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kContent, 13, tok({1})));
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, 14, tok({1})));
  udp_in(kUdpPeer, udp_empty(Type::kAck, 15));
  EXPECT_TRUE(take_udp().empty());
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointUdpTest, DuplicateConIsAnsweredFromTheCache) {
  const auto post = udp_msg(Type::kCon, codes::kPost, 7, tok({1}), path_opts("/counter"));
  udp_in(kUdpPeer, post);
  ASSERT_EQ(net.datagrams.size(), 1u);
  const std::vector<uint8_t> first = net.datagrams[0].bytes;
  EXPECT_EQ(decode_udp(first).code, codes::kChanged);
  EXPECT_EQ(decode_udp(first).body(), "1");
  net.datagrams.clear();

  advance(seconds(3));
  udp_in(kUdpPeer, post);
  ASSERT_EQ(net.datagrams.size(), 1u);
  EXPECT_EQ(net.datagrams[0].bytes, first);
  net.datagrams.clear();
  EXPECT_EQ(counter->hits, 1);
  EXPECT_EQ(ep().counters().duplicates, 1u);

  // Same MID, other content: still a duplicate, the handler does not run.
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kPut, 8, tok({2}), path_opts("/echo"), "one"));
  const Decoded put1 = one_udp();
  EXPECT_EQ(put1.code, codes::kChanged);
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kPut, 8, tok({3}), path_opts("/echo"), "two"));
  const Decoded put2 = one_udp();
  EXPECT_EQ(put2.token, tok({2}));
  EXPECT_EQ(put2.body(), put1.body());
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 9, tok({4}), path_opts("/echo")));
  EXPECT_EQ(one_udp().body(), "one");

  // The same MID from another peer is another message.
  udp_in(kUdpPeer2, post);
  EXPECT_EQ(one_udp(kUdpPeer2).body(), "2");
  EXPECT_EQ(counter->hits, 2);
  EXPECT_EQ(events(), (Events{"server_session_new", "server_session_new"}));
}

TEST_F(EndpointUdpTest, DuplicateDetectionIsTheSameWhateverTheSeed) {
  // The seed keys the hashes of the dedup cache and the session table; which
  // slots are used changes, what is found does not.
  const auto post = udp_msg(Type::kCon, codes::kPost, 7, tok({1}), path_opts("/counter"));
  for (uint64_t s : {uint64_t{1}, uint64_t{2}, ~uint64_t{0}}) {
    SCOPED_TRACE("seed " + std::to_string(s));
    FakeNetworkIo io(&now);
    RecordingListener l;
    Endpoint e(config, dir, io, l, s);
    const int before = counter->hits;
    for (int i = 0; i < 3; ++i) e.on_datagram(kUdpPeer, post, now);
    e.on_datagram(kUdpPeer2, post, now);
    EXPECT_EQ(counter->hits, before + 2);
    EXPECT_EQ(e.counters().duplicates, 2u);
    EXPECT_EQ(e.session_count(), 2u);
    ASSERT_EQ(io.datagrams.size(), 4u);
    EXPECT_EQ(io.datagrams[1].bytes, io.datagrams[0].bytes);
    EXPECT_EQ(io.datagrams[2].bytes, io.datagrams[0].bytes);
    e.shutdown(now);
  }
}

TEST_F(EndpointUdpTest, DuplicateNonIsNotProcessedTwice) {
  const auto post = udp_msg(Type::kNon, codes::kPost, 5, tok({1}), path_opts("/counter"));
  udp_in(kUdpPeer, post);
  udp_in(kUdpPeer, post);
  EXPECT_EQ(take_udp().size(), 1u);
  EXPECT_EQ(counter->hits, 1);
}

TEST_F(EndpointUdpTest, DuplicateDetectionEndsAfterExchangeLifetime) {
  ASSERT_EQ(config.exchange_lifetime(), seconds(247));
  const auto post = udp_msg(Type::kCon, codes::kPost, 7, tok({1}), path_opts("/counter"));
  udp_in(kUdpPeer, post);
  EXPECT_EQ(ep().dedup_entries(), 1u);
  advance(seconds(247) - milliseconds(1));
  udp_in(kUdpPeer, post);
  EXPECT_EQ(counter->hits, 1);
  advance(milliseconds(1));
  udp_in(kUdpPeer, post);
  EXPECT_EQ(counter->hits, 2);
  EXPECT_EQ(take_udp().size(), 3u);
}

TEST_F(EndpointUdpTest, SessionsComeAndGoWithTraffic) {
  ASSERT_EQ(config.udp_session_timeout, seconds(300));
  const TimePoint t0 = now;
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 1, tok({1}), path_opts("/time")));
  EXPECT_EQ(events(), Events{"server_session_new"});
  const SessionId s1 = listener.last().session;
  advance(seconds(100));
  udp_in(kUdpPeer2, udp_msg(Type::kNon, codes::kGet, 1, tok({1}), path_opts("/time")));
  EXPECT_EQ(events(), Events{"server_session_new"});
  const SessionId s2 = listener.last().session;
  EXPECT_NE(s1, s2);
  EXPECT_EQ(ep().session_count(), 2u);

  advance_to(t0 + seconds(300) - milliseconds(1));
  EXPECT_EQ(events(), Events{});
  advance_to(t0 + seconds(300));
  EXPECT_EQ(events(), Events{"server_session_del"});
  EXPECT_EQ(listener.last().session, s1);
  EXPECT_EQ(listener.last().time, t0 + seconds(300));
  EXPECT_EQ(ep().session_count(), 1u);

  // Traffic from peer 2 at t0+350 keeps it until t0+650.
  advance_to(t0 + seconds(350));
  udp_in(kUdpPeer2, udp_msg(Type::kNon, codes::kGet, 2, tok({1}), path_opts("/time")));
  advance_to(t0 + seconds(649));
  EXPECT_EQ(events(), Events{});
  advance_to(t0 + seconds(650));
  EXPECT_EQ(events(), Events{"server_session_del"});
  EXPECT_EQ(listener.last().session, s2);
  EXPECT_EQ(ep().session_count(), 0u);

  // The peer coming back gets a new session.
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 3, tok({1}), path_opts("/time")));
  EXPECT_EQ(events(), Events{"server_session_new"});
  EXPECT_NE(listener.last().session, s1);
  net.datagrams.clear();
}

// Found by the endpoint_udp fuzz target: with a session timeout shorter than
// EXCHANGE_LIFETIME a peer was forgotten while Message IDs coapd had sent it
// were live, and its next session started at a random ID, possibly one of
// them (RFC 7252 4.4). It is remembered until EXCHANGE_LIFETIME after
// coapd's last message of its own to it.
TEST_F(EndpointUdpTest, APeerIsRememberedWhileMessageIdsSentToItAreLive) {
  config.udp_session_timeout = seconds(10);
  const TimePoint t0 = now;
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, 1, tok({1}), path_opts("/time")));
  const Decoded first = one_udp();
  advance(seconds(100));
  EXPECT_EQ(events(), Events{"server_session_new"}) << "not forgotten after 10 s";
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, 2, tok({2}), path_opts("/time")));
  EXPECT_EQ(one_udp().mid, static_cast<uint16_t>(first.mid + 1)) << "the same session";
  advance_to(t0 + seconds(100) + config.exchange_lifetime() - milliseconds(1));
  EXPECT_EQ(events(), Events{});
  advance(milliseconds(1));
  EXPECT_EQ(events(), Events{"server_session_del"});

  // An ACK carries the peer's own ID: nothing to keep the session for.
  udp_in(kUdpPeer2, udp_msg(Type::kCon, codes::kGet, 3, tok({3}), path_opts("/time")));
  EXPECT_EQ(one_udp(kUdpPeer2).type, Type::kAck);
  advance(seconds(10));
  EXPECT_EQ(events(), (Events{"server_session_new", "server_session_del"}));
}

TEST_F(EndpointUdpTest, LeastRecentlyActivePeerIsForgottenWhenFull) {
  config.max_udp_sessions = 2;
  const Address p3 = Address::v4(192, 0, 2, 12, 1);
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, 1, tok({1}), path_opts("/time")));
  advance(seconds(1));
  udp_in(kUdpPeer2, udp_msg(Type::kNon, codes::kGet, 1, tok({1}), path_opts("/time")));
  advance(seconds(1));
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kGet, 2, tok({1}), path_opts("/time")));
  EXPECT_EQ(events(), (Events{"server_session_new", "server_session_new"}));
  const SessionId s2 = listener.last().session;
  udp_in(p3, udp_msg(Type::kNon, codes::kGet, 1, tok({1}), path_opts("/time")));
  EXPECT_EQ(events(), (Events{"server_session_del", "server_session_new"}));
  EXPECT_EQ(listener.events[listener.events.size() - 2].session, s2);
  EXPECT_EQ(ep().session_count(), 2u);
  net.datagrams.clear();
}

TEST_F(EndpointUdpTest, ServerBlockwiseOverUdp) {
  // A 3000-byte representation is served in 1024-byte blocks.
  const std::string body = pattern(3000);
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kPut, 1, tok({1}), path_opts("/echo"), body));
  take_udp();
  std::string got;
  for (uint32_t num = 0; num < 3; ++num) {
    udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, static_cast<uint16_t>(10 + num), tok({2}),
                             path_opts("/echo") +
                                 opt_uint(opt::kBlock2, BlockOption{num, false, 6}.encode())));
    const Decoded r = one_udp();
    EXPECT_EQ(r.code, codes::kContent);
    EXPECT_EQ(r.mid, 10 + num);
    EXPECT_LE(r.payload.size(), 1024u);
    got += r.body();
  }
  EXPECT_EQ(got, body);
}

TEST_F(EndpointUdpTest, BertBlockSizeIsABadRequestOverUdp) {
  udp_in(kUdpPeer,
         udp_msg(Type::kCon, codes::kGet, 1, tok({1}),
                 path_opts("/echo") + opt_uint(opt::kBlock2, BlockOption{0, false, 7}.encode())));
  const Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kAck);
  EXPECT_EQ(r.code, codes::kBadRequest);
  udp_in(kUdpPeer,
         udp_msg(Type::kCon, codes::kPost, 2, tok({2}),
                 path_opts("/counter") + opt_uint(opt::kBlock1, BlockOption{0, false, 7}.encode()),
                 "x"));
  EXPECT_EQ(one_udp().code, codes::kBadRequest);
  EXPECT_EQ(counter->hits, 0);
}

}  // namespace
}  // namespace coap
