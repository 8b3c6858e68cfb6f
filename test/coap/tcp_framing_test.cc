// CoAP over TCP framing (RFC 8323 section 3.2): the Len nibble and its 1, 2
// and 4 byte extensions, reassembly from arbitrary splits, and refusal of
// oversized frames as soon as their header is complete.
#include "coap/tcp_framing.h"

#include <gtest/gtest.h>

#include <random>

#include "test/coap/test_util.h"

namespace coap {
namespace {

using test::Decoded;
using test::opt_uint;
using test::tcp_msg;

// A frame whose options-and-payload part is exactly `body` bytes (a payload
// of body - 1 bytes behind the marker), with token {0x5a}.
std::vector<uint8_t> frame_with_body(std::size_t body) {
  return tcp_msg(codes::kContent, test::tok({0x5a}), {},
                 body == 0 ? std::string() : test::pattern(body - 1));
}

struct Collector {
  std::vector<Decoded> frames;
  FrameDecoder::FrameHandler handler() {
    return [this](const Message& m, std::size_t size) {
      frames.push_back(test::to_decoded(m, size));
      return true;
    };
  }
};

TEST(TcpFramingTest, RfcExampleCsmAndEmptyPing) {
  // A Ping with no token and no options is the two bytes 0x00 0xe2.
  EXPECT_EQ(tcp_msg(codes::kPing, Token{}), (std::vector<uint8_t>{0x00, 0xe2}));
  // GET /a with token 0x01: Len=2 (option header + 'a'), TKL=1.
  EXPECT_EQ(tcp_msg(codes::kGet, test::tok({0x01}), test::path_opts("/a")),
            (std::vector<uint8_t>{0x21, 0x01, 0x01, 0xb1, 'a'}));
}

struct LenCase {
  std::size_t body;
  std::vector<uint8_t> header;  // Len/TKL byte and extended length (TKL 1)
};

TEST(TcpFramingTest, LenNibbleBoundaries) {
  const std::vector<LenCase> cases = {
      {0, {0x01}},
      {1, {0x11}},  // not a real payload (marker alone); checked below separately
      {12, {0xc1}},
      {13, {0xd1, 0x00}},
      {268, {0xd1, 0xff}},
      {269, {0xe1, 0x00, 0x00}},
      {65804, {0xe1, 0xff, 0xff}},
      {65805, {0xf1, 0x00, 0x00, 0x00, 0x00}},
      {70000, {0xf1, 0x00, 0x00, 0x10, 0x63}},  // 70000 - 65805 = 4195 = 0x1063
  };
  for (const LenCase& c : cases) {
    if (c.body == 1) continue;  // a 1-byte body would be a bare payload marker
    SCOPED_TRACE("body " + std::to_string(c.body));
    const auto f = frame_with_body(c.body);
    ASSERT_GE(f.size(), c.header.size());
    EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + c.header.size()), c.header);
    EXPECT_EQ(f[c.header.size()], codes::kContent.raw);
    EXPECT_EQ(f[c.header.size() + 1], 0x5a);
    EXPECT_EQ(f.size(), tcp_frame_size(1, c.body));
    EXPECT_EQ(f.size(), c.header.size() + 2 + c.body);

    Collector col;
    FrameDecoder dec(1 << 20);
    ASSERT_EQ(dec.feed(f, col.handler()), FrameError::kNone);
    ASSERT_EQ(col.frames.size(), 1u);
    EXPECT_EQ(col.frames[0].wire_size, f.size());
    EXPECT_EQ(col.frames[0].token, test::tok({0x5a}));
    EXPECT_EQ(col.frames[0].payload.size(), c.body == 0 ? 0 : c.body - 1);
    EXPECT_EQ(dec.buffered(), 0u);
  }
}

TEST(TcpFramingTest, OptionsCountTowardsLen) {
  // Body = Uri-Path "time" (5 bytes) + Observe 0 (1 byte) + marker + 8 = 15.
  const auto f = tcp_msg(codes::kGet, Token{},
                         test::path_opts("/time") + opt_uint(opt::kObserve, 0), "12345678");
  EXPECT_EQ(f[0], 0xd0);
  EXPECT_EQ(f[1], 15 - 13);
  const auto d = test::decode_tcp(f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].path(), "/time");
  EXPECT_EQ(d[0].uint(opt::kObserve), 0u);
  EXPECT_EQ(d[0].body(), "12345678");
}

// A stream of frames of assorted sizes, crossing every Len boundary.
std::vector<std::vector<uint8_t>> assorted_frames() {
  std::vector<std::vector<uint8_t>> frames;
  const std::size_t sizes[] = {0, 2, 12, 13, 14, 268, 269, 270, 1000, 65804, 65805, 66000};
  uint8_t t = 0;
  for (std::size_t body : sizes) {
    std::vector<uint8_t> tb(t % 9, static_cast<uint8_t>(t));
    frames.push_back(tcp_msg(Code(2, t % 6), Token::from(tb), {},
                             body ? test::pattern(body - 1, t) : std::string()));
    ++t;
  }
  frames.push_back(tcp_msg(codes::kPing, Token{}));
  frames.push_back(tcp_msg(codes::kCsm, Token{}, {opt_uint(opt::kCsmMaxMessageSize, 1152)}));
  return frames;
}

void expect_same(const std::vector<Decoded>& got, const std::vector<std::vector<uint8_t>>& frames) {
  ASSERT_EQ(got.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto want = test::decode_tcp(frames[i]);
    ASSERT_EQ(want.size(), 1u);
    EXPECT_EQ(got[i].code, want[0].code) << i;
    EXPECT_EQ(got[i].token, want[0].token) << i;
    EXPECT_EQ(got[i].options, want[0].options) << i;
    EXPECT_EQ(got[i].payload, want[0].payload) << i;
    EXPECT_EQ(got[i].wire_size, frames[i].size()) << i;
  }
}

TEST(TcpFramingTest, ReassemblesOneByteAtATime) {
  const auto frames = assorted_frames();
  std::vector<uint8_t> stream;
  for (const auto& f : frames) stream.insert(stream.end(), f.begin(), f.end());
  Collector col;
  FrameDecoder dec(1 << 20);
  std::size_t boundary = 0, next_frame = 0;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    ASSERT_EQ(dec.feed({&stream[i], 1}, col.handler()), FrameError::kNone) << "byte " << i;
    if (i + 1 == boundary + frames[next_frame].size()) {
      // A frame completes exactly on its last byte, and nothing is left over.
      boundary += frames[next_frame].size();
      ++next_frame;
      EXPECT_EQ(col.frames.size(), next_frame);
      EXPECT_EQ(dec.buffered(), 0u);
    } else {
      EXPECT_EQ(col.frames.size(), next_frame);
      EXPECT_EQ(dec.buffered(), i + 1 - boundary);
    }
  }
  expect_same(col.frames, frames);
}

TEST(TcpFramingTest, ReassemblesRandomSplits) {
  const auto frames = assorted_frames();
  std::vector<uint8_t> stream;
  for (const auto& f : frames) stream.insert(stream.end(), f.begin(), f.end());
  std::mt19937 rng(1234);
  for (int round = 0; round < 40; ++round) {
    Collector col;
    FrameDecoder dec(1 << 20);
    std::size_t pos = 0;
    while (pos < stream.size()) {
      // Mostly small pieces, sometimes large ones spanning several frames.
      const std::size_t max = rng() % 4 == 0 ? 100000 : 40;
      const std::size_t n = std::min<std::size_t>(1 + rng() % max, stream.size() - pos);
      ASSERT_EQ(dec.feed({stream.data() + pos, n}, col.handler()), FrameError::kNone);
      pos += n;
      // Never more than one partial frame is held.
      EXPECT_LT(dec.buffered(), 66100u);
    }
    EXPECT_EQ(dec.buffered(), 0u);
    expect_same(col.frames, frames);
  }
}

TEST(TcpFramingTest, ManyFramesInOneFeed) {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint8_t> stream;
  for (int i = 0; i < 500; ++i) {
    frames.push_back(tcp_msg(codes::kGet, Token::from_u64(i, 4), test::path_opts("/echo"),
                             test::pattern(i % 40, i)));
    stream.insert(stream.end(), frames.back().begin(), frames.back().end());
  }
  Collector col;
  FrameDecoder dec(4096);
  ASSERT_EQ(dec.feed(stream, col.handler()), FrameError::kNone);
  EXPECT_EQ(dec.buffered(), 0u);
  expect_same(col.frames, frames);
}

TEST(TcpFramingTest, TrailingPartialFrameIsKept) {
  const auto a = tcp_msg(codes::kGet, test::tok({1}), test::path_opts("/a"));
  const auto b = tcp_msg(codes::kGet, test::tok({2}), test::path_opts("/bb"));
  std::vector<uint8_t> stream = a;
  stream.insert(stream.end(), b.begin(), b.begin() + 3);
  Collector col;
  FrameDecoder dec(4096);
  ASSERT_EQ(dec.feed(stream, col.handler()), FrameError::kNone);
  EXPECT_EQ(col.frames.size(), 1u);
  EXPECT_EQ(dec.buffered(), 3u);
  ASSERT_EQ(dec.feed({b.data() + 3, b.size() - 3}, col.handler()), FrameError::kNone);
  ASSERT_EQ(col.frames.size(), 2u);
  EXPECT_EQ(col.frames[1].path(), "/bb");
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(TcpFramingTest, HandlerCanStopDecoding) {
  std::vector<uint8_t> stream;
  for (int i = 0; i < 3; ++i) {
    const auto f = tcp_msg(codes::kGet, Token::from_u64(i, 1));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  int seen = 0;
  FrameDecoder dec(4096);
  EXPECT_EQ(dec.feed(stream,
                     [&](const Message&, std::size_t) {
                       ++seen;
                       return seen < 2;
                     }),
            FrameError::kNone);
  EXPECT_EQ(seen, 2);
}

TEST(TcpFramingTest, RefusesFourGigabyteFrameAsSoonAsTheHeaderIsComplete) {
  // Len=15, TKL=0, extended length 0xffffffff: 4 GiB + 65805 bytes announced.
  const std::vector<uint8_t> header = {0xf0, 0xff, 0xff, 0xff, 0xff};
  const uint64_t announced = 1 + 4 + 1 + 0xffffffffull + 65805;
  Collector col;
  FrameDecoder dec(1 << 20);
  uint64_t size = 0;
  for (std::size_t i = 0; i + 1 < header.size(); ++i) {
    ASSERT_EQ(dec.feed({&header[i], 1}, col.handler(), &size), FrameError::kNone);
    EXPECT_EQ(dec.buffered(), i + 1);
  }
  EXPECT_EQ(dec.feed({&header[4], 1}, col.handler(), &size), FrameError::kTooLarge);
  EXPECT_EQ(size, announced);
  EXPECT_LE(dec.buffered(), 5u);
  EXPECT_TRUE(col.frames.empty());

  // All at once, followed by some of the body: refused without buffering it.
  std::vector<uint8_t> more = header;
  more.resize(5000, 0x41);
  FrameDecoder dec2(1 << 20);
  size = 0;
  EXPECT_EQ(dec2.feed(more, col.handler(), &size), FrameError::kTooLarge);
  EXPECT_EQ(size, announced);
  EXPECT_LE(dec2.buffered(), 5u);

  // Behind a complete frame in the same feed.
  std::vector<uint8_t> after = tcp_msg(codes::kPing, Token{});
  after.insert(after.end(), header.begin(), header.end());
  FrameDecoder dec3(1 << 20);
  EXPECT_EQ(dec3.feed(after, col.handler(), &size), FrameError::kTooLarge);
  EXPECT_EQ(col.frames.size(), 1u);
}

TEST(TcpFramingTest, MaxFrameSizeIsInclusive) {
  const auto f = frame_with_body(500);
  Collector col;
  FrameDecoder exact(f.size());
  EXPECT_EQ(exact.feed(f, col.handler()), FrameError::kNone);
  EXPECT_EQ(col.frames.size(), 1u);

  FrameDecoder smaller(f.size() - 1);
  uint64_t size = 0;
  // Refused after the 3-byte header, before any of the body arrives.
  EXPECT_EQ(smaller.feed({f.data(), 3}, col.handler(), &size), FrameError::kTooLarge);
  EXPECT_EQ(size, f.size());

  // The limit can be changed (e.g. after our own CSM).
  FrameDecoder grow(16);
  grow.set_max_frame_size(f.size());
  EXPECT_EQ(grow.feed(f, col.handler()), FrameError::kNone);
}

TEST(TcpFramingTest, RejectsTokenLengthAbove8) {
  for (uint8_t tkl = 9; tkl <= 15; ++tkl) {
    FrameDecoder dec(4096);
    Collector col;
    const uint8_t first = tkl;  // Len=0
    EXPECT_EQ(dec.feed({&first, 1}, col.handler()), FrameError::kBadTokenLength) << int{tkl};
    // Also when the header arrives after a complete frame.
    std::vector<uint8_t> s = tcp_msg(codes::kPing, Token{});
    s.push_back(static_cast<uint8_t>(0x30 | tkl));
    FrameDecoder dec2(4096);
    EXPECT_EQ(dec2.feed(s, col.handler()), FrameError::kBadTokenLength);
  }
}

TEST(TcpFramingTest, RejectsMalformedOptions) {
  Collector col;
  // Len=2: option byte with delta nibble 15, then one byte.
  FrameDecoder dec(4096);
  EXPECT_EQ(dec.feed(std::vector<uint8_t>{0x20, 0x01, 0xf1, 'a'}, col.handler()),
            FrameError::kBadMessage);
  // Len=1: a payload marker with nothing after it.
  FrameDecoder dec2(4096);
  EXPECT_EQ(dec2.feed(std::vector<uint8_t>{0x10, 0x45, 0xff}, col.handler()),
            FrameError::kBadMessage);
  // Len=2: an option announcing 3 bytes of value.
  FrameDecoder dec3(4096);
  EXPECT_EQ(dec3.feed(std::vector<uint8_t>{0x20, 0x01, 0xb3, 'a'}, col.handler()),
            FrameError::kBadMessage);
  EXPECT_TRUE(col.frames.empty());
}

TEST(TcpFramingTest, SignalingOptionsRoundTrip) {
  const auto csm = tcp_msg(
      codes::kCsm, Token{},
      {opt_uint(opt::kCsmMaxMessageSize, 132096), test::opt_empty(opt::kCsmBlockWiseTransfer)});
  // Len=5: MMS (1 + 3 bytes) and BWT (1 byte).
  EXPECT_EQ(csm, (std::vector<uint8_t>{0x50, 0xe1, 0x23, 0x02, 0x04, 0x00, 0x20}));
  const auto d = test::decode_tcp(csm);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].uint(opt::kCsmMaxMessageSize), 132096u);
  EXPECT_TRUE(d[0].has(opt::kCsmBlockWiseTransfer));
  const auto abort = tcp_msg(codes::kAbort, Token{}, {opt_uint(opt::kAbortBadCsmOption, 9)}, "bad");
  const auto a = test::decode_tcp(abort);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].code, codes::kAbort);
  EXPECT_EQ(a[0].body(), "bad");
}

}  // namespace
}  // namespace coap
