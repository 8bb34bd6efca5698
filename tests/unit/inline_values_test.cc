// Unit tests of small values kept inside their Entry (entry.h, "Small values inline"): every
// type's image round-trips through FromImage (an owning copy) and ViewOfImage (a borrowed view),
// sorted-set scores keep their exact value in the compact score encoding, and the keyspace
// (typed_values.h) keeps TTLs, accounting and encodings right as a value moves from inline to
// an object.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/entry.h"
#include "storage/hash.h"
#include "storage/keyspace.h"
#include "storage/list.h"
#include "storage/set.h"
#include "storage/typed_values.h"
#include "storage/zset.h"

namespace strata::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

template <typename Value>
std::string ImageOf(const Value& value) {
  std::string image(value.ImageSize(), '\0');
  value.WriteImage(reinterpret_cast<unsigned char*>(image.data()));
  return image;
}

std::vector<std::pair<std::string, std::string>> Fields(const HashValue& hash) {
  std::vector<std::pair<std::string, std::string>> out;
  hash.ForEach([&](std::string_view f, std::string_view v) { out.emplace_back(f, v); });
  return out;
}
std::vector<std::string> Members(const SetValue& set) {
  std::vector<std::string> out;
  set.ForEach([&](std::string_view m) { out.emplace_back(m); });
  return out;
}
std::vector<std::string> Elements(const ListValue& list) {
  std::vector<std::string> out;
  if (list.empty()) return out;
  list.Walk(0, list.size() - 1, [&](size_t, std::string_view e) {
    out.emplace_back(e);
    return true;
  });
  return out;
}
std::vector<std::pair<std::string, double>> Scored(const ZSetValue& zset) {
  std::vector<std::pair<std::string, double>> out;
  if (zset.empty()) return out;
  zset.WalkRanks(0, zset.size() - 1, false, [&](std::string_view m, double s) {
    out.emplace_back(m, s);
    return true;
  });
  return out;
}

TEST(InlineImage, AHashRoundTripsAndACopyIsIndependentOfItsImage) {
  HashValue hash;
  hash.Set("name", "ada");
  hash.Set("born", "1815");
  hash.Set("", "empty field");
  const std::string image = ImageOf(hash);
  ASSERT_GT(image.size(), 0u);

  const HashValue view = HashValue::ViewOfImage(image);
  EXPECT_EQ(Fields(view), Fields(hash));
  EXPECT_EQ(view.Find("born"), "1815");

  HashValue copy = HashValue::FromImage(image);
  copy.Set("born", "1816");
  copy.Erase("name");
  EXPECT_EQ(view.Find("born"), "1815") << "changing the copy must not touch the image";
  EXPECT_EQ(view.Find("name"), "ada");
  EXPECT_EQ(copy.size(), 2u);
}

TEST(InlineImage, EverySetEncodingBelowTheTableRoundTrips) {
  SetLimits limits;
  SetValue small_ints, wide_ints, strings;
  for (int64_t v : {-3, 0, 7, 300}) small_ints.Add(std::to_string(v), limits);
  for (int64_t v : {std::numeric_limits<int64_t>::min(), int64_t{1}, std::numeric_limits<int64_t>::max()}) {
    wide_ints.Add(std::to_string(v), limits);
  }
  for (const char* m : {"apple", "7", "", "banana"}) strings.Add(m, limits);
  ASSERT_EQ(small_ints.encoding(), SetValue::Encoding::kIntset);
  ASSERT_EQ(wide_ints.encoding(), SetValue::Encoding::kIntset);
  ASSERT_EQ(strings.encoding(), SetValue::Encoding::kPacked);

  for (const SetValue* set : {&small_ints, &wide_ints, &strings}) {
    const std::string image = ImageOf(*set);
    ASSERT_GT(image.size(), 0u);
    const SetValue view = SetValue::ViewOfImage(image);
    EXPECT_EQ(view.encoding(), set->encoding());
    EXPECT_EQ(Members(view), Members(*set));
    SetValue copy = SetValue::FromImage(image);
    EXPECT_TRUE(copy.Add("not yet there", limits));
    EXPECT_FALSE(view.Contains("not yet there"));
    EXPECT_EQ(view.size(), set->size());
  }
}

TEST(InlineImage, AOneChunkListRoundTripsAndALongerOneIsAnObject) {
  ListValue list;
  for (const std::string& e : {std::string("b"), std::string(), std::string("12345"), std::string(200, 'x')}) {
    list.PushBack(e, ListLimits());
  }
  list.PushFront("a", ListLimits());
  const std::string image = ImageOf(list);
  ASSERT_GT(image.size(), 0u);
  const ListValue view = ListValue::ViewOfImage(image);
  EXPECT_EQ(Elements(view), Elements(list));
  ListValue copy = ListValue::FromImage(image);
  EXPECT_EQ(copy.PopFront(), "a");
  EXPECT_EQ(Elements(view), Elements(list));

  ListValue chunked;
  for (int i = 0; i < 10; ++i) chunked.PushBack("element", ListLimits{.fill = 2});
  ASSERT_GT(chunked.chunk_count(), 1u);
  EXPECT_EQ(chunked.ImageSize(), 0u);
}

TEST(InlineImage, LargeEncodingsHaveNoImage) {
  HashValue hash;
  hash.Set("f", std::string(65, 'v'));
  ASSERT_EQ(hash.encoding(), "hashtable");
  EXPECT_EQ(hash.ImageSize(), 0u);

  SetValue set;
  SetLimits one;
  one.max_packed_entries = 1;
  set.Add("a", one);
  set.Add("b", one);
  ASSERT_EQ(set.encoding(), SetValue::Encoding::kTable);
  EXPECT_EQ(set.ImageSize(), 0u);

  ZSetValue zset;
  ZSetLimits single;
  single.max_packed_entries = 1;
  zset.Set("a", 1, single);
  zset.Set("b", 2, single);
  ASSERT_EQ(zset.encoding(), "skiplist");
  EXPECT_EQ(zset.ImageSize(), 0u);
}

// Integral scores below 2^53 are stored as varints, everything else as the 8-byte double: every
// score must read back bit for bit and in the right order either way.
TEST(InlineImage, SortedSetScoresReadBackExactlyInEitherScoreEncoding) {
  constexpr double kTwo53 = 9007199254740992.0;
  const std::vector<double> scores = {
      -std::numeric_limits<double>::infinity(), -1e300, -kTwo53 - 2, -kTwo53, -(kTwo53 - 1), -1.5, -1,
      0, std::numeric_limits<double>::denorm_min(), 0.5, 1, 127, 128, 1700000000123.0, kTwo53 - 1, kTwo53,
      kTwo53 + 2, 1e300, std::numeric_limits<double>::infinity()};
  ZSetValue zset;
  for (size_t i = 0; i < scores.size(); ++i) zset.Set("m" + std::to_string(i), scores[i], ZSetLimits());
  ASSERT_EQ(zset.encoding(), "listpack");

  const std::string image = ImageOf(zset);
  const ZSetValue view = ZSetValue::ViewOfImage(image);
  const auto read = Scored(view);
  ASSERT_EQ(read.size(), scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    EXPECT_EQ(read[i].first, "m" + std::to_string(i));
    EXPECT_EQ(std::signbit(read[i].second), std::signbit(scores[i])) << i;
    EXPECT_EQ(read[i].second, scores[i]) << i;
    EXPECT_EQ(view.Score("m" + std::to_string(i)), scores[i]);
  }
}

TEST(InlineImage, SmallIntegralScoresCostLessThanADouble) {
  ZSetValue integral, fractional;
  for (int i = 0; i < 10; ++i) {
    integral.Set("member" + std::to_string(i), i, ZSetLimits());
    fractional.Set("member" + std::to_string(i), i + 0.25, ZSetLimits());
  }
  // Each of the ten fractional scores costs a tag byte and 8 bytes; an integral one of magnitude
  // below 32 costs 1 byte (varint of zigzag(n) << 1).
  EXPECT_EQ(fractional.ImageSize() - integral.ImageSize(), 10u * 8u);
}

// --- In the keyspace --------------------------------------------------------------------------

template <typename Fn>
auto WithKey(Keyspace& ks, std::string_view key, Fn&& fn) {
  std::string_view keys[] = {key};
  Transaction txn(ks, 0, keys, kNow);
  return fn(txn);
}

bool IsInline(Keyspace& ks, std::string_view key) {
  return WithKey(ks, key, [&](Transaction& t) {
    Entry* e = t.Peek(key);
    return e != nullptr && e->value_inline();
  });
}

int64_t HashSet(Keyspace& ks, std::string_view key, std::string_view field, std::string_view value) {
  return WithKey(ks, key, [&](Transaction& t) {
    return *UpdateValue<HashValue>(t, key, true, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
      return hash.Set(field, value) ? 1 : 0;
    });
  });
}

std::string HashGet(Keyspace& ks, std::string_view key, std::string_view field) {
  return WithKey(ks, key, [&](Transaction& t) {
    auto view = *FindValueForRead<HashValue>(t, key);
    if (view.get() == nullptr) return std::string("<absent>");
    auto value = view->Find(field);
    return value ? std::string(*value) : std::string("<no field>");
  });
}

// Bytes the keyspace counts for its entries must equal what they really hold, whichever form.
uint64_t RealEntryBytes(Keyspace& ks, const std::vector<std::string>& keys) {
  uint64_t total = 0;
  for (const std::string& key : keys) {
    total += WithKey(ks, key, [&](Transaction& t) {
      Entry* e = t.Peek(key);
      return e == nullptr ? size_t{0} : e->AllocatedSize();
    });
  }
  return total;
}

TEST(InlineKeyspace, ASmallHashIsInlineAndKeepsItsTtlThroughChangesOfSize) {
  Keyspace ks;
  HashSet(ks, "h", "f", "v");
  ASSERT_TRUE(IsInline(ks, "h"));
  WithKey(ks, "h", [](Transaction& t) { return t.SetExpiry(t.FindForWrite("h"), kNow + 5000); });
  HashSet(ks, "h", "f", "same");             // same image size: rewritten in place
  HashSet(ks, "h", "g", "a longer value");   // new image size: a new entry
  EXPECT_TRUE(IsInline(ks, "h"));
  EXPECT_EQ(HashGet(ks, "h", "f"), "same");
  EXPECT_EQ(HashGet(ks, "h", "g"), "a longer value");
  EXPECT_EQ(WithKey(ks, "h", [](Transaction& t) { return t.Peek("h")->expire_at_ms(); }), kNow + 5000);
  EXPECT_EQ(ks.Stats().entry_bytes, RealEntryBytes(ks, {"h"}));
}

TEST(InlineKeyspace, AnImagePastTheInlineLimitBecomesAnObjectInTheSameEncoding) {
  Keyspace ks;
  // 20 fields of 60-byte values: packed (listpack) by the Redis limits, but an image over 1 KB.
  int i = 0;
  for (; i < 20; ++i) {
    HashSet(ks, "h", "field" + std::to_string(i), std::string(60, 'v'));
    if (!IsInline(ks, "h")) break;
  }
  ASSERT_LT(i, 20) << "the hash never left the entry";
  EXPECT_GE(i, 14) << "left the entry before its image reached 1 KB";
  EXPECT_FALSE(IsInline(ks, "h"));
  EXPECT_EQ(WithKey(ks, "h", [](Transaction& t) {
              return std::string((*FindValueForRead<HashValue>(t, "h"))->encoding());
            }),
            "listpack");
  EXPECT_EQ(ks.Stats().entry_bytes, RealEntryBytes(ks, {"h"}));
  // Objects do not move back inline when they shrink (a write then changes the object in place).
  for (int j = 0; j <= i; ++j) {
    WithKey(ks, "h", [&](Transaction& t) {
      return *UpdateValue<HashValue>(t, "h", false, [&](HashValue& hash) -> absl::StatusOr<int64_t> {
        return hash.Erase("field" + std::to_string(j)) ? 1 : 0;
      });
    });
    if (j < i) {
      EXPECT_FALSE(IsInline(ks, "h"));
    }
  }
  EXPECT_FALSE(WithKey(ks, "h", [](Transaction& t) { return t.Peek("h") != nullptr; })) << "emptied: deleted";
  EXPECT_EQ(ks.Stats().entry_bytes, 0u);
}

TEST(InlineKeyspace, EmptyingAnInlineValueDeletesTheKey) {
  Keyspace ks;
  WithKey(ks, "s", [](Transaction& t) {
    return *UpdateValue<SetValue>(t, "s", true, [](SetValue& set) -> absl::StatusOr<int64_t> {
      set.Add("1", SetLimits());
      return 1;
    });
  });
  ASSERT_TRUE(IsInline(ks, "s"));
  WithKey(ks, "s", [](Transaction& t) {
    return *UpdateValue<SetValue>(t, "s", false, [](SetValue& set) -> absl::StatusOr<int64_t> {
      return set.Remove("1") ? 1 : 0;
    });
  });
  EXPECT_FALSE(WithKey(ks, "s", [](Transaction& t) { return t.Peek("s") != nullptr; }));
  EXPECT_EQ(ks.Stats().entry_bytes, 0u);
}

TEST(InlineKeyspace, CloneAndRebuildCopyTheImage) {
  auto* zset = new ZSetValue();
  zset->Set("a", 1, ZSetLimits());
  zset->Set("b", 2.5, ZSetLimits());
  Entry* original = Entry::NewZSet("z", zset, EntryMeta{});
  ASSERT_TRUE(original->value_inline());

  Entry* clone = Entry::Clone(*original, "copy");
  Entry* renamed = Entry::Rebuild(*original, "renamed", EntryMeta{kNow + 1000, EntryMeta::kNever, 0});
  for (Entry* e : {clone, renamed}) {
    ASSERT_TRUE(e->value_inline());
    EXPECT_EQ(e->value_image(), original->value_image());
    EXPECT_NE(e->value_image().data(), original->value_image().data());
    const ZSetValue view = ZSetValue::ViewOfImage(e->value_image());
    EXPECT_EQ(Scored(view), (std::vector<std::pair<std::string, double>>{{"a", 1}, {"b", 2.5}}));
  }
  EXPECT_EQ(renamed->key(), "renamed");
  EXPECT_EQ(renamed->expire_at_ms(), kNow + 1000);
  Entry::Free(clone);
  Entry::FreeShell(original);  // Rebuild's contract; for an inline value the shell is everything
  Entry::Free(renamed);
}

TEST(InlineKeyspace, AnInlineValueCostsLessThanTheSameValueAsAnObject) {
  auto make_hash = [] {
    auto* hash = new HashValue();
    for (int i = 0; i < 10; ++i) hash->Set("field" + std::to_string(i), "value" + std::to_string(i));
    return hash;
  };
  Entry* small = Entry::NewHash("h", make_hash(), EntryMeta{});
  ASSERT_TRUE(small->value_inline());
  HashValue* reference = make_hash();
  // Inline: the entry header, the key and the image, one block; as an object it would add the
  // HashValue and its own block.
  EXPECT_LT(small->AllocatedSize(), 32 + reference->ImageSize());
  delete reference;
  Entry::Free(small);
}

}  // namespace
}  // namespace strata::storage
