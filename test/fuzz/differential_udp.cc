// Fuzz target differential_udp: the same datagram into coapd's parse_udp and
// into libcoap's coap_pdu_parse (Debian's libcoap 4.3.1, linked into this
// target only). Both must accept or both reject; when both accept they must
// agree on type, code, Message ID, token, option numbers and values, and
// payload. Where they disagree and the RFCs side with coapd, the case is in
// DIFFERENCES.md and tolerated below, each by a predicate for exactly that
// case; anything else is a crash to look at.
#include <coap3/coap.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "coap/message.h"
#include "test/fuzz/fuzz_util.h"

namespace coap::fuzz {
namespace {

struct Libcoap {
  bool ok = false;
  OwnedMessage msg;
};

Libcoap parse_libcoap(std::span<const uint8_t> in) {
  Libcoap r;
  coap_pdu_t* pdu =
      coap_pdu_init(COAP_MESSAGE_CON, COAP_EMPTY_CODE, 0, std::max<std::size_t>(in.size(), 4));
  FUZZ_CHECK(pdu != nullptr, "coap_pdu_init failed");
  r.ok = coap_pdu_parse(COAP_PROTO_UDP, in.data(), in.size(), pdu) != 0;
  if (r.ok) {
    OwnedMessage& m = r.msg;
    m.type = static_cast<Type>(coap_pdu_get_type(pdu));
    m.code = Code(static_cast<uint8_t>(coap_pdu_get_code(pdu)));
    m.mid = static_cast<uint16_t>(coap_pdu_get_mid(pdu));
    const coap_bin_const_t tok = coap_pdu_get_token(pdu);
    m.token = Token::from({tok.s, tok.length});
    coap_opt_iterator_t it;
    coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
    while (coap_opt_t* o = coap_option_next(&it)) {
      const uint8_t* v = coap_opt_value(o);
      m.options.push_back(
          {static_cast<uint16_t>(it.number), std::vector<uint8_t>(v, v + coap_opt_length(o))});
    }
    std::size_t len = 0;
    const uint8_t* data = nullptr;
    if (coap_get_data(pdu, &len, &data)) m.payload.assign(data, data + len);
  }
  coap_delete_pdu(pdu);
  return r;
}

// The value lengths libcoap 4.3.1 checks while parsing (src/pdu.c,
// coap_pdu_parse_opt_base and, for signaling codes, coap_pdu_parse_opt_csm);
// a violation makes it reject the whole message.
struct LengthRule {
  uint8_t detail;  // signaling code detail (7.dd); 0 for the base table
  uint16_t number;
  uint16_t min, max;
};
constexpr LengthRule kLibcoapLengths[] = {
    {0, 1, 0, 8},   {0, 3, 1, 255},  {0, 4, 1, 8},   {0, 5, 0, 0},     {0, 6, 0, 3},
    {0, 7, 0, 2},   {0, 8, 0, 255},  {0, 9, 0, 255}, {0, 11, 0, 255},  {0, 12, 0, 2},
    {0, 14, 0, 4},  {0, 15, 1, 255}, {0, 16, 1, 1},  {0, 17, 0, 2},    {0, 20, 0, 255},
    {0, 23, 0, 3},  {0, 27, 0, 3},   {0, 28, 0, 4},  {0, 35, 1, 1034}, {0, 39, 1, 255},
    {0, 60, 0, 4},  {0, 252, 0, 40}, {0, 258, 0, 1}, {0, 292, 0, 8},   {1, 2, 0, 4},
    {1, 4, 0, 0},                  // CSM: Max-Message-Size, Block-Wise-Transfer
    {2, 2, 0, 0},   {3, 2, 0, 0},  // Ping, Pong: Custody
    {4, 2, 1, 255}, {4, 4, 0, 3},  // Release: Alternative-Address, Hold-Off
    {5, 2, 0, 2},                  // Abort: Bad-CSM-Option
};

bool libcoap_length_ok(Code code, uint16_t number, std::size_t len) {
  const uint8_t detail = code.is_signaling() ? static_cast<uint8_t>(code.detail()) : 0;
  if (code.is_signaling() && detail == 0) return true;
  for (const LengthRule& r : kLibcoapLengths)
    if (r.detail == detail && r.number == number) return len >= r.min && len <= r.max;
  return true;
}

// Whether an option delta takes the option number past 65535 before the
// options end or become malformed otherwise: walked here independently.
bool number_overflows(std::span<const uint8_t> in) {
  if (in.size() < 4 || (in[0] & 15) > 8) return false;
  std::size_t i = 4 + (in[0] & 15);
  uint32_t number = 0;
  auto ext = [&](uint32_t& v) {
    if (v < 13) return true;
    if (v == 15) return false;
    const std::size_t n = v == 13 ? 1 : 2;
    if (i + n > in.size()) return false;
    v = n == 1 ? 13u + in[i] : 269u + (uint32_t{in[i]} << 8 | in[i + 1]);
    i += n;
    return true;
  };
  while (i < in.size() && in[i] != 0xff) {
    uint32_t delta = in[i] >> 4, len = in[i] & 15;
    ++i;
    if (!ext(delta) || !ext(len)) return false;
    number += delta;
    if (number > 0xffff) return true;
    if (len > in.size() - i) return false;
    i += len;
  }
  return false;
}

// Why a disagreement is allowed (the entry of DIFFERENCES.md), or nullptr.
const char* tolerated(std::span<const uint8_t> in, ParseError coapd, const Message& ours,
                      const Libcoap& libcoap) {
  if (coapd == ParseError::kNone && !libcoap.ok) {
    for (const OptionView& o : ours.options)
      if (!libcoap_length_ok(ours.code, o.number, o.length)) return "1: option length";
  }
  if (coapd == ParseError::kBadOption && libcoap.ok && number_overflows(in))
    return "2: option number past 65535";
  return nullptr;
}

}  // namespace
}  // namespace coap::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  coap_startup();
  coap_set_log_level(LOG_EMERG);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace coap;
  using namespace coap::fuzz;
  const std::span<const uint8_t> in(data, size);
  Message m;
  const ParseError e = parse_udp(in, m);
  const Libcoap lib = parse_libcoap(in);
  const bool ours = e == ParseError::kNone;
  if (ours != lib.ok || (ours && own(m) != lib.msg)) {
    if (tolerated(in, e, m, lib)) return 0;
    FUZZ_CHECK(ours == lib.ok, "coapd %s (%s), libcoap %s: %s", ours ? "accepts" : "rejects",
               parse_error_name(e), lib.ok ? "accepts" : "rejects", hex(in).c_str());
    FUZZ_CHECK(false, "both accept but differ: coapd %s, libcoap %s: %s", own(m).summary().c_str(),
               lib.msg.summary().c_str(), hex(in).c_str());
  }
  return 0;
}
