// Shared by the libFuzzer targets in test/fuzz (no GoogleTest here):
//   FUZZ_CHECK   an invariant; when it breaks, a clear message and a trap, so
//                that libFuzzer saves the input as a crash;
//   Reader       the input read front to back in small typed pieces (past
//                the end every read gives zeros), so that seeds can be written
//                by hand (make_seeds.py) and a mutation stays local;
//   OwnedMessage a CoAP message that owns its bytes, comparable field by
//                field, and its UDP and TCP encodings.
#pragma once

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "coap/message.h"
#include "coap/tcp_framing.h"

#define FUZZ_CHECK(cond, ...)                                                \
  do {                                                                       \
    if (!(cond)) ::coap::fuzz::fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)

namespace coap::fuzz {

[[noreturn]] __attribute__((format(printf, 4, 5))) inline void fail(const char* file, int line,
                                                                    const char* cond,
                                                                    const char* fmt, ...) {
  std::fprintf(stderr, "\n*** fuzz invariant broken at %s:%d: %s\n*** ", file, line, cond);
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  __builtin_trap();
}

// With FUZZ_TRACE=1 in the environment, FUZZ_TRACE prints a line (per
// operation and per message out, to read what a crashing input does);
// otherwise it does not even evaluate its arguments.
#define FUZZ_TRACE(...)                                            \
  do {                                                             \
    if (::coap::fuzz::tracing()) ::coap::fuzz::trace(__VA_ARGS__); \
  } while (0)

inline bool tracing() {
  static const bool on = std::getenv("FUZZ_TRACE") != nullptr;
  return on;
}

__attribute__((format(printf, 1, 2))) inline void trace(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fputc('\n', stderr);
}

// "de ad be ef" (at most max bytes, then "...").
inline std::string hex(std::span<const uint8_t> b, std::size_t max = 48) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < b.size() && i < max; ++i) {
    if (i) s += ' ';
    s += kHex[b[i] >> 4];
    s += kHex[b[i] & 15];
  }
  if (b.size() > max) s += " ...";
  return s;
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}
  bool empty() const { return pos_ >= data_.size(); }
  std::size_t left() const { return data_.size() - std::min(pos_, data_.size()); }

  uint8_t u8() { return empty() ? 0 : data_[pos_++]; }
  uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
  uint32_t u32() { return (uint32_t{u16()} << 16) | u16(); }
  uint64_t u64() { return (uint64_t{u32()} << 32) | u32(); }
  bool flag() { return u8() & 1; }
  // One of n choices (n > 0).
  std::size_t pick(std::size_t n) { return u8() % n; }
  template <typename T, std::size_t N>
  const T& pick(const T (&table)[N]) {
    return table[pick(N)];
  }
  // Up to n bytes (fewer at the end of the input).
  std::span<const uint8_t> bytes(std::size_t n) {
    n = std::min(n, left());
    auto b = data_.subspan(pos_, n);
    pos_ += n;
    return b;
  }
  std::span<const uint8_t> rest() { return bytes(left()); }
  // A length-prefixed piece: one byte of length, or 255 then two more.
  Reader chunk() {
    std::size_t n = u8();
    if (n == 255) n = u16();
    return Reader(bytes(n));
  }

 private:
  std::span<const uint8_t> data_;
  std::size_t pos_ = 0;
};

struct OwnedOption {
  uint16_t number;
  std::vector<uint8_t> value;
  bool operator==(const OwnedOption&) const = default;
};

struct OwnedMessage {
  Type type = Type::kCon;
  Code code;
  uint16_t mid = 0;
  Token token;
  std::vector<OwnedOption> options;  // in wire order
  std::vector<uint8_t> payload;
  bool operator==(const OwnedMessage&) const = default;

  const OwnedOption* find(uint16_t number) const {
    for (const OwnedOption& o : options)
      if (o.number == number) return &o;
    return nullptr;
  }
  std::optional<uint32_t> uint_option(uint16_t number) const {
    const OwnedOption* o = find(number);
    return o ? decode_uint(o->value) : std::nullopt;
  }
  // "CON 0.01 mid=7 tok=ab opts=11,11,23 +5B", for failure messages.
  std::string summary() const {
    std::string s = std::string(type_name(type)) + " " + code.str() +
                    " mid=" + std::to_string(mid) + " tok=" + token.hex() + " opts=";
    for (std::size_t i = 0; i < options.size(); ++i)
      s += (i ? "," : "") + std::to_string(options[i].number);
    return s + " +" + std::to_string(payload.size()) + "B";
  }
};

inline OwnedMessage own(const Message& m) {
  OwnedMessage o;
  o.type = m.type;
  o.code = m.code;
  o.mid = m.mid;
  o.token = m.token;
  for (const OptionView& v : m.options)
    o.options.push_back({v.number, std::vector<uint8_t>(v.data, v.data + v.length)});
  o.payload.assign(m.payload.begin(), m.payload.end());
  return o;
}

// The options of m in an OptionList; its values point into m.
inline void fill(OptionList& list, const OwnedMessage& m) {
  for (const OwnedOption& o : m.options) list.add(o.number, std::span<const uint8_t>(o.value));
}

inline std::vector<uint8_t> encode_udp(const OwnedMessage& m) {
  OptionList list;
  fill(list, m);
  std::vector<uint8_t> out;
  write_udp(out, m.type, m.code, m.mid, m.token, list, m.payload);
  return out;
}

inline std::vector<uint8_t> encode_tcp(const OwnedMessage& m) {
  OptionList list;
  fill(list, m);
  std::vector<uint8_t> out;
  write_tcp(out, m.code, m.token, list, m.payload);
  return out;
}

}  // namespace coap::fuzz
