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
  int word;
  int shift;
};

inline Counter CounterOf(uint64_t mixed, int row) {
  const auto byte = static_cast<int>((mixed >> (8 * row)) & 0xFF);
  return {2 * row + (byte & 1), (byte & 0x1E) << 1};
}

inline int ValueAt(const uint64_t* words, Counter c) { return static_cast<int>((words[c.word] >> c.shift) & kCounterMask); }

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

int FrequencySketch::Increment(uint64_t hash) {
  if (blocks_ == 0) return 0;
  const uint64_t mixed = Rehash(hash);
  uint64_t* words = table_[(mixed >> 40) & (blocks_ - 1)].words;
  Counter counters[4];
  int values[4];
  for (int row = 0; row < 4; ++row) {
    counters[row] = CounterOf(mixed, row);
    values[row] = ValueAt(words, counters[row]);
  }
  const int least = std::min(std::min(values[0], values[1]), std::min(values[2], values[3]));
  if (least == kMaxFrequency) return least;
  // Conservative update: raise only the counters at the current minimum. The others already
  // overstate this key (collisions), and raising them would overstate their other keys more.
  for (int row = 0; row < 4; ++row) {
    if (values[row] == least) words[counters[row].word] += uint64_t{1} << counters[row].shift;
  }
  if (++increments_ >= halve_after_) {
    Halve();
    return (least + 1) / 2;
  }
  return least + 1;
}

int FrequencySketch::Estimate(uint64_t hash) const {
  if (blocks_ == 0) return 0;
  const uint64_t mixed = Rehash(hash);
  const uint64_t* words = table_[(mixed >> 40) & (blocks_ - 1)].words;
  int least = kMaxFrequency;
  for (int row = 0; row < 4; ++row) least = std::min(least, ValueAt(words, CounterOf(mixed, row)));
  return least;
}

void FrequencySketch::Halve() {
  for (uint64_t i = 0; i < blocks_; ++i) {
    for (uint64_t& word : table_[i].words) word = (word >> 1) & kThreeLowBitsOfEachCounter;
  }
  increments_ /= 2;
  ++epoch_;
}

}  // namespace strata::storage
