#include "coap/option.h"

#include <algorithm>
#include <iterator>

namespace coap {
namespace {

// Sorted by number. If-Match and If-None-Match are known, but only user
// resources evaluate them: the dispatcher refuses them with 4.02 for every
// other resource (RFC 7252 5.4.1), or a conditional PUT to /echo would run
// unconditionally.
constexpr OptionInfo kOptions[] = {
    {opt::kIfMatch, "If-Match", OptionFormat::kOpaque, 0, 8, true},
    {opt::kUriHost, "Uri-Host", OptionFormat::kString, 1, 255, false},
    {opt::kETag, "ETag", OptionFormat::kOpaque, 1, 8, true},
    {opt::kIfNoneMatch, "If-None-Match", OptionFormat::kEmpty, 0, 0, false},
    {opt::kObserve, "Observe", OptionFormat::kUint, 0, 3, false},
    {opt::kUriPort, "Uri-Port", OptionFormat::kUint, 0, 2, false},
    {opt::kLocationPath, "Location-Path", OptionFormat::kString, 0, 255, true},
    {opt::kUriPath, "Uri-Path", OptionFormat::kString, 0, 255, true},
    {opt::kContentFormat, "Content-Format", OptionFormat::kUint, 0, 2, false},
    {opt::kMaxAge, "Max-Age", OptionFormat::kUint, 0, 4, false},
    {opt::kUriQuery, "Uri-Query", OptionFormat::kString, 0, 255, true},
    {opt::kAccept, "Accept", OptionFormat::kUint, 0, 2, false},
    {opt::kLocationQuery, "Location-Query", OptionFormat::kString, 0, 255, true},
    {opt::kBlock2, "Block2", OptionFormat::kUint, 0, 3, false},
    {opt::kBlock1, "Block1", OptionFormat::kUint, 0, 3, false},
    {opt::kSize2, "Size2", OptionFormat::kUint, 0, 4, false},
    {opt::kProxyUri, "Proxy-Uri", OptionFormat::kString, 1, 1034, false},
    {opt::kProxyScheme, "Proxy-Scheme", OptionFormat::kString, 1, 255, false},
    {opt::kSize1, "Size1", OptionFormat::kUint, 0, 4, false},
    {opt::kEcho, "Echo", OptionFormat::kOpaque, 1, 40, false},
    {opt::kNoResponse, "No-Response", OptionFormat::kUint, 0, 1, false},
    {opt::kRequestTag, "Request-Tag", OptionFormat::kOpaque, 0, 8, true},
};

}  // namespace

const OptionInfo* find_option_info(uint16_t number) {
  auto it = std::lower_bound(std::begin(kOptions), std::end(kOptions), number,
                             [](const OptionInfo& o, uint16_t n) { return o.number < n; });
  return (it != std::end(kOptions) && it->number == number) ? it : nullptr;
}

const char* option_name(uint16_t number) {
  const OptionInfo* info = find_option_info(number);
  return info ? info->name : nullptr;
}

std::size_t encode_uint(uint32_t value, uint8_t* out) {
  std::size_t n = value == 0          ? 0
                  : value <= 0xff     ? 1
                  : value <= 0xffff   ? 2
                  : value <= 0xffffff ? 3
                                      : 4;
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(value >> (8 * (n - 1 - i)));
  return n;
}

std::optional<uint32_t> decode_uint(std::span<const uint8_t> value) {
  if (value.size() > 4) return std::nullopt;
  uint32_t v = 0;
  for (uint8_t b : value) v = (v << 8) | b;
  return v;
}

}  // namespace coap
