// TcpTransport::connect(): every attempt ends in exactly one of
// on_tcp_connected or on_tcp_error, with the right TcpError; a close() while
// the SYN is unanswered frees the pcb and sends nothing.
#include <algorithm>

#include "test/lwip_tap/lwip_fixture.h"

namespace lwip_tap::test {
namespace {

class TcpConnectTest : public LwipTest {
 protected:
  ConnId connect_to(const Ip4& ip, uint16_t port) {
    const ConnId id = tcp_->allocate_id();
    const auto to = coap::Address::v4(ip[0], ip[1], ip[2], ip[3], port);
    locked([&] {
      assume_core_locked();
      tcp_->connect(id, to);
    });
    return id;
  }
  // Waits for the attempt's one error and checks it, and that nothing else
  // was reported and the transport forgot the id.
  void expect_one_error(ConnId id, coap::TcpError error, err_t lwip_err) {
    ASSERT_TRUE(wait_until([&] { return sink_.count(Kind::kError, id) == 1; }));
    ASSERT_TRUE(peer_->sync());
    EXPECT_EQ(sink_.count_for(id), 1u);
    const auto events = sink_.events();
    const auto it = std::find_if(events.begin(), events.end(),
                                 [&](const SinkEvent& e) { return e.conn == id; });
    EXPECT_EQ(it->error, error) << coap::tcp_error_name(it->error);
    EXPECT_EQ(it->lwip_err, lwip_err) << err_name(it->lwip_err);
    EXPECT_EQ(locked([&] {
                assume_core_locked();
                return tcp_->connection_count();
              }),
              0u);
  }
};

TEST_F(TcpConnectTest, ConnectToAListeningPeerReportsConnectedWithTheLocalAddress) {
  peer_->set_port_mode(5684, TcpPeer::PortMode::kListen);
  const ConnId id = connect_to(kPeerHost.ip, 5684);
  ASSERT_TRUE(wait_until([&] { return sink_.count(Kind::kConnected, id) == 1; }));
  PeerConn* c = peer_->find(5684);
  ASSERT_NE(c, nullptr);
  const SinkEvent connected = sink_.events().back();
  EXPECT_EQ(connected.address, coap::Address::v4(192, 0, 2, 2, c->lwip_port));
  close_after_peer({id, c});
}

// A closed port: the peer answers the SYN with RST.
TEST_F(TcpConnectTest, ConnectToAClosedPortReportsResetOnce) {
  const ConnId id = connect_to(kPeerHost.ip, 7);
  expect_one_error(id, coap::TcpError::kReset, ERR_RST);
  EXPECT_EQ(peer_->segments_to(7), 1u);  // the SYN
  EXPECT_EQ(sink_.count(Kind::kConnected, id), 0u);
}

// Nobody answers ARP for the address: the SYN never leaves. lwIP gives up
// after 6 SYN retransmissions, 18 s of its timers; the test fast-forwards
// the pcb's retransmission count so that lwIP's next slow timer (within
// 0.5 s) gives up as it would have then, through its own code path.
TEST_F(TcpConnectTest, ConnectToAnAddressNobodyAnswersReportsTimeoutOnce) {
  const ConnId id = connect_to(kSilentIp, kListenPort);
  ASSERT_TRUE(wait_until([&] { return peer_->arp_requests_for(kSilentIp) >= 1; }));
  locked([&] {
    assume_core_locked();
    tcp_pcb* p = pcb_to(kListenPort);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->state, SYN_SENT);
    p->nrtx = TCP_SYNMAXRTX;
  });
  expect_one_error(id, coap::TcpError::kTimeout, ERR_ABRT);
  EXPECT_TRUE(peer_->segments().empty());  // no TCP segment got out at all
}

TEST_F(TcpConnectTest, ConnectToAnUnroutableAddressFailsAtOnce) {
  const ConnId id = connect_to({198, 51, 100, 7}, kListenPort);  // no gateway configured
  EXPECT_EQ(sink_.count(Kind::kError, id), 1u);                  // reported inside connect()
  expect_one_error(id, coap::TcpError::kUnreachable, ERR_RTE);
  EXPECT_TRUE(peer_->segments().empty());
}

// The connect timeout's path: close() of a pcb in SYN_SENT frees it at once
// and sends nothing (no RST, no FIN); nothing is reported.
TEST_F(TcpConnectTest, CloseWhileConnectingFreesThePcbAndSendsNothing) {
  peer_->set_port_mode(9, TcpPeer::PortMode::kSilent);
  const ConnId id = connect_to(kPeerHost.ip, 9);
  ASSERT_TRUE(wait_until([&] { return peer_->segments_to(9) == 1; }));  // the SYN
  locked([&] {
    assume_core_locked();
    tcp_->close(id);
    EXPECT_EQ(stack_.count_pcbs().tcp_active, 0u);
  });
  ASSERT_TRUE(peer_->sync());
  EXPECT_EQ(peer_->segments_to(9), 1u);
  EXPECT_EQ(sink_.count_for(id), 0u);
}

}  // namespace
}  // namespace lwip_tap::test
