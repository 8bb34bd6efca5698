// The spill tier's record of one key (DESIGN section 8): its type, value, expiry and loader
// freshness as bytes for RocksDB, and back. The key itself is the RocksDB key (storage/spill.h),
// not part of the record.
//
// Format, version 1 (fixed-width fields little-endian, varints as storage/varint.h):
//   byte     format version (1): a reader refuses versions it does not know
//   byte     ValueType
//   byte     Entry's encoding flags that outlive a reload (kRawEncoding, kNoIntEncoding)
//   byte     which optional fields follow: 1 expire_at, 2 fresh_until
//   [int64]  expire_at_ms, Unix ms                                   (with bit 1)
//   [int64]  fresh_until_ms, Unix ms                                 (with bit 2)
//   payload by type:
//     string  varint length, the value's bytes
//     hash    varint n, then n x (varint length, field, varint length, value)
//     list    varint n, then n x (varint length, element), head first
//     set     varint n, then n x (varint length, member)
//     zset    varint n, then n x (varint length, member, 8-byte IEEE 754 score), lowest first
// Values are written element by element, not as their in-memory images: a record must read back
// the same whatever the encoding limits (hash-max-listpack-entries...) are after a restart.
//
// A record that does not parse exactly to its end is an error, never a value: a torn or foreign
// record is refused (and the caller treats the key as absent), not half-loaded. (RocksDB's own
// checksums catch torn writes first; this is the second line.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/entry.h"
#include "storage/hash.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/zset.h"

namespace strata::storage {

inline constexpr uint8_t kSpillFormatVersion = 1;

// The encoding limits a decoded value is built under (the server's current configuration).
struct ValueLimits {
  HashLimits hash;
  ListLimits list;
  SetLimits set;
  ZSetLimits zset;
};

// The record of `entry`'s value and metadata.
std::string EncodeSpillRecord(const Entry& entry);

// A new entry under `key` from `record` (the caller owns it: Entry::Free), or InvalidArgument
// for bytes that are not a record of a version this build reads.
absl::StatusOr<Entry*> DecodeSpillRecord(std::string_view key, std::string_view record, const ValueLimits& limits);

// What the record's header says, without decoding its value: for the compaction filter and the
// start-up scan. InvalidArgument for a header that does not parse.
struct SpillRecordSummary {
  ValueType type;
  int64_t expire_at_ms;  // Entry::kNoExpiry for none
};
absl::StatusOr<SpillRecordSummary> SummarizeSpillRecord(std::string_view record);
// The record's expiry (Entry::kNoExpiry for none), as SummarizeSpillRecord.
absl::StatusOr<int64_t> SpillRecordExpireAt(std::string_view record);

}  // namespace strata::storage
