// Entry: one key and its value in a single heap allocation.
//
// Why one allocation: a cache holds millions of small keys, and every separate object costs an
// allocator header, a size-class round-up and a cache miss. Redis spends a dictEntry, an sds key
// and a robj per key; an Entry holds all three in one block:
//
//   offset 0   Entry* next        the hash-table chain (Dict is intrusive)
//          8   uint32 access      LRU clock of the last access (seconds, wraps; see Keyspace)
//         12   uint8  type        ValueType (low 3 bits) | key family tag (high 5 bits, below)
//         13   uint8  flags       kHasExpiry | kRawEncoding | kNoIntEncoding | kHasFreshUntil
//         14   [int64 expire_at_ms, uint32 volatile_slot]   only with kHasExpiry
//              [int64 fresh_until_ms]                       only with kHasFreshUntil
//              varint key length, key bytes
//              payload: string -> varint length, bytes;  other types -> an owning pointer
//
// Worked example: key "key:000000000042" (16 bytes) with a 32-byte string and no TTL is
// 14 + 1 + 16 + 1 + 32 = 64 bytes: one 64-byte size class, against about 112 bytes in Redis.
//
// fresh_until is set on values a loader produced: until then the value is fresh; between then
// and expire_at it is stale (served while a refresh runs, DESIGN.md section 6); at expire_at it
// is gone. User commands that set a TTL make the key an ordinary one again.
//
// Small values inline: a hash, list, set or sorted set in its small (packed) encoding is kept in
// the entry itself as its image (the bytes the value class writes with WriteImage), not as an
// object behind a pointer. A cache holds mostly small collections, and the object handle plus its
// separate block cost 50-80 bytes a key, a third of a 10-field hash. Only the large encodings
// (tables, skip lists, lists of many chunks) are objects. storage/typed_values.h reads and
// changes either form; nothing else needs to know which one a key has.
//
// An Entry's size is fixed at creation: changing a string's length or the TTL layout makes a
// new Entry (Keyspace swaps it into the table); an object payload moves to the new Entry.
// Entries are owned by the Keyspace and touched only under their shard's lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata::storage {

enum class ValueType : uint8_t { kString = 0, kList = 1, kSet = 2, kZSet = 3, kHash = 4 };

// Redis's name for a type, as TYPE reports it ("string", "hash", ...).
std::string_view TypeName(ValueType type);

class HashValue;
class ListValue;
class SetValue;
class ZSetValue;

// The optional parts of an entry besides its key and value.
struct EntryMeta {
  static constexpr int64_t kNever = -1;
  int64_t expire_at_ms = kNever;   // Unix time in ms when the key is dropped
  int64_t fresh_until_ms = kNever;  // loader values: Unix time in ms when the value turns stale
  uint8_t encoding_flags = 0;       // Entry::kRawEncoding / kNoIntEncoding
};

class Entry {
 public:
  static constexpr uint8_t kHasExpiry = 1;
  // Set by APPEND/SETRANGE: Redis reports such strings as "raw" whatever their content.
  static constexpr uint8_t kRawEncoding = 2;
  // Set by INCRBYFLOAT: Redis stores its result as a plain string even if it looks integral.
  static constexpr uint8_t kNoIntEncoding = 4;
  static constexpr uint8_t kHasFreshUntil = 8;
  // The payload is a small value's image (see "Small values inline" above), not an object pointer.
  static constexpr uint8_t kInlineValue = 16;
  // The spill tier still holds a record identical to this entry (it was read back and not changed
  // since): evicting it again needs no disk write, and changing or deleting it must delete that
  // record (DESIGN section 8; Transaction::NoteModified).
  static constexpr uint8_t kSpillCopy = 32;
  // A value's image is kept inline up to this size; a larger one stays in its own block, which
  // changes in place (realloc) instead of being copied into a new entry on every write.
  static constexpr size_t kMaxInlineImage = 1024;
  static constexpr int64_t kNoExpiry = EntryMeta::kNever;

  static Entry* NewString(std::string_view key, std::string_view value, const EntryMeta& meta);
  static Entry* NewString(std::string_view key, std::string_view value, int64_t expire_at_ms,
                          uint8_t encoding_flags = 0) {
    return NewString(key, value, EntryMeta{expire_at_ms, EntryMeta::kNever, encoding_flags});
  }
  // Makes an entry that takes ownership of `hash` (which must not be null): a small one is
  // written inline and freed, a large one is kept as the entry's object.
  static Entry* NewHash(std::string_view key, HashValue* hash, const EntryMeta& meta);
  // The same for a list, a set and a sorted set.
  static Entry* NewList(std::string_view key, ListValue* list, const EntryMeta& meta);
  static Entry* NewSet(std::string_view key, SetValue* set, const EntryMeta& meta);
  static Entry* NewZSet(std::string_view key, ZSetValue* zset, const EntryMeta& meta);
  // An entry of `type` whose payload is an inline image of `image_size` bytes, for the caller
  // to write at *image.
  static Entry* NewInline(std::string_view key, ValueType type, size_t image_size, const EntryMeta& meta,
                          unsigned char** image);
  // For structures that keep an entry in one block with data of their own (a skip list node and
  // its member): the bytes a string entry of `key` and a `value_size`-byte value takes, and its
  // construction at `memory` (8-byte aligned, that many bytes). The caller frees the block; such
  // an entry must never reach Free, Rebuild or AllocatedSize.
  static size_t PlacedStringSize(std::string_view key, size_t value_size);
  static Entry* PlaceString(void* memory, std::string_view key, std::string_view value);
  // Frees the entry and the value it owns.
  static void Free(Entry* entry);
  // A new entry for the same value under `key` with `meta` (TTL changes, RENAME). A string is
  // copied; an object payload moves, so the caller must then release `from` with FreeShell.
  static Entry* Rebuild(const Entry& from, std::string_view key, const EntryMeta& meta);
  // Frees the entry's own block but not an object it pointed to (after Rebuild).
  static void FreeShell(Entry* entry);
  // A deep copy under another key (COPY).
  static Entry* Clone(const Entry& from, std::string_view key);

  // Overwrites this string entry's value and meta in place when the new ones fit its layout
  // (same value length, same optional blocks); false (and nothing changed) otherwise. Saves an
  // allocation and a free on the common "SET the same-sized value again" path.
  bool TryOverwriteString(std::string_view value, const EntryMeta& meta);

  Entry* next() const { return next_; }
  void set_next(Entry* next) { next_ = next; }
  Entry** next_link() { return &next_; }

  ValueType type() const { return static_cast<ValueType>(type_ & kTypeMask); }
  // The key family of this entry's key, remembered so that a read which finds the key counts
  // its family's hit without classifying the key (Keyspace::FamilyOf; families never change
  // once the server serves). A new entry starts at kFamilyUnknown, so an entry made under
  // another key (RENAME, COPY) is classified again. Tags 2..31 name families 0..29; a key of a
  // later family keeps kFamilyUnknown and is classified on every read.
  static constexpr uint8_t kFamilyUnknown = 0;
  static constexpr uint8_t kFamilyNone = 1;
  static constexpr int kTaggedFamilies = 30;
  uint8_t family_tag() const { return type_ >> kTypeBits; }
  void set_family_tag(uint8_t tag) { type_ = static_cast<uint8_t>((type_ & kTypeMask) | (tag << kTypeBits)); }
  uint8_t flags() const { return flags_; }
  bool has_expiry() const { return flags_ & kHasExpiry; }
  int64_t expire_at_ms() const;     // kNoExpiry when !has_expiry()
  int64_t fresh_until_ms() const;   // kNoExpiry unless a loader stored the value
  EntryMeta meta() const;
  // Only for entries that already have an expiry block.
  void set_expire_at_ms(int64_t when);
  uint32_t volatile_slot() const;
  void set_volatile_slot(uint32_t slot);

  uint32_t access_clock() const { return access_clock_; }
  void set_access_clock(uint32_t clock) { access_clock_ = clock; }

  std::string_view key() const;
  // Only for kString entries.
  std::string_view string_value() const;
  // Only for kString entries: the value's bytes for an edit in place that keeps its length
  // (SETBIT, BITFIELD). Redis reports a string edited so as "raw", so this marks it raw.
  char* MutableStringBytesAsRaw();
  // For hashes, lists, sets and sorted sets (read them through storage/typed_values.h):
  // whether the value is inline, its image when it is, its object when it is not.
  bool value_inline() const { return flags_ & kInlineValue; }
  bool has_spill_copy() const { return flags_ & kSpillCopy; }
  void set_spill_copy(bool on) { flags_ = static_cast<uint8_t>(on ? flags_ | kSpillCopy : flags_ & ~kSpillCopy); }
  std::string_view value_image() const { return string_value(); }
  unsigned char* mutable_value_image() { return reinterpret_cast<unsigned char*>(const_cast<char*>(string_value().data())); }
  void* value_object() const { return object(); }

  // Bytes the allocator reserved for this entry and what it owns.
  size_t AllocatedSize() const;

 private:
  Entry() = default;
  // A large hash, list, set or sorted set: an owning pointer to its value object as the payload.
  static Entry* NewObject(std::string_view key, ValueType type, void* object, const EntryMeta& meta);
  void* object() const;
  static Entry* Allocate(std::string_view key, ValueType type, const EntryMeta& meta, size_t payload_size,
                         unsigned char** payload);
  static size_t SizeFor(std::string_view key, const EntryMeta& meta, size_t payload_size);
  // Writes the header, meta blocks and key at `memory`; *payload is where the payload goes.
  static Entry* Construct(void* memory, std::string_view key, ValueType type, const EntryMeta& meta,
                          unsigned char** payload);
  template <typename Value>
  static Entry* NewValue(std::string_view key, ValueType type, Value* value, const EntryMeta& meta);
  void DeleteObject();
  const unsigned char* AfterHeader() const;
  const unsigned char* KeyLengthStart() const;
  const unsigned char* PayloadStart() const;

  Entry* next_;
  static constexpr int kTypeBits = 3;
  static constexpr uint8_t kTypeMask = (1 << kTypeBits) - 1;

  uint32_t access_clock_;
  uint8_t type_;  // ValueType | family tag << kTypeBits
  uint8_t flags_;
  // Variable part follows (see the layout above).
};

}  // namespace strata::storage
