#include "storage/entry.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "storage/hash.h"
#include "storage/varint.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/zset.h"

namespace strata::storage {

namespace {

constexpr size_t kHeaderSize = 14;  // next + access clock + type + flags
constexpr size_t kExpiryBlockSize = 12;
constexpr size_t kFreshBlockSize = 8;

}  // namespace

std::string_view TypeName(ValueType type) {
  switch (type) {
    case ValueType::kString: return "string";
    case ValueType::kList: return "list";
    case ValueType::kSet: return "set";
    case ValueType::kZSet: return "zset";
    case ValueType::kHash: return "hash";
  }
  return "none";
}

size_t Entry::SizeFor(std::string_view key, const EntryMeta& meta, size_t payload_size) {
  return kHeaderSize + (meta.expire_at_ms != kNoExpiry ? kExpiryBlockSize : 0) +
         (meta.fresh_until_ms != kNoExpiry ? kFreshBlockSize : 0) + VarintSize(key.size()) + key.size() +
         payload_size;
}

Entry* Entry::Construct(void* memory, std::string_view key, ValueType type, const EntryMeta& meta,
                        unsigned char** payload) {
  const bool with_expiry = meta.expire_at_ms != kNoExpiry;
  const bool with_fresh = meta.fresh_until_ms != kNoExpiry;
  Entry* entry = new (memory) Entry();
  entry->next_ = nullptr;
  entry->access_clock_ = 0;
  entry->type_ = static_cast<uint8_t>(type);
  entry->flags_ = static_cast<uint8_t>((meta.encoding_flags & (kRawEncoding | kNoIntEncoding)) |
                                       (with_expiry ? kHasExpiry : 0) | (with_fresh ? kHasFreshUntil : 0));
  unsigned char* out = reinterpret_cast<unsigned char*>(entry) + kHeaderSize;
  if (with_expiry) {
    std::memcpy(out, &meta.expire_at_ms, sizeof(int64_t));
    std::memset(out + 8, 0, 4);
    out += kExpiryBlockSize;
  }
  if (with_fresh) {
    std::memcpy(out, &meta.fresh_until_ms, sizeof(int64_t));
    out += kFreshBlockSize;
  }
  out = PutVarint(out, key.size());
  std::memcpy(out, key.data(), key.size());
  *payload = out + key.size();
  return entry;
}

Entry* Entry::Allocate(std::string_view key, ValueType type, const EntryMeta& meta, size_t payload_size,
                       unsigned char** payload) {
  void* memory = std::malloc(SizeFor(key, meta, payload_size));
  if (memory == nullptr) throw std::bad_alloc();
  return Construct(memory, key, type, meta, payload);
}

size_t Entry::PlacedStringSize(std::string_view key, size_t value_size) {
  return SizeFor(key, EntryMeta{}, VarintSize(value_size) + value_size);
}

Entry* Entry::PlaceString(void* memory, std::string_view key, std::string_view value) {
  unsigned char* payload;
  Entry* entry = Construct(memory, key, ValueType::kString, EntryMeta{}, &payload);
  payload = PutVarint(payload, value.size());
  if (!value.empty()) std::memcpy(payload, value.data(), value.size());
  return entry;
}

Entry* Entry::NewString(std::string_view key, std::string_view value, const EntryMeta& meta) {
  unsigned char* payload;
  Entry* entry = Allocate(key, ValueType::kString, meta, VarintSize(value.size()) + value.size(), &payload);
  payload = PutVarint(payload, value.size());
  if (!value.empty()) std::memcpy(payload, value.data(), value.size());
  return entry;
}

Entry* Entry::NewObject(std::string_view key, ValueType type, void* object, const EntryMeta& meta) {
  unsigned char* payload;
  Entry* entry = Allocate(key, type, meta, sizeof(void*), &payload);
  std::memcpy(payload, &object, sizeof(object));
  return entry;
}

Entry* Entry::NewInline(std::string_view key, ValueType type, size_t image_size, const EntryMeta& meta,
                        unsigned char** image) {
  unsigned char* payload;
  Entry* entry = Allocate(key, type, meta, VarintSize(image_size) + image_size, &payload);
  entry->flags_ |= kInlineValue;
  *image = PutVarint(payload, image_size);
  return entry;
}

template <typename Value>
Entry* Entry::NewValue(std::string_view key, ValueType type, Value* value, const EntryMeta& meta) {
  const size_t image_size = value->ImageSize();
  if (image_size == 0 || image_size > kMaxInlineImage) return NewObject(key, type, value, meta);
  unsigned char* image;
  Entry* entry = NewInline(key, type, image_size, meta, &image);
  value->WriteImage(image);
  delete value;
  return entry;
}

Entry* Entry::NewHash(std::string_view key, HashValue* hash, const EntryMeta& meta) {
  return NewValue(key, ValueType::kHash, hash, meta);
}

Entry* Entry::NewList(std::string_view key, ListValue* list, const EntryMeta& meta) {
  return NewValue(key, ValueType::kList, list, meta);
}

Entry* Entry::NewSet(std::string_view key, SetValue* set, const EntryMeta& meta) {
  return NewValue(key, ValueType::kSet, set, meta);
}

Entry* Entry::NewZSet(std::string_view key, ZSetValue* zset, const EntryMeta& meta) {
  return NewValue(key, ValueType::kZSet, zset, meta);
}

void Entry::DeleteObject() {
  switch (type()) {
    case ValueType::kHash: delete static_cast<HashValue*>(object()); break;
    case ValueType::kList: delete static_cast<ListValue*>(object()); break;
    case ValueType::kSet: delete static_cast<SetValue*>(object()); break;
    case ValueType::kZSet: delete static_cast<ZSetValue*>(object()); break;
    case ValueType::kString: break;
  }
}

void Entry::Free(Entry* entry) {
  if (entry->type() != ValueType::kString && !entry->value_inline()) entry->DeleteObject();
  std::free(entry);
}

Entry* Entry::Rebuild(const Entry& from, std::string_view key, const EntryMeta& meta) {
  Entry* rebuilt;
  if (from.type() == ValueType::kString) {
    rebuilt = NewString(key, from.string_value(), meta);
  } else if (from.value_inline()) {
    const std::string_view image = from.value_image();
    unsigned char* out;
    rebuilt = NewInline(key, from.type(), image.size(), meta, &out);
    std::memcpy(out, image.data(), image.size());
  } else {
    rebuilt = NewObject(key, from.type(), from.object(), meta);
  }
  rebuilt->access_clock_ = from.access_clock_;
  return rebuilt;
}

void Entry::FreeShell(Entry* entry) { std::free(entry); }

Entry* Entry::Clone(const Entry& from, std::string_view key) {
  if (from.type() == ValueType::kString || from.value_inline()) return Rebuild(from, key, from.meta());
  EntryMeta meta = from.meta();
  switch (from.type()) {
    case ValueType::kHash: return NewHash(key, new HashValue(*static_cast<const HashValue*>(from.object())), meta);
    case ValueType::kList: return NewList(key, new ListValue(*static_cast<const ListValue*>(from.object())), meta);
    case ValueType::kSet: return NewSet(key, new SetValue(*static_cast<const SetValue*>(from.object())), meta);
    case ValueType::kZSet: return NewZSet(key, new ZSetValue(*static_cast<const ZSetValue*>(from.object())), meta);
    case ValueType::kString: break;
  }
  return nullptr;  // unreachable: strings were copied above
}

bool Entry::TryOverwriteString(std::string_view value, const EntryMeta& meta) {
  if (type() != ValueType::kString) return false;
  const bool with_expiry = meta.expire_at_ms != kNoExpiry;
  const bool with_fresh = meta.fresh_until_ms != kNoExpiry;
  if (with_expiry != has_expiry() || with_fresh != static_cast<bool>(flags_ & kHasFreshUntil)) return false;
  std::string_view current = string_value();
  if (current.size() != value.size()) return false;
  std::memcpy(const_cast<char*>(current.data()), value.data(), value.size());
  unsigned char* block = const_cast<unsigned char*>(AfterHeader());
  if (with_expiry) {
    std::memcpy(block, &meta.expire_at_ms, sizeof(int64_t));  // the volatile slot stays valid
    block += kExpiryBlockSize;
  }
  if (with_fresh) std::memcpy(block, &meta.fresh_until_ms, sizeof(int64_t));
  flags_ = static_cast<uint8_t>((flags_ & (kHasExpiry | kHasFreshUntil | kSpillCopy)) |
                                (meta.encoding_flags & (kRawEncoding | kNoIntEncoding)));
  return true;
}

const unsigned char* Entry::AfterHeader() const {
  return reinterpret_cast<const unsigned char*>(this) + kHeaderSize;
}

const unsigned char* Entry::KeyLengthStart() const {
  return AfterHeader() + (has_expiry() ? kExpiryBlockSize : 0) + ((flags_ & kHasFreshUntil) ? kFreshBlockSize : 0);
}

const unsigned char* Entry::PayloadStart() const {
  std::string_view k = key();
  return reinterpret_cast<const unsigned char*>(k.data() + k.size());
}

int64_t Entry::expire_at_ms() const {
  if (!has_expiry()) return kNoExpiry;
  int64_t when;
  std::memcpy(&when, AfterHeader(), sizeof(when));
  return when;
}

int64_t Entry::fresh_until_ms() const {
  if (!(flags_ & kHasFreshUntil)) return kNoExpiry;
  int64_t when;
  std::memcpy(&when, AfterHeader() + (has_expiry() ? kExpiryBlockSize : 0), sizeof(when));
  return when;
}

EntryMeta Entry::meta() const {
  return EntryMeta{expire_at_ms(), fresh_until_ms(), static_cast<uint8_t>(flags_ & (kRawEncoding | kNoIntEncoding))};
}

void Entry::set_expire_at_ms(int64_t when) {
  std::memcpy(const_cast<unsigned char*>(AfterHeader()), &when, sizeof(when));
}

uint32_t Entry::volatile_slot() const {
  uint32_t slot;
  std::memcpy(&slot, AfterHeader() + 8, sizeof(slot));
  return slot;
}

void Entry::set_volatile_slot(uint32_t slot) {
  std::memcpy(const_cast<unsigned char*>(AfterHeader()) + 8, &slot, sizeof(slot));
}

std::string_view Entry::key() const {
  uint64_t length;
  const unsigned char* key_start = GetVarint(KeyLengthStart(), &length);
  return std::string_view(reinterpret_cast<const char*>(key_start), length);
}

std::string_view Entry::string_value() const {
  uint64_t length;
  const unsigned char* value_start = GetVarint(PayloadStart(), &length);
  return std::string_view(reinterpret_cast<const char*>(value_start), length);
}

char* Entry::MutableStringBytesAsRaw() {
  flags_ = static_cast<uint8_t>((flags_ | kRawEncoding) & ~kNoIntEncoding);
  // The entry's block is ours and writable; string_value() only hands it out as a view.
  return const_cast<char*>(string_value().data());
}

void* Entry::object() const {
  void* object;
  std::memcpy(&object, PayloadStart(), sizeof(object));
  return object;
}

size_t Entry::AllocatedSize() const {
  size_t size = malloc_usable_size(const_cast<Entry*>(this));
  if (value_inline()) return size;
  switch (type()) {
    case ValueType::kHash: size += static_cast<const HashValue*>(object())->ApproximateBytes(); break;
    case ValueType::kList: size += static_cast<const ListValue*>(object())->ApproximateBytes(); break;
    case ValueType::kSet: size += static_cast<const SetValue*>(object())->ApproximateBytes(); break;
    case ValueType::kZSet: size += static_cast<const ZSetValue*>(object())->ApproximateBytes(); break;
    case ValueType::kString: break;
  }
  return size;
}

}  // namespace strata::storage
