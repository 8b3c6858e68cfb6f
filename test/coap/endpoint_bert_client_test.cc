// BERT from coapd's client (RFC 8323 section 6): over CoAP over TCP, to a
// peer whose CSM offers block-wise transfers and room for more than one
// 1024-byte block, an upload carries several blocks per message and a
// download asks for several; to any other peer the blocks are 1024 bytes.
#include <gtest/gtest.h>

#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

constexpr std::string_view kTcpUri = "coap+tcp://198.51.100.5";

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

class EndpointBertClientTest : public EndpointTest {
 protected:
  // A session to kTcpUri whose peer sent a CSM with mms and bwt; returns it
  // with request `id` already sent (its frames not yet read).
  ConnId open(RequestId id, ClientRequest r, uint32_t mms, bool bwt) {
    request(id, std::move(r));
    const ConnId c = net.last_connect();
    ep().on_tcp_connected(c, kLocal, now);
    frames(c);  // our CSM
    tcp_in(c, csm(mms, bwt));
    return c;
  }

  ClientRequest put(std::size_t bytes, std::size_t bert_bytes) {
    ClientRequest r = get_request(std::string(kTcpUri) + "/up");
    r.method = codes::kPut;
    const std::string body = pattern(bytes);
    r.payload.assign(body.begin(), body.end());
    r.block_szx = 7;
    r.bert_bytes = bert_bytes;
    return r;
  }

  struct Block {
    BlockOption b1;
    std::size_t payload = 0;
    std::size_t wire = 0;
  };
  // Answers every Block1 frame as a server does (2.31 with the request's
  // Block1, 2.04 to the last) and returns the blocks and the body received.
  std::vector<Block> serve_upload(ConnId c, RequestId id, std::string* body) {
    std::vector<Block> seen;
    for (int guard = 0; guard < 64 && listener.count(id) == 0; ++guard) {
      const auto f = frames(c);
      if (f.size() != 1) {
        ADD_FAILURE() << f.size() << " frames after block " << seen.size();
        break;
      }
      const auto b1 = BlockOption::decode(f[0].uint(opt::kBlock1).value_or(0xffffffff));
      if (!b1) {
        ADD_FAILURE() << "no Block1 in message " << seen.size();
        break;
      }
      seen.push_back({*b1, f[0].body().size(), f[0].wire_size});
      *body += f[0].body();
      tcp_in(c, tcp_msg(b1->more ? codes::kContinue : codes::kChanged, f[0].token,
                        {opt_uint(opt::kBlock1, b1->encode())}));
    }
    return seen;
  }
};

TEST_F(EndpointBertClientTest, AnUploadCarriesSeveralBlocksPerMessageUpToTheCap) {
  const ConnId c = open(1, put(10000, 4096), 8192, true);
  std::string body;
  const auto blocks = serve_upload(c, 1, &body);
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(body, pattern(10000));
  const uint32_t nums[] = {0, 4, 8};  // NUM counts 1024-byte blocks
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(blocks[i].b1.szx, 7) << i;
    EXPECT_EQ(blocks[i].b1.num, nums[i]) << i;
    EXPECT_EQ(blocks[i].b1.more, i < 2) << i;
  }
  EXPECT_EQ(blocks[0].payload, 4096u);
  EXPECT_EQ(blocks[1].payload, 4096u);
  EXPECT_EQ(blocks[2].payload, 10000u - 8192u);  // the last: any size
  EXPECT_EQ(listener.result(1).code, codes::kChanged);
}

TEST_F(EndpointBertClientTest, WithoutACapAsManyBlocksAsThePeerMaxMessageSizeTakes) {
  const ConnId c = open(1, put(9000, 0), 3500, true);
  std::string body;
  const auto blocks = serve_upload(c, 1, &body);
  EXPECT_EQ(body, pattern(9000));
  ASSERT_GE(blocks.size(), 2u);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_LE(blocks[i].wire, 3500u) << i;
    EXPECT_EQ(blocks[i].b1.szx, 7) << i;
    if (blocks[i].b1.more) {
      EXPECT_EQ(blocks[i].payload, 3072u) << "3 blocks fit, not 4: " << i;
    }
  }
}

TEST_F(EndpointBertClientTest, APeerWithoutBlockWiseInItsCsmGets1024ByteBlocks) {
  const ConnId c = open(1, put(3000, 4096), 8192, false);
  std::string body;
  const auto blocks = serve_upload(c, 1, &body);
  EXPECT_EQ(body, pattern(3000));
  ASSERT_EQ(blocks.size(), 3u);
  for (const Block& b : blocks) EXPECT_EQ(b.b1.szx, 6);
  EXPECT_EQ(blocks[0].payload, 1024u);
  EXPECT_EQ(blocks[1].b1.num, 1u);
}

TEST_F(EndpointBertClientTest, APeerWithTheDefaultMaxMessageSizeGetsNoBert) {
  // 1152 bytes hold one 1024-byte block at most: BERT would gain nothing.
  const ConnId c = open(1, put(2500, 0), 1152, true);
  std::string body;
  const auto blocks = serve_upload(c, 1, &body);
  EXPECT_EQ(body, pattern(2500));
  for (const Block& b : blocks) EXPECT_LT(b.b1.szx, 7);
}

TEST_F(EndpointBertClientTest, AServerThatConfirmsWithSzx6IsFollowedFromItsBlock) {
  // A server that took only the first 1024 bytes of a BERT message and
  // says so with SZX 6 gets the rest from there, in 1024-byte blocks.
  const ConnId c = open(1, put(5000, 4096), 8192, true);
  auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].body().size(), 4096u);
  tcp_in(c, tcp_msg(codes::kContinue, f[0].token,
                    {opt_uint(opt::kBlock1, BlockOption{0, true, 6}.encode())}));
  f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  const auto b1 = BlockOption::decode(f[0].uint(opt::kBlock1).value_or(0xffffffff));
  ASSERT_TRUE(b1);
  EXPECT_EQ(b1->szx, 6);
  EXPECT_EQ(b1->num, 1u);
  EXPECT_EQ(f[0].body(), pattern(5000).substr(1024, 1024));
}

TEST_F(EndpointBertClientTest, ADownloadAsksForBertAndAssemblesSeveralBlocksPerMessage) {
  ClientRequest r = get_request(std::string(kTcpUri) + "/big");
  r.block_szx = 7;
  const ConnId c = open(1, std::move(r), 8192, true);
  const std::string big = pattern(7000);
  auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  auto b2 = BlockOption::decode(f[0].uint(opt::kBlock2).value_or(0xffffffff));
  ASSERT_TRUE(b2) << "early negotiation: BERT asked for";
  EXPECT_EQ(b2->szx, 7);
  EXPECT_EQ(b2->num, 0u);
  tcp_in(c,
         tcp_msg(codes::kContent, f[0].token,
                 {opt_uint(opt::kBlock2, BlockOption{0, true, 7}.encode())}, big.substr(0, 4096)));
  f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  b2 = BlockOption::decode(f[0].uint(opt::kBlock2).value_or(0xffffffff));
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->szx, 7);
  EXPECT_EQ(b2->num, 4u);
  tcp_in(c, tcp_msg(codes::kContent, f[0].token,
                    {opt_uint(opt::kBlock2, BlockOption{4, false, 7}.encode())}, big.substr(4096)));
  ASSERT_EQ(listener.count(1), 1u);
  EXPECT_EQ(listener.result(1).code, codes::kContent);
  EXPECT_EQ(string_of(listener.result(1).payload), big);
}

TEST_F(EndpointBertClientTest, OverUdpBertIsAskedAs1024) {
  ClientRequest r = get_request("coap://192.0.2.10:40000/big");
  r.block_szx = 7;  // RFC 7959 2.2: SZX 7 is reserved over UDP
  request(1, std::move(r));
  const Decoded con = one_udp();
  const auto b2 = BlockOption::decode(con.uint(opt::kBlock2).value_or(0xffffffff));
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->szx, 6);
}

}  // namespace
}  // namespace coap
