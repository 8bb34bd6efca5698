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

// The dict's hash picks buckets and shards with its low and high bits; re-mix it so the sketch's
// block and counter choices are independent of both.
uint64_t Rehash(uint64_t hash) {
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

// The key's four counters: row i is word 2i or 2i+1 of the block, and one of its sixteen
// counters, chosen by byte i of the mixed hash.
struct Counters {
  int word[4];
  int shift[4];
};

Counters CountersOf(uint64_t mixed) {
  Counters c;
  for (int row = 0; row < 4; ++row) {
    const auto byte = static_cast<uint32_t>(mixed >> (8 * row));
    c.word[row] = 2 * row + static_cast<int>(byte & 1);
    c.shift[row] = static_cast<int>((byte >> 1) & 15) * 4;
  }
  return c;
}

int Least(const uint64_t* words, const Counters& c) {
  int least = 15;
  for (int row = 0; row < 4; ++row) {
    least = std::min(least, static_cast<int>((words[c.word[row]] >> c.shift[row]) & kCounterMask));
  }
  return least;
}

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
  uint64_t* words = table_[(mixed >> 32) & (blocks_ - 1)].words;
  const Counters c = CountersOf(mixed);
  int value[4];
  for (int row = 0; row < 4; ++row) value[row] = static_cast<int>((words[c.word[row]] >> c.shift[row]) & kCounterMask);
  const int least = std::min(std::min(value[0], value[1]), std::min(value[2], value[3]));
  if (least == kMaxFrequency) return least;
  // Conservative update: raise only the counters at the current minimum. The others already
  // overstate this key (collisions), and raising them would overstate their other keys more.
  for (int row = 0; row < 4; ++row) {
    if (value[row] == least) words[c.word[row]] += uint64_t{1} << c.shift[row];
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
  return Least(table_[(mixed >> 32) & (blocks_ - 1)].words, CountersOf(mixed));
}

void FrequencySketch::Halve() {
  for (uint64_t i = 0; i < blocks_; ++i) {
    for (uint64_t& word : table_[i].words) word = (word >> 1) & kThreeLowBitsOfEachCounter;
  }
  increments_ /= 2;
  ++epoch_;
}

}  // namespace strata::storage
