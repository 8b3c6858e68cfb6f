// Fuzz target udp_message: coap::parse_udp on any datagram.
//
// An accepted message goes through write_udp and parse_udp again and must
// come back with the same type, code, Message ID, token, options (numbers
// and values, in order) and payload. The encoding of a message is unique
// (RFC 7252 3.1: each option delta and length has exactly one encoding, and
// a payload marker only precedes a non-empty payload), so the bytes written
// must also be the bytes read. A rejected datagram must still have its
// header fields filled in unless it was too short or of another version
// (message.h), since the endpoint answers a malformed CON with RST.
#include <cstddef>
#include <cstdint>
#include <span>

#include "coap/message.h"
#include "test/fuzz/fuzz_util.h"

namespace coap::fuzz {
namespace {

void check_rejected(std::span<const uint8_t> in, const Message& m, ParseError e) {
  if (in.size() < 4) {
    FUZZ_CHECK(e == ParseError::kTruncated, "%zu bytes: %s", in.size(), parse_error_name(e));
    return;
  }
  if ((in[0] >> 6) != 1) {
    FUZZ_CHECK(e == ParseError::kBadVersion, "version %d: %s", in[0] >> 6, parse_error_name(e));
    return;
  }
  FUZZ_CHECK(e != ParseError::kBadVersion, "version 1 rejected as bad version");
  FUZZ_CHECK(static_cast<unsigned>(m.type) == ((in[0] >> 4) & 3u) && m.code.raw == in[1] &&
                 m.mid == ((in[2] << 8) | in[3]),
             "header fields not filled in on %s: %s", parse_error_name(e), hex(in).c_str());
}

void check_round_trip(std::span<const uint8_t> in, const Message& m) {
  const OwnedMessage first = own(m);
  OptionList list;
  for (const OptionView& o : m.options) list.add(o.number, o.value());
  std::vector<uint8_t> wire;
  write_udp(wire, m.type, m.code, m.mid, m.token, list, m.payload);
  FUZZ_CHECK(wire.size() == 4 + m.token.len + options_and_payload_size(list, m.payload.size()),
             "write_udp wrote %zu bytes, options_and_payload_size disagrees", wire.size());

  Message again;
  const ParseError e = parse_udp(wire, again);
  FUZZ_CHECK(e == ParseError::kNone, "re-encoded message rejected (%s): %s -> %s",
             parse_error_name(e), hex(in).c_str(), hex(wire).c_str());
  const OwnedMessage second = own(again);
  FUZZ_CHECK(second == first, "round trip changed the message: %s -> %s", first.summary().c_str(),
             second.summary().c_str());
  FUZZ_CHECK(std::equal(wire.begin(), wire.end(), in.begin(), in.end()),
             "encoding is not canonical: read %s, wrote %s", hex(in).c_str(), hex(wire).c_str());
}

}  // namespace
}  // namespace coap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace coap;
  const std::span<const uint8_t> in(data, size);
  Message m;
  const ParseError e = parse_udp(in, m);
  if (e != ParseError::kNone) {
    fuzz::check_rejected(in, m, e);
    return 0;
  }
  // The accessors the endpoint uses on every request must cope with anything.
  (void)describe(m);
  (void)m.path();
  // Once per option number (options come sorted), and for the first few
  // only: uint_option searches the list, so every option of a datagram of
  // thousands would make each input quadratic and the target a hundred
  // times slower for no new path.
  int distinct = 0;
  for (std::size_t i = 0; i < m.options.size() && distinct < 32; ++i) {
    if (i > 0 && m.options[i].number == m.options[i - 1].number) continue;
    (void)m.uint_option(m.options[i].number);
    ++distinct;
  }
  fuzz::check_round_trip(in, m);
  return 0;
}
