// FrequencySketch: how often each key was asked for recently, in 2-4 bytes per resident key, for
// the allkeys-tinylfu eviction policy (storage/eviction.cc has the essay).
//
// A count-min sketch of 4-bit saturating counters (TinyLFU, Einziger, Friedman and Manes,
// ACM TOS 2017, as Caffeine builds it): a key's frequency is the least of its four counters,
// each in a different row, so a collision can only overstate it. All four counters of a key lie
// in one 64-byte block, so an increment or an estimate touches one cache line. After
// `10 x capacity` increments every counter is halved: frequency is recent frequency, and a key
// that was hot an hour ago does not stay in the cache on its old fame.
//
// It remembers keys that are not in the cache too: that is its point. A key evicted and asked
// for again comes back with its real frequency, where Redis's LFU counter starts over at 5.
//
// Not thread-safe: the owning shard's lock guards it.
#pragma once

#include <cstdint>
#include <memory>

namespace strata::storage {

class FrequencySketch {
 public:
  // The counters Estimate can return at most.
  static constexpr int kMaxFrequency = 15;
  // Reads of a key whose estimate has reached this are not counted (storage/keyspace.h).
  static constexpr int kCountedFrequency = 8;

  // Sizes the sketch for about `keys` distinct keys (at least 256, rounded up to a power of
  // two); growing it starts the counters over (a new epoch).
  void EnsureCapacity(uint64_t keys);
  uint64_t capacity() const { return capacity_; }
  // Bytes of counters (for MEMORY STATS).
  uint64_t bytes() const { return blocks_ * sizeof(Block); }

  // One more request for the key with this hash (any 64-bit hash of the key); returns its
  // estimate after it, as Estimate would.
  int Increment(uint64_t hash);
  // The key's recent frequency, 0..kMaxFrequency.
  int Estimate(uint64_t hash) const;
  // Counts the halvings (and resets) so far: an estimate taken in an earlier epoch is worth
  // half as much per epoch since (mod 256).
  uint32_t epoch() const { return epoch_; }

 private:
  // Eight 64-bit words of sixteen 4-bit counters: one cache line.
  struct alignas(64) Block {
    uint64_t words[8];
  };
  void Halve();

  std::unique_ptr<Block[]> table_;
  uint64_t blocks_ = 0;  // a power of two
  uint64_t capacity_ = 0;
  uint64_t increments_ = 0;
  uint64_t halve_after_ = 0;
  uint32_t epoch_ = 0;
};

}  // namespace strata::storage
