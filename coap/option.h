// CoAP option numbers and their registered properties (RFC 7252 section 5.10
// and 12.2, RFC 7641, RFC 7959, RFC 8323 signaling options), plus the helpers
// to read and write option values.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace coap {

namespace opt {
inline constexpr uint16_t kIfMatch = 1;
inline constexpr uint16_t kUriHost = 3;
inline constexpr uint16_t kETag = 4;
inline constexpr uint16_t kIfNoneMatch = 5;
inline constexpr uint16_t kObserve = 6;
inline constexpr uint16_t kUriPort = 7;
inline constexpr uint16_t kLocationPath = 8;
inline constexpr uint16_t kUriPath = 11;
inline constexpr uint16_t kContentFormat = 12;
inline constexpr uint16_t kMaxAge = 14;
inline constexpr uint16_t kUriQuery = 15;
inline constexpr uint16_t kAccept = 17;
inline constexpr uint16_t kLocationQuery = 20;
inline constexpr uint16_t kBlock2 = 23;
inline constexpr uint16_t kBlock1 = 27;
inline constexpr uint16_t kSize2 = 28;
inline constexpr uint16_t kProxyUri = 35;
inline constexpr uint16_t kProxyScheme = 39;
inline constexpr uint16_t kSize1 = 60;
inline constexpr uint16_t kEcho = 252;  // RFC 9175
inline constexpr uint16_t kNoResponse = 258;
inline constexpr uint16_t kRequestTag = 292;  // RFC 9175

// Signaling options (RFC 8323 section 5); their numbers are scoped by the
// signaling code they appear in.
inline constexpr uint16_t kCsmMaxMessageSize = 2;
inline constexpr uint16_t kCsmBlockWiseTransfer = 4;
inline constexpr uint16_t kPingCustody = 2;
inline constexpr uint16_t kReleaseAlternativeAddress = 2;
inline constexpr uint16_t kReleaseHoldOff = 4;
inline constexpr uint16_t kAbortBadCsmOption = 2;
}  // namespace opt

// RFC 7252 section 5.4.6: odd numbers are critical.
constexpr bool is_critical(uint16_t number) { return number & 1; }

enum class OptionFormat : uint8_t { kEmpty, kOpaque, kUint, kString };

struct OptionInfo {
  uint16_t number;
  const char* name;
  OptionFormat format;
  uint16_t min_len;
  uint16_t max_len;
  bool repeatable;
};

// Properties of a registered request/response option, or nullptr when the
// number is not one this endpoint knows.
const OptionInfo* find_option_info(uint16_t number);

// Name for display ("Uri-Path"), or nullptr.
const char* option_name(uint16_t number);

// Minimal big-endian encoding of an unsigned option value (RFC 7252 3.2):
// zero encodes as zero bytes. Writes into out (at least 4 bytes), returns the
// number of bytes used.
std::size_t encode_uint(uint32_t value, uint8_t* out);

// Decodes a uint option value of up to 4 bytes; nullopt when longer.
std::optional<uint32_t> decode_uint(std::span<const uint8_t> value);

inline std::string_view as_string(std::span<const uint8_t> v) {
  return {reinterpret_cast<const char*>(v.data()), v.size()};
}
inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace coap
