// String operations on a locked Transaction (Redis's t_string.c semantics, without RESP).
// Every function expects the key's shard to be locked by `txn`. Failures are Status values
// from storage/errors.h.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/keyspace.h"

namespace strata::storage {

// The value of a string key (a view valid while the transaction lives), nullopt when absent,
// WRONGTYPE for another type. Counts a keyspace hit or miss.
absl::StatusOr<std::optional<std::string_view>> GetString(Transaction& txn, std::string_view key);

// INCRBY: adds delta to the integer in key (absent = 0), keeping its TTL.
absl::StatusOr<int64_t> IncrBy(Transaction& txn, std::string_view key, int64_t delta);

// INCRBYFLOAT: adds delta; returns the new value formatted as Redis formats it.
absl::StatusOr<std::string> IncrByFloat(Transaction& txn, std::string_view key, long double delta);

// APPEND: returns the new length. max_length is proto-max-bulk-len.
absl::StatusOr<size_t> Append(Transaction& txn, std::string_view key, std::string_view suffix, int64_t max_length);

// SETRANGE: overwrites from offset (zero-padding); returns the new length.
absl::StatusOr<size_t> SetRange(Transaction& txn, std::string_view key, int64_t offset, std::string_view value,
                                int64_t max_length);

// The bytes of the string at key, writable in place, zero-padded to at least min_length
// (creating the key when absent; SETBIT, BITFIELD). Keeps the TTL; the string becomes "raw".
// WRONGTYPE for another type. Caller checks min_length against proto-max-bulk-len. *grown (if
// given) tells whether the key was created or lengthened: a change even if no byte is then set.
absl::StatusOr<std::span<char>> StringForUpdate(Transaction& txn, std::string_view key, size_t min_length,
                                                bool* grown = nullptr);

// OBJECT ENCODING of a string entry: "int", "embstr" or "raw", as Redis 7.0 would report it.
std::string_view StringEncoding(const Entry& entry);

// Redis's human-friendly long double format (ld2string LD_STR_HUMAN): %.17Lf, trailing zeros
// and a trailing point removed, "-0" as "0".
std::string FormatLongDouble(long double value);

}  // namespace strata::storage
