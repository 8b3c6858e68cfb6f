#include "test/fuzz/message_gen.h"

#include <string_view>

#include "coap/block.h"
#include "coap/option.h"

namespace coap::fuzz {
namespace {

constexpr Code kCodes[] = {
    codes::kGet,     codes::kGet,      codes::kGet,      codes::kPut,  codes::kPost,
    codes::kDelete,  codes::kFetch,    codes::kIPatch,   Code(0, 8),   codes::kContent,
    codes::kChanged, codes::kContinue, codes::kNotFound, Code(5, 3),   codes::kEmpty,
    Code(1, 0),      Code(6, 1),       codes::kCsm,      codes::kPing, Code(0xff),
};

// Uri-Path segments; "" is a request without Uri-Path (the root).
constexpr std::string_view kPaths[][2] = {
    {"time", ""}, {"echo", ""},  {".well-known", "core"}, {"status", ""},
    {"", ""},     {"echo", "x"}, {"nothing", ""},         {"echo", ""},
    {"time", ""}, {"", "."},
};

constexpr std::string_view kQueries[] = {"rt=time", "href=/e*",   "rt=*", "obs",
                                         "ct=0",    "href=/time", "if=x", ""};
constexpr uint32_t kFormats[] = {0, 40, 42, 50, 60, 65535};
constexpr uint32_t kMessageSizes[] = {0, 64, 1152, 4096, 65535, 0xffffffff};

std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> block_value(Reader& in) {
  const uint32_t num = in.flag() ? in.u8() % 4 : in.u16() & 0xfffff;
  return uint_value(num << 4 | (in.flag() ? 8u : 0u) | (in.u8() % 8));
}

std::vector<uint8_t> pattern(std::size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>('a' + (i * 7 + seed) % 26);
  return v;
}

std::vector<uint8_t> gen_payload(Reader& in) {
  switch (in.pick(5)) {
    case 0: return {};
    case 1: {
      const auto b = in.bytes(in.u8() % 64);
      return {b.begin(), b.end()};
    }
    case 2: return pattern(in.u16() % 3000, in.u8());
    case 3: return pattern(1024 + in.u8() % 4, in.u8());
    default: return pattern(in.u8(), 0);
  }
}

void add_uri_option(Reader& in, OwnedMessage& m, std::size_t kind) {
  switch (kind) {
    case 0: add_option(m, opt::kUriQuery, bytes_of(in.pick(kQueries))); break;
    case 1: add_option(m, opt::kUriHost, bytes_of("192.0.2.1")); break;
    case 2: add_option(m, opt::kUriPort, uint_value(in.u16())); break;
    case 3: add_option(m, opt::kProxyUri, bytes_of("coap://192.0.2.9/x")); break;
    default: add_option(m, opt::kProxyScheme, bytes_of("coap")); break;
  }
}

void add_random_option(Reader& in, OwnedMessage& m) {
  const std::size_t kind = in.pick(20);
  switch (kind) {
    case 0: add_option(m, opt::kObserve, uint_value(0)); break;
    case 1: add_option(m, opt::kObserve, uint_value(in.flag() ? 1 : in.u32() & 0xffffff)); break;
    case 2: add_option(m, opt::kBlock2, block_value(in)); break;
    case 3: add_option(m, opt::kBlock1, block_value(in)); break;
    case 4:
      add_option(m, in.flag() ? opt::kSize1 : opt::kSize2, uint_value(in.u32() >> in.pick(32)));
      break;
    case 5: add_option(m, opt::kContentFormat, uint_value(in.pick(kFormats))); break;
    case 6: add_option(m, opt::kAccept, uint_value(in.pick(kFormats))); break;
    case 7: add_option(m, opt::kETag, pattern(1 + in.u8() % 8, in.u8())); break;
    case 8: add_option(m, in.flag() ? opt::kIfMatch : opt::kIfNoneMatch, {}); break;
    case 9: add_option(m, opt::kNoResponse, uint_value(in.pick(kFormats) % 32)); break;
    case 10: add_option(m, opt::kMaxAge, uint_value(in.u32())); break;
    case 11:
      add_option(m, static_cast<uint16_t>(2048 + 2 * in.u8()), pattern(in.u8() % 8, 1));
      break;
    case 12: add_option(m, static_cast<uint16_t>(9 + 2 * in.u8()), {}); break;
    case 13: {
      const uint16_t number = in.u16();
      const auto v = in.bytes(in.u8() % 16);
      add_option(m, number, {v.begin(), v.end()});
      break;
    }
    case 14:
      add_option(m, in.flag() ? opt::kBlock2 : opt::kObserve, pattern(4 + in.u8() % 2, 0));
      break;
    default: add_uri_option(in, m, kind - 15); break;
  }
}

}  // namespace

std::vector<uint8_t> uint_value(uint32_t v) {
  uint8_t buf[4];
  const std::size_t n = encode_uint(v, buf);
  return {buf, buf + n};
}

void add_option(OwnedMessage& m, uint16_t number, std::vector<uint8_t> value) {
  auto pos = m.options.end();
  while (pos != m.options.begin() && (pos - 1)->number > number) --pos;
  m.options.insert(pos, OwnedOption{number, std::move(value)});
}

OwnedMessage gen_message(Reader& in) {
  OwnedMessage m;
  m.code = in.pick(kCodes);
  if (m.code.raw == 0xff) m.code = Code(in.u8());
  const auto tok = in.bytes(in.u8() % 9);
  m.token = Token::from(tok);
  if (m.code.is_empty()) return m;  // RFC 7252 4.1: nothing after the header
  const auto& path = in.pick(kPaths);
  for (std::string_view seg : path)
    if (!seg.empty()) add_option(m, opt::kUriPath, bytes_of(seg));
  for (std::size_t i = 0, n = in.u8() % 6; i < n; ++i) add_random_option(in, m);
  m.payload = gen_payload(in);
  return m;
}

OwnedMessage gen_signal(Reader& in) {
  OwnedMessage m;
  m.code = Code(7, 1 + in.u8() % 6);
  if (in.flag()) m.token = Token::from(in.bytes(in.u8() % 9));
  for (std::size_t i = 0, n = in.u8() % 4; i < n; ++i) {
    switch (in.pick(6)) {
      case 0: add_option(m, 2, uint_value(in.pick(kMessageSizes))); break;  // MMS, Custody, ...
      case 1: add_option(m, 4, {}); break;                                  // BWT, Hold-Off
      case 2: add_option(m, 2, {}); break;
      case 3: add_option(m, 4, uint_value(in.u8())); break;
      case 4: add_option(m, static_cast<uint16_t>(1 + 2 * in.u8()), {}); break;  // critical
      default: add_option(m, 2, bytes_of("192.0.2.77")); break;
    }
  }
  if (in.flag()) m.payload = bytes_of("diagnostic");
  return m;
}

OwnedMessage gen_answer(Reader& in, const OwnedMessage& request) {
  OwnedMessage m;
  constexpr Code kAnswers[] = {codes::kContent, codes::kContent,  codes::kChanged, codes::kContinue,
                               codes::kCreated, codes::kNotFound, Code(5, 3),      Code(0xff)};
  m.code = in.pick(kAnswers);
  if (m.code.raw == 0xff) m.code = Code(in.u8());
  m.token = request.token;
  if (in.u8() % 8 == 7) m.token.bytes[0] ^= 1;  // someone else's response
  const auto b2 = BlockOption::decode(request.uint_option(opt::kBlock2).value_or(0));
  const auto b1 = request.find(opt::kBlock1)
                      ? BlockOption::decode(*request.uint_option(opt::kBlock1))
                      : std::nullopt;
  if (b1 && !in.flag()) {
    const uint8_t szx = std::min<uint8_t>(b1->szx, in.u8() % 8);
    add_option(m, opt::kBlock1, uint_value(BlockOption{b1->num, b1->more, szx}.encode()));
  }
  if ((request.find(opt::kBlock2) || in.flag()) && b2 && m.code.is_success()) {
    const bool more = in.flag();
    const uint8_t szx = in.flag() ? in.u8() % 7 : b2->szx;
    add_option(m, opt::kBlock2, uint_value(BlockOption{b2->num, more, szx}.encode()));
    m.payload =
        pattern(more ? std::size_t{1} << (szx + 4) : in.u8(), static_cast<uint8_t>(b2->num));
  } else {
    m.payload = gen_payload(in);
  }
  if (in.flag()) add_option(m, opt::kContentFormat, uint_value(in.pick(kFormats)));
  if (in.flag()) add_option(m, opt::kObserve, uint_value(in.u8()));
  return m;
}

}  // namespace coap::fuzz
