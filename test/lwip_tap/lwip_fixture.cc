#include "test/lwip_tap/lwip_fixture.h"

#include <mutex>

#include "lwip_tap/time_wait.h"

namespace lwip_tap::test {

std::vector<uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

std::vector<uint8_t> pattern(std::size_t n) {
  std::vector<uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return out;
}

std::string describe(const PcbCounts& c) {
  return "tcp_active=" + std::to_string(c.tcp_active) +
         " tcp_listen=" + std::to_string(c.tcp_listen) +
         " tcp_time_wait=" + std::to_string(c.tcp_time_wait) +
         " tcp_bound=" + std::to_string(c.tcp_bound) + " udp=" + std::to_string(c.udp);
}

namespace {

bool no_pcbs(const PcbCounts& c) {
  return c.tcp_active + c.tcp_listen + c.tcp_time_wait + c.tcp_bound + c.udp == 0;
}

}  // namespace

void LwipTest::SetUp() {
  static std::once_flag started;
  std::call_once(started, Stack::start_tcpip);
  tcp_ = std::make_unique<TcpTransport>(stack_, sink_);
  NetifOptions options;
  options.mac = kLwipHost.mac;
  options.ipv4 = kLwipHost.ip;
  options.ipv4_prefix_len = 24;
  CoreLock lock;
  // Whatever ran before in this process left nothing behind.
  ASSERT_TRUE(no_pcbs(stack_.count_pcbs())) << describe(stack_.count_pcbs());
  const coap::Status added = stack_.add_netif(options, link_);
  ASSERT_TRUE(added.ok()) << added.error();
  const coap::Status listening = tcp_->listen(kListenPort, coap::ListenerKind::kServer);
  ASSERT_TRUE(listening.ok()) << listening.error();
  peer_ = std::make_unique<TcpPeer>(link_, stack_.iface(), kPeerHost, kLwipHost);
}

void LwipTest::TearDown() {
  if (!peer_) {  // SetUp failed half-way
    locked([&] {
      assume_core_locked();
      if (tcp_) tcp_->close_all();
      stack_.remove_netif();
      tcp_.reset();
    });
    return;
  }
  locked([&] {
    assume_core_locked();
    // A test ends its connections itself: one still known is a leak.
    EXPECT_EQ(tcp_->connection_count(), 0u);
    EXPECT_EQ(tcp_->closing_count(), 0u);
    tcp_->close_all();
  });
  // Connections the test closed may still be finishing with the peer's help
  // (LAST_ACK waits for its ACK).
  EXPECT_TRUE(wait_until([&] { return no_pcbs(pcbs()); })) << "left behind: " << describe(pcbs());
  locked([&] {
    assume_core_locked();
    // Clean up for the next test even after a failure: TIME_WAIT pcbs are
    // freed, active ones are aborted when the netif's address goes away.
    trim_time_wait(0);
    stack_.remove_netif();
    tcp_.reset();
  });
  peer_.reset();
}

PcbCounts LwipTest::pcbs() {
  return locked([&] {
    assume_core_locked();
    return stack_.count_pcbs();
  });
}

bool LwipTest::wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  return peer_->poll_until(cond, timeout);
}

LwipTest::Accepted LwipTest::accept_from(uint16_t port, uint16_t window) {
  PeerConn& c = peer_->open(port, kListenPort, 1000000u * port, window);
  const bool ok = wait_until([&] { return sink_.accepted_from(port) && c.synced; });
  EXPECT_TRUE(ok) << "no connection accepted from port " << port;
  return {sink_.accepted_from(port).value_or(0), &c};
}

tcp_pcb* LwipTest::pcb_to(uint16_t port) {
  for (tcp_pcb* p = tcp_active_pcbs; p; p = p->next)
    if (p->remote_port == port) return p;
  return nullptr;
}

void LwipTest::close_after_peer(const Accepted& a) {
  peer_->send_fin(*a.conn);
  EXPECT_TRUE(wait_until([&] { return sink_.count(Kind::kPeerClosed, a.id) == 1; }));
  locked([&] {
    assume_core_locked();
    tcp_->close(a.id);
  });
  EXPECT_TRUE(wait_until([&] {
    return a.conn->fin_received() && locked([&] {
             assume_core_locked();
             return !pcb_to(a.conn->port);
           });
  }));
  EXPECT_EQ(a.conn->count(kRst), 0u);
}

void LwipTest::close_first(const Accepted& a) {
  locked([&] {
    assume_core_locked();
    tcp_->close(a.id);
  });
  EXPECT_TRUE(wait_until([&] { return a.conn->fin_received(); })) << "no FIN";
  EXPECT_EQ(a.conn->count(kRst), 0u);
}

}  // namespace lwip_tap::test
