#include "daemon/coapd/placement.h"

#include <gtest/gtest.h>

namespace coapd {
namespace {

// Feeds the policy intervals of 250 ms with the given datagram and item
// counts, handled by the engine `per_pass` items a pass (8 unless given);
// returns the placement after each.
class PolicyDriver {
 public:
  explicit PolicyDriver(CpuPlacement mode) : policy_(mode) {}
  bool interval(uint64_t datagrams, uint64_t items, double per_pass = 8) {
    datagrams_ += datagrams;
    items_ += items;
    passes_ += static_cast<uint64_t>(static_cast<double>(items) / per_pass);
    return policy_.update(0.25, datagrams_, items_, passes_);
  }

 private:
  PlacementPolicy policy_;
  uint64_t datagrams_ = 0, items_ = 0, passes_ = 0;
};

TEST(PlacementPolicy, BusyUdpSharesAfterTwoIntervalsAndSpreadsWhenItStops) {
  PolicyDriver p(CpuPlacement::kAuto);
  EXPECT_FALSE(p.interval(0, 0));
  EXPECT_FALSE(p.interval(50000, 50000));  // 200k datagrams/s: one vote
  EXPECT_TRUE(p.interval(50000, 50000));   // two in a row
  EXPECT_TRUE(p.interval(50000, 50100));
  EXPECT_TRUE(p.interval(100, 100));  // quiet: one vote to spread
  EXPECT_FALSE(p.interval(100, 100));
}

TEST(PlacementPolicy, TcpOrMixedTrafficStaysSpread) {
  PolicyDriver p(CpuPlacement::kAuto);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(p.interval(0, 40000));      // TCP segments
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(p.interval(30000, 40000));  // 75% datagrams
}

TEST(PlacementPolicy, TrafficNearTheThresholdDoesNotFlipFlop) {
  PolicyDriver p(CpuPlacement::kAuto);
  p.interval(6000, 6000);  // 24k/s
  ASSERT_TRUE(p.interval(6000, 6000));
  // 16k/s and 85% datagrams: not enough to start sharing, enough to keep it.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(p.interval(4000, 4700));
  EXPECT_TRUE(p.interval(2000, 2000));  // 8k/s: one vote
  EXPECT_FALSE(p.interval(2000, 2000));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(p.interval(4000, 4700));
}

TEST(PlacementPolicy, SlowUdpStaysSpread) {
  PolicyDriver p(CpuPlacement::kAuto);
  // 19,600 datagrams per second: under the threshold.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(p.interval(4900, 4900));
}

TEST(PlacementPolicy, BusyUdpOneDatagramAPassStaysSpread) {
  // One request in flight: 40k datagrams/s, but each pass handles one (or
  // two and a half): the threads answer faster on two cores.
  PolicyDriver p(CpuPlacement::kAuto);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(p.interval(10000, 10000, 1));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(p.interval(10000, 10000, 2.5));
  EXPECT_FALSE(p.interval(10000, 10000, 3));  // trains of three: one vote
  EXPECT_TRUE(p.interval(10000, 10000, 3));
}

TEST(PlacementPolicy, SharingEndsWhenTheTrainsShorten) {
  PolicyDriver p(CpuPlacement::kAuto);
  p.interval(50000, 50000, 16);
  ASSERT_TRUE(p.interval(50000, 50000, 16));
  // Two and a half a pass: too short to start sharing, long enough to keep it.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(p.interval(50000, 50000, 2.5));
  EXPECT_TRUE(p.interval(50000, 50000, 1.5));  // one vote
  EXPECT_FALSE(p.interval(50000, 50000, 1.5));
}

TEST(PlacementPolicy, OneOddIntervalDoesNotFlip) {
  PolicyDriver p(CpuPlacement::kAuto);
  p.interval(50000, 50000);
  ASSERT_TRUE(p.interval(50000, 50000));
  EXPECT_TRUE(p.interval(0, 40000));      // a TCP burst: one vote
  EXPECT_TRUE(p.interval(50000, 50000));  // the vote is reset
  EXPECT_TRUE(p.interval(0, 40000));
  EXPECT_TRUE(p.interval(50000, 50000));
}

TEST(PlacementPolicy, FixedModesNeverChange) {
  PolicyDriver shared(CpuPlacement::kShared), spread(CpuPlacement::kSpread);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(shared.interval(0, 40000));
    EXPECT_FALSE(spread.interval(50000, 50000));
  }
}

TEST(PlacementPolicy, ParsesItsModes) {
  EXPECT_EQ(parse_cpu_placement("auto"), CpuPlacement::kAuto);
  EXPECT_EQ(parse_cpu_placement("spread"), CpuPlacement::kSpread);
  EXPECT_EQ(parse_cpu_placement("shared"), CpuPlacement::kShared);
  EXPECT_EQ(parse_cpu_placement("pinned"), std::nullopt);
}

}  // namespace
}  // namespace coapd
