// The Endpoint as a client: CON retransmission (RFC 7252 4.2, 4.8),
// piggybacked and separate responses (5.2), Block1/Block2 transfers
// (RFC 7959) against a fake peer and against a second real Endpoint, and
// requests over CoAP-over-TCP sessions.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

constexpr std::string_view kUdpPeerUri = "coap://192.0.2.10:40000";
constexpr std::string_view kTcpServerUri = "coap+tcp://198.51.100.5";

class EndpointClientTest : public EndpointTest {
 protected:
  // Sends request `id` to kUdpPeer and returns the CON that went out.
  Decoded send_udp(RequestId id, std::string_view path, Duration timeout = seconds(120)) {
    ClientRequest r = get_request(std::string(kUdpPeerUri) + std::string(path));
    r.timeout = timeout;
    request(id, std::move(r));
    return one_udp();
  }

  // Uploads r in Block1 blocks over a new TCP session to a peer that
  // announces Max-Message-Size mms; every frame must fit it and use block
  // size exponent szx. Returns the body the peer received.
  std::string tcp_upload(RequestId id, const ClientRequest& r, uint32_t mms, uint8_t szx) {
    const std::size_t bs = std::size_t{16} << szx;
    const std::size_t blocks = (r.payload.size() + bs - 1) / bs;
    request(id, r);
    const ConnId c = net.last_connect();
    ep().on_tcp_connected(c, kLocal, now);
    frames(c);
    tcp_in(c, csm(mms, true));
    std::string got;
    for (uint32_t n = 0; n < blocks; ++n) {
      const auto f = frames(c);
      if (f.size() != 1) {
        ADD_FAILURE() << f.size() << " frames for block " << n;
        break;
      }
      EXPECT_LE(f[0].wire_size, mms) << "block " << n;
      const auto b = BlockOption::decode(f[0].uint(opt::kBlock1).value_or(0xffffffff));
      if (!b) {
        ADD_FAILURE() << "no Block1 in block " << n;
        break;
      }
      EXPECT_EQ(b->num, n);
      EXPECT_EQ(b->szx, szx);
      EXPECT_EQ(b->more, n + 1 < blocks);
      EXPECT_EQ(f[0].has(opt::kSize1), n == 0);
      got += f[0].body();
      tcp_in(c, tcp_msg(n + 1 < blocks ? codes::kContinue : codes::kChanged, f[0].token,
                        {opt_uint(opt::kBlock1, b->encode())}));
    }
    EXPECT_EQ(listener.result(id).code, codes::kChanged);
    events();
    return got;
  }
};

TEST_F(EndpointClientTest, ConIsRetransmittedWithExponentialBackoffThenTimesOut) {
  const TimePoint t0 = now;
  ClientRequest r = get_request(std::string(kUdpPeerUri) + "/time");
  r.timeout = seconds(300);  // longer than MAX_TRANSMIT_WAIT: the retransmissions end first
  request(1, std::move(r));
  ASSERT_EQ(net.datagrams.size(), 1u);
  const auto first = net.datagrams[0].bytes;
  const Decoded con = decode_udp(first);
  EXPECT_EQ(con.type, Type::kCon);
  EXPECT_EQ(con.code, codes::kGet);
  EXPECT_EQ(con.path(), "/time");
  EXPECT_EQ(con.token.len, 8);
  EXPECT_EQ(net.datagrams[0].to, kUdpPeer);

  // ACK_TIMEOUT .. ACK_TIMEOUT * ACK_RANDOM_FACTOR, then doubling.
  advance(seconds(4));
  ASSERT_GE(net.datagrams.size(), 2u);
  const Duration t = net.datagrams[1].at - t0;
  EXPECT_GE(t, seconds(2));
  EXPECT_LE(t, seconds(3));
  advance_to(t0 + t * 31 - std::chrono::nanoseconds(1));
  ASSERT_EQ(net.datagrams.size(), 5u);  // MAX_RETRANSMIT = 4
  for (int k = 1; k <= 4; ++k) {
    EXPECT_EQ(net.datagrams[k].at - t0, t * ((1 << k) - 1)) << "retransmission " << k;
    EXPECT_EQ(net.datagrams[k].bytes, first) << "retransmission " << k;
  }
  EXPECT_EQ(listener.count(1), 0u);
  advance(std::chrono::nanoseconds(1));
  const ClientResult& res = listener.result(1);
  EXPECT_EQ(res.status, ClientResult::Status::kTimeout);
  EXPECT_NE(res.error.find("5 transmissions"), std::string::npos) << res.error;
  EXPECT_EQ(ep().counters().retransmissions, 4u);
  EXPECT_EQ(ep().exchange_count(), 0u);
  // Nothing more is sent, and a late ACK changes nothing.
  advance(seconds(300));
  EXPECT_EQ(net.datagrams.size(), 5u);
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, con.mid, con.token, {}, "late"));
  EXPECT_EQ(listener.count(1), 1u);
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointClientTest, InitialTimeoutIsRandomPerMessage) {
  std::vector<Duration> timeouts;
  for (RequestId id = 1; id <= 12; ++id) {
    const TimePoint t0 = now;
    send_udp(id, "/time");
    advance(seconds(3));
    ASSERT_EQ(net.datagrams.size(), 1u) << id;
    timeouts.push_back(net.datagrams[0].at - t0);
    const Decoded c = one_udp();
    udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, c.mid, c.token));
  }
  for (Duration d : timeouts) {
    EXPECT_GE(d, seconds(2));
    EXPECT_LE(d, seconds(3));
  }
  std::sort(timeouts.begin(), timeouts.end());
  EXPECT_NE(timeouts.front(), timeouts.back());
}

TEST_F(EndpointClientTest, PiggybackedResponseCompletesTheRequest) {
  const Decoded con = send_udp(1, "/time");
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, con.mid, con.token,
                           {opt_uint(opt::kContentFormat, 0)}, "22.3 C"));
  const ClientResult& r = listener.result(1);
  EXPECT_EQ(r.status, ClientResult::Status::kResponse);
  EXPECT_EQ(r.code, codes::kContent);
  EXPECT_EQ(string_of(r.payload), "22.3 C");
  ASSERT_EQ(r.options.size(), 1u);
  EXPECT_EQ(r.options[0].first, opt::kContentFormat);
  EXPECT_NE(r.session, 0u);
  EXPECT_EQ(ep().counters().client_requests, 1u);
  EXPECT_EQ(ep().counters().client_responses, 1u);
  advance(seconds(200));
  EXPECT_TRUE(net.datagrams.empty()) << "no retransmission after the ACK";
  EXPECT_EQ(events(), Events{}) << "client UDP sessions have no server events";
}

TEST_F(EndpointClientTest, EmptyAckThenSeparateConResponse) {
  const Decoded con = send_udp(1, "/time");
  udp_in(kUdpPeer, udp_empty(Type::kAck, con.mid));
  EXPECT_EQ(listener.count(1), 0u);
  advance(seconds(60));
  EXPECT_TRUE(net.datagrams.empty()) << "the empty ACK stops retransmission";

  const auto response = udp_msg(Type::kCon, codes::kContent, 0x7777, con.token, {}, "later");
  udp_in(kUdpPeer, response);
  const Decoded ack = one_udp();
  EXPECT_EQ(ack.type, Type::kAck);
  EXPECT_EQ(ack.code, codes::kEmpty);
  EXPECT_EQ(ack.mid, 0x7777);
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kResponse);
  EXPECT_EQ(string_of(listener.result(1).payload), "later");

  // The peer did not get our ACK and sends the response again: ACKed again,
  // but the request completes only once.
  udp_in(kUdpPeer, response);
  const Decoded ack2 = one_udp();
  EXPECT_EQ(ack2.type, Type::kAck);
  EXPECT_EQ(ack2.mid, 0x7777);
  EXPECT_EQ(listener.count(1), 1u);
}

// Found by the endpoint_udp fuzz target on an older tree: the ACK sent
// again from the duplicate cache was not counted in datagrams_out. Main's
// send_udp counts every datagram; this keeps it so.
TEST_F(EndpointClientTest, AckSentAgainForARetransmittedResponseIsCounted) {
  const Decoded con = send_udp(1, "/time");
  const auto response = udp_msg(Type::kCon, codes::kContent, 0x7777, con.token, {}, "later");
  udp_in(kUdpPeer, response);
  udp_in(kUdpPeer, response);  // our ACK was lost
  EXPECT_EQ(take_udp().size(), 2u);
  EXPECT_EQ(ep().counters().datagrams_out, 3u) << "the CON and two ACKs";
}

TEST_F(EndpointClientTest, SeparateNonResponse) {
  const Decoded con = send_udp(1, "/time");
  udp_in(kUdpPeer, udp_empty(Type::kAck, con.mid));
  udp_in(kUdpPeer, udp_msg(Type::kNon, codes::kContent, 0x5151, con.token, {}, "non"));
  EXPECT_TRUE(net.datagrams.empty()) << "a NON is not acknowledged";
  EXPECT_EQ(string_of(listener.result(1).payload), "non");
}

TEST_F(EndpointClientTest, RstFailsTheRequest) {
  const Decoded con = send_udp(1, "/time");
  udp_in(kUdpPeer, udp_empty(Type::kRst, con.mid));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kError);
  advance(seconds(100));
  EXPECT_TRUE(net.datagrams.empty());
}

// Found by the endpoint_udp fuzz target: an ACK whose code is of a reserved
// class (1 or 6, RFC 7252 12.1) carries no response (4.2: "MUST carry a
// response or be Empty"); it completed the request as if it were one.
TEST_F(EndpointClientTest, AckWithAReservedCodeIsIgnored) {
  const Decoded con = send_udp(1, "/time");
  for (Code reserved : {Code(1, 25), Code(6, 0)})
    udp_in(kUdpPeer, udp_msg(Type::kAck, reserved, con.mid, con.token, {}, "x"));
  EXPECT_EQ(listener.count(1), 0u);
  EXPECT_EQ(ep().counters().bad_packets, 2u);
  advance(seconds(3));
  EXPECT_EQ(one_udp().mid, con.mid) << "still unacknowledged: retransmitted";
}

TEST_F(EndpointClientTest, ResponseWithAnotherTokenIsRejected) {
  const Decoded con = send_udp(1, "/time", seconds(10));
  Token other = con.token;
  other.bytes[0] ^= 0xff;
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kContent, 0x1111, other, {}, "not yours"));
  const Decoded rst = one_udp();
  EXPECT_EQ(rst.type, Type::kRst);
  EXPECT_EQ(rst.mid, 0x1111);
  EXPECT_EQ(listener.count(1), 0u);
  // A response from another address with the right token does not match either.
  udp_in(kUdpPeer2, udp_msg(Type::kNon, codes::kContent, 0x1112, con.token));
  EXPECT_EQ(listener.count(1), 0u);
  advance(seconds(10));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kTimeout);
  net.datagrams.clear();
}

TEST_F(EndpointClientTest, RequestTimeoutCompletesOnce) {
  const Decoded con = send_udp(1, "/time", seconds(5));
  advance(seconds(5) - milliseconds(1));
  EXPECT_EQ(listener.count(1), 0u);
  advance(milliseconds(1));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kTimeout);
  net.datagrams.clear();
  // A response after the timeout matches nothing: RST for a CON.
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kContent, 0x2222, con.token));
  EXPECT_EQ(one_udp().type, Type::kRst);
  advance(seconds(100));
  EXPECT_TRUE(net.datagrams.empty());
  EXPECT_EQ(listener.count(1), 1u);
}

TEST_F(EndpointClientTest, Block2DownloadIsFollowed) {
  const std::string body = pattern(1500);
  const Decoded req0 = send_udp(1, "/big");
  EXPECT_FALSE(req0.has(opt::kBlock2));
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, req0.mid, req0.token,
                           {opt_uint(opt::kBlock2, BlockOption{0, true, 6}.encode()),
                            opt_uint(opt::kSize2, 1500)},
                           body.substr(0, 1024)));
  EXPECT_EQ(listener.count(1), 0u);
  const Decoded req1 = one_udp();
  EXPECT_EQ(req1.type, Type::kCon);
  EXPECT_EQ(req1.code, codes::kGet);
  EXPECT_EQ(req1.path(), "/big");
  EXPECT_EQ(req1.uint(opt::kBlock2), (BlockOption{1, false, 6}.encode()));
  EXPECT_NE(req1.mid, req0.mid);
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kContent, req1.mid, req1.token,
                 {opt_uint(opt::kBlock2, BlockOption{1, false, 6}.encode())}, body.substr(1024)));
  const ClientResult& r = listener.result(1);
  EXPECT_EQ(r.status, ClientResult::Status::kResponse);
  EXPECT_EQ(string_of(r.payload), body);
  for (const auto& [n, v] : r.options) EXPECT_NE(n, opt::kBlock2);
  advance(seconds(100));
  EXPECT_TRUE(net.datagrams.empty());
}

TEST_F(EndpointClientTest, Block2DownloadFollowsTheServerBlockSize) {
  const std::string body = pattern(300);
  const Decoded req0 = send_udp(1, "/big");
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kContent, req0.mid, req0.token,
                 {opt_uint(opt::kBlock2, BlockOption{0, true, 3}.encode())}, body.substr(0, 128)));
  const Decoded req1 = one_udp();
  EXPECT_EQ(req1.uint(opt::kBlock2), (BlockOption{1, false, 3}.encode()));
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kContent, req1.mid, req1.token,
                           {opt_uint(opt::kBlock2, BlockOption{1, true, 3}.encode())},
                           body.substr(128, 128)));
  const Decoded req2 = one_udp();
  EXPECT_EQ(req2.uint(opt::kBlock2), (BlockOption{2, false, 3}.encode()));
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kContent, req2.mid, req2.token,
                 {opt_uint(opt::kBlock2, BlockOption{2, false, 3}.encode())}, body.substr(256)));
  EXPECT_EQ(string_of(listener.result(1).payload), body);
}

TEST_F(EndpointClientTest, Block2ResponseForAnotherBlockFailsTheRequest) {
  // Block 1 was asked for, block 2 came: the body would have a hole.
  const Decoded req0 = send_udp(1, "/big");
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kContent, req0.mid, req0.token,
                 {opt_uint(opt::kBlock2, BlockOption{0, true, 6}.encode())}, pattern(1024)));
  const Decoded req1 = one_udp();
  ASSERT_EQ(req1.uint(opt::kBlock2), (BlockOption{1, false, 6}.encode()));
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kContent, req1.mid, req1.token,
                 {opt_uint(opt::kBlock2, BlockOption{2, false, 6}.encode())}, pattern(100, 2)));
  const ClientResult& r = listener.result(1);
  EXPECT_EQ(r.status, ClientResult::Status::kError);
  EXPECT_NE(r.error.find("offset 1024"), std::string::npos) << r.error;
  EXPECT_TRUE(r.payload.empty());

  // The first answer is already a later block.
  const Decoded other = send_udp(2, "/big");
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kContent, other.mid, other.token,
                 {opt_uint(opt::kBlock2, BlockOption{1, false, 6}.encode())}, pattern(100)));
  EXPECT_EQ(listener.result(2).status, ClientResult::Status::kError);
  advance(seconds(100));
  EXPECT_TRUE(net.datagrams.empty()) << "nothing more is asked for";
}

TEST_F(EndpointClientTest, Block2DownloadIsBoundedByMaxBodySize) {
  config.max_body_size = 2000;
  const Decoded req0 = send_udp(1, "/big");
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kContent, req0.mid, req0.token,
                 {opt_uint(opt::kBlock2, BlockOption{0, true, 6}.encode())}, pattern(1024)));
  const Decoded req1 = one_udp();
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kContent, req1.mid, req1.token,
                 {opt_uint(opt::kBlock2, BlockOption{1, true, 6}.encode())}, pattern(1024)));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kError);
  EXPECT_NE(listener.result(1).error.find("exceeds 2000 bytes"), std::string::npos);
  advance(seconds(100));
  EXPECT_TRUE(net.datagrams.empty()) << "no request for a third block";
}

TEST_F(EndpointClientTest, Block1UploadAgainstAFakePeer) {
  ClientRequest r = get_request(std::string(kUdpPeerUri) + "/up");
  r.method = codes::kPost;
  r.payload = bytes_of(pattern(2500));
  r.content_format = content_format::kOctetStream;
  request(1, std::move(r));
  std::string got;
  for (uint32_t n = 0; n < 3; ++n) {
    const Decoded req = one_udp();
    EXPECT_EQ(req.code, codes::kPost);
    const auto b = BlockOption::decode(req.uint(opt::kBlock1).value_or(0xffffffff));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->num, n);
    EXPECT_EQ(b->szx, 6);
    EXPECT_EQ(b->more, n < 2);
    EXPECT_EQ(req.has(opt::kSize1), n == 0);
    if (n == 0) {
      EXPECT_EQ(req.uint(opt::kSize1), 2500u);
    }
    got += req.body();
    udp_in(kUdpPeer, udp_msg(Type::kAck, n < 2 ? codes::kContinue : codes::kChanged, req.mid,
                             req.token, {opt_uint(opt::kBlock1, b->encode())}));
  }
  EXPECT_EQ(got, pattern(2500));
  EXPECT_EQ(listener.result(1).code, codes::kChanged);
}

TEST_F(EndpointClientTest, ConcurrentBlock1UploadsCarryTheirOwnRequestTag) {
  // RFC 9175 3.4: two uploads to one resource at once; each keeps one
  // Request-Tag on all its blocks, and the two differ.
  for (RequestId id : {1, 2}) {
    ClientRequest r = get_request(std::string(kUdpPeerUri) + "/up");
    r.method = codes::kPut;
    r.payload = bytes_of(pattern(1500, static_cast<unsigned>(id)));
    request(id, std::move(r));
  }
  std::map<std::vector<uint8_t>, std::string> bodies;  // by Request-Tag
  int blocks = 0;
  for (int round = 0; round < 2; ++round) {
    for (const Decoded& req : take_udp()) {  // one block of each upload, interleaved
      ASSERT_EQ(req.count(opt::kRequestTag), 1u);
      const auto b = BlockOption::decode(req.uint(opt::kBlock1).value_or(0xffffffff));
      ASSERT_TRUE(b);
      bodies[*req.value(opt::kRequestTag)] += req.body();
      ++blocks;
      udp_in(kUdpPeer, udp_msg(Type::kAck, b->more ? codes::kContinue : codes::kChanged, req.mid,
                               req.token, {opt_uint(opt::kBlock1, b->encode())}));
    }
  }
  EXPECT_EQ(blocks, 4);
  ASSERT_EQ(bodies.size(), 2u);
  std::set<std::string> got;
  for (const auto& [tag, body] : bodies) got.insert(body);
  EXPECT_EQ(got, (std::set<std::string>{pattern(1500, 1), pattern(1500, 2)}));
  EXPECT_EQ(listener.result(1).code, codes::kChanged);
  EXPECT_EQ(listener.result(2).code, codes::kChanged);
}

TEST_F(EndpointClientTest, UnknownOrServerSessionIsAnError) {
  ClientRequest r = get_request(std::string(kUdpPeerUri) + "/time");
  r.session = 12345;
  request(1, r);
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kError);
  const ConnId c = accept_established();
  (void)c;
  r.session = ep().sessions(now).at(0).id;
  request(2, r);
  EXPECT_EQ(listener.result(2).status, ClientResult::Status::kError);
  EXPECT_NE(listener.result(2).error.find("server session"), std::string::npos);
  EXPECT_TRUE(net.datagrams.empty());
}

TEST_F(EndpointClientTest, ShutdownCancelsOutstandingRequests) {
  send_udp(1, "/time");
  send_udp(2, "/time");
  ep().shutdown(now);
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kCancelled);
  EXPECT_EQ(listener.result(2).status, ClientResult::Status::kCancelled);
  EXPECT_EQ(ep().exchange_count(), 0u);
  advance(seconds(100));
  EXPECT_TRUE(net.datagrams.empty());
}

// --- against a second, real Endpoint ----------------------------------------------------

// Stores what it is given; answers 2.04 without a payload.
class SinkResource final : public Resource {
 public:
  SinkResource() : Resource("/sink", {}) {}
  bool allows(Code m) const override { return m == codes::kPut || m == codes::kPost; }
  void handle(const Request& req, Response& resp) override {
    stored.assign(req.payload.begin(), req.payload.end());
    ++calls;
    resp.code = codes::kChanged;
  }
  std::string stored;
  int calls = 0;
};

class EndpointLoopbackTest : public EndpointClientTest {
 protected:
  void SetUp() override {
    EndpointClientTest::SetUp();
    add_builtin_resources(server_dir_, {});
    auto sink = std::make_unique<SinkResource>();
    sink_ = sink.get();
    server_dir_.add(std::move(sink));
    server_ =
        std::make_unique<Endpoint>(server_config_, server_dir_, server_net_, server_listener_, 7);
  }
  void TearDown() override {
    server_->shutdown(now);
    EXPECT_EQ(server_->session_count(), 0u);
    server_.reset();
    EndpointClientTest::TearDown();
  }
  // Carries datagrams both ways until both sides are quiet.
  void pump() {
    for (int round = 0; round < 1000; ++round) {
      if (net.datagrams.empty() && server_net_.datagrams.empty()) return;
      auto to_server = std::move(net.datagrams);
      net.datagrams.clear();
      for (const auto& d : to_server) {
        EXPECT_EQ(d.to, kUdpPeer);
        ++to_server_count;
        server_->on_datagram(kLocal, d.bytes, now);
      }
      auto to_client = std::move(server_net_.datagrams);
      server_net_.datagrams.clear();
      for (const auto& d : to_client) {
        EXPECT_EQ(d.to, kLocal);
        ep().on_datagram(kUdpPeer, d.bytes, now);
      }
    }
    ADD_FAILURE() << "endless exchange";
  }
  ClientRequest request_to(Code method, std::string_view path, std::string_view payload = {}) {
    ClientRequest r = get_request(std::string(kUdpPeerUri) + std::string(path));
    r.method = method;
    r.payload = bytes_of(payload);
    return r;
  }

  ResourceDirectory server_dir_;
  SinkResource* sink_ = nullptr;
  EndpointConfig server_config_ = unlimited();
  FakeNetworkIo server_net_{&now};
  RecordingListener server_listener_;
  std::unique_ptr<Endpoint> server_;
  int to_server_count = 0;
};

TEST_F(EndpointLoopbackTest, GetAcrossTwoEndpoints) {
  request(1, request_to(codes::kGet, "/time"));
  pump();
  EXPECT_EQ(listener.result(1).code, codes::kContent);
  EXPECT_EQ(to_server_count, 1);
  request(2, request_to(codes::kGet, "/missing"));
  pump();
  EXPECT_EQ(listener.result(2).code, codes::kNotFound);
}

TEST_F(EndpointLoopbackTest, RootAndTrailingSlash) {
  // "/" carries no Uri-Path and finds the root resource.
  request(1, request_to(codes::kGet, "/"));
  pump();
  EXPECT_EQ(listener.result(1).code, codes::kContent);
  EXPECT_NE(string_of(listener.result(1).payload).find("coapd"), std::string::npos);
  // "/echo/" is Uri-Path "echo" and "": another resource, which does not exist.
  request(2, request_to(codes::kGet, "/echo/"));
  ASSERT_EQ(net.datagrams.size(), 1u);
  const Decoded req = decode_udp(net.datagrams[0].bytes);
  EXPECT_EQ(req.count(opt::kUriPath), 2u);
  EXPECT_EQ(req.path(), "/echo/");
  pump();
  EXPECT_EQ(listener.result(2).code, codes::kNotFound);
}

TEST_F(EndpointLoopbackTest, Block1Upload) {
  const std::string body = pattern(3000);
  request(1, request_to(codes::kPut, "/sink", body));
  pump();
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kResponse);
  EXPECT_EQ(listener.result(1).code, codes::kChanged);
  EXPECT_EQ(sink_->stored, body);
  EXPECT_EQ(sink_->calls, 1);
  EXPECT_EQ(to_server_count, 3);
}

TEST_F(EndpointLoopbackTest, Block2Download) {
  const std::string body = pattern(5000);
  // Stored directly by a third party in one large datagram.
  server_->on_datagram(
      kUdpPeer2, udp_msg(Type::kNon, codes::kPut, 1, tok({1}), path_opts("/echo"), body), now);
  server_net_.datagrams.clear();
  request(1, request_to(codes::kGet, "/echo"));
  pump();
  EXPECT_EQ(listener.result(1).code, codes::kContent);
  EXPECT_EQ(string_of(listener.result(1).payload), body);
  EXPECT_EQ(to_server_count, 5);
}

TEST_F(EndpointLoopbackTest, LargePutToEchoThenGet) {
  // /echo answers a PUT with the stored representation, so a large PUT's
  // 2.04 carries Block2; the client fetches the remaining blocks by sending
  // the request again with Block2 and no payload (RFC 7959 2.7, 3.3), which
  // the server must answer from the kept response, not run as a new PUT.
  const std::string body = pattern(3000);
  request(1, request_to(codes::kPut, "/echo", body));
  pump();
  EXPECT_EQ(listener.result(1).code, codes::kChanged);
  EXPECT_EQ(string_of(listener.result(1).payload), body);
  EXPECT_EQ(to_server_count, 5);  // three Block1 blocks, two Block2 follow-ups
  request(2, request_to(codes::kGet, "/echo"));
  pump();
  EXPECT_EQ(string_of(listener.result(2).payload), body);
}

// --- over TCP --------------------------------------------------------------------

TEST_F(EndpointClientTest, TcpRequestOpensASessionAndWaitsForTheCsm) {
  request(1, get_request(std::string(kTcpServerUri) + "/time"));
  const ConnId c = net.last_connect();
  ASSERT_NE(c, 0u);
  EXPECT_EQ(net.connect_peer[c], kServerPeer);
  EXPECT_EQ(events(), Events{});
  ep().on_tcp_connected(c, kLocal, now);
  EXPECT_EQ(events(), Events{"tcp_connected"});
  // Our CSM goes first; the request waits for the server's CSM.
  const auto f0 = frames(c);
  ASSERT_EQ(f0.size(), 1u);
  EXPECT_EQ(f0[0].code, codes::kCsm);
  tcp_in(c, csm(1152, true));
  EXPECT_EQ(events(), Events{"session_connected"});
  const auto f1 = frames(c);
  ASSERT_EQ(f1.size(), 1u);
  EXPECT_EQ(f1[0].code, codes::kGet);
  EXPECT_EQ(f1[0].path(), "/time");
  EXPECT_EQ(f1[0].token.len, 8);
  tcp_in(c, tcp_msg(codes::kContent, f1[0].token, {}, "t"));
  EXPECT_EQ(listener.result(1).code, codes::kContent);
  EXPECT_EQ(string_of(listener.result(1).payload), "t");

  // The next request uses the same session.
  request(2, get_request(std::string(kTcpServerUri) + "/status"));
  EXPECT_EQ(net.connects().size(), 1u);
  const auto f2 = frames(c);
  ASSERT_EQ(f2.size(), 1u);
  EXPECT_EQ(f2[0].path(), "/status");
  EXPECT_NE(f2[0].token, f1[0].token);
  tcp_in(c, tcp_msg(codes::kNotFound, f2[0].token));
  EXPECT_EQ(listener.result(2).code, codes::kNotFound);
  const auto s = ep().sessions(now);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].role, Role::kClient);
  EXPECT_TRUE(s[0].outgoing);
  EXPECT_EQ(events(), Events{});
}

TEST_F(EndpointClientTest, TcpConnectFailureFailsTheRequest) {
  request(1, get_request(std::string(kTcpServerUri) + "/time"));
  request(2, get_request(std::string(kTcpServerUri) + "/status"));
  EXPECT_EQ(net.connects().size(), 1u);
  tcp_error(net.last_connect(), TcpError::kUnreachable);
  EXPECT_EQ(events(), (Events{"tcp_failed", "session_failed"}));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kError);
  EXPECT_NE(listener.result(1).error.find("unreachable"), std::string::npos);
  EXPECT_EQ(listener.result(2).status, ClientResult::Status::kError);
  EXPECT_EQ(ep().session_count(), 0u);
  advance(seconds(60));
  EXPECT_EQ(net.connects().size(), 1u) << "an on-demand session does not reconnect";
}

TEST_F(EndpointClientTest, TcpSessionLossFailsOutstandingRequests) {
  request(1, get_request(std::string(kTcpServerUri) + "/time"));
  const ConnId c = net.last_connect();
  ep().on_tcp_connected(c, kLocal, now);
  tcp_in(c, csm());
  frames(c);
  tcp_error(c, TcpError::kReset);
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kError);
  EXPECT_EQ(events(),
            (Events{"tcp_connected", "session_connected", "tcp_failed", "session_failed"}));
}

TEST_F(EndpointClientTest, TcpRequestTimeout) {
  ClientRequest r = get_request(std::string(kTcpServerUri) + "/time");
  r.timeout = seconds(3);
  request(1, r);
  const ConnId c = net.last_connect();
  ep().on_tcp_connected(c, kLocal, now);
  tcp_in(c, csm());
  const auto f = frames(c);
  advance(seconds(3));
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kTimeout);
  // A late answer is ignored.
  tcp_in(c, tcp_msg(codes::kContent, f.back().token));
  EXPECT_EQ(listener.count(1), 1u);
  events();
}

TEST_F(EndpointClientTest, TcpBlock1UploadFitsThePeerMaxMessageSize) {
  ClientRequest r = get_request(std::string(kTcpServerUri) + "/up");
  r.method = codes::kPut;
  r.payload = bytes_of(pattern(500));
  // A 256-byte block with its header, token and options fits in 300 bytes.
  EXPECT_EQ(tcp_upload(1, r, 300, 4), pattern(500));
}

TEST_F(EndpointClientTest, TcpBlock1CountsTheOptionsAgainstTheMaxMessageSize) {
  // 150 bytes of Uri-Query leave room for 64-byte blocks only.
  ClientRequest r = get_request(std::string(kTcpServerUri) + "/up?" + pattern(150));
  r.method = codes::kPut;
  r.payload = bytes_of(pattern(500));
  EXPECT_EQ(tcp_upload(1, r, 300, 2), pattern(500));
}

TEST_F(EndpointClientTest, TcpRequestThatFitsWholeIsNotSplit) {
  // 250 bytes of payload and a few of framing: one message of at most 300.
  ClientRequest r = get_request(std::string(kTcpServerUri) + "/up");
  r.method = codes::kPut;
  r.payload = bytes_of(pattern(250));
  request(1, r);
  const ConnId c = net.last_connect();
  ep().on_tcp_connected(c, kLocal, now);
  frames(c);
  tcp_in(c, csm(300, true));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_LE(f[0].wire_size, 300u);
  EXPECT_FALSE(f[0].has(opt::kBlock1));
  EXPECT_EQ(f[0].body(), pattern(250));
  tcp_in(c, tcp_msg(codes::kChanged, f[0].token));
  EXPECT_EQ(listener.result(1).code, codes::kChanged);
  events();
}

TEST_F(EndpointClientTest, TcpRequestWhoseOptionsExceedTheMaxMessageSizeFails) {
  request(1, get_request(std::string(kTcpServerUri) + "/time?" + pattern(400)));
  const ConnId c = net.last_connect();
  ep().on_tcp_connected(c, kLocal, now);
  frames(c);
  tcp_in(c, csm(300, true));
  EXPECT_TRUE(frames(c).empty()) << "a frame the peer would refuse was sent";
  EXPECT_EQ(listener.result(1).status, ClientResult::Status::kError);
  EXPECT_NE(listener.result(1).error.find("Max-Message-Size"), std::string::npos)
      << listener.result(1).error;
  // The session is still usable for a request that fits.
  request(2, get_request(std::string(kTcpServerUri) + "/time"));
  const auto f = frames(c);
  ASSERT_EQ(f.size(), 1u);
  tcp_in(c, tcp_msg(codes::kContent, f[0].token));
  EXPECT_EQ(listener.result(2).code, codes::kContent);
  events();
}

}  // namespace
}  // namespace coap
