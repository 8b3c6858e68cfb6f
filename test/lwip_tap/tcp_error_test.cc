// TcpTransport when the connection ends badly: lwIP's err callback means the
// pcb is already freed (rule 3), and abort() puts its RST where a peer that
// stopped reading accepts it.
#include <algorithm>

#include "test/lwip_tap/lwip_fixture.h"

namespace lwip_tap::test {
namespace {

using TcpErrorTest = LwipTest;

// Rule 3: a peer RST is reported once, as kReset, and the id is forgotten:
// every later call on it is a no-op (with ASan, touching the freed pcb would
// be a use-after-free) and nothing more is sent.
TEST_F(TcpErrorTest, PeerResetIsReportedOnceAndTheIdIsForgotten) {
  Accepted a = accept_from(40010);
  peer_->send_data(*a.conn, bytes_of("abc"));
  ASSERT_TRUE(wait_until([&] { return sink_.data(a.id).size() == 3; }));
  peer_->send_rst(*a.conn);
  ASSERT_TRUE(wait_until([&] { return sink_.count(Kind::kError, a.id) == 1; }));
  const SinkEvent error = sink_.events().back();
  EXPECT_EQ(error.kind, Kind::kError);
  EXPECT_EQ(error.error, coap::TcpError::kReset);
  EXPECT_EQ(error.lwip_err, ERR_RST);
  EXPECT_EQ(locked([&] {
              assume_core_locked();
              return tcp_->connection_count();
            }),
            0u);

  ASSERT_TRUE(peer_->sync());
  const std::size_t sent = peer_->segments().size();
  const std::size_t events = sink_.count_for(a.id);
  locked([&] {
    assume_core_locked();
    EXPECT_EQ(tcp_->write(a.id, bytes_of("x")), 0u);
    tcp_->output(a.id);
    tcp_->recved(a.id, 3);
    tcp_->close(a.id);
    tcp_->abort(a.id);
  });
  ASSERT_TRUE(peer_->sync());
  EXPECT_EQ(peer_->segments().size(), sent);
  EXPECT_EQ(sink_.count_for(a.id), events);
}

// A peer that stopped reading: its window is closed and lwIP's zero-window
// probes have moved snd_nxt one past what it acknowledged. lwIP's own RST
// (at snd_nxt) is outside that window; abort() also sends one at the oldest
// unacknowledged byte, which is what the peer expects next.
TEST_F(TcpErrorTest, AbortResetsAtTheOldestUnackedByteWhenThePeersWindowIsClosed) {
  Accepted a = accept_from(40011, /*window=*/1460);
  a.conn->consume = false;  // the peer reads nothing: one segment closes its window
  const std::vector<uint8_t> data = pattern(4000);
  EXPECT_EQ(locked([&] {
              assume_core_locked();
              return tcp_->write(a.id, data);
            }),
            data.size());
  locked([&] {
    assume_core_locked();
    tcp_->output(a.id);
  });
  ASSERT_TRUE(wait_until([&] { return a.conn->received.size() == 1460 && a.conn->window == 0; }));
  const uint32_t expected = a.conn->rcv_nxt;
  // lwIP's persist timer: a 1-byte probe after about 1.5 s.
  auto probed = [&] {
    return std::any_of(a.conn->segments.begin(), a.conn->segments.end(), [&](const TcpSegment& s) {
      return s.seq == expected && s.payload.size() == 1;
    });
  };
  ASSERT_TRUE(wait_until(probed, 5s));
  locked([&] {
    assume_core_locked();
    tcp_pcb* p = pcb_to(40011);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->lastack, expected);
    EXPECT_EQ(p->snd_nxt, expected + 1);
  });

  const std::size_t before = a.conn->segments.size();
  locked([&] {
    assume_core_locked();
    tcp_->abort(a.id);
  });
  EXPECT_EQ(locked([] { return pcb_to(40011); }), nullptr);  // freed at once
  ASSERT_TRUE(peer_->sync());
  std::vector<uint32_t> rst_seqs;
  for (std::size_t i = before; i < a.conn->segments.size(); ++i)
    if (a.conn->segments[i].has(kRst)) rst_seqs.push_back(a.conn->segments[i].seq);
  EXPECT_NE(std::find(rst_seqs.begin(), rst_seqs.end(), expected), rst_seqs.end())
      << "no RST at the peer's rcv_nxt " << expected;
  EXPECT_EQ(sink_.count(Kind::kError, a.id), 0u);  // our own abort is not reported
}

}  // namespace
}  // namespace lwip_tap::test
