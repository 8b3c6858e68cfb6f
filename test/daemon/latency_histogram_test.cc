#include "daemon/coapd/latency_histogram.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace coapd {
namespace {

TEST(LatencyHistogramTest, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantile(0.5), 0u);
  EXPECT_EQ(h.min(), 0u);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.quantile(0.5), 50u);
  EXPECT_EQ(h.quantile(0.99), 99u);
  EXPECT_EQ(h.quantile(1.0), 100u);
  EXPECT_EQ(h.quantile(0.0), 1u);
}

TEST(LatencyHistogramTest, BucketsTileTheRangeWithoutGaps) {
  for (std::size_t b = 0; b + 1 < LatencyHistogram::bucket_of(UINT64_MAX); ++b) {
    ASSERT_EQ(LatencyHistogram::bucket_low(b) + LatencyHistogram::bucket_width(b),
              LatencyHistogram::bucket_low(b + 1))
        << b;
    ASSERT_EQ(LatencyHistogram::bucket_of(LatencyHistogram::bucket_low(b)), b);
  }
}

TEST(LatencyHistogramTest, LargeValuesWithinRelativeError) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(11.0, 1.0);  // ~60 us in ns, long tail
  std::vector<uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = static_cast<uint64_t>(dist(rng)) + 1;
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact =
        static_cast<double>(values[static_cast<std::size_t>(q * values.size()) - 1]);
    EXPECT_NEAR(static_cast<double>(h.quantile(q)), exact, exact * 0.02) << q;
  }
  EXPECT_EQ(h.max(), values.back());
}

TEST(LatencyHistogramTest, MergeAddsCounts) {
  LatencyHistogram a;
  LatencyHistogram b;
  a.record(10);
  b.record(1000);
  b.record(1000);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), 1000u);
  EXPECT_NEAR(static_cast<double>(a.quantile(0.5)), 1000.0, 16.0);
}

TEST(LatencyHistogram, CountAtMostIsCumulativeOverWholeBuckets) {
  LatencyHistogram h;
  for (uint64_t v : {5, 10, 10, 11, 100, 5000}) h.record(v);
  EXPECT_EQ(h.count_at_most(4), 0u);
  EXPECT_EQ(h.count_at_most(10), 3u);  // exact below 128
  EXPECT_EQ(h.count_at_most(100), 5u);
  EXPECT_EQ(h.count_at_most(4999), 5u);
  EXPECT_EQ(h.count_at_most(1u << 20), 6u);
  EXPECT_EQ(h.sum(), 5136u);
}

}  // namespace
}  // namespace coapd
