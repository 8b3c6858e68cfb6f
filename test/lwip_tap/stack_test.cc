// lwip_tap::Stack's output side: every frame lwIP sends goes to the netif's
// FrameSink and is counted; under a BatchedCoreLock they wait in its batch
// until the core lock is released.
#include "lwip_tap/tap_pump.h"
#include "test/lwip_tap/lwip_fixture.h"

namespace lwip_tap::test {
namespace {

using StackTest = LwipTest;

// The counters against the link's own count. Read under the core lock: only
// a batch open on some thread could write without it, and none is.
void expect_counted(Stack& stack, FakeLink& link) {
  CoreLock lock;
  EXPECT_EQ(stack.tx_frames(), link.accepted());
  EXPECT_EQ(stack.tx_errors(), link.refused());
}

TEST_F(StackTest, FramesGoToTheSinkAndAreCounted) {
  ASSERT_TRUE(peer_->sync());  // lwIP's ARP reply came through the sink
  EXPECT_GE(link_.accepted(), 1u);
  expect_counted(stack_, link_);
}

TEST_F(StackTest, FramesTheSinkRefusesAreCountedAsErrors) {
  link_.set_failing(true);
  peer_->send_arp_request(kLwipHost.ip);  // lwIP's reply is refused
  EXPECT_GE(link_.refused(), 1u);
  expect_counted(stack_, link_);
  link_.set_failing(false);
  ASSERT_TRUE(peer_->sync());
  expect_counted(stack_, link_);
}

TEST_F(StackTest, FramesSentUnderABatchedCoreLockAreWrittenWhenItIsReleased) {
  TxBatch batch;
  const std::size_t replies = peer_->arp_replies();
  const std::size_t written = link_.accepted();
  {
    BatchedCoreLock lock(stack_, batch);
    // lwIP answers inside the call, under the lock: into the batch.
    input_frame(stack_.iface(),
                build_arp(kPeerHost.mac, kBroadcastMac,
                          {Arp::kRequest, kPeerHost.mac, kPeerHost.ip, {}, kLwipHost.ip}));
    EXPECT_EQ(batch.size(), 1u);
    EXPECT_EQ(link_.accepted(), written);  // not written yet
  }
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(link_.accepted(), written + 1);
  ASSERT_TRUE(wait_until([&] { return peer_->arp_replies() == replies + 1; }));
  expect_counted(stack_, link_);
}

}  // namespace
}  // namespace lwip_tap::test
