#include "coap/message.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

namespace coap {

Token Token::from(std::span<const uint8_t> b) {
  Token t;
  t.len = static_cast<uint8_t>(std::min<std::size_t>(b.size(), 8));
  std::copy_n(b.begin(), t.len, t.bytes.begin());
  return t;
}

Token Token::from_u64(uint64_t v, uint8_t len) {
  Token t;
  t.len = std::min<uint8_t>(len, 8);
  for (int i = 0; i < t.len; ++i) t.bytes[i] = static_cast<uint8_t>(v >> (8 * (t.len - 1 - i)));
  return t;
}

std::string Token::hex() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < len; ++i) {
    s += kHex[bytes[i] >> 4];
    s += kHex[bytes[i] & 15];
  }
  return s;
}

uint64_t Token::hash() const {
  uint64_t h = 1469598103934665603ull ^ len;  // FNV-1a
  for (int i = 0; i < len; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return h;
}

const char* parse_error_name(ParseError e) {
  switch (e) {
    case ParseError::kNone: return "ok";
    case ParseError::kTruncated: return "truncated";
    case ParseError::kBadVersion: return "bad version";
    case ParseError::kBadTokenLength: return "bad token length";
    case ParseError::kBadOption: return "bad option encoding";
    case ParseError::kEmptyPayload: return "payload marker without payload";
    case ParseError::kNonEmptyEmpty: return "empty message with content";
  }
  return "?";
}

const OptionView* Message::find(uint16_t number) const {
  for (const OptionView& o : options)
    if (o.number == number) return &o;
  return nullptr;
}

std::optional<uint32_t> Message::uint_option(uint16_t number) const {
  const OptionView* o = find(number);
  if (!o) return std::nullopt;
  // RFC 7252 5.4.3: a value longer than the option's definition allows is
  // treated like an unrecognized option; for a critical one the dispatcher
  // has already answered 4.02.
  if (const OptionInfo* info = find_option_info(number); info && o->length > info->max_len)
    return std::nullopt;
  return decode_uint(o->value());
}

std::size_t Message::count(uint16_t number) const {
  std::size_t n = 0;
  for (const OptionView& o : options) n += o.number == number;
  return n;
}

std::string Message::path() const {
  std::string p;
  for_each(opt::kUriPath, [&](const OptionView& o) {
    p += '/';
    p += as_string(o.value());
  });
  return p.empty() ? "/" : p;
}

ParseError parse_options_and_payload(std::span<const uint8_t> bytes, Message& out) {
  out.options.clear();
  out.payload = {};
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  uint32_t number = 0;
  while (i < n) {
    const uint8_t b = bytes[i++];
    if (b == 0xff) {
      if (i == n) return ParseError::kEmptyPayload;
      out.payload = bytes.subspan(i);
      return ParseError::kNone;
    }
    uint32_t delta = b >> 4;
    uint32_t len = b & 0x0f;
    // Extended delta/length: nibble 13 adds one byte (+13), 14 adds two (+269),
    // 15 is reserved (only as the payload marker, handled above).
    auto extend = [&](uint32_t& v) -> bool {
      if (v == 13) {
        if (i + 1 > n) return false;
        v = 13u + bytes[i];
        i += 1;
      } else if (v == 14) {
        if (i + 2 > n) return false;
        v = 269u + ((uint32_t{bytes[i]} << 8) | bytes[i + 1]);
        i += 2;
      } else if (v == 15) {
        return false;
      }
      return true;
    };
    if (!extend(delta) || !extend(len)) return ParseError::kBadOption;
    number += delta;
    if (number > 0xffff || len > 0xffff || len > n - i) return ParseError::kBadOption;
    out.options.push_back(
        OptionView{static_cast<uint16_t>(number), static_cast<uint16_t>(len), bytes.data() + i});
    i += len;
  }
  return ParseError::kNone;
}

ParseError parse_udp(std::span<const uint8_t> d, Message& out) {
  if (d.size() < 4) return ParseError::kTruncated;
  if ((d[0] >> 6) != 1) return ParseError::kBadVersion;
  out.type = static_cast<Type>((d[0] >> 4) & 3);
  const uint8_t tkl = d[0] & 0x0f;
  out.code = Code(d[1]);
  out.mid = static_cast<uint16_t>((d[2] << 8) | d[3]);
  out.token = Token{};
  out.options.clear();
  out.payload = {};
  if (out.code.is_empty()) {
    // RFC 7252 3: an Empty message has TKL 0 and nothing after the header.
    return (tkl != 0 || d.size() != 4) ? ParseError::kNonEmptyEmpty : ParseError::kNone;
  }
  if (tkl > 8) return ParseError::kBadTokenLength;
  if (d.size() < 4u + tkl) return ParseError::kTruncated;
  out.token = Token::from(d.subspan(4, tkl));
  return parse_options_and_payload(d.subspan(4 + tkl), out);
}

void OptionList::add(uint16_t number, std::span<const uint8_t> value) {
  assert(value.size() <= 0xffff);
  // Stable: after any existing option with the same number.
  std::size_t pos = items_.size();
  while (pos > 0 && items_[pos - 1].number > number) --pos;
  items_.insert_at(pos, OptionView{number, static_cast<uint16_t>(value.size()), value.data()});
}

void OptionList::add_uint(uint16_t number, uint32_t value) {
  assert(scratch_used_ + 4 <= scratch_.size() && "too many uint options in one OptionList");
  uint8_t* p = scratch_.data() + scratch_used_;
  std::size_t n = encode_uint(value, p);
  scratch_used_ += n;
  add(number, std::span<const uint8_t>(p, n));
}

void OptionList::add_path(uint16_t number, std::string_view path) {
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    std::size_t slash = path.find('/');
    add(number, path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
}

void OptionList::remove(uint16_t number) {
  for (std::size_t i = items_.size(); i-- > 0;)
    if (items_[i].number == number) items_.erase_at(i);
}

const OptionView* OptionList::find(uint16_t number) const {
  for (const OptionView& o : items_)
    if (o.number == number) return &o;
  return nullptr;
}

namespace {

std::size_t ext_size(uint32_t v) { return v < 13 ? 0 : v < 269 ? 1 : 2; }
uint8_t nibble(uint32_t v) { return v < 13 ? static_cast<uint8_t>(v) : v < 269 ? 13 : 14; }
void put_ext(std::vector<uint8_t>& out, uint32_t v) {
  if (v >= 269) {
    v -= 269;
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  } else if (v >= 13) {
    out.push_back(static_cast<uint8_t>(v - 13));
  }
}

}  // namespace

std::size_t OptionList::encoded_size() const {
  std::size_t total = 0;
  uint32_t prev = 0;
  for (const OptionView& o : items_) {
    uint32_t delta = o.number - prev;
    total += 1 + ext_size(delta) + ext_size(o.length) + o.length;
    prev = o.number;
  }
  return total;
}

std::size_t options_and_payload_size(const OptionList& options, std::size_t payload_len) {
  return options.encoded_size() + (payload_len ? 1 + payload_len : 0);
}

void write_options_and_payload(std::vector<uint8_t>& out, const OptionList& options,
                               std::span<const uint8_t> payload) {
  uint32_t prev = 0;
  for (const OptionView& o : options.items()) {
    uint32_t delta = o.number - prev;
    out.push_back(static_cast<uint8_t>((nibble(delta) << 4) | nibble(o.length)));
    put_ext(out, delta);
    put_ext(out, o.length);
    out.insert(out.end(), o.data, o.data + o.length);
    prev = o.number;
  }
  if (!payload.empty()) {
    out.push_back(0xff);
    out.insert(out.end(), payload.begin(), payload.end());
  }
}

void write_udp(std::vector<uint8_t>& out, Type type, Code code, uint16_t mid, const Token& token,
               const OptionList& options, std::span<const uint8_t> payload) {
  out.push_back(static_cast<uint8_t>(0x40 | (static_cast<uint8_t>(type) << 4) | token.len));
  out.push_back(code.raw);
  out.push_back(static_cast<uint8_t>(mid >> 8));
  out.push_back(static_cast<uint8_t>(mid));
  out.insert(out.end(), token.bytes.begin(), token.bytes.begin() + token.len);
  write_options_and_payload(out, options, payload);
}

void write_udp_empty(std::vector<uint8_t>& out, Type type, uint16_t mid) {
  out.push_back(static_cast<uint8_t>(0x40 | (static_cast<uint8_t>(type) << 4)));
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(mid >> 8));
  out.push_back(static_cast<uint8_t>(mid));
}

std::string describe(const Message& m) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s %s mid=%u tok=%s", type_name(m.type),
                m.code.is_request() ? m.code.name() : m.code.str().c_str(), m.mid,
                m.token.hex().c_str());
  // Appended piece by piece, never "x" + std::string: see Address::to_string()
  // (a GCC 12 -O3 false positive).
  std::string s = buf;
  if (m.code.is_request()) {
    s += ' ';
    s += m.path();
  }
  for (const OptionView& o : m.options) {
    if (o.number == opt::kUriPath) continue;
    const OptionInfo* info = find_option_info(o.number);
    s += ' ';
    s += info ? info->name : std::to_string(o.number);
    if (info && info->format == OptionFormat::kUint) {
      s += '=';
      s += std::to_string(decode_uint(o.value()).value_or(0));
    } else if (info && info->format == OptionFormat::kString) {
      s += '=';
      s += as_string(o.value());
    } else if (o.length) {
      s += '=';
      s += std::to_string(o.length);
      s += 'B';
    }
  }
  if (!m.payload.empty()) {
    s += " +";
    s += std::to_string(m.payload.size());
    s += 'B';
  }
  return s;
}

}  // namespace coap
