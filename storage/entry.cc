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

Entry* Entry::Allocate(std::string_view key, ValueType type, const EntryMeta& meta, size_t payload_size,
                       unsigned char** payload) {
  const bool with_expiry = meta.expire_at_ms != kNoExpiry;
  const bool with_fresh = meta.fresh_until_ms != kNoExpiry;
  const size_t size = kHeaderSize + (with_expiry ? kExpiryBlockSize : 0) + (with_fresh ? kFreshBlockSize : 0) +
                      VarintSize(key.size()) + key.size() + payload_size;
  void* memory = std::malloc(size);
  if (memory == nullptr) throw std::bad_alloc();
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

Entry* Entry::NewHash(std::string_view key, HashValue* hash, const EntryMeta& meta) {
  return NewObject(key, ValueType::kHash, hash, meta);
}

Entry* Entry::NewList(std::string_view key, ListValue* list, const EntryMeta& meta) {
  return NewObject(key, ValueType::kList, list, meta);
}

Entry* Entry::NewSet(std::string_view key, SetValue* set, const EntryMeta& meta) {
  return NewObject(key, ValueType::kSet, set, meta);
}

Entry* Entry::NewZSet(std::string_view key, ZSetValue* zset, const EntryMeta& meta) {
  return NewObject(key, ValueType::kZSet, zset, meta);
}

void Entry::Free(Entry* entry) {
  switch (entry->type()) {
    case ValueType::kHash: delete entry->hash_value(); break;
    case ValueType::kList: delete entry->list_value(); break;
    case ValueType::kSet: delete entry->set_value(); break;
    case ValueType::kZSet: delete entry->zset_value(); break;
    default: break;
  }
  std::free(entry);
}

Entry* Entry::Rebuild(const Entry& from, std::string_view key, const EntryMeta& meta) {
  Entry* rebuilt = from.type() == ValueType::kString ? NewString(key, from.string_value(), meta)
                                                     : NewObject(key, from.type(), from.object(), meta);
  rebuilt->access_clock_ = from.access_clock_;
  return rebuilt;
}

void Entry::FreeShell(Entry* entry) { std::free(entry); }

Entry* Entry::Clone(const Entry& from, std::string_view key) {
  EntryMeta meta = from.meta();
  switch (from.type()) {
    case ValueType::kHash: return NewHash(key, new HashValue(*from.hash_value()), meta);
    case ValueType::kList: return NewList(key, new ListValue(*from.list_value()), meta);
    case ValueType::kSet: return NewSet(key, new SetValue(*from.set_value()), meta);
    case ValueType::kZSet: return NewZSet(key, new ZSetValue(*from.zset_value()), meta);
    default: return NewString(key, from.string_value(), meta);
  }
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
  flags_ = static_cast<uint8_t>((flags_ & (kHasExpiry | kHasFreshUntil)) |
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
  switch (type()) {
    case ValueType::kHash: size += hash_value()->ApproximateBytes(); break;
    case ValueType::kList: size += list_value()->ApproximateBytes(); break;
    case ValueType::kSet: size += set_value()->ApproximateBytes(); break;
    case ValueType::kZSet: size += zset_value()->ApproximateBytes(); break;
    default: break;
  }
  return size;
}

}  // namespace strata::storage
