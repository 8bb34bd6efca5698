// Unit tests of the spill tier's record (storage/spill_codec.h): every type reads back with the
// same value, order, TTL, loader freshness and string encoding flags, small (inline) and large
// (object) alike, whatever the encoding limits are when it is read; and every damaged record (a
// prefix, a byte changed in its header, bytes added) is refused rather than read as a value.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/entry.h"
#include "storage/spill_codec.h"
#include "storage/typed_values.h"

namespace strata::storage {
namespace {

constexpr int64_t kExpireAt = 1'900'000'000'123;
constexpr int64_t kFreshUntil = 1'900'000'000'000;

struct EntryDeleter {
  void operator()(Entry* e) const { Entry::Free(e); }
};
using EntryPtr = std::unique_ptr<Entry, EntryDeleter>;

// The decoded entry; a record that does not decode ends the test (the callers dereference it).
EntryPtr Decoded(std::string_view key, std::string_view record, const ValueLimits& limits = ValueLimits()) {
  absl::StatusOr<Entry*> e = DecodeSpillRecord(key, record, limits);
  if (!e.ok()) {
    ADD_FAILURE() << e.status();
    std::abort();
  }
  return EntryPtr(*e);
}

std::vector<std::pair<std::string, std::string>> Fields(const Entry& e) {
  std::vector<std::pair<std::string, std::string>> out;
  ValueView<HashValue>(e)->ForEach([&](std::string_view f, std::string_view v) { out.emplace_back(f, v); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Elements(const Entry& e) {
  ValueView<ListValue> list(e);
  std::vector<std::string> out;
  list->Walk(0, list->size() - 1, [&](size_t, std::string_view element) {
    out.emplace_back(element);
    return true;
  });
  return out;
}

std::vector<std::string> Members(const Entry& e) {
  std::vector<std::string> out;
  ValueView<SetValue>(e)->ForEach([&](std::string_view m) { out.emplace_back(m); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<std::string, double>> Scored(const Entry& e) {
  ValueView<ZSetValue> zset(e);
  std::vector<std::pair<std::string, double>> out;
  zset->WalkRanks(0, zset->size() - 1, false, [&](std::string_view m, double s) {
    out.emplace_back(m, s);
    return true;
  });
  return out;
}

// A hash, list, set and sorted set of `n` elements (n > 128 makes each an object, not inline).
EntryPtr MakeHash(size_t n, const EntryMeta& meta = EntryMeta()) {
  auto* hash = new HashValue();
  for (size_t i = 0; i < n; ++i) hash->Set("field:" + std::to_string(i), "value:" + std::to_string(i * 7));
  return EntryPtr(Entry::NewHash("h", hash, meta));
}
EntryPtr MakeList(size_t n, const EntryMeta& meta = EntryMeta()) {
  auto* list = new ListValue();
  for (size_t i = 0; i < n; ++i) list->PushBack("element:" + std::to_string(i), ListLimits());
  return EntryPtr(Entry::NewList("l", list, meta));
}
EntryPtr MakeSet(size_t n, bool integers, const EntryMeta& meta = EntryMeta()) {
  auto* set = new SetValue();
  for (size_t i = 0; i < n; ++i) set->Add(integers ? std::to_string(i * 3) : "member:" + std::to_string(i), SetLimits());
  return EntryPtr(Entry::NewSet("s", set, meta));
}
EntryPtr MakeZSet(size_t n, const EntryMeta& meta = EntryMeta()) {
  auto* zset = new ZSetValue();
  for (size_t i = 0; i < n; ++i) zset->Set("member:" + std::to_string(i), 0.5 * static_cast<double>(n - i), ZSetLimits());
  return EntryPtr(Entry::NewZSet("z", zset, meta));
}

TEST(SpillCodec, AStringKeepsItsBytesTtlFreshnessAndEncodingFlags) {
  const std::string binary("a\0b\xff\r\n", 6);
  EntryPtr original(Entry::NewString("k", binary, EntryMeta{kExpireAt, kFreshUntil, Entry::kRawEncoding}));
  EntryPtr back = Decoded("k", EncodeSpillRecord(*original));
  EXPECT_EQ(back->key(), "k");
  EXPECT_EQ(back->type(), ValueType::kString);
  EXPECT_EQ(back->string_value(), binary);
  EXPECT_EQ(back->expire_at_ms(), kExpireAt);
  EXPECT_EQ(back->fresh_until_ms(), kFreshUntil);
  EXPECT_EQ(back->meta().encoding_flags, Entry::kRawEncoding);
}

TEST(SpillCodec, AKeyWithoutTtlStaysWithoutOne) {
  EntryPtr original(Entry::NewString("k", "", Entry::kNoExpiry, Entry::kNoIntEncoding));
  EntryPtr back = Decoded("k", EncodeSpillRecord(*original));
  EXPECT_FALSE(back->has_expiry());
  EXPECT_EQ(back->fresh_until_ms(), EntryMeta::kNever);
  EXPECT_EQ(back->string_value(), "");
  EXPECT_EQ(back->meta().encoding_flags, Entry::kNoIntEncoding);
}

TEST(SpillCodec, EveryCollectionTypeReadsBackSmallAndLarge) {
  for (size_t n : {1, 5, 300}) {
    SCOPED_TRACE(n);
    EntryPtr hash = MakeHash(n, EntryMeta{kExpireAt});
    EntryPtr hash_back = Decoded("h", EncodeSpillRecord(*hash));
    EXPECT_EQ(Fields(*hash_back), Fields(*hash));
    EXPECT_EQ(hash_back->expire_at_ms(), kExpireAt);

    EntryPtr list = MakeList(n);
    EXPECT_EQ(Elements(*Decoded("l", EncodeSpillRecord(*list))), Elements(*list));  // order kept

    for (bool integers : {false, true}) {
      EntryPtr set = MakeSet(n, integers);
      EXPECT_EQ(Members(*Decoded("s", EncodeSpillRecord(*set))), Members(*set));
    }

    EntryPtr zset = MakeZSet(n);
    EXPECT_EQ(Scored(*Decoded("z", EncodeSpillRecord(*zset))), Scored(*zset));
  }
}

TEST(SpillCodec, ScoresKeepEveryBitIncludingInfinitiesAndNegativeZero) {
  auto* zset = new ZSetValue();
  const std::vector<double> scores = {-std::numeric_limits<double>::infinity(), -0.0, 1e-300, 0.1, 3.0,
                                      std::numeric_limits<double>::infinity()};
  for (size_t i = 0; i < scores.size(); ++i) zset->Set("m" + std::to_string(i), scores[i], ZSetLimits());
  EntryPtr original(Entry::NewZSet("z", zset, EntryMeta()));
  const std::vector<std::pair<std::string, double>> held = Scored(*original);
  const std::vector<std::pair<std::string, double>> back = Scored(*Decoded("z", EncodeSpillRecord(*original)));
  ASSERT_EQ(back.size(), scores.size());
  for (size_t i = 0; i < held.size(); ++i) {
    EXPECT_EQ(back[i].first, held[i].first);
    EXPECT_EQ(std::bit_cast<uint64_t>(back[i].second), std::bit_cast<uint64_t>(held[i].second)) << held[i].first;
  }
}

TEST(SpillCodec, AValueIsReadUnderTheLimitsOfItsReaderNotOfItsWriter) {
  // Written as a small inline hash; read where hash-max-listpack-entries is 2, it is a table.
  EntryPtr small = MakeHash(5);
  ASSERT_TRUE(small->value_inline());
  ValueLimits tight;
  tight.hash.max_packed_entries = 2;
  EntryPtr back = Decoded("h", EncodeSpillRecord(*small), tight);
  EXPECT_FALSE(back->value_inline());
  EXPECT_EQ(Fields(*back), Fields(*small));
}

TEST(SpillCodec, TheExpiryIsReadFromTheHeaderAlone) {
  EntryPtr with_ttl = MakeList(300, EntryMeta{kExpireAt});
  EXPECT_EQ(*SpillRecordExpireAt(EncodeSpillRecord(*with_ttl)), kExpireAt);
  EntryPtr without(Entry::NewString("k", "v", Entry::kNoExpiry));
  EXPECT_EQ(*SpillRecordExpireAt(EncodeSpillRecord(*without)), Entry::kNoExpiry);
}

TEST(SpillCodec, EveryPrefixOfARecordIsRefused) {
  std::vector<EntryPtr> entries;
  entries.push_back(EntryPtr(Entry::NewString("k", "a value", EntryMeta{kExpireAt, kFreshUntil})));
  entries.push_back(MakeHash(3));
  entries.push_back(MakeList(3));
  entries.push_back(MakeSet(3, false));
  entries.push_back(MakeSet(3, true));
  entries.push_back(MakeZSet(3));
  for (const EntryPtr& e : entries) {
    const std::string record = EncodeSpillRecord(*e);
    for (size_t length = 0; length < record.size(); ++length) {
      absl::StatusOr<Entry*> got = DecodeSpillRecord("k", std::string_view(record).substr(0, length), ValueLimits());
      EXPECT_FALSE(got.ok()) << "type " << static_cast<int>(e->type()) << ", prefix of " << length;
      if (got.ok()) Entry::Free(*got);
    }
    absl::StatusOr<Entry*> longer = DecodeSpillRecord("k", record + "x", ValueLimits());
    EXPECT_FALSE(longer.ok());
    if (longer.ok()) Entry::Free(*longer);
  }
}

TEST(SpillCodec, AnUnknownVersionTypeOrFlagIsRefused) {
  EntryPtr e(Entry::NewString("k", "v", Entry::kNoExpiry));
  const std::string record = EncodeSpillRecord(*e);
  for (size_t byte : {0, 1, 2, 3}) {
    std::string damaged = record;
    damaged[byte] = static_cast<char>(0x7f);
    absl::StatusOr<Entry*> got = DecodeSpillRecord("k", damaged, ValueLimits());
    EXPECT_FALSE(got.ok()) << "byte " << byte;
    if (got.ok()) Entry::Free(*got);
  }
  EXPECT_THAT(SpillRecordExpireAt(std::string("\x02\x00\x00\x00", 4)).status().message(),
              testing::HasSubstr("unknown format version 2"));
}

TEST(SpillCodec, ACollectionWithARepeatedElementOrNoneIsRefused) {
  // Hand-made records: version 1, type, no flags, no optional fields, then the payload.
  auto record = [](ValueType type, std::string payload) {
    return std::string({1, static_cast<char>(type), 0, 0}) + payload;
  };
  const std::string repeated_field = record(ValueType::kHash, std::string("\x02\x01" "f\x01" "a\x01" "f\x01" "b"));
  const std::string repeated_member = record(ValueType::kSet, std::string("\x02\x01" "m\x01" "m"));
  const std::string empty_list = record(ValueType::kList, std::string("\x00", 1));
  const std::string nan_score = record(ValueType::kZSet, std::string("\x01\x01" "m") + std::string("\x00\x00\x00\x00\x00\x00\xf8\x7f", 8));
  for (const std::string& bad : {repeated_field, repeated_member, empty_list, nan_score}) {
    absl::StatusOr<Entry*> got = DecodeSpillRecord("k", bad, ValueLimits());
    EXPECT_FALSE(got.ok());
    if (got.ok()) Entry::Free(*got);
  }
  // The same shapes without the repeat are fine: the refusals are about the repeat.
  EntryPtr fine = Decoded("k", record(ValueType::kHash, std::string("\x02\x01" "f\x01" "a\x01" "g\x01" "b")));
  EXPECT_EQ(Fields(*fine), (std::vector<std::pair<std::string, std::string>>{{"f", "a"}, {"g", "b"}}));
}

}  // namespace
}  // namespace strata::storage
