// CoAP messages built from fuzz input for the endpoint targets. Codes, paths
// and options come from what coapd's resources and dispatcher look at
// (builtin resources, Observe, Block1/Block2, Size1, queries, critical and
// unknown options), so that most inputs get past the parser and the
// resource lookup; payloads can be large without costing input bytes. An
// exhausted Reader gives zeros, and zeros give the plainest choice (GET
// /time, no options; an answer with the request's token and block), so
// hand-written seeds can stop early.
#pragma once

#include <cstdint>
#include <vector>

#include "test/fuzz/fuzz_util.h"

namespace coap::fuzz {

// Minimal big-endian uint value (RFC 7252 3.2).
std::vector<uint8_t> uint_value(uint32_t v);
// Adds an option after those with a number not above it (wire order).
void add_option(OwnedMessage& m, uint16_t number, std::vector<uint8_t> value);

// A request, a response or, rarely, any code; type and MID are left to the
// caller (UDP) or unused (TCP).
OwnedMessage gen_message(Reader& in);
// A CoAP-over-TCP signal (RFC 8323 5: CSM, Ping, Pong, Release, Abort, or an
// unassigned 7.xx) with the options each may carry.
OwnedMessage gen_signal(Reader& in);
// A response to a request the endpoint sent as a client: its token, and for
// a block-wise request the block asked for (RFC 7959), so that transfers can
// complete; or a mangled variant.
OwnedMessage gen_answer(Reader& in, const OwnedMessage& request);

}  // namespace coap::fuzz
