// LatencyHistogram: latencies of loads, source calls, spill reads and commands.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

namespace strata::loaders {

// Latencies (loads in microseconds, commands in nanoseconds: the owner picks the unit): a
// log-linear histogram (16 sub-buckets per power of two, so a percentile is within ~6% of the
// true value), cheap to record from any thread. Powers of two are bucket boundaries, so "how
// many took less than 2^k" is exact.
class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 4;
  static constexpr int kBuckets = 64 << kSubBucketBits;

  void Record(int64_t value);
  // Record for a histogram only one thread writes: a plain add, not a locked one.
  void RecordFromOwner(int64_t value) {
    std::atomic<uint64_t>& c = counts_[BucketOfClamped(value)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // The value at percentile p (0..100), or 0 when empty.
  int64_t Percentile(double p) const;
  uint64_t count() const;
  uint64_t bucket(int index) const { return counts_[index].load(std::memory_order_relaxed); }

  // Bucket arithmetic, for readers that merge or subtract histograms as count arrays.
  static int BucketOfClamped(int64_t value) {
    if (value < 0) value = 0;
    const int b = BucketOf(static_cast<uint64_t>(value));
    return b < kBuckets ? b : kBuckets - 1;
  }
  static uint64_t BucketUpperBound(int bucket);
  // Percentile p of a histogram given as kBuckets counts.
  static int64_t PercentileOf(const uint64_t* counts, double p);

 private:
  // Inline: the command path records every command.
  static int BucketOf(uint64_t value) {
    if (value < (1u << kSubBucketBits)) return static_cast<int>(value);
    const int magnitude = 63 - std::countl_zero(value);  // position of the top bit, >= kSubBucketBits
    const int shift = magnitude - kSubBucketBits;
    const int sub = static_cast<int>((value >> shift) & ((1u << kSubBucketBits) - 1));
    return ((shift + 1) << kSubBucketBits) + sub;
  }
  std::atomic<uint64_t> counts_[kBuckets] = {};
};

}  // namespace strata::loaders
