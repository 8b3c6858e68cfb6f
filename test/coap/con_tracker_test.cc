// ConTracker: RFC 7252 4.2 retransmission decisions, with no clock of its own.
#include "coap/con_tracker.h"

#include <gtest/gtest.h>

namespace coap {
namespace {

using Action = ConTracker::TimerOutcome::Action;

class ConTrackerTest : public ::testing::Test {
 protected:
  ConTracker tracker{seconds(2), 1.5, 4};
  std::mt19937_64 rng{42};
  const std::vector<uint8_t> wire{0x40, 0x01, 0x12, 0x34};
};

TEST_F(ConTrackerTest, FirstTimeoutIsRandomWithinAckTimeoutTimesRandomFactor) {
  for (uint16_t mid = 0; mid < 200; ++mid) {
    const auto& t = tracker.add(1, mid, ConTracker::Kind::kRequest, mid, wire, rng);
    EXPECT_GE(t.timeout, seconds(2));
    EXPECT_LE(t.timeout, milliseconds(3000));
  }
  EXPECT_EQ(tracker.size(), 200u);
}

TEST_F(ConTrackerTest, BacksOffExponentiallyThenGivesUpAfterMaxRetransmit) {
  const auto& t = tracker.add(7, 100, ConTracker::Kind::kNotification, 55, wire, rng);
  const uint64_t id = t.id;
  Duration timeout = t.timeout;
  for (unsigned gen = 0; gen < 4; ++gen) {
    const auto out = tracker.on_timer(id, gen, /*session_alive=*/true);
    ASSERT_EQ(out.action, Action::kResend) << gen;
    EXPECT_EQ(out.transmission->wire, wire);
    EXPECT_EQ(out.transmission->retransmits, gen + 1);
    EXPECT_EQ(out.transmission->timeout, timeout * 2);
    timeout *= 2;
  }
  const auto out = tracker.on_timer(id, 4, true);
  ASSERT_EQ(out.action, Action::kGiveUp);
  EXPECT_EQ(out.kind, ConTracker::Kind::kNotification);
  EXPECT_EQ(out.ref, 55u);
  EXPECT_EQ(out.session, 7u);
  EXPECT_EQ(out.transmissions, 5u);  // the first transmission and 4 retransmissions
  EXPECT_EQ(tracker.size(), 0u);
  EXPECT_EQ(tracker.on_timer(id, 5, true).action, Action::kNothing);
}

TEST_F(ConTrackerTest, StaleTimerGenerationsDoNothing) {
  const uint64_t id = tracker.add(1, 9, ConTracker::Kind::kRequest, 3, wire, rng).id;
  ASSERT_EQ(tracker.on_timer(id, 0, true).action, Action::kResend);
  // The timer armed for the first transmission fires late, twice.
  EXPECT_EQ(tracker.on_timer(id, 0, true).action, Action::kNothing);
  EXPECT_EQ(tracker.find(id)->retransmits, 1u);
}

TEST_F(ConTrackerTest, AnsweredRemovesTheTransmissionItMatches) {
  tracker.add(1, 9, ConTracker::Kind::kRequest, 3, wire, rng);
  const uint64_t other = tracker.add(2, 9, ConTracker::Kind::kRequest, 4, wire, rng).id;
  EXPECT_FALSE(tracker.answered(1, 10));  // another MID
  auto t = tracker.answered(1, 9);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ref, 3u);
  EXPECT_FALSE(tracker.answered(1, 9));  // only once
  EXPECT_TRUE(tracker.find(other));      // same MID, other session: untouched
  EXPECT_EQ(tracker.on_timer(t->id, 0, true).action, Action::kNothing);
}

TEST_F(ConTrackerTest, AGoneSessionGivesUpAtOnce) {
  const uint64_t id = tracker.add(1, 1, ConTracker::Kind::kRequest, 8, wire, rng).id;
  const auto out = tracker.on_timer(id, 0, /*session_alive=*/false);
  EXPECT_EQ(out.action, Action::kGiveUp);
  EXPECT_EQ(out.transmissions, 1u);
  EXPECT_EQ(tracker.size(), 0u);
}

TEST_F(ConTrackerTest, RemoveForgetsBothIndexes) {
  const uint64_t id = tracker.add(1, 1, ConTracker::Kind::kRequest, 8, wire, rng).id;
  tracker.remove(id);
  EXPECT_FALSE(tracker.answered(1, 1));
  EXPECT_EQ(tracker.size(), 0u);
  tracker.remove(id);  // twice is harmless
}

}  // namespace
}  // namespace coap
