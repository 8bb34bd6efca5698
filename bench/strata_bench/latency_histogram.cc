#include "bench/strata_bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace strata_bench {

namespace {

// Points per decade of 1/(1-p) in PercentileDistribution(): 10 gives smooth curves on a
// log axis without bloating the JSON (about 60 points for a million samples).
constexpr int kPointsPerDecade = 10;
// Stop at 99.9999%: beyond that a loopback benchmark never has enough samples anyway.
constexpr int kMaxDecades = 6;

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(BucketCount(), 0) {}

size_t LatencyHistogram::BucketCount() {
  // Exact region plus kSubBucketHalf buckets per power of two from 2^8 up to 2^kMaxValueBits.
  return kExactBelowMicros + (kMaxValueBits - kSubBucketBits - 1) * kSubBucketHalf;
}

size_t LatencyHistogram::BucketIndex(uint64_t micros) {
  if (micros < kExactBelowMicros) return static_cast<size_t>(micros);
  const int highest_bit = 63 - std::countl_zero(micros);
  const int shift = highest_bit - kSubBucketBits;  // >= 1 here
  const uint64_t mantissa = micros >> shift;       // in [128, 255]
  return kExactBelowMicros + static_cast<size_t>(shift - 1) * kSubBucketHalf +
         static_cast<size_t>(mantissa - kSubBucketHalf);
}

uint64_t LatencyHistogram::BucketLowest(size_t index) {
  if (index < kExactBelowMicros) return index;
  const size_t above = index - kExactBelowMicros;
  const int shift = static_cast<int>(above / kSubBucketHalf) + 1;
  const uint64_t mantissa = kSubBucketHalf + above % kSubBucketHalf;
  return mantissa << shift;
}

uint64_t LatencyHistogram::BucketHighest(size_t index) {
  if (index < kExactBelowMicros) return index;
  const size_t above = index - kExactBelowMicros;
  const int shift = static_cast<int>(above / kSubBucketHalf) + 1;
  return BucketLowest(index) + (uint64_t{1} << shift) - 1;
}

void LatencyHistogram::Record(uint64_t micros) {
  micros = std::min(micros, kMaxTrackableMicros);
  ++buckets_[BucketIndex(micros)];
  ++count_;
  sum_ += micros;
  min_ = std::min(min_, micros);
  max_ = std::max(max_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::Reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  sum_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank of the value we want: at least one sample, at most all of them. The epsilon
  // keeps 99/100 * 100 (= 99.00000000000001 in binary) from rounding up to rank 100.
  uint64_t rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * count_ - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(BucketHighest(i), min(), max_);
  }
  return max_;
}

std::vector<PercentilePoint> LatencyHistogram::PercentileDistribution() const {
  std::vector<PercentilePoint> points;
  if (count_ == 0) return points;
  for (int step = 0; step <= kMaxDecades * kPointsPerDecade; ++step) {
    const double tail = std::pow(10.0, -static_cast<double>(step) / kPointsPerDecade);
    // Once fewer than one sample lies beyond p, further points would all equal the max.
    if (tail * static_cast<double>(count_) < 1.0) break;
    const double percentile = 100.0 * (1.0 - tail);
    points.push_back({percentile, ValueAtPercentile(percentile)});
  }
  points.push_back({100.0, max_});
  return points;
}

}  // namespace strata_bench
