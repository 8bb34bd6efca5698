// Reading and changing a key's value of one type (hash, list, ...) on a locked Transaction,
// with Redis's rules: WRONGTYPE for a key of another type, a missing key reads as empty, a
// write creates the key when asked to, and a change that empties the value deletes the key.
// Memory accounting of changes made in place is kept right here, so handlers never see it.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/keyspace.h"

namespace strata::storage {

// The value at key for reading (counts a hit or miss): nullptr when absent, WRONGTYPE when the
// key holds another type. Value is HashValue, ListValue, SetValue or ZSetValue.
template <typename Value>
absl::StatusOr<const Value*> FindValueForRead(Transaction& txn, std::string_view key);

// The same for writing (no hit/miss counting, lazy expiry): nullptr when absent.
template <typename Value>
absl::StatusOr<Value*> FindValueForWrite(Transaction& txn, std::string_view key);

// Applies `change` to the value at key (creating an empty one when absent and `create`; with
// !create an absent key is shown to `change` as an empty value that is then thrown away). The
// key is deleted if `change` leaves the value empty. Returns what `change` returns; WRONGTYPE
// without calling it when the key holds another type.
template <typename Value>
absl::StatusOr<int64_t> UpdateValue(Transaction& txn, std::string_view key, bool create,
                                    absl::FunctionRef<absl::StatusOr<int64_t>(Value&)> change);

}  // namespace strata::storage
