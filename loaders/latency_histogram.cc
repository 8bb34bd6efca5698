#include "loaders/latency_histogram.h"

#include <bit>
#include <cmath>

namespace strata::loaders {

uint64_t LatencyHistogram::BucketUpperBound(int bucket) {
  if (bucket < (1 << kSubBucketBits)) return static_cast<uint64_t>(bucket);
  const int shift = (bucket >> kSubBucketBits) - 1;
  const uint64_t sub = static_cast<uint64_t>(bucket & ((1 << kSubBucketBits) - 1));
  return (((uint64_t{1} << kSubBucketBits) | sub) << shift) + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(int64_t value) {
  counts_[BucketOfClamped(value)].fetch_add(1, std::memory_order_relaxed);
}

uint64_t LatencyHistogram::count() const {
  uint64_t total = 0;
  for (const auto& c : counts_) total += c.load(std::memory_order_relaxed);
  return total;
}

int64_t LatencyHistogram::Percentile(double p) const {
  uint64_t counts[kBuckets];
  for (int b = 0; b < kBuckets; ++b) counts[b] = bucket(b);
  return PercentileOf(counts, p);
}

int64_t LatencyHistogram::PercentileOf(const uint64_t* counts, double p) {
  uint64_t total = 0;
  for (int b = 0; b < kBuckets; ++b) total += counts[b];
  if (total == 0) return 0;
  const uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total)));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts[b];
    if (seen >= rank && seen > 0) return static_cast<int64_t>(BucketUpperBound(b));
  }
  return static_cast<int64_t>(BucketUpperBound(kBuckets - 1));
}

}  // namespace strata::loaders
