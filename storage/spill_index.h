// SpillIndex: the keys of one Table (one database's part of one shard) that live in the spill
// tier (DESIGN section 8), kept in memory so that "is it there?", DBSIZE, SCAN, KEYS, RANDOMKEY,
// TYPE-filtered SCAN, expiry and pattern invalidations never touch the disk. Only a value needs
// the disk.
//
// Entries are ordered by the key's hash with its bits reversed: the order in which Dict::Scan's
// cursor visits buckets. A bucket of a table of 2^k buckets is then one contiguous range of this
// order, so one SCAN cursor walks both tiers at once, and a key that moves between tiers during a
// SCAN is still returned (its place in the walk does not depend on its tier).
//
// Memory: about 90 bytes per key plus the key's bytes beyond 15 (kept whole, for SCAN and KEYS).
// Not thread-safe: the owning shard's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "storage/entry.h"

namespace strata::storage {

struct SpilledKey {
  std::string key;
  uint64_t generation = 0;               // Keyspace's spill sequence when it was written
  int64_t expire_at_ms = Entry::kNoExpiry;
  uint32_t record_bytes = 0;             // size of its record (spill-max-size counts these)
  ValueType type = ValueType::kString;
};

class SpillIndex {
 public:
  SpillIndex();
  ~SpillIndex();
  SpillIndex(SpillIndex&& other) noexcept;
  SpillIndex& operator=(SpillIndex&& other) noexcept;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Sum of the indexed records' sizes.
  uint64_t record_bytes() const { return record_bytes_; }

  // The key's entry (`hash` is HashKey(key)), or nullptr.
  const SpilledKey* Find(uint64_t hash, std::string_view key) const;
  // Adds the key, replacing its entry if it has one.
  void Put(uint64_t hash, SpilledKey entry);
  // Removes the key's entry; false if it had none.
  bool Erase(uint64_t hash, std::string_view key);
  void Clear();

  // Calls fn(hash, entry) for each key whose hash h satisfies (h & mask) == (bucket & mask): the
  // keys of bucket `bucket` of a 2^k-bucket Dict whose mask is `mask` (mask + 1 a power of two).
  void ForEachInBucket(uint64_t bucket, uint64_t mask, absl::FunctionRef<void(uint64_t, const SpilledKey&)> fn) const;
  void ForEach(absl::FunctionRef<void(uint64_t, const SpilledKey&)> fn) const;
  // A roughly uniform entry (`random` is any 64-bit random value), or nullptr when empty.
  const SpilledKey* Random(uint64_t random, uint64_t* hash) const;

 private:
  struct Tree;
  std::unique_ptr<Tree> tree_;  // absent until the first key: most tables never spill
  size_t size_ = 0;
  uint64_t record_bytes_ = 0;
};

}  // namespace strata::storage
