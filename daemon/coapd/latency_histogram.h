// A fixed-size log-linear latency histogram (in the spirit of HdrHistogram):
// values below 128 are exact, larger values fall into buckets of 1/64 of
// their power of two, so a reported percentile is within ~1.6% of the true
// value. Recording is O(1) and never allocates after construction.
#pragma once

#include <array>
#include <cstdint>

namespace coapd {

class LatencyHistogram {
 public:
  void record(uint64_t value);
  void clear();
  // Adds the counts of another histogram.
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  uint64_t sum() const { return sum_; }
  // How many recorded values are <= bound, counting whole buckets (exact
  // when bound + 1 starts a bucket, as every bound below 128 does).
  uint64_t count_at_most(uint64_t bound) const;
  // Value at quantile q in [0, 1] (the midpoint of the bucket holding the
  // ceil(q * count)-th smallest value, clamped to [min, max]); 0 when empty.
  uint64_t quantile(double q) const;

  // Bucket layout, exposed for the test.
  static std::size_t bucket_of(uint64_t value);
  static uint64_t bucket_low(std::size_t bucket);
  static uint64_t bucket_width(std::size_t bucket);

 private:
  static constexpr unsigned kSubBits = 6;             // 64 sub-buckets per power of two
  static constexpr uint64_t kExact = 2u << kSubBits;  // values below are their own bucket
  static constexpr std::size_t kBuckets = kExact + (63 - kSubBits) * (1u << kSubBits);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace coapd
