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

}  // namespace
}  // namespace coap
