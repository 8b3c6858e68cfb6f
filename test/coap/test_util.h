// Helpers shared by the coap/ unit tests: building wire messages from plain
// values and decoding them into values that own their bytes.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coap/message.h"
#include "coap/option.h"
#include "coap/tcp_framing.h"

namespace coap::test {

inline std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }
inline std::string string_of(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }

// A string of n bytes with a recognisable, position-dependent pattern.
inline std::string pattern(std::size_t n, unsigned seed = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed + i / 26) % 26);
  return s;
}

// One option of a message under construction.
struct Opt {
  uint16_t number;
  std::vector<uint8_t> value;
};
inline Opt opt_str(uint16_t number, std::string_view v) { return {number, bytes_of(v)}; }
inline Opt opt_empty(uint16_t number) { return {number, {}}; }
inline Opt opt_uint(uint16_t number, uint32_t v) {
  uint8_t buf[4];
  const std::size_t n = encode_uint(v, buf);
  return {number, std::vector<uint8_t>(buf, buf + n)};
}
// Uri-Path options for "/a/b".
inline std::vector<Opt> path_opts(std::string_view path) {
  std::vector<Opt> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const std::size_t slash = path.find('/');
    out.push_back(opt_str(opt::kUriPath, path.substr(0, slash)));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return out;
}
inline std::vector<Opt> operator+(std::vector<Opt> a, const std::vector<Opt>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
inline std::vector<Opt> operator+(std::vector<Opt> a, Opt b) {
  a.push_back(std::move(b));
  return a;
}

inline Token tok(std::initializer_list<uint8_t> b) {
  std::vector<uint8_t> v(b);
  return Token::from(v);
}

// Fills an OptionList whose values point into opts (which must outlive it).
inline void fill(OptionList& list, const std::vector<Opt>& opts) {
  for (const Opt& o : opts) list.add(o.number, std::span<const uint8_t>(o.value));
}

inline std::vector<uint8_t> udp_msg(Type type, Code code, uint16_t mid, const Token& token,
                                    const std::vector<Opt>& opts = {},
                                    std::string_view payload = {}) {
  OptionList list;
  fill(list, opts);
  std::vector<uint8_t> out;
  write_udp(out, type, code, mid, token, list, as_bytes(payload));
  return out;
}

inline std::vector<uint8_t> udp_empty(Type type, uint16_t mid) {
  std::vector<uint8_t> out;
  write_udp_empty(out, type, mid);
  return out;
}

inline std::vector<uint8_t> tcp_msg(Code code, const Token& token,
                                    const std::vector<Opt>& opts = {},
                                    std::string_view payload = {}) {
  OptionList list;
  fill(list, opts);
  std::vector<uint8_t> out;
  write_tcp(out, code, token, list, as_bytes(payload));
  return out;
}

// A message decoded into values that own their bytes.
struct Decoded {
  Type type = Type::kCon;
  Code code;
  uint16_t mid = 0;
  Token token;
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> options;
  std::vector<uint8_t> payload;
  std::size_t wire_size = 0;

  bool has(uint16_t n) const { return count(n) > 0; }
  std::size_t count(uint16_t n) const {
    std::size_t c = 0;
    for (const auto& o : options) c += o.first == n;
    return c;
  }
  const std::vector<uint8_t>* value(uint16_t n) const {
    for (const auto& o : options)
      if (o.first == n) return &o.second;
    return nullptr;
  }
  std::optional<uint32_t> uint(uint16_t n) const {
    const auto* v = value(n);
    if (!v) return std::nullopt;
    return decode_uint(*v);
  }
  std::string str(uint16_t n) const {
    const auto* v = value(n);
    return v ? string_of(*v) : std::string();
  }
  std::string body() const { return string_of(payload); }
  std::string path() const {
    std::string p;
    for (const auto& o : options)
      if (o.first == opt::kUriPath) p += "/" + string_of(o.second);
    return p.empty() ? "/" : p;
  }
};

inline Decoded to_decoded(const Message& m, std::size_t wire_size) {
  Decoded d;
  d.type = m.type;
  d.code = m.code;
  d.mid = m.mid;
  d.token = m.token;
  for (const OptionView& o : m.options)
    d.options.emplace_back(o.number, std::vector<uint8_t>(o.data, o.data + o.length));
  d.payload.assign(m.payload.begin(), m.payload.end());
  d.wire_size = wire_size;
  return d;
}

// Decodes a datagram that must be well formed.
inline Decoded decode_udp(std::span<const uint8_t> wire) {
  Message m;
  const ParseError e = parse_udp(wire, m);
  EXPECT_EQ(e, ParseError::kNone) << parse_error_name(e);
  return to_decoded(m, wire.size());
}

// Decodes a byte stream that must hold only complete, well-formed frames.
inline std::vector<Decoded> decode_tcp(std::span<const uint8_t> stream) {
  std::vector<Decoded> out;
  FrameDecoder dec(std::size_t{1} << 30);
  const FrameError e = dec.feed(stream, [&](const Message& m, std::size_t size) {
    out.push_back(to_decoded(m, size));
    return true;
  });
  EXPECT_EQ(e, FrameError::kNone);
  EXPECT_EQ(dec.buffered(), 0u) << "stream ends inside a frame";
  return out;
}

// A parsed request that keeps its wire bytes alive (Message views them).
class Parsed {
 public:
  Parsed(Type type, Code code, uint16_t mid, const Token& token, const std::vector<Opt>& opts,
         std::string_view payload = {})
      : wire_(udp_msg(type, code, mid, token, opts, payload)) {
    const ParseError e = parse_udp(wire_, msg_);
    EXPECT_EQ(e, ParseError::kNone) << parse_error_name(e);
  }
  Parsed(const Parsed&) = delete;
  Parsed& operator=(const Parsed&) = delete;
  const Message& msg() const { return msg_; }

 private:
  std::vector<uint8_t> wire_;
  Message msg_;
};

}  // namespace coap::test
