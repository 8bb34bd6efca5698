#include "storage/typed_values.h"

#include <memory>

#include "storage/errors.h"
#include "storage/hash.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/zset.h"

namespace strata::storage {

namespace {

// What each value type is called in an Entry.
template <typename Value>
struct TypeOf;
template <>
struct TypeOf<HashValue> {
  static constexpr ValueType kType = ValueType::kHash;
  static HashValue* Of(Entry* e) { return e->hash_value(); }
  static Entry* Make(std::string_view key, HashValue* value) { return Entry::NewHash(key, value, EntryMeta{}); }
};
template <>
struct TypeOf<ListValue> {
  static constexpr ValueType kType = ValueType::kList;
  static ListValue* Of(Entry* e) { return e->list_value(); }
  static Entry* Make(std::string_view key, ListValue* value) { return Entry::NewList(key, value, EntryMeta{}); }
};

template <>
struct TypeOf<SetValue> {
  static constexpr ValueType kType = ValueType::kSet;
  static SetValue* Of(Entry* e) { return e->set_value(); }
  static Entry* Make(std::string_view key, SetValue* value) { return Entry::NewSet(key, value, EntryMeta{}); }
};

template <>
struct TypeOf<ZSetValue> {
  static constexpr ValueType kType = ValueType::kZSet;
  static ZSetValue* Of(Entry* e) { return e->zset_value(); }
  static Entry* Make(std::string_view key, ZSetValue* value) { return Entry::NewZSet(key, value, EntryMeta{}); }
};

}  // namespace

template <typename Value>
absl::StatusOr<const Value*> FindValueForRead(Transaction& txn, std::string_view key) {
  Entry* e = txn.FindForRead(key);
  if (e == nullptr) return static_cast<const Value*>(nullptr);
  if (e->type() != TypeOf<Value>::kType) return WrongTypeError();
  return static_cast<const Value*>(TypeOf<Value>::Of(e));
}

template <typename Value>
absl::StatusOr<Value*> FindValueForWrite(Transaction& txn, std::string_view key) {
  Entry* e = txn.FindForWrite(key);
  if (e == nullptr) return static_cast<Value*>(nullptr);
  if (e->type() != TypeOf<Value>::kType) return WrongTypeError();
  return TypeOf<Value>::Of(e);
}

template <typename Value>
absl::StatusOr<int64_t> UpdateValue(Transaction& txn, std::string_view key, bool create,
                                    absl::FunctionRef<absl::StatusOr<int64_t>(Value&)> change) {
  Entry* e = txn.FindForWrite(key);
  if (e != nullptr && e->type() != TypeOf<Value>::kType) return WrongTypeError();
  if (e == nullptr) {
    auto value = std::make_unique<Value>();
    absl::StatusOr<int64_t> result = change(*value);
    if (!create || !result.ok() || value->size() == 0) return result;
    txn.Store(TypeOf<Value>::Make(key, value.release()));
    return result;
  }
  Value& value = *TypeOf<Value>::Of(e);
  // The value's own byte count is O(1) and kept by the value; the entry shell does not change.
  const size_t old_bytes = value.ApproximateBytes();
  absl::StatusOr<int64_t> result = change(value);
  txn.AccountResize(key, static_cast<int64_t>(value.ApproximateBytes()) - static_cast<int64_t>(old_bytes));
  if (value.size() == 0) txn.Delete(key);
  return result;
}

template absl::StatusOr<const HashValue*> FindValueForRead<HashValue>(Transaction&, std::string_view);
template absl::StatusOr<const ListValue*> FindValueForRead<ListValue>(Transaction&, std::string_view);
template absl::StatusOr<HashValue*> FindValueForWrite<HashValue>(Transaction&, std::string_view);
template absl::StatusOr<ListValue*> FindValueForWrite<ListValue>(Transaction&, std::string_view);
template absl::StatusOr<const SetValue*> FindValueForRead<SetValue>(Transaction&, std::string_view);
template absl::StatusOr<SetValue*> FindValueForWrite<SetValue>(Transaction&, std::string_view);
template absl::StatusOr<int64_t> UpdateValue<SetValue>(Transaction&, std::string_view, bool,
                                                       absl::FunctionRef<absl::StatusOr<int64_t>(SetValue&)>);
template absl::StatusOr<const ZSetValue*> FindValueForRead<ZSetValue>(Transaction&, std::string_view);
template absl::StatusOr<ZSetValue*> FindValueForWrite<ZSetValue>(Transaction&, std::string_view);
template absl::StatusOr<int64_t> UpdateValue<ZSetValue>(Transaction&, std::string_view, bool,
                                                        absl::FunctionRef<absl::StatusOr<int64_t>(ZSetValue&)>);
template absl::StatusOr<int64_t> UpdateValue<HashValue>(Transaction&, std::string_view, bool,
                                                        absl::FunctionRef<absl::StatusOr<int64_t>(HashValue&)>);
template absl::StatusOr<int64_t> UpdateValue<ListValue>(Transaction&, std::string_view, bool,
                                                        absl::FunctionRef<absl::StatusOr<int64_t>(ListValue&)>);

}  // namespace strata::storage
