// Hash operations on a locked Transaction (Redis's t_hash.c semantics, without RESP).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/hash.h"
#include "storage/keyspace.h"
#include "storage/typed_values.h"

namespace strata::storage {

// The hash at key for reading (counts a hit or miss): nullptr when absent, WRONGTYPE otherwise.
absl::StatusOr<ValueView<HashValue>> FindHashForRead(Transaction& txn, std::string_view key);

// Applies `change` to the hash at key, creating it when absent (if `create`), keeping the
// memory accounting right and deleting the key if the change leaves it empty.
// `change` returns the command's result. WRONGTYPE when key holds another type; an error
// Status returned by `change` is passed through (and the hash is left as `change` left it).
absl::StatusOr<int64_t> UpdateHash(Transaction& txn, std::string_view key, bool create,
                                   absl::FunctionRef<absl::StatusOr<int64_t>(HashValue&)> change,
                                   ChangeReport report = ChangeReport::kAlways);

// HINCRBY / HINCRBYFLOAT on one field.
absl::StatusOr<int64_t> HashIncrBy(Transaction& txn, std::string_view key, std::string_view field, int64_t delta,
                                   const HashLimits& limits);
absl::StatusOr<std::string> HashIncrByFloat(Transaction& txn, std::string_view key, std::string_view field,
                                            long double delta, const HashLimits& limits);

}  // namespace strata::storage
