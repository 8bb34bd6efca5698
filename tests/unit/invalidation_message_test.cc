// ParseInvalidationMessage: the forms an invalidation message may take (DESIGN.md section 7).
#include "loaders/invalidation_message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strata::loaders {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int kDatabases = 16;

InvalidationRequest Parse(std::string_view payload) {
  auto request = ParseInvalidationMessage(payload, kDatabases);
  EXPECT_TRUE(request.ok()) << payload << ": " << request.status();
  return request.ok() ? *request : InvalidationRequest{};
}

bool Malformed(std::string_view payload) { return !ParseInvalidationMessage(payload, kDatabases).ok(); }

TEST(InvalidationMessage, TextThatIsNotAnObjectIsOneKeyOfDatabaseZero) {
  const InvalidationRequest request = Parse("  user:7 \n");
  EXPECT_THAT(request.keys, ElementsAre("user:7"));
  EXPECT_THAT(request.patterns, IsEmpty());
  EXPECT_EQ(request.db, 0);
  EXPECT_FALSE(request.ts_ms.has_value());
  EXPECT_THAT(Parse("[1, 2]").keys, ElementsAre("[1, 2]"));  // a key may look like anything
}

TEST(InvalidationMessage, EveryFormPresentApplies) {
  const InvalidationRequest request =
      Parse(R"({"key": "user:7", "keys": ["a", "b"], "pattern": "user:7:*", "db": 3, "ts": 1700000000123})");
  EXPECT_THAT(request.keys, ElementsAre("user:7", "a", "b"));
  EXPECT_THAT(request.patterns, ElementsAre("user:7:*"));
  EXPECT_EQ(request.db, 3);
  EXPECT_EQ(request.ts_ms, 1700000000123);
}

TEST(InvalidationMessage, MembersItDoesNotKnowAreIgnored) {
  EXPECT_THAT(Parse(R"({"table": "users", "key": "user:7", "op": "UPDATE"})").keys, ElementsAre("user:7"));
}

TEST(InvalidationMessage, WhatIsMalformed) {
  EXPECT_TRUE(Malformed(""));
  EXPECT_TRUE(Malformed("   "));
  EXPECT_TRUE(Malformed("{"));                          // not JSON
  EXPECT_TRUE(Malformed(R"({"db": 1})"));               // nothing to drop
  EXPECT_TRUE(Malformed(R"({"key": 7})"));
  EXPECT_TRUE(Malformed(R"({"keys": "a"})"));
  EXPECT_TRUE(Malformed(R"({"keys": ["a", null]})"));
  EXPECT_TRUE(Malformed(R"({"pattern": ["a*"]})"));
  EXPECT_TRUE(Malformed(R"({"key": "a", "db": 16})"));  // out of range
  EXPECT_TRUE(Malformed(R"({"key": "a", "db": -1})"));
  EXPECT_TRUE(Malformed(R"({"key": "a", "db": 1.5})"));
  EXPECT_TRUE(Malformed(R"({"key": "a", "ts": "yesterday"})"));
}

}  // namespace
}  // namespace strata::loaders
