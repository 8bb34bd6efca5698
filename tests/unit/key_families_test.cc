#include "storage/key_families.h"

#include <gtest/gtest.h>

#include "storage/keyspace.h"

namespace strata::storage {
namespace {

KeyFamilies Families(std::vector<KeyFamilies::Family> f) { return KeyFamilies(std::move(f)); }

TEST(KeyFamilies, PrefixGlobMatchesKeysWithThatPrefixOnly) {
  KeyFamilies f = Families({{"users", "user:*"}});
  EXPECT_EQ(f.Classify("user:1"), 0);
  EXPECT_EQ(f.Classify("user:"), 0);
  EXPECT_EQ(f.Classify("users:1"), -1);
  EXPECT_EQ(f.Classify("use"), -1);
  EXPECT_EQ(f.Classify(""), -1);
}

TEST(KeyFamilies, FirstFamilyInOrderWins) {
  KeyFamilies f = Families({{"admins", "user:admin:*"}, {"users", "user:*"}});
  EXPECT_EQ(f.Classify("user:admin:7"), 0);
  EXPECT_EQ(f.Classify("user:7"), 1);
}

TEST(KeyFamilies, GeneralGlobsUseRedisRules) {
  KeyFamilies f = Families({{"sessions", "sess:*:data"}, {"short", "k?"}, {"any-digit", "[0-9]*"}, {"escaped", "a\\*b"}});
  EXPECT_EQ(f.Classify("sess:42:data"), 0);
  EXPECT_EQ(f.Classify("sess:42:meta"), -1);
  EXPECT_EQ(f.Classify("kx"), 1);
  EXPECT_EQ(f.Classify("kxy"), -1);
  EXPECT_EQ(f.Classify("7up"), 2);
  EXPECT_EQ(f.Classify("a*b"), 3);
  EXPECT_EQ(f.Classify("axb"), -1);
}

TEST(KeyFamilies, GlobStartingWithAWildcardIsTriedForEveryKey) {
  KeyFamilies f = Families({{"users", "user:*"}, {"tmp", "*:tmp"}, {"all", "*"}});
  EXPECT_EQ(f.Classify("user:1:tmp"), 0);  // order still decides
  EXPECT_EQ(f.Classify("x:tmp"), 1);
  EXPECT_EQ(f.Classify("zzz"), 2);
  EXPECT_EQ(f.Classify(""), 2);
}

TEST(KeyFamilies, LookupsAndEvictionsAreCountedPerFamily) {
  Keyspace keyspace;
  keyspace.SetKeyFamilies(std::make_unique<const KeyFamilies>(
      std::vector<KeyFamilies::Family>{{"users", "user:*"}, {"carts", "cart:*"}}));
  const int64_t now = 1000;
  auto set = [&](std::string_view key) {
    const std::string_view keys[] = {key};
    Transaction txn(keyspace, 0, keys, now);
    ASSERT_NE(txn.SetString(key, "v", Entry::kNoExpiry), nullptr);
  };
  auto get = [&](std::string_view key) {
    const std::string_view keys[] = {key};
    Transaction txn(keyspace, 0, keys, now);
    return txn.Find(0, key, /*count_hit=*/true, /*touch=*/true) != nullptr;
  };
  set("user:1");
  set("user:2");
  set("other");
  EXPECT_TRUE(get("user:1"));
  EXPECT_TRUE(get("user:2"));
  EXPECT_FALSE(get("user:3"));
  EXPECT_FALSE(get("cart:1"));
  EXPECT_TRUE(get("other"));
  // A deadline in the past still walks one slice a step; enough steps complete a pass.
  for (int i = 0; i < 1000000 && keyspace.KeyFamilyStatsNow()[0].keys == 0; ++i) keyspace.KeyFamilyCensusStep(now, 0);
  const std::vector<KeyFamilyStats> stats = keyspace.KeyFamilyStatsNow();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].name, "users");
  EXPECT_EQ(stats[0].hits, 2u);
  EXPECT_EQ(stats[0].misses, 1u);
  EXPECT_EQ(stats[0].keys, 2u);
  EXPECT_GT(stats[0].memory_bytes, 2 * (6 + 1));
  EXPECT_EQ(stats[1].hits, 0u);
  EXPECT_EQ(stats[1].misses, 1u);
  EXPECT_EQ(stats[1].keys, 0u);
  keyspace.ResetStats();
  EXPECT_EQ(keyspace.KeyFamilyStatsNow()[0].hits, 0u);
}

// Prefixes are compared a word at a time for keys of 8 bytes or more, bytewise for shorter
// ones, and past the first 8 bytes for longer prefixes: every case classifies as a memcmp would.
TEST(KeyFamilies, PrefixesOfEveryLengthMatchExactlyTheirKeys) {
  KeyFamilies families({{"short", "key:*"}, {"long", "averylongprefix:*"}, {"glob", "feed:*:items"}});
  EXPECT_EQ(families.Classify("key:1"), 0);
  EXPECT_EQ(families.Classify("key:12345678"), 0);
  EXPECT_EQ(families.Classify("key"), -1);
  EXPECT_EQ(families.Classify("kez:12345678"), -1);
  EXPECT_EQ(families.Classify("averylongprefix:x"), 1);
  EXPECT_EQ(families.Classify("averylongprefiy:x"), -1) << "differs after the first 8 bytes";
  EXPECT_EQ(families.Classify("averylon"), -1);
  EXPECT_EQ(families.Classify("averylonXprefix:x"), -1) << "differs within the first 8 bytes";
  EXPECT_EQ(families.Classify("feed:42:items"), 2);
  EXPECT_EQ(families.Classify("feed:42:itemz"), -1);
  EXPECT_EQ(families.Classify(""), -1);
}

// A read that finds its key counts the family remembered in the entry; the entry of a key
// under a new name (RENAME) is classified again, so it counts under its new family.
TEST(KeyFamilies, AFoundKeyCountsUnderTheFamilyOfItsCurrentName) {
  Keyspace keyspace;
  keyspace.SetKeyFamilies(std::make_unique<const KeyFamilies>(
      std::vector<KeyFamilies::Family>{{"users", "user:*"}, {"carts", "cart:*"}}));
  const int64_t now = 1000;
  {
    const std::string_view keys[] = {"user:1"};
    Transaction txn(keyspace, 0, keys, now);
    ASSERT_NE(txn.SetString("user:1", "v", Entry::kNoExpiry), nullptr);
  }
  auto get = [&](std::string_view key) {
    const std::string_view keys[] = {key};
    Transaction txn(keyspace, 0, keys, now);
    return txn.Find(0, key, /*count_hit=*/true, /*touch=*/true) != nullptr;
  };
  EXPECT_TRUE(get("user:1"));
  EXPECT_TRUE(get("user:1"));
  {
    const std::string_view keys[] = {"user:1", "cart:9"};
    Transaction txn(keyspace, 0, keys, now);
    txn.Rename("user:1", "cart:9");
  }
  EXPECT_TRUE(get("cart:9"));
  const std::vector<KeyFamilyStats> stats = keyspace.KeyFamilyStatsNow();
  EXPECT_EQ(stats[0].hits, 2u);
  EXPECT_EQ(stats[1].hits, 1u);
}

// An entry remembers at most Entry::kTaggedFamilies families; a key of a later one is
// classified on every read and counted all the same.
TEST(KeyFamilies, FamiliesBeyondWhatAnEntryRemembersAreCountedToo) {
  std::vector<KeyFamilies::Family> many;
  for (int i = 0; i < Entry::kTaggedFamilies + 5; ++i) many.push_back({"f" + std::to_string(i), "f" + std::to_string(i) + ":*"});
  Keyspace keyspace;
  keyspace.SetKeyFamilies(std::make_unique<const KeyFamilies>(std::move(many)));
  const int64_t now = 1000;
  const std::string late = "f" + std::to_string(Entry::kTaggedFamilies + 3) + ":x";
  const std::string early = "f2:x";
  for (const std::string& key : {late, early}) {
    const std::string_view keys[] = {key};
    Transaction txn(keyspace, 0, keys, now);
    ASSERT_NE(txn.SetString(key, "v", Entry::kNoExpiry), nullptr);
  }
  for (int i = 0; i < 3; ++i) {
    for (const std::string& key : {late, early}) {
      const std::string_view keys[] = {key};
      Transaction txn(keyspace, 0, keys, now);
      EXPECT_NE(txn.Find(0, key, /*count_hit=*/true, /*touch=*/true), nullptr);
    }
  }
  const std::vector<KeyFamilyStats> stats = keyspace.KeyFamilyStatsNow();
  EXPECT_EQ(stats[Entry::kTaggedFamilies + 3].hits, 3u);
  EXPECT_EQ(stats[2].hits, 3u);
}

// The family tag shares its byte with the value's type, and never changes the type.
TEST(KeyFamilies, AnEntryRemembersItsFamilyBesideItsType) {
  Entry* entry = Entry::NewString("user:1", "v", Entry::kNoExpiry);
  EXPECT_EQ(entry->family_tag(), Entry::kFamilyUnknown);
  for (uint8_t tag : {Entry::kFamilyNone, uint8_t{2}, uint8_t{Entry::kTaggedFamilies + 1}}) {
    entry->set_family_tag(tag);
    EXPECT_EQ(entry->family_tag(), tag);
    EXPECT_EQ(entry->type(), ValueType::kString);
  }
  Entry::Free(entry);
}

}  // namespace
}  // namespace strata::storage
