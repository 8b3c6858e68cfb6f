// The UDP codec (RFC 7252 section 3): header, token, option delta/length
// encoding with extended nibbles, payload marker, and every way a datagram
// can be malformed.
#include "coap/message.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "coap/code.h"
#include "coap/option.h"
#include "test/coap/test_util.h"

namespace coap {
namespace {

using test::bytes_of;
using test::decode_udp;
using test::Opt;
using test::opt_empty;
using test::opt_str;
using test::opt_uint;
using test::udp_msg;

std::vector<uint8_t> header(uint8_t first, uint8_t code, uint16_t mid) {
  return {first, code, static_cast<uint8_t>(mid >> 8), static_cast<uint8_t>(mid)};
}

std::vector<uint8_t> cat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

ParseError parse(const std::vector<uint8_t>& d) {
  Message m;
  return parse_udp(d, m);
}

// RFC 7252 Appendix A, figure 16: CON GET /temperature, MID 0x7d34, no token.
TEST(MessageTest, EncodesRfc7252AppendixAExample) {
  const auto wire =
      udp_msg(Type::kCon, codes::kGet, 0x7d34, Token{}, test::path_opts("/temperature"));
  const std::vector<uint8_t> expected =
      cat({0x40, 0x01, 0x7d, 0x34, 0xbb}, bytes_of("temperature"));
  EXPECT_EQ(wire, expected);

  // The piggybacked answer of the same figure: ACK 2.05 "22.3 C".
  const auto ack = udp_msg(Type::kAck, codes::kContent, 0x7d34, Token{}, {}, "22.3 C");
  EXPECT_EQ(ack, cat({0x60, 0x45, 0x7d, 0x34, 0xff}, bytes_of("22.3 C")));
}

TEST(MessageTest, HeaderFieldsRoundTrip) {
  const Token t = test::tok({0xde, 0xad, 0xbe});
  const auto wire = udp_msg(Type::kNon, codes::kPost, 0xfedc, t);
  ASSERT_EQ(wire.size(), 7u);
  EXPECT_EQ(wire[0], 0x40 | (1 << 4) | 3);  // Ver=1, T=NON, TKL=3
  EXPECT_EQ(wire[1], 0x02);
  EXPECT_EQ(wire[2], 0xfe);
  EXPECT_EQ(wire[3], 0xdc);

  Message m;
  ASSERT_EQ(parse_udp(wire, m), ParseError::kNone);
  EXPECT_EQ(m.type, Type::kNon);
  EXPECT_EQ(m.code, codes::kPost);
  EXPECT_EQ(m.mid, 0xfedc);
  EXPECT_EQ(m.token, t);
  EXPECT_TRUE(m.options.empty());
  EXPECT_TRUE(m.payload.empty());
}

TEST(MessageTest, AllTypesRoundTrip) {
  for (Type type : {Type::kCon, Type::kNon, Type::kAck, Type::kRst}) {
    const Code code = type == Type::kRst ? codes::kEmpty : codes::kContent;
    const auto wire =
        type == Type::kRst ? test::udp_empty(type, 77) : udp_msg(type, code, 77, test::tok({1}));
    Message m;
    ASSERT_EQ(parse_udp(wire, m), ParseError::kNone) << type_name(type);
    EXPECT_EQ(m.type, type);
    EXPECT_EQ(m.code, code);
    EXPECT_EQ(m.mid, 77);
  }
}

TEST(MessageTest, TokenLengthsZeroToEight) {
  for (uint8_t len = 0; len <= 8; ++len) {
    std::vector<uint8_t> tb;
    for (uint8_t i = 0; i < len; ++i) tb.push_back(static_cast<uint8_t>(0xa0 + i));
    const Token t = Token::from(tb);
    ASSERT_EQ(t.len, len);
    const auto wire = udp_msg(Type::kCon, codes::kGet, 1, t, {}, "x");
    EXPECT_EQ(wire[0] & 0x0f, len);
    EXPECT_EQ(wire.size(), 4u + len + 2u);
    Message m;
    ASSERT_EQ(parse_udp(wire, m), ParseError::kNone);
    EXPECT_EQ(m.token, t);
    EXPECT_EQ(test::string_of(m.payload), "x");
  }
}

TEST(MessageTest, TokenHelpers) {
  const Token t = Token::from_u64(0x0102030405060708ull);
  EXPECT_EQ(t.len, 8);
  EXPECT_EQ(t.hex(), "0102030405060708");
  const Token short_token = Token::from_u64(0xabcd, 2);
  EXPECT_EQ(short_token.hex(), "abcd");
  EXPECT_FALSE(short_token == t);
  EXPECT_EQ(Token{}.hex(), "");
  // Equality looks at the used bytes only, and at the length.
  Token a = test::tok({1, 2});
  Token b = test::tok({1, 2});
  b.bytes[5] = 99;
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.hash(), test::tok({1, 2}).hash());
  EXPECT_FALSE(test::tok({1, 2}) == test::tok({1, 2, 0}));
  EXPECT_NE(test::tok({1, 2}).hash(), test::tok({1, 2, 0}).hash());
}

// Option header bytes for a single option, checked byte for byte.
struct OptionCase {
  uint16_t number;
  std::size_t length;
  std::vector<uint8_t> expected_header;  // option header before the value
};

TEST(MessageTest, OptionDeltaAndLengthNibbles) {
  const std::vector<OptionCase> cases = {
      {1, 0, {0x10}},                              // If-Match, empty
      {12, 12, {0xcc}},                            // delta 12 and length 12 fit the nibbles
      {13, 0, {0xd0, 0x00}},                       // delta 13: nibble 13 + (13-13)
      {14, 13, {0xdd, 0x01, 0x00}},                // delta 14 -> ext 1; length 13 -> ext 0
      {268, 268, {0xdd, 0xff, 0xff}},              // the largest one-byte extensions
      {269, 269, {0xee, 0x00, 0x00, 0x00, 0x00}},  // the smallest two-byte extensions
      {258, 1, {0xd1, 258 - 13}},                  // No-Response: 13 + 245
      {35, 1034, {0xde, 35 - 13, 0x02, 0xfd}},     // Proxy-Uri of 1034 bytes: 269 + 765
      {2049, 0, {0xe0, 0x06, 0xf4}},               // 2049 = 269 + 0x06f4
  };
  for (const OptionCase& c : cases) {
    SCOPED_TRACE("option " + std::to_string(c.number) + " length " + std::to_string(c.length));
    const std::string value = test::pattern(c.length);
    const auto wire = udp_msg(Type::kCon, codes::kGet, 1, Token{}, {opt_str(c.number, value)});
    const std::vector<uint8_t> expected =
        cat(cat(header(0x40, 0x01, 1), c.expected_header), bytes_of(value));
    EXPECT_EQ(wire, expected);
    Message m;
    ASSERT_EQ(parse_udp(wire, m), ParseError::kNone);
    ASSERT_EQ(m.options.size(), 1u);
    EXPECT_EQ(m.options[0].number, c.number);
    EXPECT_EQ(test::string_of(m.options[0].value()), value);
  }
}

TEST(MessageTest, DeltasAreRelativeToThePreviousOption) {
  // Uri-Host(3) "h", Uri-Path(11) "a", Uri-Path "b" (delta 0), Size1(60) 5.
  const auto wire = udp_msg(Type::kCon, codes::kPut, 2, Token{},
                            {opt_str(3, "h"), opt_str(11, "a"), opt_str(11, "b"), opt_uint(60, 5)});
  const std::vector<uint8_t> expected = {0x40, 0x03, 0x00, 0x02, 0x31,         'h', 0x81,
                                         'a',  0x01, 'b',  0xd1, 60 - 11 - 13, 5};
  EXPECT_EQ(wire, expected);
  Message m;
  ASSERT_EQ(parse_udp(wire, m), ParseError::kNone);
  ASSERT_EQ(m.options.size(), 4u);
  EXPECT_EQ(m.options[3].number, 60);
  EXPECT_EQ(m.path(), "/a/b");
  EXPECT_EQ(m.count(opt::kUriPath), 2u);
  EXPECT_EQ(m.uint_option(opt::kSize1), 5u);
  EXPECT_FALSE(m.uint_option(opt::kSize2).has_value());
}

TEST(MessageTest, UintOptionLongerThanItsDefinitionIsAbsent) {
  // RFC 7252 5.4.3: such a value is treated like an unrecognized option.
  struct Case {
    uint16_t number;
    std::size_t max_len;
  };
  for (const Case c : {Case{opt::kContentFormat, 2}, Case{opt::kAccept, 2}, Case{opt::kBlock2, 3},
                       Case{opt::kBlock1, 3}, Case{opt::kObserve, 3}, Case{opt::kMaxAge, 4},
                       Case{opt::kSize1, 4}, Case{opt::kSize2, 4}, Case{opt::kUriPort, 2}}) {
    SCOPED_TRACE("option " + std::to_string(c.number));
    for (std::size_t len = 0; len <= 5; ++len) {
      // Leading zeros: the value is 1 whatever the length.
      std::vector<uint8_t> value(len, 0);
      if (len) value.back() = 1;
      test::Parsed p(Type::kCon, codes::kGet, 1, Token{}, {Opt{c.number, value}});
      if (len <= c.max_len) {
        EXPECT_EQ(p.msg().uint_option(c.number), len ? 1u : 0u) << "length " << len;
      } else {
        EXPECT_FALSE(p.msg().uint_option(c.number).has_value()) << "length " << len;
      }
    }
  }
  // An unregistered number keeps the 4-byte limit of the uint format.
  test::Parsed four(Type::kCon, codes::kGet, 1, Token{}, {Opt{2000, {1, 2, 3, 4}}});
  EXPECT_EQ(four.msg().uint_option(2000), 0x01020304u);
  test::Parsed five(Type::kCon, codes::kGet, 1, Token{}, {Opt{2000, {1, 2, 3, 4, 5}}});
  EXPECT_FALSE(five.msg().uint_option(2000).has_value());
}

TEST(MessageTest, UintOptionsUseTheMinimalEncoding) {
  uint8_t buf[4];
  EXPECT_EQ(encode_uint(0, buf), 0u);
  EXPECT_EQ(encode_uint(1, buf), 1u);
  EXPECT_EQ(encode_uint(255, buf), 1u);
  EXPECT_EQ(encode_uint(256, buf), 2u);
  EXPECT_EQ(buf[0], 1);
  EXPECT_EQ(buf[1], 0);
  EXPECT_EQ(encode_uint(0xffff, buf), 2u);
  EXPECT_EQ(encode_uint(0x10000, buf), 3u);
  EXPECT_EQ(encode_uint(0xffffff, buf), 3u);
  EXPECT_EQ(encode_uint(0x01020304, buf), 4u);
  EXPECT_EQ((std::vector<uint8_t>(buf, buf + 4)), (std::vector<uint8_t>{1, 2, 3, 4}));

  const std::vector<uint8_t> five(5, 1);
  EXPECT_FALSE(decode_uint(five).has_value());
  EXPECT_EQ(decode_uint({}), 0u);
  const std::vector<uint8_t> leading_zero = {0, 0, 7};  // not minimal, still accepted
  EXPECT_EQ(decode_uint(leading_zero), 7u);

  // Observe=0 is an option of length zero (RFC 7641 2).
  const auto wire = udp_msg(Type::kCon, codes::kGet, 1, Token{}, {opt_uint(opt::kObserve, 0)});
  EXPECT_EQ(wire, (std::vector<uint8_t>{0x40, 0x01, 0x00, 0x01, 0x60}));
}

TEST(MessageTest, PayloadMarkerOnlyWithPayload) {
  const auto without = udp_msg(Type::kCon, codes::kContent, 1, Token{});
  EXPECT_EQ(without.size(), 4u);
  const auto with = udp_msg(Type::kCon, codes::kContent, 1, Token{}, {}, "p");
  EXPECT_EQ(with, (std::vector<uint8_t>{0x40, 0x45, 0x00, 0x01, 0xff, 'p'}));

  // A payload that itself contains 0xff bytes survives.
  const std::string tricky("\xff\xff\x00\xff", 4);
  const auto t = udp_msg(Type::kCon, codes::kContent, 1, Token{}, {opt_uint(12, 0)}, tricky);
  Message m;
  ASSERT_EQ(parse_udp(t, m), ParseError::kNone);
  EXPECT_EQ(test::string_of(m.payload), tricky);
}

TEST(MessageTest, RoundTripManyOptionsBeyondInlineStorage) {
  std::vector<Opt> opts;
  for (int i = 0; i < 40; ++i) opts.push_back(opt_str(opt::kUriQuery, "q" + std::to_string(i)));
  opts.push_back(opt_str(opt::kUriHost, "example"));
  opts.push_back(opt_uint(opt::kBlock2, 0x1234));
  opts.push_back(opt_str(opt::kProxyUri, test::pattern(1034)));
  opts.push_back(opt_uint(opt::kNoResponse, 26));
  opts.push_back(opt_empty(2052));
  const std::string payload = test::pattern(3000);
  const auto wire =
      udp_msg(Type::kCon, codes::kFetch, 999, test::tok({9, 8, 7, 6, 5, 4, 3, 2}), opts, payload);

  OptionList list;
  test::fill(list, opts);
  EXPECT_EQ(wire.size(), 4u + 8u + options_and_payload_size(list, payload.size()));

  const test::Decoded d = decode_udp(wire);
  EXPECT_EQ(d.code, codes::kFetch);
  ASSERT_EQ(d.options.size(), opts.size());
  // Sorted by number; options with equal numbers keep their order.
  EXPECT_EQ(d.options[0].first, opt::kUriHost);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(d.options[1 + i].first, opt::kUriQuery);
    EXPECT_EQ(test::string_of(d.options[1 + i].second), "q" + std::to_string(i));
  }
  EXPECT_EQ(d.uint(opt::kBlock2), 0x1234u);
  EXPECT_EQ(d.str(opt::kProxyUri), test::pattern(1034));
  EXPECT_EQ(d.uint(opt::kNoResponse), 26u);
  EXPECT_TRUE(d.has(2052));
  EXPECT_EQ(d.body(), payload);

  // Re-encoding the parsed message gives the same bytes.
  Message m;
  ASSERT_EQ(parse_udp(wire, m), ParseError::kNone);
  OptionList again;
  for (const OptionView& o : m.options) again.add(o.number, o.value());
  std::vector<uint8_t> re;
  write_udp(re, m.type, m.code, m.mid, m.token, again, m.payload);
  EXPECT_EQ(re, wire);
}

TEST(MessageTest, RandomRoundTrips) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<Opt> opts;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      const uint16_t number = static_cast<uint16_t>(1 + rng() % (rng() % 2 ? 300 : 65000));
      opts.push_back(opt_str(number, test::pattern(rng() % (rng() % 4 ? 20 : 700), iter)));
    }
    std::vector<uint8_t> tb(rng() % 9);
    for (auto& b : tb) b = static_cast<uint8_t>(rng());
    const std::string payload = test::pattern(rng() % 50, iter);
    const auto wire = udp_msg(static_cast<Type>(rng() % 2), Code(2, 5),
                              static_cast<uint16_t>(rng()), Token::from(tb), opts, payload);
    Message m;
    ASSERT_EQ(parse_udp(wire, m), ParseError::kNone);
    ASSERT_EQ(m.options.size(), opts.size());
    std::stable_sort(opts.begin(), opts.end(),
                     [](const Opt& a, const Opt& b) { return a.number < b.number; });
    for (std::size_t i = 0; i < opts.size(); ++i) {
      EXPECT_EQ(m.options[i].number, opts[i].number);
      EXPECT_EQ(std::vector<uint8_t>(m.options[i].value().begin(), m.options[i].value().end()),
                opts[i].value);
    }
    EXPECT_EQ(test::string_of(m.payload), payload);
    EXPECT_EQ(m.token, Token::from(tb));
  }
}

// --- malformed input --------------------------------------------------------------

TEST(MessageTest, RejectsShortDatagrams) {
  EXPECT_EQ(parse({}), ParseError::kTruncated);
  EXPECT_EQ(parse({0x40}), ParseError::kTruncated);
  EXPECT_EQ(parse({0x40, 0x01, 0x00}), ParseError::kTruncated);
  // TKL 4 but only 2 token bytes.
  EXPECT_EQ(parse({0x44, 0x01, 0x00, 0x01, 0xaa, 0xbb}), ParseError::kTruncated);
}

TEST(MessageTest, RejectsVersionOtherThanOne) {
  for (uint8_t ver : {0, 2, 3}) {
    EXPECT_EQ(parse({static_cast<uint8_t>(ver << 6), 0x01, 0, 1}), ParseError::kBadVersion)
        << "version " << int{ver};
  }
}

TEST(MessageTest, RejectsTokenLength9To15) {
  for (uint8_t tkl = 9; tkl <= 15; ++tkl) {
    std::vector<uint8_t> d = header(static_cast<uint8_t>(0x40 | tkl), 0x01, 0x0102);
    d.resize(4 + 15, 0xaa);  // enough bytes for any TKL
    Message m;
    EXPECT_EQ(parse_udp(d, m), ParseError::kBadTokenLength) << "TKL " << int{tkl};
    // The header is still available for the RST.
    EXPECT_EQ(m.mid, 0x0102);
    EXPECT_EQ(m.type, Type::kCon);
  }
}

TEST(MessageTest, RejectsReservedNibble15) {
  // Delta nibble 15 with a length nibble other than 15.
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0xf1, 'a'}), ParseError::kBadOption);
  // Length nibble 15.
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0xbf, 'a'}), ParseError::kBadOption);
  // After a valid option too.
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0xb1, 'a', 0x0f}), ParseError::kBadOption);
}

TEST(MessageTest, RejectsOptionsRunningPastTheEnd) {
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0xb3, 'a', 'b'}), ParseError::kBadOption);
  // Extended delta byte missing.
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0xd0}), ParseError::kBadOption);
  // Two-byte extended delta cut after one byte.
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0xe0, 0x00}), ParseError::kBadOption);
  // Extended length present but the value is short.
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0x1d, 0x05, 'a'}), ParseError::kBadOption);
  // Two-byte extended length missing entirely.
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0x1e}), ParseError::kBadOption);
}

TEST(MessageTest, RejectsOptionNumberAbove65535) {
  // 0xE? deltas of 269 + 0xffff = 65804 each: the second one overflows.
  EXPECT_EQ(parse({0x40, 0x01, 0, 1, 0xe0, 0xff, 0xff, 0xe0, 0xff, 0xff}), ParseError::kBadOption);
}

TEST(MessageTest, RejectsPayloadMarkerWithoutPayload) {
  EXPECT_EQ(parse({0x40, 0x45, 0, 1, 0xff}), ParseError::kEmptyPayload);
  EXPECT_EQ(parse({0x41, 0x45, 0, 1, 0x07, 0xb1, 'a', 0xff}), ParseError::kEmptyPayload);
}

TEST(MessageTest, RejectsEmptyMessageWithContent) {
  // Code 0.00 with a token.
  EXPECT_EQ(parse({0x41, 0x00, 0, 1, 0xaa}), ParseError::kNonEmptyEmpty);
  // With an option.
  EXPECT_EQ(parse({0x40, 0x00, 0, 1, 0xb1, 'a'}), ParseError::kNonEmptyEmpty);
  // With a payload.
  EXPECT_EQ(parse({0x60, 0x00, 0, 1, 0xff, 'x'}), ParseError::kNonEmptyEmpty);
  // TKL 9 on an empty message is malformed too.
  EXPECT_EQ(parse({0x49, 0x00, 0, 1}), ParseError::kNonEmptyEmpty);
  // A bare empty message is fine, for all four types.
  for (uint8_t t = 0; t < 4; ++t)
    EXPECT_EQ(parse({static_cast<uint8_t>(0x40 | (t << 4)), 0x00, 0, 1}), ParseError::kNone);
}

TEST(MessageTest, HeaderAvailableAfterOptionErrors) {
  Message m;
  ASSERT_EQ(parse_udp(std::vector<uint8_t>{0x52, 0x03, 0xab, 0xcd, 1, 2, 0xf0}, m),
            ParseError::kBadOption);
  EXPECT_EQ(m.type, Type::kNon);
  EXPECT_EQ(m.code, codes::kPut);
  EXPECT_EQ(m.mid, 0xabcd);
}

TEST(MessageTest, ParseErrorNamesAreDistinct) {
  std::set<std::string> names;
  for (ParseError e : {ParseError::kNone, ParseError::kTruncated, ParseError::kBadVersion,
                       ParseError::kBadTokenLength, ParseError::kBadOption,
                       ParseError::kEmptyPayload, ParseError::kNonEmptyEmpty})
    names.insert(parse_error_name(e));
  EXPECT_EQ(names.size(), 7u);
}

// --- OptionList -------------------------------------------------------------------

TEST(OptionListTest, KeepsOptionsSortedAndStable) {
  OptionList l;
  l.add(opt::kUriPath, std::string_view("b"));
  l.add(opt::kUriHost, std::string_view("h"));
  l.add(opt::kUriPath, std::string_view("c"));
  l.add_uint(opt::kContentFormat, 50);
  l.add(opt::kETag, std::string_view("e"));
  ASSERT_EQ(l.items().size(), 5u);
  const uint16_t expected[] = {opt::kUriHost, opt::kETag, opt::kUriPath, opt::kUriPath,
                               opt::kContentFormat};
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(l.items()[i].number, expected[i]);
  EXPECT_EQ(as_string(l.items()[2].value()), "b");
  EXPECT_EQ(as_string(l.items()[3].value()), "c");

  l.remove(opt::kUriPath);
  EXPECT_EQ(l.items().size(), 3u);
  EXPECT_EQ(l.find(opt::kUriPath), nullptr);
  ASSERT_NE(l.find(opt::kContentFormat), nullptr);
  EXPECT_EQ(decode_uint(l.find(opt::kContentFormat)->value()), 50u);
  l.clear();
  EXPECT_TRUE(l.items().empty());
  EXPECT_EQ(l.encoded_size(), 0u);
}

TEST(OptionListTest, AddPathSplitsSegments) {
  OptionList l;
  l.add_path(opt::kUriPath, "/a/bc//d/");
  ASSERT_EQ(l.items().size(), 3u);
  EXPECT_EQ(as_string(l.items()[0].value()), "a");
  EXPECT_EQ(as_string(l.items()[1].value()), "bc");
  EXPECT_EQ(as_string(l.items()[2].value()), "d");
  OptionList root;
  root.add_path(opt::kUriPath, "/");
  root.add_path(opt::kUriPath, "");
  EXPECT_TRUE(root.items().empty());
}

TEST(OptionListTest, EncodedSizeMatchesTheWire) {
  OptionList l;
  const std::string big = test::pattern(1034);
  l.add(opt::kProxyUri, std::string_view(big));
  l.add_uint(opt::kNoResponse, 2);
  l.add_uint(opt::kObserve, 0);
  const std::string other = test::pattern(300);  // values are views: keep them alive
  l.add(4000, std::string_view(other));
  std::vector<uint8_t> out;
  write_options_and_payload(out, l, {});
  EXPECT_EQ(out.size(), l.encoded_size());
  EXPECT_EQ(options_and_payload_size(l, 0), l.encoded_size());
  EXPECT_EQ(options_and_payload_size(l, 10), l.encoded_size() + 11);
}

// --- codes and option registry ------------------------------------------------------

TEST(CodeTest, ClassesAndNames) {
  EXPECT_EQ(codes::kContent.str(), "2.05");
  EXPECT_EQ(codes::kContinue.str(), "2.31");
  EXPECT_EQ(codes::kRequestEntityTooLarge.raw, 0x8d);
  EXPECT_EQ(codes::kCsm.raw, 0xe1);
  EXPECT_STREQ(codes::kNotFound.name(), "Not Found");
  EXPECT_STREQ(Code(3, 1).name(), "");
  EXPECT_TRUE(codes::kGet.is_request());
  EXPECT_FALSE(codes::kEmpty.is_request());
  EXPECT_TRUE(codes::kEmpty.is_empty());
  EXPECT_TRUE(codes::kProxyingNotSupported.is_response());
  EXPECT_FALSE(codes::kPong.is_response());
  EXPECT_TRUE(codes::kPong.is_signaling());
  EXPECT_FALSE(Code(1, 0).is_response());
  EXPECT_FALSE(Code(6, 0).is_response());
  EXPECT_EQ(method_from_name("get"), codes::kGet);
  EXPECT_EQ(method_from_name("iPATCH"), codes::kIPatch);
  EXPECT_EQ(method_from_name("TRACE"), codes::kEmpty);
  EXPECT_STREQ(type_name(Type::kRst), "RST");
}

TEST(OptionRegistryTest, CriticalityAndProperties) {
  EXPECT_TRUE(is_critical(opt::kUriPath));
  EXPECT_TRUE(is_critical(opt::kProxyUri));
  EXPECT_TRUE(is_critical(9));
  EXPECT_FALSE(is_critical(opt::kETag));
  EXPECT_FALSE(is_critical(opt::kNoResponse));
  ASSERT_NE(find_option_info(opt::kProxyUri), nullptr);
  EXPECT_EQ(find_option_info(opt::kProxyUri)->max_len, 1034);
  EXPECT_FALSE(find_option_info(opt::kAccept)->repeatable);
  EXPECT_TRUE(find_option_info(opt::kUriQuery)->repeatable);
  EXPECT_EQ(find_option_info(9), nullptr);
  EXPECT_EQ(find_option_info(2049), nullptr);
  // Preconditions are registered (user resources evaluate them; the
  // dispatcher refuses them for the rest, see dispatcher_test.cc).
  ASSERT_NE(find_option_info(opt::kIfMatch), nullptr);
  EXPECT_TRUE(find_option_info(opt::kIfMatch)->repeatable);
  EXPECT_EQ(find_option_info(opt::kIfMatch)->max_len, 8);
  ASSERT_NE(find_option_info(opt::kIfNoneMatch), nullptr);
  EXPECT_EQ(find_option_info(opt::kIfNoneMatch)->max_len, 0);
  EXPECT_STREQ(option_name(opt::kNoResponse), "No-Response");
  EXPECT_EQ(option_name(1000), nullptr);
}

TEST(MessageTest, DescribeNamesTheExchange) {
  test::Parsed p(Type::kCon, codes::kGet, 12, test::tok({0xab, 0x12}), test::path_opts("/time"));
  EXPECT_EQ(describe(p.msg()), "CON GET mid=12 tok=ab12 /time");
}

}  // namespace
}  // namespace coap
