// lwIP on a fake link, for in-process tests without root or a TAP:
//   FakeLink       receives every frame the netif sends (lwip_tap::FrameSink);
//   TcpPeer        the host at the other end, raw frames in and out;
//   RecordingSink  the TransportSink, recording every callback;
//   LwipTest       a fresh netif, TcpTransport and listener per test, and at
//                  the end of every test the check that the test closed what
//                  it opened and that lwIP is back at its baseline (no pcb
//                  left in any list), so that the next test starts clean.
// lwIP runs in this process once: tcpip_thread is started by the first test
// and runs lwIP's timers for all of them. Tests wait for lwIP with bounded
// polls (wait_until), never with sleeps.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lwip_tap/stack.h"
#include "lwip_tap/tcp_transport.h"
#include "test/lwip_tap/fake_link.h"
#include "test/lwip_tap/recording_sink.h"
#include "test/lwip_tap/tcp_peer.h"

namespace lwip_tap::test {

inline constexpr Host kLwipHost{{0x02, 0x00, 0x5e, 0x00, 0x02, 0x02}, {192, 0, 2, 2}};
inline constexpr Host kPeerHost{{0x02, 0x00, 0x5e, 0x00, 0x02, 0x01}, {192, 0, 2, 1}};
inline constexpr Ip4 kSilentIp{192, 0, 2, 99};  // nobody answers ARP for it
inline constexpr uint16_t kListenPort = 5683;

using Kind = SinkEvent::Kind;
using namespace std::chrono_literals;

std::vector<uint8_t> bytes_of(std::string_view text);
// n bytes of a pattern that does not repeat every few bytes.
std::vector<uint8_t> pattern(std::size_t n);
std::string describe(const PcbCounts& c);

class LwipTest : public ::testing::Test {
 protected:
  struct Accepted {
    ConnId id = 0;
    PeerConn* conn = nullptr;
  };

  void SetUp() override;
  void TearDown() override;

  // Runs f() with the core lock held: raw-API and transport calls.
  template <typename F>
  auto locked(F&& f) {
    CoreLock lock;
    return f();
  }
  PcbCounts pcbs();
  // Polls the peer until cond() holds; false after `timeout`.
  bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 3s);
  // The peer connects from `port` to the listener (its SYN advertising
  // `window`); the connection as accepted by the transport and as the peer
  // sees it. Fails the test when nothing is accepted.
  Accepted accept_from(uint16_t port, uint16_t window = 0xffff);
  // REQUIRES core lock. The active pcb whose remote port is `port` (the
  // peer's end of a connection), or nullptr.
  static tcp_pcb* pcb_to(uint16_t port);
  // The peer closes, the test answers with close(): LAST_ACK, then gone.
  void close_after_peer(const Accepted& a);
  // close() while the peer has not closed: lwIP's FIN reaches the peer (its
  // ACK leaves the pcb in FIN_WAIT_2), and no RST.
  void close_first(const Accepted& a);

  // Declared in this order: the link outlives the stack that writes to it.
  FakeLink link_;
  Stack stack_;
  RecordingSink sink_;
  std::unique_ptr<TcpTransport> tcp_;
  std::unique_ptr<TcpPeer> peer_;
};

}  // namespace lwip_tap::test
