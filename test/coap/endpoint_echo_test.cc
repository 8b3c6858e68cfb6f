// Amplification over plain UDP (RFC 7252 11.3, RFC 9175 2.4): a response to
// a peer whose address is not yet proven is at most three times the size of
// its request; a larger one waits for an Echo round trip.
#include "test/coap/endpoint_fixture.h"

namespace coap {
namespace {

using namespace coap::test;

// POST runs a job and answers with a long report.
class ReportResource final : public Resource {
 public:
  ReportResource() : Resource("/report", {}) {}
  bool allows(Code m) const override { return m == codes::kPost; }
  void handle(const Request&, Response& resp) override {
    ++runs;
    resp.code = codes::kChanged;
    resp.content_format = 0;
    resp.set_payload(std::string(500, 'r'));
  }
  int runs = 0;
};

class EndpointEchoTest : public EndpointTest {
 protected:
  void SetUp() override {
    EndpointTest::SetUp();
    config.amplification_factor = 3;
  }
  // GET /.well-known/core (a response far larger than the request), with
  // the Echo option when given.
  std::vector<uint8_t> get_core(uint16_t mid, const std::vector<uint8_t>* echo = nullptr) {
    std::vector<Opt> o = path_opts("/.well-known/core");
    if (echo) o.push_back({opt::kEcho, *echo});
    return udp_msg(Type::kCon, codes::kGet, mid, tok({1, 2}), o);
  }
};

TEST_F(EndpointEchoTest, ALargeResponseToAnUnprovenAddressIsAnEchoChallenge) {
  const auto request = get_core(1);
  udp_in(kUdpPeer, request);
  const Decoded r = one_udp();
  EXPECT_EQ(r.code, codes::kUnauthorized);
  ASSERT_TRUE(r.has(opt::kEcho));
  EXPECT_LE(r.wire_size, 3 * request.size());
  EXPECT_TRUE(r.payload.empty());
  EXPECT_EQ(ep().counters().echo_challenges, 1u);

  // The request again with the Echo value: the address is proven.
  const std::vector<uint8_t> echo = *r.value(opt::kEcho);
  udp_in(kUdpPeer, get_core(2, &echo));
  const Decoded ok = one_udp();
  EXPECT_EQ(ok.code, codes::kContent);
  EXPECT_GT(ok.wire_size, 3 * request.size());
  // From then on no challenge.
  udp_in(kUdpPeer, get_core(3));
  EXPECT_EQ(one_udp().code, codes::kContent);
  EXPECT_EQ(ep().counters().echo_challenges, 1u);
}

TEST_F(EndpointEchoTest, SmallResponsesNeedNoProof) {
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kGet, 1, tok({1}), path_opts("/time")));
  EXPECT_EQ(one_udp().code, codes::kContent);
  EXPECT_EQ(ep().counters().echo_challenges, 0u);
}

TEST_F(EndpointEchoTest, AWrongEchoValueProvesNothing) {
  udp_in(kUdpPeer, get_core(1));
  const Decoded r = one_udp();
  std::vector<uint8_t> wrong = *r.value(opt::kEcho);
  wrong[0] ^= 1;
  udp_in(kUdpPeer, get_core(2, &wrong));
  EXPECT_EQ(one_udp().code, codes::kUnauthorized);
  // Another peer's value does not prove this one either.
  const std::vector<uint8_t> right = *r.value(opt::kEcho);
  udp_in(kUdpPeer2, get_core(3, &right));
  EXPECT_EQ(one_udp(kUdpPeer2).code, codes::kUnauthorized);
}

TEST_F(EndpointEchoTest, AChallengedObserveLeavesNoObservation) {
  // /echo holds a large body; an observe of it from an unproven address.
  const std::string body(600, 'x');
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kPut, 1, tok({9}), path_opts("/echo"), body));
  one_udp();
  udp_in(kUdpPeer2, udp_msg(Type::kCon, codes::kGet, 2, tok({7}),
                            path_opts("/echo") + opt_uint(opt::kObserve, 0)));
  EXPECT_EQ(one_udp(kUdpPeer2).code, codes::kUnauthorized);
  EXPECT_EQ(ep().observation_count(), 0u);
}

TEST_F(EndpointEchoTest, ALargeAnswerToAPostIsItsOutcomeNotAChallenge) {
  // A POST is carried out whatever the size of its answer: a challenge would
  // have it done twice (or, for the last block of an upload, fail). The peer
  // gets the outcome without the representation.
  auto report = std::make_unique<ReportResource>();
  ReportResource* r = report.get();
  dir.add(std::move(report));
  const auto request = udp_msg(Type::kCon, codes::kPost, 1, tok({9}), path_opts("/report"), "go");
  udp_in(kUdpPeer, request);
  const Decoded d = one_udp();
  EXPECT_EQ(d.code, codes::kChanged);
  EXPECT_TRUE(d.payload.empty());
  EXPECT_FALSE(d.has(opt::kContentFormat));
  EXPECT_LE(d.wire_size, 3 * request.size());
  EXPECT_EQ(r->runs, 1);
  EXPECT_EQ(ep().counters().echo_challenges, 0u);
  // The same POST from a proven address gets the whole answer.
  udp_in(kUdpPeer, get_core(2));
  const std::vector<uint8_t> echo = *one_udp().value(opt::kEcho);
  udp_in(kUdpPeer, get_core(3, &echo));
  one_udp();
  udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kPost, 4, tok({9}), path_opts("/report"), "go"));
  EXPECT_EQ(one_udp().payload.size(), 500u);
  EXPECT_EQ(r->runs, 2);
}

TEST_F(EndpointEchoTest, TheLastBlockOfAnUploadIsMeasuredAgainstTheWholeUpload) {
  const std::string block(64, 'b');
  for (uint32_t num = 0; num < 8; ++num) {
    udp_in(kUdpPeer, udp_msg(Type::kCon, codes::kPut, static_cast<uint16_t>(10 + num), tok({3}),
                             path_opts("/echo") +
                                 opt_uint(opt::kBlock1, BlockOption{num, num < 7, 2}.encode()),
                             block));
    const Decoded r = one_udp();
    EXPECT_EQ(r.code, num < 7 ? codes::kContinue : codes::kChanged) << num;
    if (num == 7) {
      EXPECT_GT(r.payload.size(), 3 * 80u);  // more than three times this datagram
      EXPECT_GT(r.wire_size, 3 * 80u);
    }
  }
  // Its answer echoes all 512 bytes, more than three times the last block,
  // and yet it came whole (above). Reading the body from another address
  // still needs the proof.
  udp_in(kUdpPeer2, udp_msg(Type::kCon, codes::kGet, 30, tok({4}), path_opts("/echo")));
  EXPECT_EQ(one_udp(kUdpPeer2).code, codes::kUnauthorized);
  EXPECT_EQ(ep().counters().echo_challenges, 1u);
}

TEST_F(EndpointEchoTest, AClientRepeatsARequestWithTheEchoItIsGiven) {
  RequestId id = 1;
  request(id, get_request("coap://192.0.2.10:40000/big"));
  const Decoded sent = one_udp();
  udp_in(kUdpPeer, udp_msg(Type::kAck, codes::kUnauthorized, sent.mid, sent.token,
                           {{opt::kEcho, {1, 2, 3, 4}}}));
  const Decoded again = one_udp();
  EXPECT_EQ(again.code, codes::kGet);
  ASSERT_TRUE(again.has(opt::kEcho));
  EXPECT_EQ(*again.value(opt::kEcho), (std::vector<uint8_t>{1, 2, 3, 4}));
  // A second challenge is not followed: the request ends with it.
  udp_in(kUdpPeer,
         udp_msg(Type::kAck, codes::kUnauthorized, again.mid, again.token, {{opt::kEcho, {5, 6}}}));
  const ClientResult& r = listener.result(id);
  EXPECT_EQ(r.status, ClientResult::Status::kResponse);
  EXPECT_EQ(r.code, codes::kUnauthorized);
}

}  // namespace
}  // namespace coap
