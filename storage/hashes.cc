#include "storage/hashes.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "storage/errors.h"
#include "storage/numbers.h"
#include "storage/strings.h"
#include "storage/typed_values.h"

namespace strata::storage {

absl::StatusOr<ValueView<HashValue>> FindHashForRead(Transaction& txn, std::string_view key) {
  return FindValueForRead<HashValue>(txn, key);
}

absl::StatusOr<int64_t> UpdateHash(Transaction& txn, std::string_view key, bool create,
                                   absl::FunctionRef<absl::StatusOr<int64_t>(HashValue&)> change, ChangeReport report) {
  return UpdateValue<HashValue>(txn, key, create, change, report);
}

absl::StatusOr<int64_t> HashIncrBy(Transaction& txn, std::string_view key, std::string_view field, int64_t delta,
                                   const HashLimits& limits) {
  return UpdateHash(txn, key, true, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
    int64_t current = 0;
    if (std::optional<std::string_view> value = hash.Find(field)) {
      if (!ParseInt64(*value, &current)) return absl::InvalidArgumentError("ERR hash value is not an integer");
    }
    int64_t result;
    if (__builtin_add_overflow(current, delta, &result)) return IncrOverflowError();
    char digits[24];
    char* end = absl::numbers_internal::FastIntToBuffer(result, digits);
    hash.Set(field, std::string_view(digits, static_cast<size_t>(end - digits)), limits);
    return result;
  });
}

absl::StatusOr<std::string> HashIncrByFloat(Transaction& txn, std::string_view key, std::string_view field,
                                            long double delta, const HashLimits& limits) {
  std::string formatted;
  absl::StatusOr<int64_t> result = UpdateHash(txn, key, true, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
    long double current = 0;
    if (std::optional<std::string_view> value = hash.Find(field)) {
      if (!ParseLongDouble(*value, &current)) return absl::InvalidArgumentError("ERR hash value is not a float");
    }
    long double sum = current + delta;
    if (std::isnan(sum) || std::isinf(sum)) return NanOrInfinityError();
    formatted = FormatLongDouble(sum);
    hash.Set(field, formatted, limits);
    return 0;
  });
  if (!result.ok()) return result.status();
  return formatted;
}

}  // namespace strata::storage
