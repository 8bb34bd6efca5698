// Reading and changing a key's value of one type (hash, list, ...) on a locked Transaction,
// with Redis's rules: WRONGTYPE for a key of another type, a missing key reads as empty, a
// write creates the key when asked to, and a change that empties the value deletes the key.
// Memory accounting of changes made in place is kept right here, so handlers never see it, and
// so is the choice between a value kept inside its entry and one kept as an object (entry.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/keyspace.h"

namespace strata::storage {

// A read-only value of one type held by an entry: the entry's object, or a view over the image
// of a small value kept inside the entry. Valid while the entry is not changed. Converts to a
// `const Value*` (null for "no such key") only as a named object, never as a temporary, so the
// pointer cannot outlive the view. Value is HashValue, ListValue, SetValue or ZSetValue, whose
// header the user includes.
template <typename Value>
class ValueView {
 public:
  ValueView() = default;
  ValueView(ValueView&& other) noexcept = default;
  ValueView& operator=(ValueView&& other) noexcept {
    object_ = other.object_;
    inline_.reset();
    if (other.inline_) inline_.emplace(std::move(*other.inline_));
    return *this;
  }
  explicit ValueView(const Entry& entry) {
    if (entry.value_inline()) {
      inline_.emplace(Value::ViewOfImage(entry.value_image()));
    } else {
      object_ = static_cast<const Value*>(entry.value_object());
    }
  }

  const Value* get() const { return inline_ ? &*inline_ : object_; }
  operator const Value*() const& { return get(); }
  operator const Value*() const&& = delete;
  const Value* operator->() const { return get(); }
  const Value& operator*() const { return *get(); }

 private:
  const Value* object_ = nullptr;
  std::optional<Value> inline_;
};

// The value at key for reading (counts a hit or miss): nullptr when absent, WRONGTYPE when the
// key holds another type. Value is HashValue, ListValue, SetValue or ZSetValue.
template <typename Value>
absl::StatusOr<ValueView<Value>> FindValueForRead(Transaction& txn, std::string_view key);

// The same with a write's lookup (no hit/miss counting), for the checks a write command makes
// before it changes the value through UpdateValue: null when absent.
template <typename Value>
absl::StatusOr<ValueView<Value>> FindValueForWrite(Transaction& txn, std::string_view key);

// When an UpdateValue counts as a change of the key for those who watch writes (WATCH, blocked
// clients, loaders), following what Redis signals: kAlways (HSET of the same value is a write),
// or kWhenPositive, for commands whose result counts what they changed (SADD, SREM, HDEL, ZREM,
// ZADD: adding, removing or rescoring nothing is no write).
enum class ChangeReport { kAlways, kWhenPositive };

// Applies `change` to the value at key (creating an empty one when absent and `create`; with
// !create an absent key is shown to `change` as an empty value that is then thrown away). The
// key is deleted if `change` leaves the value empty. Returns what `change` returns; WRONGTYPE
// without calling it when the key holds another type.
template <typename Value>
absl::StatusOr<int64_t> UpdateValue(Transaction& txn, std::string_view key, bool create,
                                    absl::FunctionRef<absl::StatusOr<int64_t>(Value&)> change,
                                    ChangeReport report = ChangeReport::kAlways);

}  // namespace strata::storage
