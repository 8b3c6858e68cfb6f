// Fuzz target endpoint_udp: a whole coap::Endpoint serving and requesting
// CoAP over UDP, driven by datagrams from four peers (raw, built from
// fields, repeated, bursts with consecutive MIDs, answers to what the
// endpoint sent), client requests, timers and shutdown. The invariants
// checked after every step are listed in endpoint_harness.h.
#include <cstddef>
#include <cstdint>

#include "test/fuzz/endpoint_ops.h"

namespace coap::fuzz {
namespace {

class UdpDriver {
 public:
  explicit UdpDriver(Harness& h) : h_(h) {}

  void op(uint8_t code, Reader& args) {
    if (code < kCommonOps) return common_op(h_, code, args);
    const int peer = args.u8() % kPeers;
    switch (code - kCommonOps) {
      case 0: send(peer, args.rest()); break;
      case 1: send(peer, encode_udp(built(peer, args))); break;
      case 2: repeat(peer, args.u8()); break;
      case 3: answer(peer, args); break;
      case 4: burst(peer, args); break;
      default: h_.request(gen_request(args, /*tcp=*/false)); break;
    }
  }

 private:
  void send(int peer, std::span<const uint8_t> bytes) {
    auto& past = sent_[peer];
    past.emplace_back(bytes.begin(), bytes.end());
    if (past.size() > 8) past.erase(past.begin());
    h_.datagram(peer, bytes);
  }

  OwnedMessage built(int peer, Reader& args) {
    const uint8_t head = args.u8();
    OwnedMessage m = gen_message(args);
    m.type = static_cast<Type>(head & 3);
    switch ((head >> 2) % 3) {
      case 0: m.mid = h_.peer_mid(peer); break;
      case 1: m.mid = last_mid_[peer]; break;  // the MID of another message
      default: m.mid = args.u16(); break;
    }
    last_mid_[peer] = m.mid;
    return m;
  }

  // A retransmission: the same bytes again.
  void repeat(int peer, uint8_t choice) {
    const auto& past = sent_[peer];
    if (!past.empty()) h_.datagram(peer, std::vector<uint8_t>(past[choice % past.size()]));
  }

  // An ACK, RST or response to something the endpoint sent to the peer.
  void answer(int peer, Reader& args) {
    const auto& got = h_.sent_to(peer);
    if (got.empty()) return;
    Message sent;
    (void)parse_udp(got[args.u8() % got.size()], sent);  // checked when it was sent
    const OwnedMessage x = own(sent);
    OwnedMessage a;
    switch (args.pick(5)) {
      case 0:
        a.type = x.type == Type::kCon ? Type::kAck : Type::kRst;
        a.mid = x.mid;
        break;
      case 1:
        a.type = Type::kRst;
        a.mid = x.mid;
        break;
      case 2:
        a = gen_answer(args, x);
        a.type = Type::kAck;
        a.mid = x.mid;
        break;
      case 3:
        a = gen_answer(args, x);
        a.type = args.flag() ? Type::kCon : Type::kNon;
        a.mid = h_.peer_mid(peer);
        break;
      default:
        a.type = Type::kAck;
        a.mid = static_cast<uint16_t>(x.mid + 1);
        break;
    }
    send(peer, encode_udp(a));
  }

  // Many requests in a row (say, 64 observers, or PUTs that notify them),
  // each with the next MID and token.
  void burst(int peer, Reader& args) {
    const std::size_t n = 1 + args.u8();
    OwnedMessage m = built(peer, args);
    if (m.token.len == 0) m.token.len = 1;
    for (std::size_t i = 0; i < n; ++i) {
      m.mid = h_.peer_mid(peer);
      m.token.bytes[m.token.len - 1] = static_cast<uint8_t>(i);
      h_.datagram(peer, encode_udp(m));
    }
  }

  Harness& h_;
  std::array<std::vector<std::vector<uint8_t>>, kPeers> sent_;
  std::array<uint16_t, kPeers> last_mid_{};
};

}  // namespace
}  // namespace coap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace coap::fuzz;
  return run_input<UdpDriver>({data, size}, kCommonOps + 6);
}
