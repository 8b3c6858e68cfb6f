// Operations both endpoint targets decode the same way. An input is a fixed
// set-up block (kSetupBytes: random seed and configuration) followed by
// operations, each one opcode byte and a length-prefixed argument block
// (Reader::chunk), so that a mutation of one operation leaves the others
// as they were.
#pragma once

#include <string_view>

#include "test/fuzz/endpoint_harness.h"
#include "test/fuzz/message_gen.h"

namespace coap::fuzz {

inline constexpr std::size_t kSetupBytes = 32;
inline constexpr int kMaxOps = 400;
// Opcodes below kCommonOps are the same in both targets.
inline constexpr uint8_t kCommonOps = 6;

// Time, session and shutdown operations.
inline void common_op(Harness& h, uint8_t op, Reader& args) {
  switch (op) {
    case 0: h.advance(milliseconds(args.u16())); break;
    case 1: h.advance(seconds(args.u16() % 600)); break;       // every timer on its way
    case 2: h.jump(seconds(uint64_t{args.u16()} * 2)); break;  // up to 36 h at once
    case 3: h.next_timer(); break;
    case 4: h.close_session(args.u8()); break;
    default: h.shutdown(); break;
  }
}

// A request as coapctl would start it, to one of the peers.
inline ClientRequest gen_request(Reader& args, bool tcp) {
  constexpr Code kMethods[] = {codes::kGet,  codes::kGet,    codes::kPut,
                               codes::kPost, codes::kDelete, codes::kFetch};
  constexpr std::string_view kPaths[] = {"time", "echo", "big", "", "a"};
  constexpr std::size_t kSizes[] = {0, 0, 10, 1024, 1025, 3000, 20000};
  ClientRequest r;
  r.method = args.pick(kMethods);
  r.uri.scheme = tcp ? Scheme::kCoapTcp : Scheme::kCoap;
  r.uri.peer = peer_address(args.u8());
  if (const std::string_view p = args.pick(kPaths); !p.empty()) r.uri.path.emplace_back(p);
  if (args.flag()) r.uri.query.emplace_back("q=1");
  r.payload.assign(args.pick(kSizes), 'p');
  if (args.flag()) r.content_format = args.u8();
  if (args.flag()) r.accept = args.u8();
  r.timeout = args.flag() ? milliseconds(args.u16() % 5000) : seconds(30);
  if (args.u8() % 8 == 7) r.session = args.u8() % 8;  // one of the first sessions, or none
  return r;
}

// Runs one input: the set-up block, then up to kMaxOps operations, each
// given to driver.op(opcode % opcodes, arguments).
template <typename Driver>
int run_input(std::span<const uint8_t> data, uint8_t opcodes) {
  Reader in(data);
  Reader setup(in.bytes(kSetupBytes));
  Harness h(setup);
  Driver driver(h);
  for (int n = 0; n < kMaxOps && !in.empty(); ++n) {
    const uint8_t op = in.u8() % opcodes;
    Reader args = in.chunk();
    driver.op(op, args);
  }
  return 0;
}

}  // namespace coap::fuzz
