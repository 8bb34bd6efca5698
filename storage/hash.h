// HashValue: the fields of a hash key, packed while small, a table when large (Redis's listpack
// and hashtable encodings).
//
//   packed  at most hash-max-listpack-entries (128) fields, none of whose fields or values is
//           longer than hash-max-listpack-value (64) bytes: one heap block holding
//             uint32 fields | uint32 bytes | varint(len) field varint(len) value ... (insertion order)
//           Lookups scan a few hundred bytes; HGETALL answers in insertion order, as Redis does.
//   table   anything larger: a Dict (storage/dict.h) of one string Entry per field (the field
//           as its key, the value as its value), so HSCAN gets Dict's resize-proof cursor.
//
// Why packed bytes and not a vector of std::string pairs: each std::string costs 32 bytes before
// its data; a hash loader's row of ten short columns is ~130 bytes packed against ~700 as strings,
// and hash loaders store every row this way, so this is the cache's capacity.
// Worked example: {"name": "Ann", "age": "7"} packs as 02 00 00 00 | 0f 00 00 00 | 04 n a m e 03
// A n n 03 a g e 01 7: 8 + 15 bytes.
//
// A hash only moves up (packed -> table), as in Redis. A packed hash lives inside its Entry
// (entry.h, "Small values inline"); only tables are objects.
// Not thread-safe: the entry's shard lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace strata::storage {

// The thresholds (Redis's directives), read by the server from its configuration.
struct HashLimits {
  int64_t max_packed_entries = 128;  // hash-max-listpack-entries
  int64_t max_packed_value = 64;     // hash-max-listpack-value
};

class HashValue {
 public:
  HashValue();
  HashValue(const HashValue& other);
  HashValue(HashValue&& other) noexcept;
  HashValue& operator=(const HashValue&) = delete;
  ~HashValue();

  // Inline storage (entry.h). ImageSize: the bytes of this hash's image, 0 when it is a table
  // (kept as an object). WriteImage writes them. FromImage: an owning copy of an image, to
  // change. ViewOfImage: a read-only hash over an image's bytes, which must outlive it unchanged.
  // A packed hash's image is its block, header included.
  size_t ImageSize() const;
  void WriteImage(unsigned char* out) const;
  static HashValue FromImage(std::string_view image);
  static HashValue ViewOfImage(std::string_view image);

  size_t size() const;
  bool empty() const { return size() == 0; }
  // The field's value, or nullopt; the view lives until the next change.
  std::optional<std::string_view> Find(std::string_view field) const;
  // Sets a field; returns true if it is new.
  bool Set(std::string_view field, std::string_view value, const HashLimits& limits = HashLimits());
  // Removes a field; returns true if it was there.
  bool Erase(std::string_view field);
  // Calls fn(field, value) for every field. Do not change the hash during the walk.
  void ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const;
  // HSCAN: fn for the fields the cursor visits next; returns the next cursor (0: done). A packed
  // hash is visited whole in one call, as Redis does for listpacks.
  uint64_t Scan(uint64_t cursor, size_t count, absl::FunctionRef<void(std::string_view, std::string_view)> fn) const;
  std::string_view encoding() const { return table_ ? "hashtable" : "listpack"; }
  // Heap bytes held (as the allocator sized them), in O(1).
  size_t ApproximateBytes() const;

 private:
  struct Table;
  // Packed block helpers.
  uint32_t packed_fields() const;
  uint32_t packed_bytes() const;
  bool FindPacked(std::string_view field, size_t* offset, size_t* length, std::string_view* value) const;
  void ConvertToTable();

  unsigned char* packed_ = nullptr;  // header + pairs; nullptr when empty or a table
  std::unique_ptr<Table> table_;
  bool borrowed_ = false;  // packed_ is an entry's image (ViewOfImage), not ours to free
};

}  // namespace strata::storage
