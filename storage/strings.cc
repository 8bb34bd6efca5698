#include "storage/strings.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/numbers.h"
#include "storage/errors.h"

namespace strata::storage {

namespace {

// Redis keeps strings of up to 44 bytes in one allocation with their object ("embstr").
constexpr size_t kEmbstrMaxLength = 44;
constexpr int kMaxLongDoubleChars = 5 * 1024;

}  // namespace

absl::StatusOr<std::optional<std::string_view>> GetString(Transaction& txn, std::string_view key) {
  Entry* e = txn.FindForRead(key);
  if (e == nullptr) return std::optional<std::string_view>();
  if (e->type() != ValueType::kString) return WrongTypeError();
  return std::optional<std::string_view>(e->string_value());
}

absl::StatusOr<int64_t> IncrBy(Transaction& txn, std::string_view key, int64_t delta) {
  Entry* e = txn.FindForWrite(key);
  int64_t current = 0;
  if (e != nullptr) {
    if (e->type() != ValueType::kString) return WrongTypeError();
    if (!ParseInt64(e->string_value(), &current)) return NotIntegerError();
  }
  int64_t result;
  if (__builtin_add_overflow(current, delta, &result)) return IncrOverflowError();
  char digits[24];
  char* end = absl::numbers_internal::FastIntToBuffer(result, digits);
  txn.SetString(key, std::string_view(digits, static_cast<size_t>(end - digits)),
                e != nullptr ? e->expire_at_ms() : Entry::kNoExpiry);
  return result;
}

absl::StatusOr<std::string> IncrByFloat(Transaction& txn, std::string_view key, long double delta) {
  Entry* e = txn.FindForWrite(key);
  long double current = 0;
  if (e != nullptr) {
    if (e->type() != ValueType::kString) return WrongTypeError();
    if (!ParseLongDouble(e->string_value(), &current)) return NotFloatError();
  }
  long double result = current + delta;
  if (std::isnan(result) || std::isinf(result)) return NanOrInfinityError();
  std::string formatted = FormatLongDouble(result);
  txn.SetString(key, formatted, e != nullptr ? e->expire_at_ms() : Entry::kNoExpiry, Entry::kNoIntEncoding);
  return formatted;
}

absl::StatusOr<size_t> Append(Transaction& txn, std::string_view key, std::string_view suffix, int64_t max_length) {
  Entry* e = txn.FindForWrite(key);
  if (e == nullptr) {
    txn.SetString(key, suffix, Entry::kNoExpiry);
    return suffix.size();
  }
  if (e->type() != ValueType::kString) return WrongTypeError();
  std::string_view current = e->string_value();
  if (static_cast<int64_t>(current.size() + suffix.size()) > max_length) return StringTooLongError();
  std::string joined;
  joined.reserve(current.size() + suffix.size());
  joined.append(current).append(suffix);
  txn.SetString(key, joined, e->expire_at_ms(), Entry::kRawEncoding);
  return joined.size();
}

absl::StatusOr<size_t> SetRange(Transaction& txn, std::string_view key, int64_t offset, std::string_view value,
                                int64_t max_length) {
  Entry* e = txn.FindForWrite(key);
  if (e != nullptr && e->type() != ValueType::kString) return WrongTypeError();
  std::string_view current = e != nullptr ? e->string_value() : std::string_view();
  if (value.empty()) return current.size();
  // Compared without forming offset + size, which could overflow (SETRANGE k 9223372036854775807 x).
  if (offset > max_length - static_cast<int64_t>(value.size())) return StringTooLongError();
  std::string updated(current);
  const size_t end = static_cast<size_t>(offset) + value.size();
  if (updated.size() < end) updated.resize(end, '\0');
  std::memcpy(updated.data() + offset, value.data(), value.size());
  txn.SetString(key, updated, e != nullptr ? e->expire_at_ms() : Entry::kNoExpiry, Entry::kRawEncoding);
  return updated.size();
}

absl::StatusOr<std::span<char>> StringForUpdate(Transaction& txn, std::string_view key, size_t min_length,
                                                bool* grown) {
  Entry* e = txn.FindForWrite(key);
  if (e != nullptr && e->type() != ValueType::kString) return WrongTypeError();
  const bool grows = e == nullptr || e->string_value().size() < min_length;
  if (grown != nullptr) *grown = grows;
  if (grows) {
    std::string padded(e != nullptr ? e->string_value() : std::string_view());
    padded.resize(min_length, '\0');
    e = txn.SetString(key, padded, e != nullptr ? e->expire_at_ms() : Entry::kNoExpiry, Entry::kRawEncoding);
  } else {
    txn.AccountResize(key, 0);  // same size; recorded as a change of the key
  }
  return std::span<char>(e->MutableStringBytesAsRaw(), e->string_value().size());
}

std::string_view StringEncoding(const Entry& entry) {
  std::string_view value = entry.string_value();
  if (entry.flags() & Entry::kRawEncoding) return "raw";
  int64_t ignored;
  if (!(entry.flags() & Entry::kNoIntEncoding) && value.size() <= 20 && ParseInt64(value, &ignored)) {
    return "int";
  }
  return value.size() <= kEmbstrMaxLength ? "embstr" : "raw";
}

std::string FormatLongDouble(long double value) {
  char buf[kMaxLongDoubleChars];
  int length = snprintf(buf, sizeof(buf), "%.17Lf", value);
  if (length < 0 || length >= static_cast<int>(sizeof(buf))) return "0";
  if (std::memchr(buf, '.', static_cast<size_t>(length)) != nullptr) {
    while (buf[length - 1] == '0') --length;
    if (buf[length - 1] == '.') --length;
  }
  if (length == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, static_cast<size_t>(length));
}

}  // namespace strata::storage
