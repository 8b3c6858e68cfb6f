// TcpTransport's close rules (lwip_tap/tcp_transport.h): the window is given
// back before a close (rule 1), so a close sends FIN and never RST; callbacks
// are cleared before it (rule 2), so nothing that happens to the pcb later
// reaches the sink.
#include "lwip_tap/time_wait.h"
#include "test/lwip_tap/lwip_fixture.h"

namespace lwip_tap::test {
namespace {

using TcpCloseTest = LwipTest;

// The receive window lwIP advertised last, and whether that segment
// acknowledged everything the peer sent.
uint16_t last_window(const PeerConn& c) { return c.segments.back().window; }
bool all_acked(const PeerConn& c) { return c.segments.back().ack == c.snd_nxt; }

// Rule 1: recved() reopens the window by what the engine consumed, and
// close() gives back what it never reported, so lwIP sends FIN, not RST.
TEST_F(TcpCloseTest, RecvedReopensTheWindowAndCloseGivesBackTheRestSoFinNotRst) {
  Accepted a = accept_from(40001);
  const std::vector<uint8_t> data = pattern(6 * 1460);
  for (std::size_t off = 0; off < data.size(); off += 1460)
    peer_->send_data(*a.conn, std::span(data).subspan(off, 1460));
  ASSERT_TRUE(wait_until([&] { return sink_.data(a.id).size() == data.size(); }));
  EXPECT_EQ(sink_.data(a.id), data);
  // Delivered but not reported consumed: the window lwIP advertises shrank.
  ASSERT_TRUE(wait_until([&] { return all_acked(*a.conn); }));
  EXPECT_EQ(last_window(*a.conn), 0xffff - data.size());

  locked([&] {
    assume_core_locked();
    tcp_->recved(a.id, data.size());
  });
  // A window update goes out at once (it is over lwIP's threshold).
  ASSERT_TRUE(wait_until([&] { return last_window(*a.conn) == 0xffff; }));

  // Bytes the engine never reports: close() gives them back itself.
  peer_->send_data(*a.conn, bytes_of("never consumed"));
  ASSERT_TRUE(wait_until([&] { return sink_.data(a.id).size() == data.size() + 14; }));
  close_first(a);
  const TcpSegment* fin = nullptr;
  for (const auto& s : a.conn->segments)
    if (s.has(kFin)) fin = &s;
  ASSERT_NE(fin, nullptr);
  EXPECT_EQ(fin->ack, a.conn->snd_nxt);  // everything the peer sent was taken

  // lwIP closed first, so it keeps the pcb in TIME_WAIT (120 s).
  peer_->send_fin(*a.conn);
  ASSERT_TRUE(wait_until([&] { return pcbs().tcp_time_wait == 1; })) << describe(pcbs());
  EXPECT_EQ(locked([] {
              assume_core_locked();
              return trim_time_wait(0);
            }),
            1u);
}

// Data both ways, then the peer's FIN: reported once, also when the peer
// sends it again; the close that answers it is a FIN, and no pcb is left
// (LAST_ACK ends with the peer's ACK: no TIME_WAIT on this side).
TEST_F(TcpCloseTest, FinAfterDataBothWaysAndThePeersFinIsReportedOnce) {
  Accepted a = accept_from(40002);
  peer_->send_data(*a.conn, bytes_of("ping"));
  ASSERT_TRUE(wait_until([&] { return sink_.data(a.id) == bytes_of("ping"); }));
  const std::vector<uint8_t> pong = bytes_of("pong");
  EXPECT_EQ(locked([&] {
              assume_core_locked();
              return tcp_->write(a.id, pong);
            }),
            pong.size());
  locked([&] {
    assume_core_locked();
    tcp_->output(a.id);
  });
  ASSERT_TRUE(wait_until([&] { return a.conn->received == pong; }));
  // The peer's ACK of it makes room: on_tcp_writable.
  ASSERT_TRUE(wait_until([&] { return sink_.count(Kind::kWritable, a.id) >= 1; }));

  peer_->send_fin(*a.conn);
  ASSERT_TRUE(wait_until([&] { return sink_.count(Kind::kPeerClosed, a.id) == 1; }));
  // The same FIN again (a retransmission): lwIP acknowledges it again...
  ASSERT_TRUE(peer_->sync());
  const std::size_t seen = a.conn->segments.size();
  a.conn->snd_nxt -= 1;
  peer_->send_fin(*a.conn);
  ASSERT_TRUE(wait_until([&] { return a.conn->segments.size() > seen; }));
  // ...and the transport does not report it a second time.
  ASSERT_TRUE(peer_->sync());
  EXPECT_EQ(sink_.count(Kind::kPeerClosed, a.id), 1u);

  locked([&] {
    assume_core_locked();
    tcp_->recved(a.id, 4);
  });
  close_after_peer(a);
  EXPECT_EQ(pcbs().tcp_time_wait, 0u);
}

class TcpClosedTest : public LwipTest {
 protected:
  // Accepts from `port` and closes, checked on lwIP's side: the pcb, still
  // alive in FIN_WAIT_2, has no callback left that could reach the transport.
  Accepted accept_and_close(uint16_t port) {
    Accepted a = accept_from(port);
    close_first(a);
    locked([&] {
      assume_core_locked();
      tcp_pcb* p = pcb_to(port);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(p->state, FIN_WAIT_2);
      EXPECT_EQ(p->callback_arg, nullptr);
      EXPECT_EQ(p->recv, nullptr);
      EXPECT_EQ(p->sent, nullptr);
      EXPECT_EQ(p->errf, nullptr);
      EXPECT_EQ(p->poll, nullptr);
    });
    return a;
  }
};

// Rule 2: peer data after our close makes lwIP abort the pcb (RST); its err
// callback was cleared, so the sink hears nothing. The id is not reused.
TEST_F(TcpClosedTest, PeerDataAfterCloseEndsInRstAndReachesNoCallback) {
  Accepted a = accept_and_close(40003);
  const std::size_t events = sink_.size();
  peer_->send_data(*a.conn, bytes_of("late"));
  ASSERT_TRUE(wait_until([&] { return a.conn->rst_received(); }));
  EXPECT_EQ(locked([] { return pcb_to(40003); }), nullptr);
  ASSERT_TRUE(peer_->sync());
  EXPECT_EQ(sink_.size(), events);
  EXPECT_EQ(locked([&] {
              assume_core_locked();
              return tcp_->write(a.id, bytes_of("x"));
            }),
            0u);

  Accepted b = accept_from(40004);
  EXPECT_NE(b.id, a.id);
  close_after_peer(b);
}

// Rule 2: the peer's RST after our close frees the pcb without a callback.
TEST_F(TcpClosedTest, PeerResetAfterCloseReachesNoCallback) {
  Accepted a = accept_and_close(40005);
  const std::size_t events = sink_.size();
  peer_->send_rst(*a.conn);
  EXPECT_EQ(locked([] { return pcb_to(40005); }), nullptr);  // freed at once
  ASSERT_TRUE(peer_->sync());
  EXPECT_EQ(sink_.size(), events);
  EXPECT_EQ(pcbs().tcp_time_wait, 0u);
}

}  // namespace
}  // namespace lwip_tap::test
