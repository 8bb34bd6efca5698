// Unit tests of storage::HashValue: the packed encoding (insertion order, in-place replacement),
// conversion at each threshold and never back, HSCAN over a table, copies, and a model check.
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/hash.h"

namespace strata::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

std::vector<std::pair<std::string, std::string>> Fields(const HashValue& hash) {
  std::vector<std::pair<std::string, std::string>> out;
  hash.ForEach([&](std::string_view f, std::string_view v) { out.emplace_back(f, v); });
  return out;
}

TEST(HashValue, PackedKeepsInsertionOrderAndReplacesInPlace) {
  HashValue hash;
  EXPECT_TRUE(hash.Set("name", "Ann"));
  EXPECT_TRUE(hash.Set("age", "7"));
  EXPECT_TRUE(hash.Set("city", "Oslo"));
  EXPECT_FALSE(hash.Set("age", "a much longer value"));
  EXPECT_EQ(hash.encoding(), "listpack");
  EXPECT_THAT(Fields(hash), ElementsAre(Pair("name", "Ann"), Pair("age", "a much longer value"), Pair("city", "Oslo")));
  EXPECT_FALSE(hash.Set("age", ""));
  EXPECT_EQ(hash.Find("age"), std::optional<std::string_view>(""));
  EXPECT_EQ(hash.Find("nothing"), std::nullopt);
  EXPECT_TRUE(hash.Erase("name"));
  EXPECT_FALSE(hash.Erase("name"));
  EXPECT_THAT(Fields(hash), ElementsAre(Pair("age", ""), Pair("city", "Oslo")));
  EXPECT_TRUE(hash.Erase("age"));
  EXPECT_TRUE(hash.Erase("city"));
  EXPECT_TRUE(hash.empty());
}

TEST(HashValue, ConvertsPastTheEntryLimit) {
  HashLimits limits;
  limits.max_packed_entries = 3;
  HashValue hash;
  for (int i = 0; i < 3; ++i) hash.Set("f" + std::to_string(i), "v", limits);
  EXPECT_EQ(hash.encoding(), "listpack");
  hash.Set("f3", "v", limits);
  EXPECT_EQ(hash.encoding(), "hashtable");
  for (int i = 0; i < 4; ++i) hash.Erase("f" + std::to_string(i));
  EXPECT_EQ(hash.encoding(), "hashtable");  // never back, as in Redis
}

TEST(HashValue, ConvertsOnAFieldOrValuePastTheValueLimit) {
  HashLimits limits;
  limits.max_packed_value = 8;
  HashValue by_value;
  by_value.Set("f", "12345678", limits);
  EXPECT_EQ(by_value.encoding(), "listpack");
  by_value.Set("f", "123456789", limits);
  EXPECT_EQ(by_value.encoding(), "hashtable");
  EXPECT_EQ(by_value.Find("f"), std::optional<std::string_view>("123456789"));
  HashValue by_field;
  by_field.Set("123456789", "v", limits);
  EXPECT_EQ(by_field.encoding(), "hashtable");
}

TEST(HashValue, PackedBytesAreCloseToTheData) {
  HashValue hash;
  for (int i = 0; i < 10; ++i) hash.Set("field" + std::to_string(i), "v" + std::to_string(i));
  // 10 pairs of 6 + 2 bytes, one length byte each: 100 bytes of pairs, 8 of header.
  EXPECT_LE(hash.ApproximateBytes(), sizeof(HashValue) + 128);
}

TEST(HashValue, TableScanVisitsEveryFieldOnce) {
  HashValue hash;
  for (int i = 0; i < 3000; ++i) hash.Set("f" + std::to_string(i), std::to_string(i));
  ASSERT_EQ(hash.encoding(), "hashtable");
  std::map<std::string, std::string> seen;
  uint64_t cursor = 0;
  size_t calls = 0;
  do {
    cursor = hash.Scan(cursor, 16, [&](std::string_view f, std::string_view v) {
      EXPECT_TRUE(seen.emplace(f, v).second) << f;
    });
    ++calls;
  } while (cursor != 0);
  EXPECT_GT(calls, 10u);
  EXPECT_EQ(seen.size(), 3000u);
  EXPECT_EQ(seen["f42"], "42");
}

TEST(HashValue, CopiesAreDeep) {
  for (int size : {3, 300}) {
    HashValue hash;
    for (int i = 0; i < size; ++i) hash.Set("f" + std::to_string(i), "v");
    HashValue copy(hash);
    hash.Set("f0", "changed");
    EXPECT_EQ(copy.Find("f0"), std::optional<std::string_view>("v"));
    EXPECT_EQ(copy.size(), static_cast<size_t>(size));
    EXPECT_EQ(copy.encoding(), hash.encoding());
  }
}

TEST(HashValue, RandomOperationsMatchAStdMap) {
  for (int64_t entries : {2, 16, 128}) {
    HashLimits limits;
    limits.max_packed_entries = entries;
    std::mt19937_64 rng(static_cast<uint64_t>(entries));
    HashValue hash;
    std::map<std::string, std::string> model;
    for (int step = 0; step < 20000; ++step) {
      const std::string field = "f" + std::to_string(rng() % 40);
      const std::string value(rng() % 4 == 0 ? rng() % 100 : rng() % 8, static_cast<char>('a' + rng() % 26));
      switch (rng() % 3) {
        case 0: {
          const bool is_new = model.find(field) == model.end();
          ASSERT_EQ(hash.Set(field, value, limits), is_new);
          model[field] = value;
          break;
        }
        case 1:
          ASSERT_EQ(hash.Erase(field), model.erase(field) == 1);
          break;
        default: {
          auto it = model.find(field);
          std::optional<std::string_view> found = hash.Find(field);
          ASSERT_EQ(found.has_value(), it != model.end());
          if (found) {
            ASSERT_EQ(*found, it->second);
          }
        }
      }
      ASSERT_EQ(hash.size(), model.size());
    }
    std::map<std::string, std::string> walked;
    hash.ForEach([&](std::string_view f, std::string_view v) { walked.emplace(f, v); });
    EXPECT_EQ(walked, model);
  }
}

}  // namespace
}  // namespace strata::storage
