#include "storage/frequency_sketch.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace strata::storage {

namespace {

constexpr uint64_t kMinKeys = 256;
// Keys per block: 128 counters, four per key, so 32 keys fill a block's counters once; fewer
// keys per block would cost memory, more would cost accuracy (bench/eviction_sim measures it).
constexpr uint64_t kKeysPerBlock = 32;
// Each counter's three low bits: what is left of a counter shifted right by one.
constexpr uint64_t kThreeLowBitsOfEachCounter = 0x7777777777777777ULL;
constexpr uint64_t kCounterMask = 0xF;

// The dict's hash picks buckets with its low bits and shards with its high ones; folding the
// halves together before one multiply makes the sketch's choices independent of both.
uint64_t Rehash(uint64_t hash) { return (hash ^ (hash >> 32)) * 0x9E3779B97F4A7C15ULL; }

// A key's counter in row `row` (0..3): word 2*row or 2*row+1 of its block and one of that
// word's sixteen counters, both chosen by byte `row` of the rehashed key.
struct Counter {
  uint64_t* word;
  int shift;
};

template <int kRow>
inline Counter CounterOf(uint64_t* block, uint64_t mixed) {
  const auto byte = static_cast<unsigned>(mixed >> (8 * kRow));
  return {block + 2 * kRow + (byte & 1), static_cast<int>((byte & 0x1E) << 1)};
}

// By value: std::min returns a reference, which made the compiler keep the counters in memory.
inline int Least(int a, int b) { return a < b ? a : b; }

inline int ValueAt(Counter c) { return static_cast<int>((*c.word >> c.shift) & kCounterMask); }

}  // namespace

void FrequencySketch::EnsureCapacity(uint64_t keys) {
  keys = std::max(keys, kMinKeys);
  if (keys <= capacity_) return;
  // A power of two: a growing shard re-sizes (and forgets) a logarithmic number of times.
  capacity_ = std::bit_ceil(keys);
  blocks_ = std::max<uint64_t>(1, capacity_ / kKeysPerBlock);
  table_ = std::make_unique<Block[]>(blocks_);
  std::memset(table_.get(), 0, blocks_ * sizeof(Block));
  increments_ = 0;
  halve_after_ = 10 * capacity_;
  ++epoch_;  // the counters start over: older estimates are worth less
}

// The four rows are written out (no loops, no arrays): this runs on every counted read, and
// unrolled it takes half the instructions the loop took.
int FrequencySketch::Increment(uint64_t hash) {
  if (blocks_ == 0) return 0;
  const uint64_t mixed = Rehash(hash);
  uint64_t* block = table_[(mixed >> 40) & (blocks_ - 1)].words;
  const Counter c0 = CounterOf<0>(block, mixed), c1 = CounterOf<1>(block, mixed);
  const Counter c2 = CounterOf<2>(block, mixed), c3 = CounterOf<3>(block, mixed);
  const int v0 = ValueAt(c0), v1 = ValueAt(c1), v2 = ValueAt(c2), v3 = ValueAt(c3);
  const int least = Least(Least(v0, v1), Least(v2, v3));
  if (least == kMaxFrequency) return least;
  // Conservative update: raise only the counters at the current minimum. The others already
  // overstate this key (collisions), and raising them would overstate their other keys more.
  *c0.word += uint64_t{v0 == least} << c0.shift;
  *c1.word += uint64_t{v1 == least} << c1.shift;
  *c2.word += uint64_t{v2 == least} << c2.shift;
  *c3.word += uint64_t{v3 == least} << c3.shift;
  if (++increments_ >= halve_after_) {
    Halve();
    return (least + 1) / 2;
  }
  return least + 1;
}

int FrequencySketch::Estimate(uint64_t hash) const {
  if (blocks_ == 0) return 0;
  const uint64_t mixed = Rehash(hash);
  uint64_t* block = table_[(mixed >> 40) & (blocks_ - 1)].words;
  return Least(Least(ValueAt(CounterOf<0>(block, mixed)), ValueAt(CounterOf<1>(block, mixed))),
               Least(ValueAt(CounterOf<2>(block, mixed)), ValueAt(CounterOf<3>(block, mixed))));
}

void FrequencySketch::Halve() {
  for (uint64_t i = 0; i < blocks_; ++i) {
    for (uint64_t& word : table_[i].words) word = (word >> 1) & kThreeLowBitsOfEachCounter;
  }
  increments_ /= 2;
  ++epoch_;
}

}  // namespace strata::storage
