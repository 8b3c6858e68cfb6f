// The per-session TCP send queue: whole frames, partial writes, and
// priority frames (Pong) overtaking frames not yet started (RFC 8323 5.4).
#include "coap/tx_queue.h"

#include <gtest/gtest.h>

#include <string>

#include "test/coap/test_util.h"

namespace coap {
namespace {

using test::bytes_of;
using test::string_of;

std::string pending(const TxQueue& q) { return string_of(q.pending()); }

TEST(TxQueueTest, FifoAndPartialConsume) {
  TxQueue q;
  EXPECT_TRUE(q.empty());
  q.push(bytes_of("aaaa"));
  q.push(bytes_of("bbb"));
  EXPECT_EQ(q.size(), 7u);
  EXPECT_EQ(pending(q), "aaaabbb");
  q.consume(2);
  EXPECT_EQ(pending(q), "aabbb");
  q.consume(3);
  EXPECT_EQ(pending(q), "bb");
  q.consume(2);
  EXPECT_TRUE(q.empty());
  q.push(bytes_of("c"));
  EXPECT_EQ(pending(q), "c");
}

TEST(TxQueueTest, DropUnstartedKeepsOnlyTheRestOfTheFrameUnderWay) {
  TxQueue q;
  q.push(bytes_of("aaaa"));
  q.push(bytes_of("bbb"));
  q.drop_unstarted();
  EXPECT_TRUE(q.empty()) << "nothing was under way";
  q.push(bytes_of("aaaa"));
  q.push(bytes_of("bbb"));
  q.consume(1);
  q.drop_unstarted();
  EXPECT_EQ(pending(q), "aaa");
  q.push(bytes_of("c"));
  q.consume(3);
  EXPECT_EQ(pending(q), "c");
}

TEST(TxQueueTest, PriorityGoesFirstWhenNothingIsPartlyWritten) {
  TxQueue q;
  q.push(bytes_of("aaaa"));
  q.push(bytes_of("bbbb"));
  q.push_priority(bytes_of("P"));
  EXPECT_EQ(pending(q), "Paaaabbbb");
  // After a whole frame has been written, the next one has not started.
  q.consume(5);
  q.push_priority(bytes_of("Q"));
  EXPECT_EQ(pending(q), "Qbbbb");
}

TEST(TxQueueTest, PriorityWaitsForThePartlyWrittenFrame) {
  TxQueue q;
  q.push(bytes_of("aaaa"));
  q.push(bytes_of("bbbb"));
  q.consume(1);
  q.push_priority(bytes_of("P"));
  EXPECT_EQ(pending(q), "aaaPbbbb");
  q.consume(3);  // "aaa": the frame is done, P is next
  // Q overtakes normal frames, not the Pong already waiting: order is kept.
  q.push_priority(bytes_of("Q"));
  EXPECT_EQ(pending(q), "PQbbbb");
  q.consume(1);  // P
  q.consume(1);  // Q
  EXPECT_EQ(pending(q), "bbbb");
  q.consume(2);
  q.push_priority(bytes_of("R"));
  EXPECT_EQ(pending(q), "bbR");
}

TEST(TxQueueTest, PriorityIntoAnEmptyQueue) {
  TxQueue q;
  q.push_priority(bytes_of("P"));
  q.push(bytes_of("a"));
  EXPECT_EQ(pending(q), "Pa");
  q.clear();
  EXPECT_TRUE(q.empty());
  q.push(bytes_of("z"));
  q.consume(1);
  q.push_priority(bytes_of("P"));
  EXPECT_EQ(pending(q), "P");
}

TEST(TxQueueTest, LongStreamsCompactWithoutLosingFrameBoundaries) {
  TxQueue q;
  std::string expected;
  std::size_t written = 0;
  // Keep a backlog while consuming well past the compaction threshold.
  for (int i = 0; i < 400; ++i) {
    const std::string f = test::pattern(997, i);
    q.push(bytes_of(f));
    expected += f;
    const std::size_t n = std::min<std::size_t>(q.size(), 700 + i % 500);
    q.consume(n);
    written += n;
    ASSERT_EQ(pending(q), expected.substr(written)) << i;
  }
  // A priority frame still lands on a frame boundary after compaction.
  const std::size_t partial = written % 997;
  q.push_priority(bytes_of("PONG"));
  const std::string p = pending(q);
  const std::size_t rest_of_frame = partial ? 997 - partial : 0;
  EXPECT_EQ(p.substr(rest_of_frame, 4), "PONG");
  EXPECT_EQ(p.substr(0, rest_of_frame), expected.substr(written, rest_of_frame));
  EXPECT_EQ(p.substr(rest_of_frame + 4), expected.substr(written + rest_of_frame));
}

}  // namespace
}  // namespace coap
