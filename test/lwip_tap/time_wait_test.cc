// lwip_tap/time_wait.h: a SYN beyond the old connection reopens a pair of
// ports in TIME_WAIT; trim_time_wait() bounds how many are kept. TIME_WAIT
// lasts 120 s in this build, so nothing here waits for it to end.
#include "lwip_tap/time_wait.h"

#include "test/lwip_tap/lwip_fixture.h"

namespace lwip_tap::test {
namespace {

class TimeWaitTest : public LwipTest {
 protected:
  // A connection from `port` that lwIP closed first, now in TIME_WAIT.
  Accepted into_time_wait(uint16_t port) {
    const std::size_t before = pcbs().tcp_time_wait;
    Accepted a = accept_from(port);
    close_first(a);
    peer_->send_fin(*a.conn);
    EXPECT_TRUE(wait_until([&] { return pcbs().tcp_time_wait == before + 1; }));
    return a;
  }
  std::size_t trim(std::size_t max) {
    return locked([&] {
      assume_core_locked();
      return trim_time_wait(max);
    });
  }
};

TEST_F(TimeWaitTest, ASynBeyondTheOldConnectionReopensIt) {
  Accepted old = into_time_wait(40030);
  const uint32_t isn = old.conn->snd_nxt + 1000;  // inside the old window, beyond its data

  // lwIP alone refuses it: a SYN inside the window of a TIME_WAIT pcb gets RST.
  peer_->set_raw_input(true);
  PeerConn& refused = peer_->open(40030, kListenPort, isn);
  peer_->set_raw_input(false);
  ASSERT_TRUE(wait_until([&] { return refused.rst_received(); }));
  EXPECT_EQ(pcbs().tcp_time_wait, 1u);

  // Through the pump's input path the old pcb goes and the SYN is accepted.
  PeerConn& c = peer_->open(40030, kListenPort, isn);
  ASSERT_TRUE(wait_until([&] { return c.synced && sink_.accepted_from(40030) != old.id; }));
  EXPECT_EQ(pcbs().tcp_time_wait, 0u);
  EXPECT_EQ(c.count(kRst), 0u);
  close_after_peer({*sink_.accepted_from(40030), &c});
}

TEST_F(TimeWaitTest, ASynFromTheOldConnectionsPastLeavesTimeWaitAlone) {
  Accepted old = into_time_wait(40031);
  PeerConn& c = peer_->open(40031, kListenPort, old.conn->snd_nxt - 1000);
  // lwIP answers it from TIME_WAIT with a bare ACK: no SYN-ACK, no RST.
  ASSERT_TRUE(wait_until([&] { return !c.segments.empty(); }));
  EXPECT_EQ(c.segments.front().flags, kAck);
  EXPECT_EQ(c.segments.front().ack, old.conn->snd_nxt);
  ASSERT_TRUE(peer_->sync());
  EXPECT_EQ(sink_.accepted_from(40031), old.id);
  EXPECT_EQ(pcbs().tcp_time_wait, 1u);
  EXPECT_EQ(trim(0), 1u);
}

TEST_F(TimeWaitTest, TrimFreesTheOldestBeyondMaxAndSendsNothing) {
  for (uint16_t port : {40040, 40041, 40042}) into_time_wait(port);
  ASSERT_EQ(pcbs().tcp_time_wait, 3u);
  ASSERT_TRUE(peer_->sync());
  const std::size_t sent = peer_->segments().size();

  EXPECT_EQ(trim(1), 2u);
  locked([] {
    ASSERT_NE(tcp_tw_pcbs, nullptr);
    EXPECT_EQ(tcp_tw_pcbs->remote_port, 40042);  // the newest is kept
    EXPECT_EQ(tcp_tw_pcbs->next, nullptr);
  });
  EXPECT_EQ(trim(1), 0u);
  EXPECT_EQ(trim(0), 1u);
  ASSERT_TRUE(peer_->sync());
  EXPECT_EQ(peer_->segments().size(), sent);  // forgotten silently
}

}  // namespace
}  // namespace lwip_tap::test
