#include "storage/hash.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "storage/dict.h"
#include "storage/entry.h"
#include "storage/blocks.h"
#include "storage/varint.h"

namespace strata::storage {

namespace {

constexpr size_t kHeaderBytes = 8;  // uint32 fields, uint32 bytes (of pairs, after the header)
// A packed block never grows past this (Redis's listpack safety limit, 1 GB): the header's byte
// count is 32-bit, and a larger hash is better as a table anyway.
constexpr size_t kMaxPackedBytes = size_t{1} << 30;

// The string at data+offset; *next is where the following one starts.
std::string_view StringAt(const unsigned char* data, size_t offset, size_t* next) {
  uint64_t length;
  const unsigned char* start = GetVarint(data + offset, &length);
  *next = static_cast<size_t>(start - data) + length;
  return std::string_view(reinterpret_cast<const char*>(start), length);
}

size_t EncodedSize(std::string_view s) { return VarintSize(s.size()) + s.size(); }

unsigned char* Encode(unsigned char* out, std::string_view s) {
  out = PutVarint(out, s.size());
  if (!s.empty()) std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

void Store32(unsigned char* at, uint32_t value) { std::memcpy(at, &value, 4); }
uint32_t Load32(const unsigned char* at) {
  uint32_t value;
  std::memcpy(&value, at, 4);
  return value;
}

}  // namespace

struct HashValue::Table {
  Dict dict;
  size_t entry_bytes = 0;  // allocator bytes of the field entries

  void Put(std::string_view field, std::string_view value) {
    Entry* e = Entry::NewString(field, value, EntryMeta{});
    entry_bytes += UsableSize(e);
    dict.Insert(e, HashKey(field));
  }
  ~Table() {
    dict.Clear([](Entry* e) { Entry::Free(e); });
  }
};

HashValue::HashValue(const HashValue& other) {
  if (other.packed_ != nullptr) {
    packed_ = CopyToNewBlock(other.packed_, kHeaderBytes + other.packed_bytes());
  }
  if (other.table_) {
    table_ = std::make_unique<Table>();
    other.ForEach([&](std::string_view field, std::string_view value) { table_->Put(field, value); });
  }
}

HashValue::HashValue() = default;

HashValue::HashValue(HashValue&& other) noexcept
    : packed_(std::exchange(other.packed_, nullptr)), table_(std::move(other.table_)), borrowed_(other.borrowed_) {}

HashValue::~HashValue() {
  if (!borrowed_) std::free(packed_);
}

size_t HashValue::ImageSize() const { return table_ || packed_ == nullptr ? 0 : kHeaderBytes + packed_bytes(); }

void HashValue::WriteImage(unsigned char* out) const { std::memcpy(out, packed_, ImageSize()); }

HashValue HashValue::FromImage(std::string_view image) {
  HashValue hash;
  hash.packed_ = CopyToNewBlock(image.data(), image.size());
  return hash;
}

HashValue HashValue::ViewOfImage(std::string_view image) {
  HashValue hash;
  hash.packed_ = reinterpret_cast<unsigned char*>(const_cast<char*>(image.data()));
  hash.borrowed_ = true;
  return hash;
}

uint32_t HashValue::packed_fields() const { return packed_ ? Load32(packed_) : 0; }
uint32_t HashValue::packed_bytes() const { return packed_ ? Load32(packed_ + 4) : 0; }

size_t HashValue::size() const { return table_ ? table_->dict.size() : packed_fields(); }

bool HashValue::FindPacked(std::string_view field, size_t* offset, size_t* length, std::string_view* value) const {
  if (packed_ == nullptr) return false;
  const unsigned char* data = packed_ + kHeaderBytes;
  const size_t end = packed_bytes();
  size_t at = 0;
  while (at < end) {
    size_t value_at, next;
    std::string_view name = StringAt(data, at, &value_at);
    std::string_view v = StringAt(data, value_at, &next);
    if (name == field) {
      *offset = at;
      *length = next - at;
      *value = v;
      return true;
    }
    at = next;
  }
  return false;
}

std::optional<std::string_view> HashValue::Find(std::string_view field) const {
  if (table_) {
    const Entry* e = table_->dict.Find(field, HashKey(field));
    if (e == nullptr) return std::nullopt;
    return e->string_value();
  }
  size_t offset, length;
  std::string_view value;
  if (!FindPacked(field, &offset, &length, &value)) return std::nullopt;
  return value;
}

bool HashValue::Set(std::string_view field, std::string_view value, const HashLimits& limits) {
  if (!table_ && (static_cast<int64_t>(field.size()) > limits.max_packed_value ||
                  static_cast<int64_t>(value.size()) > limits.max_packed_value ||
                  packed_bytes() + EncodedSize(field) + EncodedSize(value) > kMaxPackedBytes)) {
    ConvertToTable();
  }
  if (table_) {
    const uint64_t hash = HashKey(field);
    if (Entry* old = table_->dict.Remove(field, hash)) {
      table_->entry_bytes -= UsableSize(old);
      Entry::Free(old);
      table_->Put(field, value);
      return false;
    }
    table_->Put(field, value);
    return true;
  }
  size_t offset, length;
  std::string_view existing;
  const bool found = FindPacked(field, &offset, &length, &existing);
  const uint32_t fields = packed_fields();
  const uint32_t bytes = packed_bytes();
  const size_t pair = EncodedSize(field) + EncodedSize(value);
  if (!found) {
    auto* grown = static_cast<unsigned char*>(std::realloc(packed_, kHeaderBytes + bytes + pair));
    if (grown == nullptr) throw std::bad_alloc();
    packed_ = grown;
    Encode(Encode(packed_ + kHeaderBytes + bytes, field), value);
    Store32(packed_, fields + 1);
    Store32(packed_ + 4, static_cast<uint32_t>(bytes + pair));
    // Redis converts once the listpack has more than hash-max-listpack-entries fields.
    if (static_cast<int64_t>(fields) + 1 > limits.max_packed_entries) ConvertToTable();
    return true;
  }
  // Replace the pair in place (same position: HGETALL order is kept, as in a listpack).
  const size_t new_bytes = bytes - length + pair;
  const size_t tail = bytes - offset - length;
  if (pair > length) {
    auto* grown = static_cast<unsigned char*>(std::realloc(packed_, kHeaderBytes + new_bytes));
    if (grown == nullptr) throw std::bad_alloc();
    packed_ = grown;
  }
  unsigned char* at = packed_ + kHeaderBytes + offset;
  std::memmove(at + pair, at + length, tail);
  Encode(Encode(at, field), value);
  Store32(packed_ + 4, static_cast<uint32_t>(new_bytes));
  if (pair < length) {
    if (auto* shrunk = static_cast<unsigned char*>(std::realloc(packed_, kHeaderBytes + new_bytes))) packed_ = shrunk;
  }
  return false;
}

bool HashValue::Erase(std::string_view field) {
  if (table_) {
    Entry* e = table_->dict.Remove(field, HashKey(field));
    if (e == nullptr) return false;
    table_->entry_bytes -= UsableSize(e);
    Entry::Free(e);
    table_->dict.MaybeShrink();
    return true;
  }
  size_t offset, length;
  std::string_view value;
  if (!FindPacked(field, &offset, &length, &value)) return false;
  const uint32_t fields = packed_fields() - 1;
  const uint32_t bytes = packed_bytes() - static_cast<uint32_t>(length);
  if (fields == 0) {
    std::free(packed_);
    packed_ = nullptr;
    return true;
  }
  unsigned char* at = packed_ + kHeaderBytes + offset;
  std::memmove(at, at + length, bytes - offset);
  Store32(packed_, fields);
  Store32(packed_ + 4, bytes);
  if (auto* shrunk = static_cast<unsigned char*>(std::realloc(packed_, kHeaderBytes + bytes))) packed_ = shrunk;
  return true;
}

void HashValue::ForEach(absl::FunctionRef<void(std::string_view, std::string_view)> fn) const {
  if (table_) {
    uint64_t cursor = 0;
    do {
      cursor = table_->dict.Scan(cursor, SIZE_MAX, [&](const Entry* e) { fn(e->key(), e->string_value()); });
    } while (cursor != 0);
    return;
  }
  if (packed_ == nullptr) return;
  const unsigned char* data = packed_ + kHeaderBytes;
  const size_t end = packed_bytes();
  size_t at = 0;
  while (at < end) {
    std::string_view field = StringAt(data, at, &at);
    std::string_view value = StringAt(data, at, &at);
    fn(field, value);
  }
}

uint64_t HashValue::Scan(uint64_t cursor, size_t count,
                         absl::FunctionRef<void(std::string_view, std::string_view)> fn) const {
  if (!table_) {
    ForEach(fn);
    return 0;
  }
  return table_->dict.Scan(cursor, count, [&](const Entry* e) { fn(e->key(), e->string_value()); });
}

void HashValue::ConvertToTable() {
  auto table = std::make_unique<Table>();
  ForEach([&](std::string_view field, std::string_view value) { table->Put(field, value); });
  table_ = std::move(table);
  std::free(packed_);
  packed_ = nullptr;
}

size_t HashValue::ApproximateBytes() const {
  size_t bytes = sizeof(HashValue) + UsableSize(packed_);
  if (table_) bytes += sizeof(Table) + table_->dict.overhead_bytes() + table_->entry_bytes;
  return bytes;
}

}  // namespace strata::storage
