// Entry: one key and its value in a single heap allocation.
//
// Why one allocation: a cache holds millions of small keys, and every separate object costs an
// allocator header, a size-class round-up and a cache miss. Redis spends a dictEntry, an sds key
// and a robj per key; an Entry holds all three in one block:
//
//   offset 0   Entry* next        the hash-table chain (Dict is intrusive)
//          8   uint32 access      LRU clock of the last access (seconds, wraps; see Keyspace)
//         12   uint8  type        ValueType
//         13   uint8  flags       kHasExpiry | kRawEncoding
//         14   [int64 expire_at_ms, uint32 volatile_slot]   only with kHasExpiry
//              varint key length, key bytes
//              payload: string -> varint length, bytes;  other types -> an owning pointer
//
// Worked example: key "key:000000000042" (16 bytes) with a 32-byte string and no TTL is
// 14 + 1 + 16 + 1 + 32 = 64 bytes: one 64-byte size class, against about 112 bytes in Redis.
//
// An Entry's size is fixed at creation: changing a value's length or adding a TTL makes a new
// Entry (Keyspace swaps it into the table). Entries are owned by the Keyspace; they are only
// touched with their shard's lock held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata::storage {

enum class ValueType : uint8_t { kString = 0, kList = 1, kSet = 2, kZSet = 3, kHash = 4 };

// Redis's name for a type, as TYPE reports it ("string", "hash", ...).
std::string_view TypeName(ValueType type);

class Entry {
 public:
  static constexpr uint8_t kHasExpiry = 1;
  // Set by APPEND/SETRANGE: Redis reports such strings as "raw" whatever their content.
  static constexpr uint8_t kRawEncoding = 2;
  // Set by INCRBYFLOAT: Redis stores its result as a plain string even if it looks integral.
  static constexpr uint8_t kNoIntEncoding = 4;
  static constexpr int64_t kNoExpiry = -1;

  // Makes a string entry. expire_at_ms is a Unix time in ms, or kNoExpiry.
  static Entry* NewString(std::string_view key, std::string_view value, int64_t expire_at_ms,
                          uint8_t extra_flags = 0);
  // Frees the entry and any value it owns.
  static void Free(Entry* entry);
  // The same key and value with a different expiry (a new allocation; `from` is left intact).
  static Entry* WithExpiry(const Entry* from, int64_t expire_at_ms);

  Entry* next() const { return next_; }
  void set_next(Entry* next) { next_ = next; }
  Entry** next_link() { return &next_; }

  ValueType type() const { return static_cast<ValueType>(type_); }
  uint8_t flags() const { return flags_; }
  bool has_expiry() const { return flags_ & kHasExpiry; }
  int64_t expire_at_ms() const;  // kNoExpiry when !has_expiry()
  // Only for entries that already have an expiry block.
  void set_expire_at_ms(int64_t when);
  uint32_t volatile_slot() const;
  void set_volatile_slot(uint32_t slot);

  uint32_t access_clock() const { return access_clock_; }
  void set_access_clock(uint32_t clock) { access_clock_ = clock; }

  std::string_view key() const;
  // Only for kString entries.
  std::string_view string_value() const;

  // Bytes the allocator actually reserved for this entry (and what it owns).
  size_t AllocatedSize() const;

 private:
  Entry() = default;
  const unsigned char* AfterHeader() const;
  const unsigned char* KeyLengthStart() const;

  Entry* next_;
  uint32_t access_clock_;
  uint8_t type_;
  uint8_t flags_;
  // Variable part follows (see the layout above).
};

}  // namespace strata::storage
