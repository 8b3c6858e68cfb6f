#include "daemon/coapd/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace coapd {

std::size_t LatencyHistogram::bucket_of(uint64_t value) {
  if (value < kExact) return value;
  const unsigned msb = 63 - std::countl_zero(value);  // >= kSubBits + 1
  const unsigned shift = msb - kSubBits;              // >= 1
  const uint64_t top = value >> shift;                // in [64, 127]
  return kExact + (shift - 1) * (1u << kSubBits) + (top - (1u << kSubBits));
}

uint64_t LatencyHistogram::bucket_low(std::size_t bucket) {
  if (bucket < kExact) return bucket;
  const std::size_t rel = bucket - kExact;
  const unsigned shift = static_cast<unsigned>(rel >> kSubBits) + 1;
  const uint64_t top = (1u << kSubBits) + (rel & ((1u << kSubBits) - 1));
  return top << shift;
}

uint64_t LatencyHistogram::bucket_width(std::size_t bucket) {
  if (bucket < kExact) return 1;
  return uint64_t{1} << (((bucket - kExact) >> kSubBits) + 1);
}

void LatencyHistogram::record(uint64_t value) {
  ++counts_[bucket_of(value)];
  ++count_;
  sum_ += value;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void LatencyHistogram::clear() { *this = LatencyHistogram(); }

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t mid = bucket_low(i) + bucket_width(i) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

uint64_t LatencyHistogram::count_at_most(uint64_t bound) const {
  uint64_t n = 0;
  for (std::size_t b = 0; b < kBuckets && bucket_low(b) + bucket_width(b) - 1 <= bound; ++b)
    n += counts_[b];
  return n;
}

}  // namespace coapd
