// Requests as a gateway client shapes them: NON requests (RFC 7252 4.3),
// options given by the caller, the caller's own token, and the block size
// asked for (RFC 7959 2.4).
#include <gtest/gtest.h>

#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

constexpr std::string_view kPeerUri = "coap://192.0.2.10:40000";

class EndpointRequestOptionsTest : public EndpointTest {
 protected:
  ClientRequest udp_request(std::string_view path) {
    ClientRequest r = get_request(std::string(kPeerUri) + std::string(path));
    r.timeout = seconds(10);
    return r;
  }
};

TEST_F(EndpointRequestOptionsTest, ANonRequestIsSentOnceAndTakesANonResponse) {
  ClientRequest r = udp_request("/time");
  r.confirmable = false;
  request(1, std::move(r));
  const Decoded non = one_udp();
  EXPECT_EQ(non.type, Type::kNon);
  EXPECT_EQ(non.code, codes::kGet);
  advance(seconds(5));
  EXPECT_TRUE(net.datagrams.empty()) << "a NON is never retransmitted";
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kContent, 0x4242, non.token, {}, "12:00"));
  EXPECT_TRUE(net.datagrams.empty()) << "a NON response is not acknowledged";
  EXPECT_EQ(listener.result(1).code, codes::kContent);
  EXPECT_EQ(string_of(listener.result(1).payload), "12:00");
}

TEST_F(EndpointRequestOptionsTest, ANonRequestWithoutAnswerTimesOutOnce) {
  ClientRequest r = udp_request("/time");
  r.confirmable = false;
  request(1, std::move(r));
  one_udp();
  advance(seconds(9));
  EXPECT_EQ(listener.count(1), 0u);
  advance(seconds(2));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kTimeout);
  EXPECT_TRUE(net.datagrams.empty());
}

TEST_F(EndpointRequestOptionsTest, ANonRequestMayGetAConResponseWhichIsAcknowledged) {
  ClientRequest r = udp_request("/time");
  r.confirmable = false;
  request(1, std::move(r));
  const Decoded non = one_udp();
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kContent, 0x5151, non.token, {}, "x"));
  const Decoded ack = one_udp();
  EXPECT_EQ(ack.type, Type::kAck);
  EXPECT_EQ(ack.mid, 0x5151);
  EXPECT_EQ(listener.result(1).code, codes::kContent);
}

TEST_F(EndpointRequestOptionsTest, CallerOptionsGoOutInNumberOrderWithTheUriOnes) {
  ClientRequest r = udp_request("/a/b?x=1");
  r.options = {{258, {0x1a}}, {2049, {'h', 'i'}}, {4, {0xee}}};  // No-Response, unknown, ETag
  request(1, std::move(r));
  const Decoded con = one_udp();
  std::vector<uint16_t> numbers;
  for (const auto& o : con.options) numbers.push_back(o.first);
  EXPECT_EQ(numbers, (std::vector<uint16_t>{4, 11, 11, 15, 258, 2049}));
  EXPECT_EQ(*con.value(258), std::vector<uint8_t>{0x1a});
  EXPECT_EQ(*con.value(2049), (std::vector<uint8_t>{'h', 'i'}));
}

TEST_F(EndpointRequestOptionsTest, TheCallersTokenIsUsedAndMatchedWhateverItsLength) {
  const std::vector<std::vector<uint8_t>> tokens = {{}, {0x01}, {0x00, 0x01}, {1, 2, 3, 4, 5}};
  RequestId id = 1;
  for (const auto& t : tokens) {
    ClientRequest r = udp_request("/time");
    r.token = Token::from(t);
    request(id, std::move(r));
    const Decoded con = one_udp();
    EXPECT_EQ(con.token, Token::from(t));
    udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, con.mid, con.token, {}, "ok"));
    EXPECT_EQ(listener.result(id).code, codes::kContent) << "token " << Token::from(t).hex();
    ++id;
  }
}

TEST_F(EndpointRequestOptionsTest, ATokenInUseIsRefusedAndTokensOfOtherLengthsDoNotMatch) {
  ClientRequest a = udp_request("/time");
  a.token = Token::from(std::vector<uint8_t>{0x01});
  request(1, std::move(a));
  const Decoded first = one_udp();
  ClientRequest b = udp_request("/time");
  b.token = Token::from(std::vector<uint8_t>{0x01});
  request(2, std::move(b));
  EXPECT_EQ(listener.result(2).status, ClientResult::Status::kError);
  EXPECT_NE(listener.result(2).error.find("token 01 is in use"), std::string::npos)
      << listener.result(2).error;
  // 0x0001 is another token than 0x01: answered with RST, no completion.
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kContent, 0x3333,
                           Token::from(std::vector<uint8_t>{0x00, 0x01}), {}, "no"));
  EXPECT_EQ(one_udp().type, Type::kRst);
  EXPECT_EQ(listener.count(1), 0u);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, first.mid, first.token, {}, "yes"));
  EXPECT_EQ(string_of(listener.result(1).payload), "yes");
}

TEST_F(EndpointRequestOptionsTest, ABlockSizeIsAskedForAndUsedForUploads) {
  ClientRequest get = udp_request("/big");
  get.block_szx = 2;  // 64 bytes
  request(1, std::move(get));
  const Decoded con = one_udp();
  const auto b2 = BlockOption::decode(con.uint(opt::kBlock2).value_or(0xffffffff));
  ASSERT_TRUE(b2) << "early negotiation: Block2 in the first request";
  EXPECT_EQ(b2->num, 0u);
  EXPECT_EQ(b2->szx, 2);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, con.mid, con.token, {}, "small"));
  EXPECT_EQ(listener.result(1).code, codes::kContent);

  ClientRequest put = udp_request("/up");
  put.method = codes::kPut;
  put.payload.assign(100, 'p');
  put.block_szx = 1;  // 32 bytes
  request(2, std::move(put));
  const Decoded block0 = one_udp();
  const auto b1 = BlockOption::decode(block0.uint(opt::kBlock1).value_or(0xffffffff));
  ASSERT_TRUE(b1);
  EXPECT_EQ(b1->szx, 1);
  EXPECT_TRUE(b1->more);
  EXPECT_EQ(block0.payload.size(), 32u);
  EXPECT_FALSE(block0.has(opt::kBlock2));
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kInternalServerError, block0.mid, block0.token));
  EXPECT_EQ(listener.result(2).code, codes::kInternalServerError);
}

}  // namespace
}  // namespace coap
