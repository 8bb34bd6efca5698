#include "storage/spill_codec.h"

#include <bit>
#include <memory>

#include "storage/typed_values.h"
#include "storage/varint.h"

namespace strata::storage {
namespace {

constexpr uint8_t kHasExpireAt = 1;
constexpr uint8_t kHasFreshUntil = 2;
// The encoding flags a record keeps: how Redis reports a string after a reload depends on them.
constexpr uint8_t kKeptEncodingFlags = Entry::kRawEncoding | Entry::kNoIntEncoding;

void PutFixed64(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

void PutLength(std::string* out, uint64_t value) {
  unsigned char buffer[10];
  out->append(reinterpret_cast<const char*>(buffer), PutVarint(buffer, value) - buffer);
}

void PutBytes(std::string* out, std::string_view bytes) {
  PutLength(out, bytes.size());
  out->append(bytes);
}

// Reads a record front to back; every read checks the bytes are there (a record comes from disk).
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool Byte(uint8_t* out) {
    if (rest_.empty()) return false;
    *out = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return true;
  }
  bool Fixed64(uint64_t* out) {
    if (rest_.size() < 8) return false;
    uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<unsigned char>(rest_[static_cast<size_t>(i)])} << (8 * i);
    rest_.remove_prefix(8);
    *out = value;
    return true;
  }
  bool Varint(uint64_t* out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte;
      if (!Byte(&byte)) return false;
      value |= uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) {
        *out = value;
        return true;
      }
    }
    return false;  // longer than any 64-bit value
  }
  bool Bytes(std::string_view* out) {
    uint64_t length;
    if (!Varint(&length) || length > rest_.size()) return false;
    *out = rest_.substr(0, length);
    rest_.remove_prefix(length);
    return true;
  }
  // A count of items each at least `min_item_bytes` long: bounded by what is left, so a corrupt
  // count cannot make the caller loop (or reserve) far past the record.
  bool Count(size_t min_item_bytes, uint64_t* out) { return Varint(out) && *out <= rest_.size() / min_item_bytes; }
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

struct Header {
  ValueType type;
  EntryMeta meta;
};

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(std::string("spill record: ").append(what));
}

absl::StatusOr<Header> ReadHeader(Reader& in) {
  uint8_t version, type, encoding_flags, optional_fields;
  if (!in.Byte(&version) || !in.Byte(&type) || !in.Byte(&encoding_flags) || !in.Byte(&optional_fields)) {
    return Malformed("truncated header");
  }
  if (version != kSpillFormatVersion) return Malformed("unknown format version " + std::to_string(version));
  if (type > static_cast<uint8_t>(ValueType::kHash)) return Malformed("unknown type " + std::to_string(type));
  if ((encoding_flags & ~kKeptEncodingFlags) != 0 || (optional_fields & ~(kHasExpireAt | kHasFreshUntil)) != 0) {
    return Malformed("unknown flags");
  }
  Header header{static_cast<ValueType>(type), EntryMeta{Entry::kNoExpiry, EntryMeta::kNever, encoding_flags}};
  uint64_t value;
  if (optional_fields & kHasExpireAt) {
    if (!in.Fixed64(&value)) return Malformed("truncated expiry");
    header.meta.expire_at_ms = static_cast<int64_t>(value);
  }
  if (optional_fields & kHasFreshUntil) {
    if (!in.Fixed64(&value)) return Malformed("truncated freshness");
    header.meta.fresh_until_ms = static_cast<int64_t>(value);
  }
  return header;
}

void EncodePayload(const Entry& entry, std::string* out) {
  switch (entry.type()) {
    case ValueType::kString:
      PutBytes(out, entry.string_value());
      return;
    case ValueType::kHash: {
      ValueView<HashValue> hash(entry);
      PutLength(out, hash->size());
      hash->ForEach([&](std::string_view field, std::string_view value) {
        PutBytes(out, field);
        PutBytes(out, value);
      });
      return;
    }
    case ValueType::kList: {
      ValueView<ListValue> list(entry);
      PutLength(out, list->size());
      list->Walk(0, list->size() - 1, [&](size_t, std::string_view element) {
        PutBytes(out, element);
        return true;
      });
      return;
    }
    case ValueType::kSet: {
      ValueView<SetValue> set(entry);
      PutLength(out, set->size());
      set->ForEach([&](std::string_view member) { PutBytes(out, member); });
      return;
    }
    case ValueType::kZSet: {
      ValueView<ZSetValue> zset(entry);
      PutLength(out, zset->size());
      zset->WalkRanks(0, zset->size() - 1, false, [&](std::string_view member, double score) {
        PutBytes(out, member);
        PutFixed64(out, std::bit_cast<uint64_t>(score));
        return true;
      });
      return;
    }
  }
}

// Each collection decoder builds the value, then hands it to its Entry factory. A record of an
// empty collection or with a repeated field or member is refused: strata never writes one.
absl::StatusOr<Entry*> DecodeHash(std::string_view key, Reader& in, const EntryMeta& meta, const HashLimits& limits) {
  uint64_t count;
  if (!in.Count(2, &count) || count == 0) return Malformed("bad hash size");
  auto hash = std::make_unique<HashValue>();
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view field, value;
    if (!in.Bytes(&field) || !in.Bytes(&value)) return Malformed("truncated hash");
    if (!hash->Set(field, value, limits)) return Malformed("repeated hash field");
  }
  if (!in.done()) return Malformed("bytes after the hash");
  return Entry::NewHash(key, hash.release(), meta);
}

absl::StatusOr<Entry*> DecodeList(std::string_view key, Reader& in, const EntryMeta& meta, const ListLimits& limits) {
  uint64_t count;
  if (!in.Count(1, &count) || count == 0) return Malformed("bad list size");
  auto list = std::make_unique<ListValue>();
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view element;
    if (!in.Bytes(&element)) return Malformed("truncated list");
    list->PushBack(element, limits);
  }
  if (!in.done()) return Malformed("bytes after the list");
  return Entry::NewList(key, list.release(), meta);
}

absl::StatusOr<Entry*> DecodeSet(std::string_view key, Reader& in, const EntryMeta& meta, const SetLimits& limits) {
  uint64_t count;
  if (!in.Count(1, &count) || count == 0) return Malformed("bad set size");
  auto set = std::make_unique<SetValue>();
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view member;
    if (!in.Bytes(&member)) return Malformed("truncated set");
    if (!set->Add(member, limits)) return Malformed("repeated set member");
  }
  if (!in.done()) return Malformed("bytes after the set");
  return Entry::NewSet(key, set.release(), meta);
}

absl::StatusOr<Entry*> DecodeZSet(std::string_view key, Reader& in, const EntryMeta& meta, const ZSetLimits& limits) {
  uint64_t count;
  if (!in.Count(9, &count) || count == 0) return Malformed("bad sorted set size");
  auto zset = std::make_unique<ZSetValue>();
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view member;
    uint64_t bits;
    if (!in.Bytes(&member) || !in.Fixed64(&bits)) return Malformed("truncated sorted set");
    const double score = std::bit_cast<double>(bits);
    if (score != score) return Malformed("NaN score");  // no command stores one
    if (!zset->Set(member, score, limits)) return Malformed("repeated sorted set member");
  }
  if (!in.done()) return Malformed("bytes after the sorted set");
  return Entry::NewZSet(key, zset.release(), meta);
}

}  // namespace

std::string EncodeSpillRecord(const Entry& entry) {
  std::string out;
  const EntryMeta meta = entry.meta();
  const uint8_t optional_fields = (meta.expire_at_ms != Entry::kNoExpiry ? kHasExpireAt : 0) |
                                  (meta.fresh_until_ms != EntryMeta::kNever ? kHasFreshUntil : 0);
  out.push_back(static_cast<char>(kSpillFormatVersion));
  out.push_back(static_cast<char>(entry.type()));
  out.push_back(static_cast<char>(meta.encoding_flags & kKeptEncodingFlags));
  out.push_back(static_cast<char>(optional_fields));
  if (optional_fields & kHasExpireAt) PutFixed64(&out, static_cast<uint64_t>(meta.expire_at_ms));
  if (optional_fields & kHasFreshUntil) PutFixed64(&out, static_cast<uint64_t>(meta.fresh_until_ms));
  EncodePayload(entry, &out);
  // The record waits in the spill's queue, which counts its bytes: no doubling slack.
  out.shrink_to_fit();
  return out;
}

absl::StatusOr<Entry*> DecodeSpillRecord(std::string_view key, std::string_view record, const ValueLimits& limits) {
  Reader in(record);
  absl::StatusOr<Header> header = ReadHeader(in);
  if (!header.ok()) return header.status();
  switch (header->type) {
    case ValueType::kString: {
      std::string_view value;
      if (!in.Bytes(&value) || !in.done()) return Malformed("bad string");
      return Entry::NewString(key, value, header->meta);
    }
    case ValueType::kHash: return DecodeHash(key, in, header->meta, limits.hash);
    case ValueType::kList: return DecodeList(key, in, header->meta, limits.list);
    case ValueType::kSet: return DecodeSet(key, in, header->meta, limits.set);
    case ValueType::kZSet: return DecodeZSet(key, in, header->meta, limits.zset);
  }
  return Malformed("unknown type");
}

absl::StatusOr<SpillRecordSummary> SummarizeSpillRecord(std::string_view record) {
  Reader in(record);
  absl::StatusOr<Header> header = ReadHeader(in);
  if (!header.ok()) return header.status();
  return SpillRecordSummary{header->type, header->meta.expire_at_ms};
}

absl::StatusOr<int64_t> SpillRecordExpireAt(std::string_view record) {
  absl::StatusOr<SpillRecordSummary> summary = SummarizeSpillRecord(record);
  if (!summary.ok()) return summary.status();
  return summary->expire_at_ms;
}

}  // namespace strata::storage
