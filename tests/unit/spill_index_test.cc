// SpillIndex (storage/spill_index.h): the in-memory index of spilled keys, and its walk in the
// order of Dict's SCAN cursor.
#include "storage/spill_index.h"

#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "storage/dict.h"

namespace strata::storage {
namespace {

SpilledKey Spilled(std::string key, uint64_t generation, uint32_t record_bytes = 10) {
  return SpilledKey{std::move(key), generation, Entry::kNoExpiry, record_bytes, ValueType::kString};
}

TEST(SpillIndex, FindsPutsReplacesAndErasesByKeyAndCountsRecordBytes) {
  SpillIndex index;
  EXPECT_TRUE(index.empty());
  EXPECT_EQ(index.Find(HashKey("a"), "a"), nullptr);
  index.Put(HashKey("a"), Spilled("a", 1, 10));
  index.Put(HashKey("b"), Spilled("b", 2, 20));
  index.Put(HashKey("a"), Spilled("a", 3, 15));  // spilled again: replaced, not added
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.record_bytes(), 35u);
  ASSERT_NE(index.Find(HashKey("a"), "a"), nullptr);
  EXPECT_EQ(index.Find(HashKey("a"), "a")->generation, 3u);
  EXPECT_FALSE(index.Erase(HashKey("c"), "c"));
  EXPECT_TRUE(index.Erase(HashKey("a"), "a"));
  EXPECT_EQ(index.Find(HashKey("a"), "a"), nullptr);
  EXPECT_EQ(index.record_bytes(), 20u);
  index.Clear();
  EXPECT_TRUE(index.empty());
  EXPECT_EQ(index.record_bytes(), 0u);
}

TEST(SpillIndex, KeepsTwoKeysThatShareAHash) {
  SpillIndex index;
  index.Put(42, Spilled("one", 1));
  index.Put(42, Spilled("two", 2));
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.Find(42, "one")->generation, 1u);
  EXPECT_EQ(index.Find(42, "two")->generation, 2u);
  EXPECT_TRUE(index.Erase(42, "one"));
  EXPECT_EQ(index.Find(42, "one"), nullptr);
  EXPECT_EQ(index.Find(42, "two")->generation, 2u);
}

TEST(SpillIndex, ABucketHoldsExactlyTheKeysWhoseHashFallsInItUnderTheMask) {
  SpillIndex index;
  std::map<std::string, uint64_t> hashes;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "k" + std::to_string(i);
    hashes[key] = HashKey(key);
    index.Put(hashes[key], Spilled(key, static_cast<uint64_t>(i)));
  }
  for (uint64_t mask : {uint64_t{0}, uint64_t{1}, uint64_t{7}, uint64_t{255}, uint64_t{4095}}) {
    // Walking every bucket in cursor order visits every key exactly once.
    std::map<std::string, int> visits;
    uint64_t cursor = 0;
    do {
      index.ForEachInBucket(cursor, mask, [&](uint64_t hash, const SpilledKey& spilled) {
        EXPECT_EQ(hash, hashes[spilled.key]);
        EXPECT_EQ(hash & mask, cursor & mask) << spilled.key << " mask " << mask;
        ++visits[spilled.key];
      });
      cursor = Dict::NextCursor(cursor, mask);
    } while (cursor != 0);
    EXPECT_EQ(visits.size(), 1000u) << "mask " << mask;
    for (const auto& [key, n] : visits) EXPECT_EQ(n, 1) << key;
  }
}

TEST(SpillIndex, RandomDrawsEachKeyInProportionToTheGapBeforeIt) {
  // A draw takes the first key at or after a uniform point of the (reversed) hash space: with
  // evenly spread hashes (as a good hash makes them, on average) every key is as likely.
  SpillIndex index;
  uint64_t unused;
  EXPECT_EQ(index.Random(7, &unused), nullptr);
  std::map<std::string, uint64_t> hashes;
  for (uint64_t i = 0; i < 20; ++i) {
    const std::string key = "k" + std::to_string(i);
    hashes[key] = ReverseBits(i * (UINT64_MAX / 20));
    index.Put(hashes[key], Spilled(key, 0));
  }
  std::map<std::string, int> drawn;
  uint64_t state = 88172645463325252ULL;
  for (int i = 0; i < 20000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    uint64_t hash;
    const SpilledKey* spilled = index.Random(state, &hash);
    ASSERT_NE(spilled, nullptr);
    EXPECT_EQ(hash, hashes[spilled->key]);
    ++drawn[spilled->key];
  }
  ASSERT_EQ(drawn.size(), 20u);
  for (const auto& [key, n] : drawn) EXPECT_NEAR(n, 1000, 200) << key;
}

}  // namespace
}  // namespace strata::storage
