#include "storage/hashes.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "storage/errors.h"
#include "storage/numbers.h"
#include "storage/strings.h"

namespace strata::storage {

absl::StatusOr<const HashValue*> FindHashForRead(Transaction& txn, std::string_view key) {
  Entry* e = txn.FindForRead(key);
  if (e == nullptr) return static_cast<const HashValue*>(nullptr);
  if (e->type() != ValueType::kHash) return WrongTypeError();
  return static_cast<const HashValue*>(e->hash_value());
}

absl::StatusOr<int64_t> UpdateHash(Transaction& txn, std::string_view key, bool create,
                                   const std::function<absl::StatusOr<int64_t>(HashValue&)>& change) {
  Entry* e = txn.FindForWrite(key);
  if (e != nullptr && e->type() != ValueType::kHash) return WrongTypeError();
  if (e == nullptr) {
    if (!create) {
      HashValue empty;
      return change(empty);
    }
    auto hash = std::make_unique<HashValue>();
    absl::StatusOr<int64_t> result = change(*hash);
    if (!result.ok() || hash->size() == 0) return result;
    txn.Store(Entry::NewHash(key, hash.release(), EntryMeta{}));
    return result;
  }
  const size_t old_size = e->AllocatedSize();
  absl::StatusOr<int64_t> result = change(*e->hash_value());
  if (e->hash_value()->size() == 0) {
    txn.AccountResize(e, old_size);
    txn.Delete(key);
  } else {
    txn.AccountResize(e, old_size);
  }
  return result;
}

absl::StatusOr<int64_t> HashIncrBy(Transaction& txn, std::string_view key, std::string_view field, int64_t delta) {
  return UpdateHash(txn, key, true, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
    int64_t current = 0;
    if (const std::string* value = hash.Find(field)) {
      if (!ParseInt64(*value, &current)) return absl::InvalidArgumentError("ERR hash value is not an integer");
    }
    int64_t result;
    if (__builtin_add_overflow(current, delta, &result)) return IncrOverflowError();
    char digits[24];
    char* end = absl::numbers_internal::FastIntToBuffer(result, digits);
    hash.Set(field, std::string_view(digits, static_cast<size_t>(end - digits)));
    return result;
  });
}

absl::StatusOr<std::string> HashIncrByFloat(Transaction& txn, std::string_view key, std::string_view field,
                                            long double delta) {
  std::string formatted;
  absl::StatusOr<int64_t> result = UpdateHash(txn, key, true, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
    long double current = 0;
    if (const std::string* value = hash.Find(field)) {
      if (!ParseLongDouble(*value, &current)) return absl::InvalidArgumentError("ERR hash value is not a float");
    }
    long double sum = current + delta;
    if (std::isnan(sum) || std::isinf(sum)) return NanOrInfinityError();
    formatted = FormatLongDouble(sum);
    hash.Set(field, formatted);
    return 0;
  });
  if (!result.ok()) return result.status();
  return formatted;
}

}  // namespace strata::storage
