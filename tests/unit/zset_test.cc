// Unit tests of storage::ZSetValue: order by (score, member), ranks both ways, score and lex
// bounds, conversion at each limit, the skip list against a std::set model, and ZSCAN.
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/zset.h"

namespace strata::storage {
namespace {

std::vector<std::pair<std::string, double>> All(const ZSetValue& zset, bool reverse = false) {
  std::vector<std::pair<std::string, double>> out;
  if (zset.empty()) return out;
  zset.WalkRanks(0, zset.size() - 1, reverse, [&](std::string_view m, double s) {
    out.emplace_back(m, s);
    return true;
  });
  return out;
}

TEST(ZSetValue, OrdersByScoreThenMember) {
  for (int64_t entries : {128, 1}) {  // packed, then a skip list from the second member on
    ZSetLimits limits;
    limits.max_packed_entries = entries;
    ZSetValue zset;
    EXPECT_TRUE(zset.Set("b", 2, limits));
    EXPECT_TRUE(zset.Set("a", 2, limits));
    EXPECT_TRUE(zset.Set("z", -1, limits));
    EXPECT_FALSE(zset.Set("b", 0.5, limits));
    using P = std::pair<std::string, double>;
    EXPECT_EQ(All(zset), (std::vector<P>{{"z", -1}, {"b", 0.5}, {"a", 2}}));
    EXPECT_EQ(All(zset, true), (std::vector<P>{{"a", 2}, {"b", 0.5}, {"z", -1}}));
    EXPECT_EQ(zset.Rank("a"), 2u);
    EXPECT_EQ(zset.Rank("nothing"), std::nullopt);
    EXPECT_EQ(zset.Score("b"), 0.5);
    EXPECT_EQ(zset.encoding(), entries == 1 ? "skiplist" : "listpack");
  }
}

TEST(ZSetValue, ConvertsOnALongMemberAndNeverBack) {
  ZSetLimits limits;
  limits.max_packed_value = 4;
  ZSetValue zset;
  zset.Set("abcd", 1, limits);
  EXPECT_EQ(zset.encoding(), "listpack");
  zset.Set("abcde", 2, limits);
  EXPECT_EQ(zset.encoding(), "skiplist");
  zset.Remove("abcde");
  EXPECT_EQ(zset.encoding(), "skiplist");
  EXPECT_EQ(zset.size(), 1u);
}

TEST(ZSetValue, ScoreAndLexBoundsGiveRankRanges) {
  for (int64_t entries : {128, 1}) {
    ZSetLimits limits;
    limits.max_packed_entries = entries;
    ZSetValue zset;
    for (int i = 0; i < 10; ++i) zset.Set(std::string(1, static_cast<char>('a' + i)), i, limits);
    EXPECT_EQ(zset.FirstRankAtOrAbove(ScoreBound{3, false}), 3u);
    EXPECT_EQ(zset.FirstRankAtOrAbove(ScoreBound{3, true}), 4u);
    EXPECT_EQ(zset.FirstRankAbove(ScoreBound{5, false}), 6u);
    EXPECT_EQ(zset.FirstRankAbove(ScoreBound{5, true}), 5u);
    ZSetValue same;  // lex bounds need equal scores
    for (int i = 0; i < 10; ++i) same.Set(std::string(1, static_cast<char>('a' + i)), 0, limits);
    EXPECT_EQ(same.FirstRankAtOrAbove(LexBound{LexBound::Kind::kInclusive, "c"}), 2u);
    EXPECT_EQ(same.FirstRankAtOrAbove(LexBound{LexBound::Kind::kExclusive, "c"}), 3u);
    EXPECT_EQ(same.FirstRankAbove(LexBound{LexBound::Kind::kPlusInfinity, ""}), 10u);
    EXPECT_EQ(same.FirstRankAtOrAbove(LexBound{LexBound::Kind::kMinusInfinity, ""}), 0u);
  }
}

TEST(ZSetValue, PackedScoresNormalizeNegativeZeroAsRedisListpacksDo) {
  ZSetValue packed;
  packed.Set("m", -0.0, ZSetLimits{});
  EXPECT_FALSE(std::signbit(*packed.Score("m")));
  ZSetLimits one;
  one.max_packed_entries = 0;
  ZSetValue list;
  list.Set("m", -0.0, one);
  EXPECT_TRUE(std::signbit(*list.Score("m")));
}

TEST(ZSetValue, SkipListMatchesAModelUnderRandomOperations) {
  ZSetLimits limits;
  limits.max_packed_entries = 16;
  std::mt19937_64 rng(7);
  ZSetValue zset;
  std::set<std::pair<double, std::string>> model;
  std::map<std::string, double> scores;
  for (int step = 0; step < 30000; ++step) {
    const std::string member = "m" + std::to_string(rng() % 500);
    const double score = static_cast<double>(rng() % 50);
    if (rng() % 3 != 0) {
      auto it = scores.find(member);
      const bool is_new = it == scores.end();
      if (!is_new) model.erase({it->second, member});
      ASSERT_EQ(zset.Set(member, score, limits), is_new);
      scores[member] = score;
      model.insert({score, member});
    } else {
      auto it = scores.find(member);
      ASSERT_EQ(zset.Remove(member), it != scores.end());
      if (it != scores.end()) {
        model.erase({it->second, member});
        scores.erase(it);
      }
    }
    ASSERT_EQ(zset.size(), model.size());
    if (step % 1000 == 0 && !model.empty()) {
      size_t rank = 0;
      for (const auto& [s, m] : model) {
        ASSERT_EQ(zset.Rank(m), rank) << m;
        ++rank;
      }
    }
  }
  std::vector<std::pair<std::string, double>> expected;
  for (const auto& [s, m] : model) expected.emplace_back(m, s);
  EXPECT_EQ(All(zset), expected);
  const size_t removed = zset.EraseRanks(10, 19);
  EXPECT_EQ(removed, 10u);
  EXPECT_EQ(zset.size(), model.size() - 10);
  std::set<std::string> scanned;
  uint64_t cursor = 0;
  do {
    cursor = zset.Scan(cursor, 8, [&](std::string_view m, double) { scanned.emplace(m); });
  } while (cursor != 0);
  EXPECT_EQ(scanned.size(), zset.size());
  ZSetValue copy(zset);
  EXPECT_EQ(All(copy), All(zset));
}

}  // namespace
}  // namespace strata::storage
