// ZSetValue: the members of a sorted set, ordered by (score, member bytes), as Redis orders them.
//
//   packed  at most zset-max-listpack-entries (128) members of at most zset-max-listpack-value
//           (64) bytes: one block of entries in order, each `score | varint(len) member`, where
//           the score is varint(zigzag(n) << 1) for an integral score n (|n| < 2^53: exact as a
//           double) and the byte 01 then the 8 bytes of the double otherwise. Scores of caches are
//           mostly timestamps, counters and ranks, and 3-byte integers beat 8-byte doubles.
//           Every operation is a scan of at most a few KB (Redis's listpack encoding).
//   skiplist  anything larger: an order-statistic skip list (each forward link carries its span,
//           the number of elements it skips, so rank <-> element is O(log n)) plus a Dict
//           (storage/dict.h) of one Entry per member, for O(1) ZSCORE and a resize-proof ZSCAN
//           cursor, as Redis's zskiplist + dict. A node and its member's Entry share one block
//           (64 bytes for most members of up to 16 bytes, where Redis spends three blocks).
//
// A sorted set only moves up (packed -> skiplist), as in Redis. A packed sorted set lives inside
// its Entry (entry.h, "Small values inline"); only skip lists are objects. Ranks are 0-based from the lowest
// score. Not thread-safe: the entry's shard lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace strata::storage {

struct ZSetLimits {
  int64_t max_packed_entries = 128;  // zset-max-listpack-entries
  int64_t max_packed_value = 64;     // zset-max-listpack-value
};

// A score bound: the value and whether it is excluded ("(1.5").
struct ScoreBound {
  double value;
  bool exclusive = false;
};
// A member bound for BYLEX: "-" / "+" are the open ends, "[x" inclusive, "(x" exclusive.
struct LexBound {
  enum class Kind { kMinusInfinity, kPlusInfinity, kInclusive, kExclusive } kind;
  std::string value;
};

class ZSetValue {
 public:
  ZSetValue();
  ZSetValue(const ZSetValue& other);
  ZSetValue(ZSetValue&& other) noexcept;
  ZSetValue& operator=(const ZSetValue&) = delete;
  ~ZSetValue();

  // Inline storage (entry.h). ImageSize: the bytes of this sorted set's image, 0 when it is a
  // skip list (kept as an object). WriteImage writes them. FromImage: an owning copy of an
  // image, to change. ViewOfImage: a read-only sorted set over an image's bytes, which must
  // outlive it unchanged. A packed sorted set's image is its block, header included.
  size_t ImageSize() const;
  void WriteImage(unsigned char* out) const;
  static ZSetValue FromImage(std::string_view image);
  static ZSetValue ViewOfImage(std::string_view image);

  size_t size() const;
  bool empty() const { return size() == 0; }
  std::string_view encoding() const { return list_ ? "skiplist" : "listpack"; }

  std::optional<double> Score(std::string_view member) const;
  // Adds or updates a member's score; true if the member is new.
  bool Set(std::string_view member, double score, const ZSetLimits& limits);
  // ZADD's read-decide-write with one lookup: `decide` gets the member's current score (nullopt
  // when absent) and returns the score to store, or nullopt to leave the set as it is.
  void Update(std::string_view member, const ZSetLimits& limits,
              absl::FunctionRef<std::optional<double>(std::optional<double>)> decide);
  bool Remove(std::string_view member);
  // The member's 0-based rank from the lowest score, or nullopt.
  std::optional<size_t> Rank(std::string_view member) const;

  // Calls fn(member, score) for the elements of ranks [first, last] (first <= last < size()),
  // lowest first, or highest first when `reverse` (ranks then count from the highest), until fn
  // returns false.
  void WalkRanks(size_t first, size_t last, bool reverse,
                 absl::FunctionRef<bool(std::string_view, double)> fn) const;
  // The rank of the first element >= min (score bound), and of the first > max: the half-open
  // range of ranks inside [min, max].
  size_t FirstRankAtOrAbove(const ScoreBound& min) const;
  size_t FirstRankAbove(const ScoreBound& max) const;
  size_t FirstRankAtOrAbove(const LexBound& min) const;
  size_t FirstRankAbove(const LexBound& max) const;

  // Removes the elements of ranks [first, last]; returns how many.
  size_t EraseRanks(size_t first, size_t last);

  // ZSCAN: fn for the elements the cursor visits next; returns the next cursor (0: done). Packed
  // sets come whole in one call (as Redis's listpacks); skip lists through the Dict's cursor.
  uint64_t Scan(uint64_t cursor, size_t count, absl::FunctionRef<void(std::string_view, double)> fn) const;

  size_t ApproximateBytes() const;

 private:
  struct SkipList;
  // Packed block: uint32 count | uint32 bytes | entries.
  uint32_t packed_count() const;
  uint32_t packed_bytes() const;
  void ConvertToSkipList();

  unsigned char* packed_ = nullptr;
  std::unique_ptr<SkipList> list_;
  bool borrowed_ = false;  // packed_ is an entry's image (ViewOfImage), not ours to free
};

}  // namespace strata::storage
