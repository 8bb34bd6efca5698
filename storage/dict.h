// Dict: an intrusive chained hash table of Entry*, keyed by Entry::key().
//
// Why our own table rather than absl::flat_hash_map: SCAN must return every key that is present
// for the whole iteration even if the table grows or shrinks between calls, and eviction needs
// cheap random sampling. Both follow from Redis's design, which this repeats: a power-of-two
// bucket array, chains threaded through the entries themselves (Entry::next, so no node
// allocations), and a cursor that walks bucket indexes in reverse-bit order. Growing doubles the
// table, which splits bucket b into b and b|size; in reverse-bit order those two are visited
// after every bucket already visited, so no key is missed (Redis's dict.c has the full essay).
//
// The table is rehashed in one step when it grows (load factor > 1) or shrinks (< 1/8). The
// Keyspace shards keys over many Dicts, so a single table stays small and a rehash is short.
// Not thread-safe: the owning shard's lock guards it. The Dict does not own entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/entry.h"

namespace strata::storage {

uint64_t HashKey(std::string_view key);
// v with its 64 bits in reverse order (the SCAN cursor's order).
uint64_t ReverseBits(uint64_t v);

class Dict {
 public:
  Dict() = default;
  ~Dict();
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  Dict(Dict&& other) noexcept;
  Dict& operator=(Dict&& other) noexcept;

  size_t size() const { return size_; }
  size_t bucket_count() const { return bucket_count_; }
  // Bytes of the bucket array (entries are accounted by their owner).
  size_t overhead_bytes() const { return bucket_count_ * sizeof(Entry*); }

  Entry* Find(std::string_view key, uint64_t hash) const;
  // Adds an entry whose key is not present.
  void Insert(Entry* entry, uint64_t hash);
  // Unlinks and returns the entry with this key, or nullptr.
  Entry* Remove(std::string_view key, uint64_t hash);
  // Puts `replacement` (same key) where `current` is.
  void Replace(Entry* current, Entry* replacement, uint64_t hash);

  // Calls fn(entry) for each entry of the buckets the cursor visits next, and returns the next
  // cursor (0 when the walk is complete). Visits at least one bucket, fewer than max_buckets.
  template <typename Fn>
  uint64_t Scan(uint64_t cursor, size_t max_buckets, Fn&& fn) const;

  // Calls fn(entry) for each entry of the bucket `cursor` names (cursor & (bucket_count - 1)).
  template <typename Fn>
  void ForEachInBucket(uint64_t cursor, Fn&& fn) const {
    if (bucket_count_ == 0) return;
    for (Entry* e = buckets_[cursor & (bucket_count_ - 1)]; e != nullptr; e = e->next()) fn(e);
  }
  // The cursor after `cursor` in a walk of a table of mask + 1 buckets (0: the walk is done).
  static uint64_t NextCursor(uint64_t cursor, uint64_t mask);

  // A random entry (roughly uniform), or nullptr if empty. `random` is any 64-bit random value.
  Entry* RandomEntry(uint64_t random) const;

  // Detaches every entry; calls fn(entry) on each so the owner can free it.
  template <typename Fn>
  void Clear(Fn&& fn);

  // Shrinks the bucket array if it is mostly empty (deletes do not resize by themselves,
  // so a burst of deletes during a SCAN does not move keys twice).
  void MaybeShrink();

 private:
  void Resize(size_t new_bucket_count);

  Entry** buckets_ = nullptr;
  size_t bucket_count_ = 0;  // 0 or a power of two
  size_t size_ = 0;
};

template <typename Fn>
uint64_t Dict::Scan(uint64_t cursor, size_t max_buckets, Fn&& fn) const {
  if (bucket_count_ == 0) return 0;
  const uint64_t mask = bucket_count_ - 1;
  size_t visited = 0;
  do {
    for (Entry* e = buckets_[cursor & mask]; e != nullptr; e = e->next()) fn(e);
    cursor = NextCursor(cursor, mask);
  } while (cursor != 0 && ++visited < max_buckets);
  return cursor;
}

template <typename Fn>
void Dict::Clear(Fn&& fn) {
  for (size_t i = 0; i < bucket_count_; ++i) {
    Entry* e = buckets_[i];
    while (e != nullptr) {
      Entry* next = e->next();
      fn(e);
      e = next;
    }
  }
  Resize(0);
  size_ = 0;
}

}  // namespace strata::storage
