// Requests sent to a multicast group (RFC 7252 8, RFC 7390), with the fake
// clock: only NON GETs of /.well-known/core (filter matching) and of
// resources marked multicast are answered, with a NON after a random delay
// within Leisure; never an error; a flood keeps what waits bounded.
#include <gtest/gtest.h>

#include "coap/user_resource.h"
#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

class GroupTest : public EndpointTest {
 protected:
  void SetUp() override {
    EndpointTest::SetUp();
    config.leisure = seconds(2);
    for (std::string_view e : {"/lamp,rt=light,multicast,value=on", "/quiet,rt=light,value=off"}) {
      auto spec = parse_resource_entry(e);
      ASSERT_TRUE(spec) << spec.error();
      dir.add(std::make_unique<UserResource>(*spec, ResourceSource::kConfig, 64));
    }
  }
  void group_in(Type type, std::string_view path, std::vector<Opt> extra = {},
                const Address& from = kUdpPeer) {
    ep().on_group_datagram(
        from, udp_msg(type, codes::kGet, ++mid_, tok({0x42}), path_opts(path) + extra), now);
  }
  uint16_t mid_ = 7;
};

TEST_F(GroupTest, DiscoveryIsAnsweredWithANonWithinLeisure) {
  group_in(Type::kNon, "/.well-known/core", {opt_str(opt::kUriQuery, "rt=light")});
  EXPECT_TRUE(net.datagrams.empty()) << "answered at once, not after a random wait";
  EXPECT_EQ(ep().group_responses(), 1u);
  advance(seconds(2));
  const Decoded r = one_udp();
  EXPECT_EQ(r.type, Type::kNon);
  EXPECT_EQ(r.code, codes::kContent);
  EXPECT_EQ(r.token, tok({0x42}));
  EXPECT_EQ(r.body(), "</lamp>;ct=0;rt=\"light\",</quiet>;ct=0;rt=\"light\"");
  EXPECT_EQ(ep().session_count(), 0u) << "a group request made a session";
}

TEST_F(GroupTest, NothingForNoMatchErrorsConOrUnmarkedResources) {
  group_in(Type::kNon, "/.well-known/core", {opt_str(opt::kUriQuery, "rt=nothing")});
  group_in(Type::kCon, "/.well-known/core");
  group_in(Type::kNon, "/quiet");  // not marked multicast
  group_in(Type::kNon, "/time");
  group_in(Type::kNon, "/no/such/thing");
  ep().on_group_datagram(kUdpPeer, std::vector<uint8_t>{0x40, 0x01}, now);  // malformed: no RST
  ep().on_group_datagram(
      kUdpPeer, udp_msg(Type::kNon, codes::kPut, 1, tok({1}), path_opts("/lamp"), "x"), now);
  advance(seconds(3));
  EXPECT_TRUE(net.datagrams.empty());
  group_in(Type::kNon, "/lamp");
  advance(seconds(2));
  EXPECT_EQ(one_udp().body(), "on");
}

TEST_F(GroupTest, AFloodKeepsAnswersBounded) {
  config.leisure = seconds(5);
  for (int i = 0; i < 1000; ++i)
    group_in(Type::kNon, "/.well-known/core", {},
             Address::v4(192, 0, 2, 100, static_cast<uint16_t>(20000 + i)));
  EXPECT_EQ(ep().group_responses(), Endpoint::kMaxGroupResponses);
  advance(milliseconds(2500));
  const std::size_t early = net.datagrams.size();
  advance(milliseconds(2500));
  EXPECT_EQ(net.datagrams.size(), Endpoint::kMaxGroupResponses);
  // Spread over Leisure, not all at one instant.
  EXPECT_GT(early, 0u);
  EXPECT_LT(early, Endpoint::kMaxGroupResponses);
  EXPECT_EQ(ep().group_responses(), 0u);
  EXPECT_EQ(ep().session_count(), 0u);
}

TEST_F(GroupTest, DiscoveryCollectsEveryResponderOnce) {
  const Address group = Address::v4(224, 0, 1, 187, 5683);
  std::vector<DiscoveredNode> found;
  int calls = 0;
  ASSERT_TRUE(ep().start_discovery(group, seconds(3), now, [&](std::vector<DiscoveredNode> n) {
    found = std::move(n);
    ++calls;
  }));
  ASSERT_EQ(net.datagrams.size(), 1u);
  EXPECT_EQ(net.datagrams[0].to, group);
  const Decoded req = decode_udp(net.datagrams[0].bytes);
  net.datagrams.clear();
  EXPECT_EQ(req.type, Type::kNon);
  EXPECT_EQ(req.code, codes::kGet);
  EXPECT_EQ(req.path(), "/.well-known/core");
  const Address a = Address::v4(192, 0, 2, 30, 5683), b = Address::v4(192, 0, 2, 31, 5683);
  auto answer = [&](const Address& from, Type t, std::string_view links) {
    ep().on_datagram(from, udp_msg(t, codes::kContent, 9, req.token, {}, links), now);
  };
  answer(a, Type::kNon, "</x>");
  answer(b, Type::kCon, "</y>");
  EXPECT_EQ(one_udp(b).type, Type::kAck) << "a CON answer is acknowledged";
  answer(a, Type::kNon, "</x>,</z>");  // the same responder again: one entry, the latest
  advance(milliseconds(2999));
  EXPECT_EQ(calls, 0);
  advance(milliseconds(1));
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].from, a);
  EXPECT_EQ(found[0].links, "</x>,</z>");
  EXPECT_EQ(found[1].from, b);
  EXPECT_EQ(found[1].links, "</y>");
  // Late answers belong to nobody now.
  answer(a, Type::kNon, "</late>");
  advance(seconds(5));
  EXPECT_EQ(calls, 1);
}

TEST_F(GroupTest, DiscoveryEndsAtShutdownAndIsBounded) {
  int calls = 0;
  for (std::size_t i = 0; i < Endpoint::kMaxDiscoveries; ++i)
    ASSERT_TRUE(ep().start_discovery(Address::v4(224, 0, 1, 187, 5683), seconds(30), now,
                                     [&](std::vector<DiscoveredNode>) { ++calls; }));
  EXPECT_FALSE(ep().start_discovery(Address::v4(224, 0, 1, 187, 5683), seconds(30), now,
                                    [&](std::vector<DiscoveredNode>) { ++calls; }));
  ep().shutdown(now);
  EXPECT_EQ(calls, static_cast<int>(Endpoint::kMaxDiscoveries));
}

}  // namespace
}  // namespace coap
