// CoAP message model and the UDP codec (RFC 7252 section 3).
//
// Message is a view: option values and the payload point into the buffer that
// was parsed, which must outlive it. Parsing never allocates for messages of
// up to 16 options.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "coap/code.h"
#include "coap/option.h"
#include "coap/small_vector.h"

namespace coap {

struct Token {
  std::array<uint8_t, 8> bytes{};
  uint8_t len = 0;

  static Token from(std::span<const uint8_t> b);
  static Token from_u64(uint64_t v, uint8_t len = 8);
  std::span<const uint8_t> view() const { return {bytes.data(), len}; }
  bool operator==(const Token& o) const {
    return len == o.len && std::equal(bytes.begin(), bytes.begin() + len, o.bytes.begin());
  }
  std::string hex() const;
  uint64_t hash() const;
};

struct OptionView {
  uint16_t number;
  uint16_t length;
  const uint8_t* data;
  std::span<const uint8_t> value() const { return {data, length}; }
};

enum class ParseError : uint8_t {
  kNone,
  kTruncated,       // shorter than the 4-byte header, or than the token
  kBadVersion,      // version is not 1
  kBadTokenLength,  // TKL 9..15
  kBadOption,       // delta or length nibble 15, or an option running past the end
  kEmptyPayload,    // payload marker followed by nothing
  kNonEmptyEmpty,   // code 0.00 with a token, options or payload
};
const char* parse_error_name(ParseError e);

struct Message {
  Type type = Type::kCon;
  Code code;
  uint16_t mid = 0;
  Token token;
  SmallVector<OptionView, 16> options;  // in wire order: numbers never decrease
  std::span<const uint8_t> payload;

  const OptionView* find(uint16_t number) const;
  // The value of the first option with this number; nullopt when there is
  // none or when it is longer than the registry allows (at most 4 bytes).
  std::optional<uint32_t> uint_option(uint16_t number) const;
  std::size_t count(uint16_t number) const;
  // Calls f(const OptionView&) for every option with this number, in order.
  template <typename F>
  void for_each(uint16_t number, F&& f) const {
    for (const OptionView& o : options)
      if (o.number == number) f(o);
  }
  // Uri-Path segments joined as "/a/b"; "/" when there are none.
  std::string path() const;
};

// Parses a whole datagram. On an error other than kTruncated/kBadVersion the
// header fields (type, code, mid) are still filled in, so that the caller can
// answer a malformed CON with RST.
ParseError parse_udp(std::span<const uint8_t> datagram, Message& out);

// Parses options and payload (the part after the token). Shared by the UDP
// and TCP codecs.
ParseError parse_options_and_payload(std::span<const uint8_t> bytes, Message& out);

// A sorted list of options to encode. Values given as spans must outlive the
// encoding; uint values are stored in the list itself.
class OptionList {
 public:
  OptionList() = default;
  OptionList(const OptionList&) = delete;
  OptionList& operator=(const OptionList&) = delete;

  void add(uint16_t number, std::span<const uint8_t> value);
  void add(uint16_t number, std::string_view value) { add(number, as_bytes(value)); }
  void add_uint(uint16_t number, uint32_t value);
  // Adds each '/'-separated segment of path as Uri-Path ("/" or "" adds none).
  void add_path(uint16_t number, std::string_view path);
  void remove(uint16_t number);
  void clear() {
    items_.clear();
    scratch_used_ = 0;
  }
  const OptionView* find(uint16_t number) const;

  const SmallVector<OptionView, 16>& items() const { return items_; }
  // Bytes the options take on the wire.
  std::size_t encoded_size() const;

 private:
  SmallVector<OptionView, 16> items_;
  std::array<uint8_t, 96> scratch_{};
  std::size_t scratch_used_ = 0;
};

// Appends the encoded options, then the payload marker and payload if the
// payload is non-empty.
void write_options_and_payload(std::vector<uint8_t>& out, const OptionList& options,
                               std::span<const uint8_t> payload);
std::size_t options_and_payload_size(const OptionList& options, std::size_t payload_len);

// Appends a whole UDP message.
void write_udp(std::vector<uint8_t>& out, Type type, Code code, uint16_t mid, const Token& token,
               const OptionList& options, std::span<const uint8_t> payload);

// Appends an empty message (ACK or RST with code 0.00).
void write_udp_empty(std::vector<uint8_t>& out, Type type, uint16_t mid);

// One line for logs: "CON GET mid=12 tok=ab12 /time".
std::string describe(const Message& m);

}  // namespace coap
