// LatencyHistogram: an HdrHistogram-style log-linear histogram of latencies in microseconds.
//
// Contract: Record() is O(1) and never allocates; every recorded value up to
// kMaxTrackableMicros is kept with a relative error of at most kMaxRelativeError (values
// below kExactBelowMicros are exact), larger values are clamped to kMaxTrackableMicros.
// Two histograms merge by adding bucket counts, so per-thread histograms merged after a run
// answer exactly as one histogram fed every value would. Not thread-safe: one owner at a time.
#ifndef STRATA_BENCH_LATENCY_HISTOGRAM_H_
#define STRATA_BENCH_LATENCY_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace strata_bench {

// One point of a percentile distribution: "percentile % of requests took at most value µs".
struct PercentilePoint {
  double percentile = 0;  // 0..100
  uint64_t value_micros = 0;
};

class LatencyHistogram {
 public:
  // Bucket layout (the HdrHistogram scheme, with 2^7 sub-buckets per power of two):
  //   values 0..255 get one bucket each (exact);
  //   a value v >= 256 with highest set bit b lands in the bucket of width 2^(b-7) that
  //   contains it, so the bucket width is at most v / 128: relative error <= 1/128 (0.78%).
  // Worked example: 1000 µs has b = 9, width 2^2 = 4, bucket [1000, 1003];
  //   100000 µs has b = 16, width 512, bucket [99840, 100351].
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBucketHalf = uint64_t{1} << kSubBucketBits;  // 128
  static constexpr uint64_t kExactBelowMicros = 2 * kSubBucketHalf;          // 256
  static constexpr double kMaxRelativeError = 1.0 / kSubBucketHalf;
  // About 12.7 days; a reply later than that is clamped rather than dropped.
  static constexpr int kMaxValueBits = 40;
  static constexpr uint64_t kMaxTrackableMicros = (uint64_t{1} << kMaxValueBits) - 1;

  LatencyHistogram();

  void Record(uint64_t micros);
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

  // The smallest value v (as the highest value equivalent to its bucket, capped at the
  // exact max) such that at least `percentile` % of the recorded values are <= v.
  // ValueAtPercentile(100) is max(); an empty histogram answers 0.
  uint64_t ValueAtPercentile(double percentile) const;

  // The percentile distribution for plots: points at 0%, 90%, 99%, 99.9% ... with ten
  // points per decade of 1/(1-p), up to the last percentile the sample count resolves,
  // then 100% (the max). Empty histogram: empty vector.
  std::vector<PercentilePoint> PercentileDistribution() const;

  // Bucket arithmetic, public so tests can state the error bound directly.
  static size_t BucketIndex(uint64_t micros);
  static uint64_t BucketLowest(size_t index);
  static uint64_t BucketHighest(size_t index);
  static size_t BucketCount();

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_LATENCY_HISTOGRAM_H_
