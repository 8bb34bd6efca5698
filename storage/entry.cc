#include "storage/entry.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace strata::storage {

namespace {

constexpr size_t kHeaderSize = 14;  // next + access clock + type + flags
constexpr size_t kExpiryBlockSize = 12;

size_t VarintSize(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

unsigned char* PutVarint(unsigned char* out, uint64_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<unsigned char>(value | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<unsigned char>(value);
  return out;
}

const unsigned char* GetVarint(const unsigned char* in, uint64_t* value) {
  uint64_t result = 0;
  int shift = 0;
  while (*in & 0x80) {
    result |= static_cast<uint64_t>(*in++ & 0x7f) << shift;
    shift += 7;
  }
  result |= static_cast<uint64_t>(*in++) << shift;
  *value = result;
  return in;
}

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

Entry* Entry::NewString(std::string_view key, std::string_view value, int64_t expire_at_ms,
                        uint8_t extra_flags) {
  const bool with_expiry = expire_at_ms != kNoExpiry;
  const size_t size = kHeaderSize + (with_expiry ? kExpiryBlockSize : 0) + VarintSize(key.size()) +
                      key.size() + VarintSize(value.size()) + value.size();
  void* memory = std::malloc(size);
  if (memory == nullptr) throw std::bad_alloc();
  Entry* entry = new (memory) Entry();
  entry->next_ = nullptr;
  entry->access_clock_ = 0;
  entry->type_ = static_cast<uint8_t>(ValueType::kString);
  entry->flags_ = static_cast<uint8_t>((with_expiry ? kHasExpiry : 0) | extra_flags);
  unsigned char* out = reinterpret_cast<unsigned char*>(entry) + kHeaderSize;
  if (with_expiry) {
    std::memcpy(out, &expire_at_ms, sizeof(expire_at_ms));
    std::memset(out + 8, 0, 4);
    out += kExpiryBlockSize;
  }
  out = PutVarint(out, key.size());
  std::memcpy(out, key.data(), key.size());
  out += key.size();
  out = PutVarint(out, value.size());
  if (!value.empty()) std::memcpy(out, value.data(), value.size());
  return entry;
}

void Entry::Free(Entry* entry) { std::free(entry); }

Entry* Entry::WithExpiry(const Entry* from, int64_t expire_at_ms) {
  return NewString(from->key(), from->string_value(), expire_at_ms,
                   static_cast<uint8_t>(from->flags_ & ~kHasExpiry));
}

const unsigned char* Entry::AfterHeader() const {
  return reinterpret_cast<const unsigned char*>(this) + kHeaderSize;
}

const unsigned char* Entry::KeyLengthStart() const {
  return AfterHeader() + (has_expiry() ? kExpiryBlockSize : 0);
}

int64_t Entry::expire_at_ms() const {
  if (!has_expiry()) return kNoExpiry;
  int64_t when;
  std::memcpy(&when, AfterHeader(), sizeof(when));
  return when;
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
  std::string_view k = key();
  uint64_t length;
  const unsigned char* value_start =
      GetVarint(reinterpret_cast<const unsigned char*>(k.data() + k.size()), &length);
  return std::string_view(reinterpret_cast<const char*>(value_start), length);
}

size_t Entry::AllocatedSize() const { return malloc_usable_size(const_cast<Entry*>(this)); }

}  // namespace strata::storage
