// SetValue: the members of a set key, in one of three encodings, chosen as Redis chooses them.
//
//   intset  every member is a canonical integer (string2ll) and there are at most
//           set-max-intset-entries (512) of them: a sorted array of little-endian integers, each
//           2, 4 or 8 bytes wide (the narrowest width that holds every member; Redis's intset).
//           Membership is a binary search; SMEMBERS answers in ascending order, as Redis does.
//   packed  at most set-max-listpack-entries (128) members of at most set-max-listpack-value (64)
//           bytes: members back to back as varint(len) bytes, in insertion order (Redis 7.2's
//           listpack sets). Membership is a linear scan over a few hundred bytes.
//   table   anything larger: a Dict (storage/dict.h) of one small Entry per member (the member as
//           its key, no value), so SSCAN gets Dict's resize-proof cursor and SPOP/SRANDMEMBER a
//           random member in O(1), as Redis's dict gives them.
//
// A set only moves up (intset -> packed or table, packed -> table), as in Redis. OBJECT ENCODING
// reports what Redis 7.0 (the version strata answers as) reports: "intset" or "hashtable" (7.0
// has no listpack sets, so a packed set is named "hashtable" there).
//
// Worked example: {1, 2, 300} is an intset of width 2: 6 bytes of members. Adding 70000 widens
// every member to 4 bytes (16 bytes); adding "a" moves the set to packed: 01 31 01 32 03 33 30 30
// 05 37 30 30 30 30 01 61.
// Intsets and packed sets live inside their Entry (entry.h, "Small values inline"); only tables
// are objects. Not thread-safe: the entry's shard lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "storage/dict.h"

namespace strata::storage {

// The thresholds (Redis's directives), read by the server from its configuration.
struct SetLimits {
  int64_t max_intset_entries = 512;
  int64_t max_packed_entries = 128;
  int64_t max_packed_value = 64;
};

class SetValue {
 public:
  enum class Encoding : uint8_t { kIntset, kPacked, kTable };

  SetValue();
  SetValue(const SetValue& other);
  SetValue(SetValue&& other) noexcept;
  SetValue& operator=(const SetValue&) = delete;
  ~SetValue();

  // Inline storage (entry.h). ImageSize: the bytes of this set's image, 0 when it is a table
  // (kept as an object). WriteImage writes them. FromImage: an owning copy of an image, to
  // change. ViewOfImage: a read-only set over an image's bytes, which must outlive it unchanged.
  // An intset's or packed set's image is a byte (encoding | width << 4), varint(count), members.
  size_t ImageSize() const;
  void WriteImage(unsigned char* out) const;
  static SetValue FromImage(std::string_view image);
  static SetValue ViewOfImage(std::string_view image);

  size_t size() const;
  bool empty() const { return size() == 0; }
  Encoding encoding() const { return encoding_; }
  // Redis 7.0's OBJECT ENCODING name.
  std::string_view encoding_name() const { return encoding_ == Encoding::kIntset ? "intset" : "hashtable"; }

  bool Contains(std::string_view member) const;
  // Adds a member; true if it was not there.
  bool Add(std::string_view member, const SetLimits& limits);
  // Removes a member; true if it was there.
  bool Remove(std::string_view member);
  // A random member (the set must not be empty); `random` is any 64-bit random value. Uniform
  // for intsets and packed sets, Dict::RandomEntry's near-uniform pick for tables.
  std::string RandomMember(uint64_t random) const;
  // Calls fn(member) for every member (intset members are formatted in a scratch buffer: copy
  // what must outlive the call). Do not change the set during the walk.
  void ForEach(absl::FunctionRef<void(std::string_view)> fn) const;

  // SSCAN: calls fn for the members the cursor visits next and returns the next cursor (0: done).
  // Intsets and packed sets are visited whole in one call, as Redis does for its small encodings.
  uint64_t Scan(uint64_t cursor, size_t count, absl::FunctionRef<void(std::string_view)> fn) const;

  // Heap bytes held, in O(1).
  size_t ApproximateBytes() const;

 private:
  // intset
  int64_t IntAt(size_t index) const;
  bool FindInt(int64_t value, size_t* position) const;
  void InsertInt(int64_t value, size_t position);
  void RemoveAt(size_t position);
  // packed
  bool FindPacked(std::string_view member, size_t* offset, size_t* length) const;
  void ConvertToPacked();
  void ConvertToTable();
  void Resize(size_t bytes);

  struct Table;

  // 32 bytes in all (one allocator size class): every small set pays for this handle.
  unsigned char* data_ = nullptr;
  std::unique_ptr<Table> table_;
  uint32_t count_ = 0;     // intset and packed: members
  uint32_t bytes_ = 0;     // intset and packed: bytes used in data_
  Encoding encoding_ = Encoding::kIntset;
  uint8_t width_ = 2;      // intset: bytes per member
  bool borrowed_ = false;  // data_ is an entry's image (ViewOfImage), not ours to free
};

}  // namespace strata::storage
