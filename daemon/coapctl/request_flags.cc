#include "daemon/coapctl/request_flags.h"

#include <charconv>
#include <string>

#include "coap/option.h"
#include "daemon/control/codec.h"

namespace coapctl {
namespace {

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// A whole decimal number in [0, max], or nullopt.
std::optional<uint64_t> decimal(std::string_view s, uint64_t max) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

bool hex_prefixed(std::string_view s) {
  return s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

}  // namespace

coap::Result<control::RequestOption> parse_option_flag(std::string_view text) {
  const std::size_t comma = text.find(',');
  const std::string_view num = text.substr(0, comma);
  const auto number = decimal(num, 65535);
  if (!number || *number == 0)
    return coap::error("the option number '", std::string(num), "' is not 1..65535");
  control::RequestOption o;
  o.number = static_cast<uint16_t>(*number);
  if (comma == std::string_view::npos) return o;
  const std::string_view value = text.substr(comma + 1);
  const coap::OptionInfo* info = coap::find_option_info(o.number);
  if (hex_prefixed(value)) {
    auto bytes = control::hex_decode(value.substr(2));
    if (!bytes) return coap::error("the value '", std::string(value), "' is not hex after 0x");
    o.value = std::move(*bytes);
  } else if (info && info->format == coap::OptionFormat::kUint) {
    const auto n = decimal(value, UINT32_MAX);
    if (!n)
      return coap::error("option ", std::to_string(o.number), " (", info->name,
                         ") takes a number 0..4294967295 or 0x-hex, not '", std::string(value),
                         "'");
    uint8_t buf[4];
    o.value.assign(buf, buf + coap::encode_uint(static_cast<uint32_t>(*n), buf));
  } else {
    o.value.assign(value.begin(), value.end());
  }
  if (o.value.size() > 65535 - 269) return coap::Error{"the value is longer than an option can be"};
  return o;
}

coap::Result<uint32_t> parse_no_response(std::string_view text) {
  if (text == "none") return 0u;  // the value 0: every response is wanted
  uint32_t bits = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view item = trimmed(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (item.size() == 4 && item.substr(1) == ".xx") item = item.substr(0, 1);
    if (item == "2")
      bits |= 2;
    else if (item == "4")
      bits |= 8;
    else if (item == "5")
      bits |= 16;
    else
      return coap::error("'", std::string(item),
                         "' is not a response class to suppress (2, 4 or 5)");
  }
  if (bits == 0) return coap::Error{"names no response class (2, 4 or 5)"};
  return bits;
}

coap::Result<uint32_t> parse_block_size(std::string_view text) {
  if (text == "bert") return static_cast<uint32_t>(control::kMaxBertBytes);
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || !control::valid_block_size(n))
    return coap::error(
        "is not a block size: 16, 32, 64, 128, 256, 512 or 1024, or for BERT over "
        "TCP a multiple of 1024 up to ",
        std::to_string(control::kMaxBertBytes), " or 'bert'");
  return static_cast<uint32_t>(n);
}

coap::Result<std::vector<uint8_t>> parse_token(std::string_view text) {
  if (hex_prefixed(text)) text.remove_prefix(2);
  auto bytes = control::hex_decode(text);
  if (!bytes || bytes->size() > 8) return coap::Error{"is not 0 to 8 bytes of hex"};
  return std::move(*bytes);
}

}  // namespace coapctl
