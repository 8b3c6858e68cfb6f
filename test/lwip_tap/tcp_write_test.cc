// TcpTransport::write() back-pressure (rule 5): a write takes what lwIP's
// send buffer has room for, and on_tcp_writable follows the peer's ACKs.
#include "test/lwip_tap/lwip_fixture.h"

namespace lwip_tap::test {
namespace {

using TcpWriteTest = LwipTest;

TEST_F(TcpWriteTest, WriteTakesWhatFitsAndWritableFollowsThePeersAcks) {
  // The peer's window is closed from the start. (A bare ACK that only
  // shrinks the window would not do: lwIP takes a window from an ACK only
  // when it acknowledges something new or the window grows.)
  Accepted a = accept_from(40020, /*window=*/0);
  ASSERT_NE(locked([] { return pcb_to(40020); }), nullptr);
  ASSERT_EQ(locked([] { return pcb_to(40020)->snd_wnd; }), 0u);
  const std::vector<uint8_t> data = pattern(200000);
  const std::span<const uint8_t> all(data);

  // The send buffer fills although nothing can be sent.
  const std::size_t first = 30000;
  EXPECT_EQ(locked([&] {
              assume_core_locked();
              return tcp_->write(a.id, all.first(first));
            }),
            first);
  const std::size_t room = locked([] { return std::size_t{tcp_sndbuf(pcb_to(40020))}; });
  ASSERT_GT(room, 0u);
  ASSERT_LT(room, data.size() - first);
  std::size_t taken = first;
  taken += locked([&] {
    assume_core_locked();
    return tcp_->write(a.id, all.subspan(taken));
  });
  EXPECT_EQ(taken, first + room);  // exactly what fitted
  EXPECT_EQ(locked([&] {
              assume_core_locked();
              return tcp_->write(a.id, all.subspan(taken));
            }),
            0u);
  locked([&] {
    assume_core_locked();
    tcp_->output(a.id);
  });
  ASSERT_TRUE(peer_->sync());
  for (const TcpSegment& s : a.conn->segments)
    EXPECT_LE(s.payload.size(), 1u) << "more than a zero-window probe";
  EXPECT_EQ(sink_.count(Kind::kWritable, a.id), 0u);

  // The window opens: what was queued flows, each ACK reports room.
  a.conn->window = 0xffff;
  peer_->send_ack(*a.conn);
  ASSERT_TRUE(wait_until(
      [&] { return a.conn->received.size() == taken && sink_.count(Kind::kWritable, a.id) >= 1; }));
  // The rest goes as on_tcp_writable makes room, as the engine does it.
  while (taken < data.size()) {
    const std::size_t writable = sink_.count(Kind::kWritable, a.id);
    taken += locked([&] {
      assume_core_locked();
      const std::size_t n = tcp_->write(a.id, all.subspan(taken));
      tcp_->output(a.id);
      return n;
    });
    ASSERT_TRUE(wait_until([&] { return sink_.count(Kind::kWritable, a.id) > writable; }));
  }
  ASSERT_TRUE(wait_until([&] { return a.conn->received.size() == data.size(); }));
  EXPECT_EQ(a.conn->received, data);
  close_after_peer(a);
}

}  // namespace
}  // namespace lwip_tap::test
