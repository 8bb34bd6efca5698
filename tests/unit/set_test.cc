// Unit tests of storage::SetValue: the three encodings, conversion at every threshold (and never
// back), intset widths, SSCAN over a table, and a random model check.
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/set.h"

namespace strata::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

std::vector<std::string> Members(const SetValue& set) {
  std::vector<std::string> out;
  set.ForEach([&](std::string_view m) { out.emplace_back(m); });
  return out;
}

TEST(SetValue, IntegersMakeASortedIntset) {
  SetValue set;
  SetLimits limits;
  EXPECT_TRUE(set.Add("3", limits));
  EXPECT_TRUE(set.Add("-5", limits));
  EXPECT_TRUE(set.Add("1", limits));
  EXPECT_FALSE(set.Add("1", limits));
  EXPECT_EQ(set.encoding(), SetValue::Encoding::kIntset);
  EXPECT_EQ(set.encoding_name(), "intset");
  EXPECT_THAT(Members(set), ElementsAre("-5", "1", "3"));
  EXPECT_TRUE(set.Contains("3"));
  EXPECT_FALSE(set.Contains("03"));  // not a canonical integer: never in an intset
  EXPECT_FALSE(set.Contains("2"));
}

TEST(SetValue, IntsetWidensToHoldEveryMember) {
  SetValue set;
  SetLimits limits;
  set.Add("1", limits);
  set.Add("-32768", limits);
  const size_t narrow = set.ApproximateBytes();
  set.Add("32768", limits);  // needs 4 bytes
  set.Add("4294967296", limits);  // needs 8 bytes
  set.Add("-9223372036854775808", limits);
  EXPECT_GT(set.ApproximateBytes(), narrow);
  EXPECT_THAT(Members(set), ElementsAre("-9223372036854775808", "-32768", "1", "32768", "4294967296"));
  EXPECT_TRUE(set.Remove("32768"));
  EXPECT_THAT(Members(set), ElementsAre("-9223372036854775808", "-32768", "1", "4294967296"));
}

TEST(SetValue, IntsetConvertsPastMaxIntsetEntries) {
  SetLimits limits;
  limits.max_intset_entries = 4;
  SetValue set;
  for (int i = 0; i < 4; ++i) set.Add(std::to_string(i), limits);
  EXPECT_EQ(set.encoding(), SetValue::Encoding::kIntset);
  set.Add("4", limits);  // the fifth member: past the limit
  EXPECT_EQ(set.encoding(), SetValue::Encoding::kTable);
  EXPECT_EQ(set.encoding_name(), "hashtable");
  for (int i = 0; i < 5; ++i) set.Remove(std::to_string(i));
  EXPECT_EQ(set.encoding(), SetValue::Encoding::kTable);  // never back
}

TEST(SetValue, StringsArePackedUpToTheListpackLimits) {
  SetLimits limits;
  limits.max_packed_entries = 3;
  limits.max_packed_value = 8;
  SetValue set;
  set.Add("1", limits);
  set.Add("a", limits);
  EXPECT_EQ(set.encoding(), SetValue::Encoding::kPacked);
  EXPECT_EQ(set.encoding_name(), "hashtable");  // Redis 7.0 has no listpack sets
  EXPECT_THAT(Members(set), ElementsAre("1", "a"));
  set.Add("bcdefghi", limits);  // 8 bytes: fits
  EXPECT_EQ(set.encoding(), SetValue::Encoding::kPacked);
  set.Add("z", limits);  // a fourth member
  EXPECT_EQ(set.encoding(), SetValue::Encoding::kTable);
  EXPECT_THAT(Members(set), UnorderedElementsAreArray({"1", "a", "bcdefghi", "z"}));

  SetValue long_member;
  long_member.Add("x", limits);
  long_member.Add("123456789", limits);  // 9 bytes: too long for packed
  EXPECT_EQ(long_member.encoding(), SetValue::Encoding::kTable);
}

TEST(SetValue, TableScanVisitsEveryMemberOnceWithoutChanges) {
  SetValue set;
  SetLimits limits;
  for (int i = 0; i < 5000; ++i) set.Add("member:" + std::to_string(i), limits);
  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  size_t calls = 0;
  do {
    cursor = set.Scan(cursor, 10, [&](std::string_view m) { seen.emplace(m); });
    ++calls;
  } while (cursor != 0);
  EXPECT_GT(calls, 10u);
  EXPECT_EQ(seen.size(), 5000u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 5000u);
}

TEST(SetValue, CopyIsDeepForEveryEncoding) {
  SetLimits limits;
  for (const char* member : std::initializer_list<const char*>{"7", "seven", nullptr}) {
    SetValue set;
    for (int i = 0; i < (member == nullptr ? 300 : 3); ++i) {
      set.Add(member == nullptr ? "m" + std::to_string(i) : std::string(member) + std::to_string(i), limits);
    }
    SetValue copy(set);
    set.Remove(Members(set).front());
    EXPECT_EQ(copy.size(), set.size() + 1);
    EXPECT_EQ(copy.encoding(), set.encoding());
  }
}

TEST(SetValue, RandomMembersComeFromTheSetAndCoverIt) {
  SetLimits limits;
  for (int kind = 0; kind < 3; ++kind) {
    SetValue set;
    std::set<std::string> model;
    for (int i = 0; i < 50; ++i) {
      std::string m = kind == 0 ? std::to_string(i) : kind == 1 ? "p" + std::to_string(i) : std::string(100, 'a' + i % 26) + std::to_string(i);
      set.Add(m, limits);
      model.insert(m);
    }
    std::mt19937_64 rng(kind);
    std::set<std::string> drawn;
    for (int i = 0; i < 2000; ++i) {
      std::string m = set.RandomMember(rng());
      ASSERT_TRUE(model.count(m)) << m;
      drawn.insert(m);
    }
    EXPECT_EQ(drawn.size(), model.size()) << "encoding " << kind;
  }
}

TEST(SetValue, RandomOperationsMatchAStdSet) {
  for (int64_t intset_limit : {2, 16, 512}) {
    SetLimits limits;
    limits.max_intset_entries = intset_limit;
    limits.max_packed_entries = 20;
    std::mt19937_64 rng(static_cast<uint64_t>(intset_limit));
    SetValue set;
    std::set<std::string> model;
    for (int step = 0; step < 20000; ++step) {
      const bool integer = rng() % 10 < 8;
      std::string m = integer ? std::to_string(static_cast<int64_t>(rng() % 200) - 100) : "s" + std::to_string(rng() % 50);
      switch (rng() % 3) {
        case 0:
          ASSERT_EQ(set.Add(m, limits), model.insert(m).second);
          break;
        case 1:
          ASSERT_EQ(set.Remove(m), model.erase(m) == 1);
          break;
        default:
          ASSERT_EQ(set.Contains(m), model.count(m) == 1);
      }
      ASSERT_EQ(set.size(), model.size());
    }
    EXPECT_THAT(Members(set), UnorderedElementsAreArray(model.begin(), model.end()));
  }
}

}  // namespace
}  // namespace strata::storage
