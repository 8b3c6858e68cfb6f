// Server-side request processing with the built-in resources: option checks
// (RFC 7252 5.4.1, 5.7), 4.04/4.05/4.06, Block2 slicing and Block1
// reassembly (RFC 7959), link format discovery (RFC 6690) and the Observe
// registration decision (RFC 7641).
#include "coap/dispatcher.h"

#include <gtest/gtest.h>

#include "coap/block.h"
#include "coap/builtin_resources.h"
#include "test/coap/test_util.h"

namespace coap {
namespace {

using test::Decoded;
using test::Opt;
using test::opt_empty;
using test::opt_str;
using test::opt_uint;
using test::path_opts;

const TimePoint kT0 = TimePoint{} + seconds(1000);
const Address kPeer = Address::v4(192, 0, 2, 7, 40000);
// 2026-11-29T01:31:18Z
const std::chrono::system_clock::time_point kWall{seconds(1795915878)};

uint32_t block(uint32_t num, bool more, uint8_t szx) {
  return BlockOption{num, more, szx}.encode();
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : dispatcher_(dir_, dispatcher_options()) {}

  static Dispatcher::Options dispatcher_options() {
    Dispatcher::Options o;
    o.max_body_size = 4096;
    return o;
  }

  void SetUp() override {
    BuiltinResourceOptions o;
    o.wall_clock = [this] { return wall_; };
    o.status_json = [] { return std::string(R"({"ok":true})"); };
    add_builtin_resources(dir_, o);
  }

  // Dispatches a request and returns the answer as a message would carry it.
  Decoded run(Code method, const std::vector<Opt>& opts, std::string_view payload = {},
              SessionId session = 1, const DispatchLimits& limits = {}) {
    test::Parsed req(Type::kCon, method, 1, test::tok({0x42}), opts, payload);
    dispatcher_.dispatch(req.msg(), kPeer, proto_, session, limits, now_, &out_);
    std::vector<uint8_t> wire;
    write_udp(wire, Type::kAck, out_.code, 1, test::tok({0x42}), out_.options, out_.payload);
    return test::decode_udp(wire);
  }
  Decoded get(std::string_view path, const std::vector<Opt>& extra = {},
              const DispatchLimits& limits = {}) {
    return run(codes::kGet, path_opts(path) + extra, {}, 1, limits);
  }

  // Fetches a representation block by block, starting with the given SZX and
  // following the block size the server answers with (RFC 7959 2.4).
  std::string fetch_all(std::string_view path, uint8_t szx, const DispatchLimits& limits = {}) {
    std::string body;
    uint32_t num = 0;
    for (int i = 0; i < 10000; ++i) {
      const Decoded d = get(path, {opt_uint(opt::kBlock2, block(num, false, szx))}, limits);
      EXPECT_EQ(d.code, codes::kContent);
      auto b = BlockOption::decode(d.uint(opt::kBlock2).value_or(0xffffffff));
      EXPECT_TRUE(b.has_value());
      if (!b) break;
      EXPECT_EQ(b->offset(), body.size());
      body += d.body();
      if (!b->more) break;
      szx = b->szx;
      num = static_cast<uint32_t>(body.size() / b->unit());
    }
    return body;
  }

  ResourceDirectory dir_;
  Dispatcher dispatcher_;
  DispatchOutput out_;
  TimePoint now_ = kT0;
  Proto proto_ = Proto::kUdp;  // the transport requests arrive on
  std::chrono::system_clock::time_point wall_ = kWall;
};

TEST_F(DispatcherTest, UnknownPathIs404) {
  const Decoded d = get("/nope");
  EXPECT_EQ(d.code, codes::kNotFound);
  EXPECT_EQ(out_.resource, nullptr);
  EXPECT_EQ(get("/time/extra").code, codes::kNotFound);
  EXPECT_EQ(get("/.well-known").code, codes::kNotFound);
}

TEST_F(DispatcherTest, UnsupportedMethodIs405) {
  EXPECT_EQ(run(codes::kDelete, path_opts("/time")).code, codes::kMethodNotAllowed);
  EXPECT_EQ(run(codes::kPost, path_opts("/.well-known/core")).code, codes::kMethodNotAllowed);
  EXPECT_EQ(run(codes::kFetch, path_opts("/echo")).code, codes::kMethodNotAllowed);
}

TEST_F(DispatcherTest, UnknownCriticalOptionIs402) {
  for (uint16_t n : {9, 2049, 65001}) {
    const Decoded d = get("/time", {opt_str(n, "x")});
    EXPECT_EQ(d.code, codes::kBadOption) << n;
    EXPECT_NE(d.body().find(std::to_string(n)), std::string::npos) << d.body();
  }
  // Checked before the path: a critical option on a missing resource is still 4.02.
  EXPECT_EQ(get("/nope", {opt_empty(9)}).code, codes::kBadOption);
}

TEST_F(DispatcherTest, UnknownElectiveOptionIsIgnored) {
  for (uint16_t n : {1000, 2050, 65000}) {
    const Decoded d = get("/time", {opt_str(n, "x")});
    EXPECT_EQ(d.code, codes::kContent) << n;
  }
  // An elective known option repeated when it may not be is also ignored
  // (RFC 7252 5.4.5: treated like an unrecognized elective option).
  EXPECT_EQ(get("/time", {opt_uint(opt::kMaxAge, 1), opt_uint(opt::kMaxAge, 2)}).code,
            codes::kContent);
}

TEST_F(DispatcherTest, RepeatedNonRepeatableCriticalOptionIs402) {
  EXPECT_EQ(get("/time", {opt_uint(opt::kAccept, 0), opt_uint(opt::kAccept, 0)}).code,
            codes::kBadOption);
  EXPECT_EQ(get("/time", {opt_str(opt::kUriHost, "a"), opt_str(opt::kUriHost, "b")}).code,
            codes::kBadOption);
  EXPECT_EQ(get("/time", {opt_uint(opt::kUriPort, 1), opt_uint(opt::kUriPort, 1)}).code,
            codes::kBadOption);
  // Repeatable critical options are fine.
  EXPECT_EQ(get("/time", {opt_str(opt::kUriQuery, "a"), opt_str(opt::kUriQuery, "b")}).code,
            codes::kContent);
}

TEST_F(DispatcherTest, ConditionalRequestsAre402) {
  // No resource evaluates If-Match or If-None-Match (RFC 7252 5.10.8), so
  // they are unrecognized critical options: a conditional PUT is refused
  // rather than run unconditionally.
  run(codes::kPut, path_opts("/echo"), "original");
  const std::vector<uint8_t> etag = {1, 2, 3, 4};
  const Decoded if_match =
      run(codes::kPut, path_opts("/echo") + Opt{opt::kIfMatch, etag}, "if-match");
  EXPECT_EQ(if_match.code, codes::kBadOption);
  EXPECT_NE(if_match.body().find("option 1"), std::string::npos) << if_match.body();
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_empty(opt::kIfMatch), "if-match").code,
            codes::kBadOption);
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_empty(opt::kIfNoneMatch), "if-none").code,
            codes::kBadOption);
  EXPECT_EQ(get("/echo").body(), "original");
}

TEST_F(DispatcherTest, CriticalOptionWithBadLengthIs402) {
  EXPECT_EQ(get("/time", {opt_str(opt::kUriHost, "")}).code, codes::kBadOption);
  EXPECT_EQ(get("/time", {opt_str(opt::kAccept, "abc")}).code, codes::kBadOption);
  EXPECT_EQ(get("/time", {opt_str(opt::kUriPort, "abc")}).code, codes::kBadOption);
  EXPECT_EQ(get("/time", {opt_str(opt::kUriPath, test::pattern(256))}).code, codes::kBadOption);
}

TEST_F(DispatcherTest, ProxyOptionsAre505) {
  const Decoded d = get("/time", {opt_str(opt::kProxyUri, "coap://192.0.2.1/x")});
  EXPECT_EQ(d.code, codes::kProxyingNotSupported);
  EXPECT_EQ(get("/nope", {opt_str(opt::kProxyScheme, "coap")}).code, codes::kProxyingNotSupported);
  // A Proxy-Uri of the maximum length (1034 bytes) is still recognised as such.
  EXPECT_EQ(get("/", {opt_str(opt::kProxyUri, test::pattern(1034))}).code,
            codes::kProxyingNotSupported);
}

TEST_F(DispatcherTest, TimeIsUtcTextWithMaxAge) {
  const Decoded d = get("/time");
  EXPECT_EQ(d.code, codes::kContent);
  EXPECT_EQ(d.body(), "2026-11-29T01:31:18Z");
  EXPECT_EQ(d.uint(opt::kContentFormat), content_format::kTextPlain);
  EXPECT_EQ(d.uint(opt::kMaxAge), 1u);
  wall_ += seconds(43);
  EXPECT_EQ(get("/time").body(), "2026-11-29T01:32:01Z");
  EXPECT_EQ(format_utc(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
}

TEST_F(DispatcherTest, RootAndStatus) {
  const Decoded root = get("/");
  EXPECT_EQ(root.code, codes::kContent);
  EXPECT_NE(root.body().find("coapd"), std::string::npos);
  const Decoded status = get("/status");
  EXPECT_EQ(status.code, codes::kContent);
  EXPECT_EQ(status.body(), R"({"ok":true})");
  EXPECT_EQ(status.uint(opt::kContentFormat), content_format::kJson);
}

TEST_F(DispatcherTest, EchoPutThenGet) {
  const Decoded put =
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kContentFormat, 50), R"({"a":1})");
  EXPECT_EQ(put.code, codes::kChanged);
  const Decoded d = get("/echo");
  EXPECT_EQ(d.code, codes::kContent);
  EXPECT_EQ(d.body(), R"({"a":1})");
  EXPECT_EQ(d.uint(opt::kContentFormat), 50u);
  // POST replaces too; without Content-Format the representation has none.
  EXPECT_EQ(run(codes::kPost, path_opts("/echo"), "plain").code, codes::kChanged);
  const Decoded d2 = get("/echo");
  EXPECT_EQ(d2.body(), "plain");
  EXPECT_FALSE(d2.has(opt::kContentFormat));
}

TEST_F(DispatcherTest, OverlongElectiveUintOptionIsIgnored) {
  // A 3-byte Content-Format (at most 2) is treated like an unrecognized
  // elective option (RFC 7252 5.4.3): the representation has no format.
  const Decoded put =
      run(codes::kPut, path_opts("/echo") + Opt{opt::kContentFormat, {0, 0, 50}}, "x");
  EXPECT_EQ(put.code, codes::kChanged);
  EXPECT_FALSE(get("/echo").has(opt::kContentFormat));
  // A 4-byte Observe (at most 3) registers nothing.
  get("/time", {Opt{opt::kObserve, {0, 0, 0, 0}}});
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kNone);
}

TEST_F(DispatcherTest, AcceptMismatchIs406) {
  EXPECT_EQ(get("/time", {opt_uint(opt::kAccept, content_format::kJson)}).code,
            codes::kNotAcceptable);
  EXPECT_EQ(get("/time", {opt_uint(opt::kAccept, content_format::kTextPlain)}).code,
            codes::kContent);
  run(codes::kPut, path_opts("/echo") + opt_uint(opt::kContentFormat, 42), "bin");
  EXPECT_EQ(get("/echo", {opt_uint(opt::kAccept, 0)}).code, codes::kNotAcceptable);
  EXPECT_EQ(get("/echo", {opt_uint(opt::kAccept, 42)}).code, codes::kContent);
}

// --- /.well-known/core (RFC 6690) -------------------------------------------------------

TEST_F(DispatcherTest, WellKnownCoreListsResources) {
  const Decoded d = get("/.well-known/core");
  EXPECT_EQ(d.code, codes::kContent);
  EXPECT_EQ(d.uint(opt::kContentFormat), content_format::kLinkFormat);
  EXPECT_EQ(d.body(), R"(</>;title="coapd",</time>;rt="time";ct=0;obs,</echo>;rt="echo";obs,)"
                      R"(</status>;rt="status";ct=50)");
}

TEST_F(DispatcherTest, WellKnownCoreFilters) {
  EXPECT_EQ(get("/.well-known/core", {opt_str(opt::kUriQuery, "href=/t*")}).body(),
            R"(</time>;rt="time";ct=0;obs)");
  EXPECT_EQ(get("/.well-known/core", {opt_str(opt::kUriQuery, "rt=time")}).body(),
            R"(</time>;rt="time";ct=0;obs)");
  EXPECT_EQ(get("/.well-known/core", {opt_str(opt::kUriQuery, "rt=e*")}).body(),
            R"(</echo>;rt="echo";obs)");
  EXPECT_EQ(get("/.well-known/core", {opt_str(opt::kUriQuery, "ct=50")}).body(),
            R"(</status>;rt="status";ct=50)");
  EXPECT_EQ(get("/.well-known/core", {opt_str(opt::kUriQuery, "href=/echo")}).body(),
            R"(</echo>;rt="echo";obs)");
  EXPECT_EQ(get("/.well-known/core", {opt_str(opt::kUriQuery, "rt=nothing")}).body(), "");
  EXPECT_EQ(get("/.well-known/core", {opt_str(opt::kUriQuery, "href=/tim")}).body(), "");
}

// --- Block2 (RFC 7959 2.2, 2.4) -----------------------------------------------------

TEST_F(DispatcherTest, LargeRepresentationIsSlicedInto1024ByteBlocks) {
  const std::string body = test::pattern(3000);
  run(codes::kPut, path_opts("/echo"), body);
  const Decoded b0 = get("/echo");
  EXPECT_EQ(b0.code, codes::kContent);
  EXPECT_EQ(b0.uint(opt::kBlock2), block(0, true, 6));
  EXPECT_EQ(b0.uint(opt::kSize2), 3000u);
  ASSERT_TRUE(b0.has(opt::kETag));
  EXPECT_EQ(b0.value(opt::kETag)->size(), 4u);
  EXPECT_EQ(b0.body(), body.substr(0, 1024));

  const Decoded b1 = get("/echo", {opt_uint(opt::kBlock2, block(1, false, 6))});
  EXPECT_EQ(b1.uint(opt::kBlock2), block(1, true, 6));
  EXPECT_EQ(b1.body(), body.substr(1024, 1024));
  EXPECT_FALSE(b1.has(opt::kSize2));
  EXPECT_EQ(*b1.value(opt::kETag), *b0.value(opt::kETag));

  const Decoded b2 = get("/echo", {opt_uint(opt::kBlock2, block(2, false, 6))});
  EXPECT_EQ(b2.uint(opt::kBlock2), block(2, false, 6));
  EXPECT_EQ(b2.body(), body.substr(2048));

  EXPECT_EQ(fetch_all("/echo", 6), body);

  // A changed representation gets another ETag.
  run(codes::kPut, path_opts("/echo"), test::pattern(3000, 1));
  EXPECT_NE(*get("/echo").value(opt::kETag), *b0.value(opt::kETag));
}

TEST_F(DispatcherTest, ClientChosenSmallerBlockSize) {
  const std::string body = test::pattern(3000);
  run(codes::kPut, path_opts("/echo"), body);
  const Decoded first = get("/echo", {opt_uint(opt::kBlock2, block(0, false, 2))});
  EXPECT_EQ(first.uint(opt::kBlock2), block(0, true, 2));
  EXPECT_EQ(first.body(), body.substr(0, 64));
  EXPECT_EQ(first.uint(opt::kSize2), 3000u);
  const Decoded last = get("/echo", {opt_uint(opt::kBlock2, block(46, false, 2))});
  EXPECT_EQ(last.uint(opt::kBlock2), block(46, false, 2));
  EXPECT_EQ(last.body(), body.substr(46 * 64));
  EXPECT_EQ(fetch_all("/echo", 0), body);
  EXPECT_EQ(fetch_all("/echo", 4), body);
}

TEST_F(DispatcherTest, BlockBeyondTheEndIs402) {
  run(codes::kPut, path_opts("/echo"), test::pattern(3000));
  EXPECT_EQ(get("/echo", {opt_uint(opt::kBlock2, block(3, false, 6))}).code, codes::kBadOption);
  EXPECT_EQ(get("/echo", {opt_uint(opt::kBlock2, block(47, false, 2))}).code, codes::kBadOption);
  // A representation of exactly two blocks has no third one.
  run(codes::kPut, path_opts("/echo"), test::pattern(2048));
  EXPECT_EQ(get("/echo", {opt_uint(opt::kBlock2, block(1, false, 6))}).uint(opt::kBlock2),
            block(1, false, 6));
  EXPECT_EQ(get("/echo", {opt_uint(opt::kBlock2, block(2, false, 6))}).code, codes::kBadOption);
}

TEST_F(DispatcherTest, Block2OnASmallRepresentation) {
  // Block2 asked for on something that fits: one block, M=0, the whole body.
  const Decoded d = get("/time", {opt_uint(opt::kBlock2, block(0, false, 6))});
  EXPECT_EQ(d.code, codes::kContent);
  EXPECT_EQ(d.uint(opt::kBlock2), block(0, false, 6));
  EXPECT_EQ(d.body(), "2026-11-29T01:31:18Z");
  // Without Block2 nothing block-related is added.
  const Decoded plain = get("/time");
  EXPECT_FALSE(plain.has(opt::kBlock2));
  EXPECT_FALSE(plain.has(opt::kSize2));
  EXPECT_FALSE(plain.has(opt::kETag));
}

TEST_F(DispatcherTest, BlockSizeShrinksToThePeerLimit) {
  const std::string body = test::pattern(3000);
  run(codes::kPut, path_opts("/echo"), body);
  DispatchLimits small;
  small.max_payload = 600;  // 512-byte blocks fit, 1024 do not
  const Decoded b0 = get("/echo", {}, small);
  EXPECT_EQ(b0.uint(opt::kBlock2), block(0, true, 5));
  EXPECT_EQ(b0.payload.size(), 512u);
  // The client asks for block 1 of 1024 bytes: it gets the 512 bytes at 1024.
  const Decoded b = get("/echo", {opt_uint(opt::kBlock2, block(1, false, 6))}, small);
  EXPECT_EQ(b.uint(opt::kBlock2), block(2, true, 5));
  EXPECT_EQ(b.body(), body.substr(1024, 512));
  EXPECT_EQ(fetch_all("/echo", 6, small), body);
}

TEST_F(DispatcherTest, TooLargeWithoutBlockwiseIs500) {
  run(codes::kPut, path_opts("/echo"), test::pattern(3000));
  DispatchLimits no_bwt;
  no_bwt.max_payload = 1000;
  no_bwt.blockwise = false;
  const Decoded d = get("/echo", {}, no_bwt);
  EXPECT_EQ(d.code, codes::kInternalServerError);
  EXPECT_FALSE(d.has(opt::kBlock2));
  EXPECT_LE(d.payload.size(), 1000u);
}

TEST_F(DispatcherTest, BertBlocksWhenAllowed) {
  const std::string body = test::pattern(10000);
  run(codes::kPut, path_opts("/echo"), body);
  proto_ = Proto::kTcp;  // BERT exists over TCP only
  DispatchLimits bert;
  bert.max_payload = 4500;
  bert.bert = true;
  const Decoded b0 = get("/echo", {opt_uint(opt::kBlock2, block(0, false, 7))}, bert);
  EXPECT_EQ(b0.uint(opt::kBlock2), block(0, true, 7));
  EXPECT_EQ(b0.payload.size(), 4096u);
  // NUM counts 1024-byte units.
  const Decoded b1 = get("/echo", {opt_uint(opt::kBlock2, block(4, false, 7))}, bert);
  EXPECT_EQ(b1.uint(opt::kBlock2), block(4, true, 7));
  EXPECT_EQ(b1.body(), body.substr(4096, 4096));
  EXPECT_EQ(fetch_all("/echo", 7, bert), body);
  // Without BERT support SZX 7 falls back to 1024-byte blocks.
  const Decoded plain = get("/echo", {opt_uint(opt::kBlock2, block(0, false, 7))});
  EXPECT_EQ(plain.uint(opt::kBlock2), block(0, true, 6));
}

TEST_F(DispatcherTest, BertBlockOverUdpIs400) {
  // SZX 7 is reserved over UDP (RFC 7959 2.2, RFC 8323 6), whatever the limits say.
  const std::string body = test::pattern(3000);
  run(codes::kPut, path_opts("/echo"), body);
  DispatchLimits bert;
  bert.max_payload = 4500;
  bert.bert = true;
  const Decoded b2 = get("/echo", {opt_uint(opt::kBlock2, block(0, false, 7))}, bert);
  EXPECT_EQ(b2.code, codes::kBadRequest);
  EXPECT_FALSE(b2.has(opt::kBlock2));
  const Decoded b1 =
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 7)),
          test::pattern(1024, 1), 1, bert);
  EXPECT_EQ(b1.code, codes::kBadRequest);
  EXPECT_EQ(dispatcher_.block1_transfers(), 0u);
  EXPECT_EQ(fetch_all("/echo", 6), body) << "the handler did not run";
  // Over TCP the same requests are served.
  proto_ = Proto::kTcp;
  EXPECT_EQ(get("/echo", {opt_uint(opt::kBlock2, block(0, false, 7))}, bert).code, codes::kContent);
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 7)),
                test::pattern(1024, 1), 1, bert)
                .code,
            codes::kContinue);
}

// --- Block1 (RFC 7959 2.3, 2.5) ------------------------------------------------------

TEST_F(DispatcherTest, Block1Reassembly) {
  const std::string body = test::pattern(2148);
  const Decoded c0 =
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 6)),
          body.substr(0, 1024));
  EXPECT_EQ(c0.code, codes::kContinue);
  EXPECT_EQ(c0.uint(opt::kBlock1), block(0, true, 6));
  EXPECT_TRUE(c0.payload.empty());
  EXPECT_EQ(dispatcher_.block1_transfers(), 1u);
  const Decoded c1 =
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(1, true, 6)),
          body.substr(1024, 1024));
  EXPECT_EQ(c1.code, codes::kContinue);
  EXPECT_EQ(c1.uint(opt::kBlock1), block(1, true, 6));
  const Decoded done =
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(2, false, 6)),
          body.substr(2048));
  EXPECT_EQ(done.code, codes::kChanged);
  EXPECT_EQ(done.uint(opt::kBlock1), block(2, false, 6));
  EXPECT_EQ(dispatcher_.block1_transfers(), 0u);
  EXPECT_EQ(fetch_all("/echo", 6), body);
}

TEST_F(DispatcherTest, Block1UploadsWithDifferentRequestTagsRunAtOnce) {
  // RFC 9175 3.3: two uploads from one session to one resource are two
  // operations when their Request-Tags differ; interleaved, neither is
  // restarted or mixed into the other.
  const std::string a = test::pattern(2048, 1), b = test::pattern(2048, 2);
  auto put = [&](std::vector<Opt> tag, uint32_t num, bool more, const std::string& body) {
    return run(codes::kPut, path_opts("/echo") + tag + opt_uint(opt::kBlock1, block(num, more, 6)),
               body.substr(num * 1024, 1024));
  };
  const std::vector<Opt> tag_a = {test::opt_str(opt::kRequestTag, "a")};
  const std::vector<Opt> tag_b = {test::opt_str(opt::kRequestTag, "bb")};
  EXPECT_EQ(put(tag_a, 0, true, a).code, codes::kContinue);
  EXPECT_EQ(put(tag_b, 0, true, b).code, codes::kContinue);
  EXPECT_EQ(dispatcher_.block1_transfers(), 2u);
  // No tag, and one empty tag, are two more operations (an absent list is
  // not a list of one empty value).
  EXPECT_EQ(put({}, 0, true, a).code, codes::kContinue);
  EXPECT_EQ(put({test::opt_empty(opt::kRequestTag)}, 0, true, a).code, codes::kContinue);
  EXPECT_EQ(dispatcher_.block1_transfers(), 4u);
  EXPECT_EQ(put(tag_b, 1, false, b).code, codes::kChanged);
  EXPECT_EQ(fetch_all("/echo", 6), b);
  EXPECT_EQ(put(tag_a, 1, false, a).code, codes::kChanged);
  EXPECT_EQ(fetch_all("/echo", 6), a);
  EXPECT_EQ(dispatcher_.block1_transfers(), 2u);
  // Block 1 under a tag whose block 0 never came is out of sequence.
  EXPECT_EQ(put({test::opt_str(opt::kRequestTag, "zz")}, 1, false, a).code,
            codes::kRequestEntityIncomplete);
}

TEST_F(DispatcherTest, Block1OutOfOrderIs408) {
  const std::string body = test::pattern(4000);
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(1, true, 6)),
                body.substr(0, 1024))
                .code,
            codes::kRequestEntityIncomplete);
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 6)),
                body.substr(0, 1024))
                .code,
            codes::kContinue);
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(2, true, 6)),
                body.substr(2048, 1024))
                .code,
            codes::kRequestEntityIncomplete);
  // Another session's transfer is separate: its block 1 has no block 0.
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(1, true, 6)),
                body.substr(1024, 1024), /*session=*/2)
                .code,
            codes::kRequestEntityIncomplete);
}

TEST_F(DispatcherTest, Block1TooLargeIs413WithSize1) {
  // Announced up front with Size1.
  const Decoded early = run(
      codes::kPut,
      path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 6)) + opt_uint(opt::kSize1, 5000),
      test::pattern(1024));
  EXPECT_EQ(early.code, codes::kRequestEntityTooLarge);
  EXPECT_EQ(early.uint(opt::kSize1), 4096u);
  EXPECT_EQ(dispatcher_.block1_transfers(), 0u);

  // Discovered when the blocks exceed the limit.
  for (uint32_t n = 0; n < 4; ++n)
    EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(n, true, 6)),
                  test::pattern(1024))
                  .code,
              codes::kContinue);
  const Decoded late =
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(4, false, 6)), "x");
  EXPECT_EQ(late.code, codes::kRequestEntityTooLarge);
  EXPECT_EQ(late.uint(opt::kSize1), 4096u);
  EXPECT_EQ(dispatcher_.block1_transfers(), 0u);
}

TEST_F(DispatcherTest, Block1PayloadMustMatchBlockSize) {
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 6)),
                test::pattern(1000))
                .code,
            codes::kBadRequest);
  EXPECT_EQ(dispatcher_.block1_transfers(), 0u);
}

TEST_F(DispatcherTest, Block1StateIsForgottenAndExpires) {
  run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 4)),
      test::pattern(256), 1);
  run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 4)),
      test::pattern(256), 2);
  EXPECT_EQ(dispatcher_.block1_transfers(), 2u);
  dispatcher_.forget_session(1);
  EXPECT_EQ(dispatcher_.block1_transfers(), 1u);
  EXPECT_EQ(dispatcher_.expire(kT0 + seconds(1)), kT0 + seconds(247));
  EXPECT_EQ(dispatcher_.expire(kT0 + seconds(247)), kNever);
  EXPECT_EQ(dispatcher_.block1_transfers(), 0u);
  // Continuing the expired transfer fails.
  EXPECT_EQ(
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(1, false, 4)), "end", 2)
          .code,
      codes::kRequestEntityIncomplete);
}

TEST_F(DispatcherTest, Block1TransfersAreBounded) {
  for (SessionId s = 1; s <= 70; ++s) {
    now_ += milliseconds(1);
    run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(0, true, 4)),
        test::pattern(256), s);
  }
  EXPECT_EQ(dispatcher_.block1_transfers(), 64u);
  // The oldest ones were dropped, the newest survive.
  EXPECT_EQ(
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(1, false, 4)), "e", 1)
          .code,
      codes::kRequestEntityIncomplete);
  EXPECT_EQ(
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock1, block(1, false, 4)), "e", 70)
          .code,
      codes::kChanged);
}

TEST_F(DispatcherTest, LargePutResponseIsKeptForBlock2FollowUps) {
  const std::string body = test::pattern(3000);
  const Decoded put = run(codes::kPut, path_opts("/echo"), body);
  EXPECT_EQ(put.code, codes::kChanged);
  EXPECT_EQ(put.uint(opt::kBlock2), block(0, true, 6));
  EXPECT_EQ(put.uint(opt::kSize2), 3000u);
  EXPECT_EQ(dispatcher_.block2_responses(), 1u);
  // RFC 7959 2.7: the rest of the response is fetched by repeating the
  // request with Block2 and without a body; the handler does not run again.
  std::string got = put.body();
  for (uint32_t n = 1; n < 3; ++n) {
    const Decoded d =
        run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock2, block(n, false, 6)));
    EXPECT_EQ(d.code, codes::kChanged);
    EXPECT_EQ(d.uint(opt::kBlock2), block(n, n < 2, 6));
    EXPECT_EQ(*d.value(opt::kETag), *put.value(opt::kETag));
    got += d.body();
  }
  EXPECT_EQ(got, body);
  EXPECT_EQ(fetch_all("/echo", 6), body) << "the follow-ups did not store an empty body";
  // Kept per session, forgotten with it, and for block1_lifetime at most.
  dispatcher_.forget_session(1);
  EXPECT_EQ(dispatcher_.block2_responses(), 0u);
  run(codes::kPost, path_opts("/echo"), body, 2);
  EXPECT_EQ(dispatcher_.block2_responses(), 1u);
  EXPECT_EQ(dispatcher_.expire(kT0 + seconds(247)), kNever);
  EXPECT_EQ(dispatcher_.block2_responses(), 0u);
  // A small response is not kept.
  run(codes::kPut, path_opts("/echo"), "small");
  EXPECT_EQ(dispatcher_.block2_responses(), 0u);
}

TEST_F(DispatcherTest, Block2FollowUpWithoutAKeptResponseIs408) {
  // Block 1 of a PUT response that was never kept: the handler must not run
  // again (it would store an empty body), the client has to start over.
  run(codes::kPut, path_opts("/echo"), "stored");
  const Decoded never =
      run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock2, block(1, false, 6)));
  EXPECT_EQ(never.code, codes::kRequestEntityIncomplete);
  EXPECT_FALSE(never.has(opt::kBlock2));
  EXPECT_EQ(get("/echo").body(), "stored");

  // Kept, then expired.
  const std::string body = test::pattern(3000);
  EXPECT_EQ(run(codes::kPost, path_opts("/echo"), body).uint(opt::kBlock2), block(0, true, 6));
  now_ += seconds(247);
  EXPECT_EQ(run(codes::kPost, path_opts("/echo") + opt_uint(opt::kBlock2, block(1, false, 6))).code,
            codes::kRequestEntityIncomplete);
  EXPECT_EQ(fetch_all("/echo", 6), body);

  // Kept, then forgotten with the session (or evicted).
  run(codes::kPut, path_opts("/echo"), body);
  dispatcher_.forget_session(1);
  EXPECT_EQ(run(codes::kPut, path_opts("/echo") + opt_uint(opt::kBlock2, block(2, false, 6))).code,
            codes::kRequestEntityIncomplete);
  EXPECT_EQ(fetch_all("/echo", 6), body);
}

// --- Observe decision (RFC 7641 2) ---------------------------------------------------

TEST_F(DispatcherTest, ObserveRegistrationDecision) {
  get("/time", {opt_uint(opt::kObserve, 0)});
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kRegister);
  EXPECT_EQ(out_.resource, dir_.find("/time"));
  EXPECT_FALSE(out_.options.find(opt::kObserve)) << "the endpoint adds the sequence number";
  get("/time", {opt_uint(opt::kObserve, 1)});
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kDeregister);
  get("/time", {opt_uint(opt::kObserve, 2)});
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kNone);
  get("/time");
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kNone);
  // Not observable, not found, not acceptable, not GET: no registration.
  get("/status", {opt_uint(opt::kObserve, 0)});
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kNone);
  get("/nope", {opt_uint(opt::kObserve, 0)});
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kNone);
  get("/time", {opt_uint(opt::kObserve, 0), opt_uint(opt::kAccept, 50)});
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kNone);
  run(codes::kPut, path_opts("/echo") + opt_uint(opt::kObserve, 0), "x");
  EXPECT_EQ(out_.observe, DispatchOutput::Observe::kNone);
}

TEST_F(DispatcherTest, RenderNotification) {
  dispatcher_.render_notification(*dir_.find("/time"), kPeer, Proto::kUdp, 1, {}, &out_);
  EXPECT_EQ(out_.code, codes::kContent);
  EXPECT_EQ(test::string_of(out_.payload), "2026-11-29T01:31:18Z");
  ASSERT_NE(out_.options.find(opt::kContentFormat), nullptr);
  // A large representation is notified with its first block.
  run(codes::kPut, path_opts("/echo"), test::pattern(3000));
  dispatcher_.render_notification(*dir_.find("/echo"), kPeer, Proto::kUdp, 1, {}, &out_);
  EXPECT_EQ(out_.payload.size(), 1024u);
  ASSERT_NE(out_.options.find(opt::kBlock2), nullptr);
  EXPECT_EQ(decode_uint(out_.options.find(opt::kBlock2)->value()), block(0, true, 6));
}

}  // namespace
}  // namespace coap
