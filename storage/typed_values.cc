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
  static Entry* Make(std::string_view key, HashValue* value, const EntryMeta& meta) {
    return Entry::NewHash(key, value, meta);
  }
};
template <>
struct TypeOf<ListValue> {
  static constexpr ValueType kType = ValueType::kList;
  static Entry* Make(std::string_view key, ListValue* value, const EntryMeta& meta) {
    return Entry::NewList(key, value, meta);
  }
};

template <>
struct TypeOf<SetValue> {
  static constexpr ValueType kType = ValueType::kSet;
  static Entry* Make(std::string_view key, SetValue* value, const EntryMeta& meta) {
    return Entry::NewSet(key, value, meta);
  }
};

template <>
struct TypeOf<ZSetValue> {
  static constexpr ValueType kType = ValueType::kZSet;
  static Entry* Make(std::string_view key, ZSetValue* value, const EntryMeta& meta) {
    return Entry::NewZSet(key, value, meta);
  }
};

// The size of value's image if it is to be kept inside its entry, else 0 (entry.h).
template <typename Value>
size_t InlineImageSize(const Value& value) {
  const size_t size = value.ImageSize();
  return size <= Entry::kMaxInlineImage ? size : 0;
}

// A new entry holding `value`: inline when small, else as an object.
template <typename Value>
Entry* MakeEntry(std::string_view key, Value&& value, const EntryMeta& meta) {
  if (const size_t image_size = InlineImageSize(value); image_size > 0) {
    unsigned char* image;
    Entry* entry = Entry::NewInline(key, TypeOf<Value>::kType, image_size, meta, &image);
    value.WriteImage(image);
    return entry;
  }
  return TypeOf<Value>::Make(key, new Value(std::move(value)), meta);
}

}  // namespace

template <typename Value>
absl::StatusOr<ValueView<Value>> FindValueForRead(Transaction& txn, std::string_view key) {
  Entry* e = txn.FindForRead(key);
  if (e == nullptr) return ValueView<Value>();
  if (e->type() != TypeOf<Value>::kType) return WrongTypeError();
  return ValueView<Value>(*e);
}

template <typename Value>
absl::StatusOr<ValueView<Value>> FindValueForWrite(Transaction& txn, std::string_view key) {
  Entry* e = txn.FindForWrite(key);
  if (e == nullptr) return ValueView<Value>();
  if (e->type() != TypeOf<Value>::kType) return WrongTypeError();
  return ValueView<Value>(*e);
}

template <typename Value>
absl::StatusOr<int64_t> UpdateValue(Transaction& txn, std::string_view key, bool create,
                                    absl::FunctionRef<absl::StatusOr<int64_t>(Value&)> change, ChangeReport report) {
  Entry* e = txn.FindForWrite(key);
  if (e != nullptr && e->type() != TypeOf<Value>::kType) return WrongTypeError();
  if (e == nullptr) {
    Value value;
    absl::StatusOr<int64_t> result = change(value);
    if (!create || !result.ok() || value.size() == 0) return result;
    txn.Store(MakeEntry(key, std::move(value), EntryMeta{}));
    return result;
  }
  if (!e->value_inline()) {
    Value& value = *static_cast<Value*>(e->value_object());
    // The value's own byte count is O(1) and kept by the value; the entry shell does not change.
    // A value that became an object stays one (as Redis never converts back to a listpack).
    const size_t old_bytes = value.ApproximateBytes();
    absl::StatusOr<int64_t> result = change(value);
    const int64_t delta = static_cast<int64_t>(value.ApproximateBytes()) - static_cast<int64_t>(old_bytes);
    if (report == ChangeReport::kAlways || (result.ok() && *result > 0)) {
      txn.AccountResize(key, delta);
    } else {
      txn.AccountBytes(key, delta);
    }
    if (value.size() == 0) txn.Delete(key);
    return result;
  }
  // Inline: change a copy, then write it back: into the entry itself when its image keeps its
  // size (HSET of a same-sized value, ZINCRBY, SADD of a member already there), else into a new
  // entry with the same TTL, or as an object when it outgrew the small encoding.
  Value value = Value::FromImage(e->value_image());
  absl::StatusOr<int64_t> result = change(value);
  if (report == ChangeReport::kWhenPositive && !(result.ok() && *result > 0)) {
    // Nothing added or removed: the value is as it was (its image included).
    return result;
  }
  if (value.size() == 0) {
    txn.Delete(key);
    return result;
  }
  const size_t image_size = InlineImageSize(value);
  if (image_size == e->value_image().size()) {
    value.WriteImage(e->mutable_value_image());
    txn.AccountResize(key, 0);
    return result;
  }
  txn.Store(MakeEntry(key, std::move(value), e->meta()));
  return result;
}

template absl::StatusOr<ValueView<HashValue>> FindValueForRead<HashValue>(Transaction&, std::string_view);
template absl::StatusOr<ValueView<ListValue>> FindValueForRead<ListValue>(Transaction&, std::string_view);
template absl::StatusOr<ValueView<HashValue>> FindValueForWrite<HashValue>(Transaction&, std::string_view);
template absl::StatusOr<ValueView<ListValue>> FindValueForWrite<ListValue>(Transaction&, std::string_view);
template absl::StatusOr<ValueView<SetValue>> FindValueForRead<SetValue>(Transaction&, std::string_view);
template absl::StatusOr<ValueView<SetValue>> FindValueForWrite<SetValue>(Transaction&, std::string_view);
template absl::StatusOr<int64_t> UpdateValue<SetValue>(Transaction&, std::string_view, bool,
                                                       absl::FunctionRef<absl::StatusOr<int64_t>(SetValue&)>, ChangeReport);
template absl::StatusOr<ValueView<ZSetValue>> FindValueForRead<ZSetValue>(Transaction&, std::string_view);
template absl::StatusOr<ValueView<ZSetValue>> FindValueForWrite<ZSetValue>(Transaction&, std::string_view);
template absl::StatusOr<int64_t> UpdateValue<ZSetValue>(Transaction&, std::string_view, bool,
                                                        absl::FunctionRef<absl::StatusOr<int64_t>(ZSetValue&)>, ChangeReport);
template absl::StatusOr<int64_t> UpdateValue<HashValue>(Transaction&, std::string_view, bool,
                                                        absl::FunctionRef<absl::StatusOr<int64_t>(HashValue&)>, ChangeReport);
template absl::StatusOr<int64_t> UpdateValue<ListValue>(Transaction&, std::string_view, bool,
                                                        absl::FunctionRef<absl::StatusOr<int64_t>(ListValue&)>, ChangeReport);

}  // namespace strata::storage
