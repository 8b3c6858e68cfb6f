// Fuzz target endpoint_tcp: a whole coap::Endpoint speaking CoAP over TCP
// (RFC 8323), driven by connection accepts (server and call-home
// listeners) from four peers, data segments (raw, or frames built from
// fields: signals, requests, answers to the endpoint's requests, cut at a
// chosen point), peer closes, errors, writable events, tcp_written of
// chosen amounts, outcomes of the endpoint's connects, outgoing sessions,
// client requests, timers and shutdown. The invariants checked after every
// step are listed in endpoint_harness.h.
#include <cstddef>
#include <cstdint>

#include "test/fuzz/endpoint_ops.h"

namespace coap::fuzz {
namespace {

bool can_send(const Conn& c) { return c.connected && !c.peer_closed; }
bool is_up(const Conn& c) { return c.connected; }
bool is_connecting(const Conn& c) { return c.outgoing && !c.connected; }
bool any(const Conn&) { return true; }

class TcpDriver {
 public:
  explicit TcpDriver(Harness& h) : h_(h) {}

  void op(uint8_t code, Reader& args) {
    if (code < kCommonOps) return common_op(h_, code, args);
    const uint8_t choice = args.u8();
    switch (code - kCommonOps) {
      case 0:
        h_.accept(choice % kPeers, args.flag() ? ListenerKind::kCallHome : ListenerKind::kServer);
        break;
      case 1: with(choice, can_send, [&](Conn& c) { h_.tcp_data(c, args.rest()); }); break;
      case 2: with(choice, can_send, [&](Conn& c) { frames(c, args, false); }); break;
      case 3: with(choice, can_send, [&](Conn& c) { frames(c, args, true); }); break;
      case 4: with(choice, can_send, [&](Conn& c) { h_.tcp_peer_closed(c); }); break;
      case 5: with(choice, any, [&](Conn& c) { h_.tcp_error(c, error(args)); }); break;
      case 6: with(choice, is_up, [&](Conn& c) { h_.tcp_writable(c); }); break;
      case 7: with(choice, is_up, [&](Conn& c) { h_.tcp_write(c, amount(args)); }); break;
      case 8: with(choice, is_connecting, [&](Conn& c) { h_.tcp_connected(c); }); break;
      case 9: h_.request(gen_request(args, /*tcp=*/true)); break;
      default: h_.open_session(spec(choice, args)); break;
    }
  }

 private:
  template <typename P, typename F>
  void with(uint8_t choice, P usable, F f) {
    if (Conn* c = h_.pick(choice, usable)) f(*c);
  }

  // Frames built from fields, delivered in one segment or cut in two;
  // `csm_first` puts a CSM first, as a peer that gets going would.
  void frames(Conn& c, Reader& args, bool csm_first) {
    std::vector<uint8_t> bytes;
    auto append = [&](const OwnedMessage& m) {
      const auto f = encode_tcp(m);
      bytes.insert(bytes.end(), f.begin(), f.end());
    };
    if (csm_first) append(csm(args));
    for (std::size_t i = 0, n = 1 + args.u8() % 4; i < n; ++i) append(frame(c, args));
    const std::size_t cut = args.flag() ? args.u16() % (bytes.size() + 1) : bytes.size();
    h_.tcp_data(c, std::span<const uint8_t>(bytes).first(cut));
    if (cut < bytes.size() && !c.ended && !c.peer_closed)
      h_.tcp_data(c, std::span<const uint8_t>(bytes).subspan(cut));
  }

  static OwnedMessage csm(Reader& args) {
    OwnedMessage m;
    m.code = codes::kCsm;
    constexpr uint32_t kSizes[] = {1152, 64, 4096, 132096, 0};
    if (const uint32_t mms = args.pick(kSizes))
      add_option(m, opt::kCsmMaxMessageSize, uint_value(mms));
    if (args.flag()) add_option(m, opt::kCsmBlockWiseTransfer, {});
    return m;
  }

  OwnedMessage frame(const Conn& c, Reader& args) {
    switch (args.pick(4)) {
      case 0: return gen_signal(args);
      case 1:
        for (auto it = c.recent.rbegin(); it != c.recent.rend(); ++it)
          if (it->code.is_request()) return gen_answer(args, *it);
        [[fallthrough]];
      default: return gen_message(args);
    }
  }

  static TcpError error(Reader& args) {
    constexpr TcpError kErrors[] = {TcpError::kReset, TcpError::kTimeout, TcpError::kUnreachable,
                                    TcpError::kAborted, TcpError::kOther};
    return args.pick(kErrors);
  }

  static std::size_t amount(Reader& args) {
    switch (args.pick(4)) {
      case 0: return 0;
      case 1: return 1 + args.u8();
      case 2: return args.u16();
      default: return static_cast<std::size_t>(-1);  // everything pending
    }
  }

  static SessionSpec spec(uint8_t peer, Reader& args) {
    SessionSpec s;
    s.peer = peer_address(peer);
    s.call_home = args.flag();
    s.reconnect = args.flag();
    s.reconnect_interval = milliseconds(100 + args.u16() % 5000);
    s.reconnect_max_interval = args.flag() ? seconds(args.u8() % 60) : Duration::zero();
    s.reconnect_attempts = args.u8() % 4;
    return s;
  }

  Harness& h_;
};

}  // namespace
}  // namespace coap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace coap::fuzz;
  return run_input<TcpDriver>({data, size}, kCommonOps + 11);
}
