// Unit tests of storage::ListValue (the packed, chunked list) against a std::deque model, at
// every chunk-budget boundary, and of list entries in the keyspace (clone, accounting, delete on
// empty).
#include <deque>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/entry.h"
#include "storage/keyspace.h"
#include "storage/list.h"
#include "storage/typed_values.h"

namespace strata::storage {
namespace {

std::vector<std::string> Contents(const ListValue& list) {
  std::vector<std::string> out;
  if (list.empty()) return out;
  list.Walk(0, list.size() - 1, [&](size_t index, std::string_view element) {
    EXPECT_EQ(index, out.size());
    out.emplace_back(element);
    return true;
  });
  return out;
}

std::vector<std::string> Model(const std::deque<std::string>& model) { return {model.begin(), model.end()}; }

TEST(ListValue, PushesAtBothEndsKeepOrder) {
  ListValue list;
  list.PushBack("b", ListLimits());
  list.PushFront("a", ListLimits());
  list.PushBack("c", ListLimits());
  EXPECT_THAT(Contents(list), ::testing::ElementsAre("a", "b", "c"));
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(list.At(1), "b");
  EXPECT_EQ(list.PopFront(), "a");
  EXPECT_EQ(list.PopBack(), "c");
  EXPECT_EQ(list.PopBack(), "b");
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.chunk_count(), 0u);
}

TEST(ListValue, ElementsAreBinarySafeAndAnyLength) {
  ListValue list;
  const std::vector<std::string> elements = {"", std::string("\0\xff", 2), std::string(127, 'x'), std::string(128, 'y'),
                                             std::string(16383, 'z'), std::string(16384, 'w'), std::string(100000, 'v')};
  for (const auto& e : elements) list.PushBack(e, ListLimits());
  EXPECT_EQ(Contents(list), elements);
  for (size_t i = elements.size(); i-- > 0;) EXPECT_EQ(list.PopBack(), elements[i]);
}

TEST(ListValue, WalksBackwardsFromAnyIndex) {
  ListValue list;
  for (int i = 0; i < 3000; ++i) list.PushBack(std::to_string(i), ListLimits{16});  // many chunks of 16
  EXPECT_GE(list.chunk_count(), 3000u / 16);
  std::vector<std::string> seen;
  list.Walk(2999, 2980, [&](size_t index, std::string_view e) {
    EXPECT_EQ(e, std::to_string(index));
    seen.emplace_back(e);
    return true;
  });
  EXPECT_EQ(seen.size(), 20u);
  EXPECT_EQ(seen.front(), "2999");
  size_t visits = 0;
  list.Walk(1500, 0, [&](size_t, std::string_view) { return ++visits < 5; });  // stops when told
  EXPECT_EQ(visits, 5u);
}

TEST(ListValue, PositiveFillCapsElementsPerChunk) {
  ListValue list;
  for (int i = 0; i < 100; ++i) list.PushBack("e", ListLimits{10});
  EXPECT_EQ(list.chunk_count(), 10u);
  for (int i = 0; i < 5; ++i) list.PushFront("f", ListLimits{10});
  EXPECT_EQ(list.chunk_count(), 11u);
}

TEST(ListValue, NegativeFillIsAByteBudget) {
  // -1 is 4 KB: 100-byte elements (102 encoded bytes) fit 40 to a chunk.
  ListValue list;
  for (int i = 0; i < 400; ++i) list.PushBack(std::string(100, 'a'), ListLimits{-1});
  EXPECT_EQ(list.chunk_count(), 10u);
  ListValue bigger;
  for (int i = 0; i < 400; ++i) bigger.PushBack(std::string(100, 'a'), ListLimits{-2});
  EXPECT_EQ(bigger.chunk_count(), 5u);
}

TEST(ListValue, ACountFillStillKeepsChunksUnderEightKilobytes) {
  // As Redis's SIZE_SAFETY_LIMIT: list-max-listpack-size 128 with 1 KB elements is 8 a chunk,
  // and an element bigger than that sits alone.
  ListValue list;
  for (int i = 0; i < 70; ++i) list.PushBack(std::string(1000, 'x'), ListLimits{128});
  EXPECT_EQ(list.chunk_count(), 9u);  // 1,004 encoded bytes each: 8 fit in 8,192
  ListValue big;
  for (int i = 0; i < 3; ++i) big.PushBack(std::string(20000, 'y'), ListLimits{128});
  big.Insert(1, std::string(20000, 'z'), ListLimits{128});
  EXPECT_EQ(big.chunk_count(), 4u);
  EXPECT_EQ(big.At(1), std::string(20000, 'z'));
}

TEST(ListValue, InsertIntoAFullChunkSplitsIt) {
  ListValue list;
  for (int i = 0; i < 8; ++i) list.PushBack(std::to_string(i), ListLimits{8});
  ASSERT_EQ(list.chunk_count(), 1u);
  list.Insert(4, "x", ListLimits{8});
  EXPECT_EQ(list.chunk_count(), 2u);
  EXPECT_THAT(Contents(list), ::testing::ElementsAre("0", "1", "2", "3", "x", "4", "5", "6", "7"));
}

TEST(ListValue, EraseAcrossChunksAndMergeBack) {
  ListValue list;
  for (int i = 0; i < 1000; ++i) list.PushBack(std::to_string(i), ListLimits{16});
  ASSERT_EQ(list.chunk_count(), 63u);
  list.Erase(10, 980, ListLimits{16});
  EXPECT_EQ(list.size(), 20u);
  EXPECT_EQ(list.chunk_count(), 2u);  // 10 + 10 would fit 16 only after more removals
  EXPECT_EQ(list.At(9), "9");
  EXPECT_EQ(list.At(10), "990");
}

TEST(ListValue, CopyIsDeep) {
  ListValue list;
  for (int i = 0; i < 50; ++i) list.PushBack(std::to_string(i), ListLimits{4});
  ListValue copy(list);
  list.Set(0, "changed", ListLimits{4});
  EXPECT_EQ(copy.At(0), "0");
  EXPECT_EQ(Contents(copy).size(), 50u);
  EXPECT_EQ(copy.ApproximateBytes() > 0, true);
}

// A random element: a run of one letter (compresses well) or random bytes (does not).
std::string RandomElement(std::mt19937_64& rng) {
  const size_t length = rng() % 3 == 0 ? rng() % 300 : rng() % 10;
  if (rng() % 2 == 0) return std::string(length, static_cast<char>('a' + rng() % 26));
  std::string element(length, '\0');
  for (char& c : element) c = static_cast<char>(rng());
  return element;
}

TEST(ListValue, InteriorChunksAreCompressedAndTheEndsAreNot) {
  ListValue plain, compressed;
  for (int i = 0; i < 2000; ++i) {
    plain.PushBack("item:" + std::to_string(i), ListLimits{.fill = 64, .compress_depth = 0});
    compressed.PushBack("item:" + std::to_string(i), ListLimits{.fill = 64, .compress_depth = 1});
  }
  ASSERT_GT(compressed.chunk_count(), 4u);
  EXPECT_EQ(plain.compressed_chunk_count(), 0u);
  EXPECT_EQ(compressed.compressed_chunk_count(), compressed.chunk_count() - 2);
  EXPECT_LT(compressed.ApproximateBytes(), plain.ApproximateBytes());
  EXPECT_EQ(Contents(compressed), Contents(plain));
  EXPECT_EQ(compressed.At(1000), "item:1000");
  // The ends stay uncompressed as pushes and pops go on at both of them.
  compressed.PushFront("head", ListLimits{.fill = 64, .compress_depth = 1});
  EXPECT_EQ(compressed.PopBack(), "item:1999");
  EXPECT_EQ(compressed.compressed_chunk_count(), compressed.chunk_count() - 2);
  // Depth 2 keeps two chunks at each end as they are.
  ListValue deeper;
  for (int i = 0; i < 2000; ++i) deeper.PushFront("item:" + std::to_string(i), ListLimits{.fill = 64, .compress_depth = 2});
  EXPECT_EQ(deeper.compressed_chunk_count(), deeper.chunk_count() - 4);
  // Changes made with depth 0 leave chunks raw until one CompressInterior pass (LREM's way).
  for (size_t i = 0; i < 1000; i += 10) deeper.Erase(1000 - i, 1, ListLimits{.fill = 64, .compress_depth = 0});
  EXPECT_LT(deeper.compressed_chunk_count(), deeper.chunk_count() - 4);
  deeper.CompressInterior(ListLimits{.fill = 64, .compress_depth = 2});
  EXPECT_EQ(deeper.compressed_chunk_count(), deeper.chunk_count() - 4);
}

TEST(ListValue, AChunkOfOneLargeElementIsNotCompressed) {
  const ListLimits limits{.compress_depth = 1};
  ListValue list;
  list.PushBack("head", limits);
  list.PushBack(std::string(100 * 1024, 'x'), limits);  // alone in its chunk: over any budget
  list.PushBack("tail", limits);
  ASSERT_EQ(list.chunk_count(), 3u);
  EXPECT_EQ(list.compressed_chunk_count(), 0u);
  EXPECT_EQ(list.At(1).size(), 100u * 1024u);
}

TEST(ListValue, ChunksThatDoNotCompressStayAsTheyAre) {
  std::mt19937_64 rng(7);
  ListValue list;
  for (int i = 0; i < 500; ++i) {
    std::string element(32, '\0');
    for (char& c : element) c = static_cast<char>(rng());
    list.PushBack(element, ListLimits{.fill = 16, .compress_depth = 1});
  }
  EXPECT_GT(list.chunk_count(), 10u);
  EXPECT_EQ(list.compressed_chunk_count(), 0u);
}

// Every operation, at random, against a deque, for several chunk budgets including the
// boundaries (1 element per chunk, tiny byte budgets forcing splits on every insert), with and
// without compression of the interior chunks.
TEST(ListValue, RandomOperationsMatchADequeModel) {
  for (int64_t depth : {0, 1, 2}) {
    for (int64_t fill : {1, 2, 3, 7, 128, -1, -2, -5}) {
      std::mt19937_64 rng(static_cast<uint64_t>(fill + 100 + depth * 1000));
      ListValue list;
      std::deque<std::string> model;
      const ListLimits limits{.fill = fill, .compress_depth = depth};
      for (int step = 0; step < 4000; ++step) {
        const std::string element = RandomElement(rng);
        const size_t op = rng() % 9;
        if (op == 0) {
          list.PushFront(element, limits);
          model.push_front(element);
        } else if (op == 1 || op == 2) {
          list.PushBack(element, limits);
          model.push_back(element);
        } else if (op == 3 && !model.empty()) {
          ASSERT_EQ(list.PopFront(), model.front());
          model.pop_front();
        } else if (op == 4 && !model.empty()) {
          ASSERT_EQ(list.PopBack(), model.back());
          model.pop_back();
        } else if (op == 5) {
          const size_t index = rng() % (model.size() + 1);
          list.Insert(index, element, limits);
          model.insert(model.begin() + static_cast<std::ptrdiff_t>(index), element);
        } else if (op == 6 && !model.empty()) {
          const size_t index = rng() % model.size();
          list.Set(index, element, limits);
          model[index] = element;
        } else if (op == 7 && !model.empty()) {
          const size_t index = rng() % model.size();
          const size_t count = 1 + rng() % std::min<size_t>(model.size() - index, 40);
          list.Erase(index, count, limits);
          model.erase(model.begin() + static_cast<std::ptrdiff_t>(index),
                      model.begin() + static_cast<std::ptrdiff_t>(index + count));
        } else if (op == 8 && !model.empty()) {
          const size_t index = rng() % model.size();
          ASSERT_EQ(list.At(index), model[index]) << "fill " << fill << " depth " << depth << " step " << step;
        }
        ASSERT_EQ(list.size(), model.size());
      }
      ASSERT_EQ(Contents(list), Model(model)) << "fill " << fill << " depth " << depth;
      const ListValue copy(list);  // chunks copied as they are, compressed or not
      ASSERT_EQ(Contents(copy), Model(model)) << "fill " << fill << " depth " << depth;
    }
  }
}

TEST(ListEntries, EmptiedListDeletesTheKeyAndAccountingReturnsToZero) {
  Keyspace keyspace;
  std::string_view key = "mylist";
  {
    Transaction txn(keyspace, 0, {&key, 1}, 0);
    auto pushed = UpdateValue<ListValue>(txn, key, true, [](ListValue& list) -> absl::StatusOr<int64_t> {
      for (int i = 0; i < 1000; ++i) list.PushBack(std::string(50, 'x'), ListLimits{.compress_depth = 1});
      return static_cast<int64_t>(list.size());
    });
    ASSERT_TRUE(pushed.ok());
    EXPECT_EQ(*pushed, 1000);
  }
  // 52 KB of elements in 8 KB chunks, all but the two end chunks compressed: counted, and less.
  EXPECT_GT(keyspace.Stats().entry_bytes, 8000u);
  EXPECT_LT(keyspace.Stats().entry_bytes, 50000u);
  {
    Transaction txn(keyspace, 0, {&key, 1}, 0);
    Entry* e = txn.FindForRead(key);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->type(), ValueType::kList);
    Entry* copy = Entry::Clone(*e, "copy");
    EXPECT_EQ(ValueView<ListValue>(*copy)->size(), 1000u);
    Entry::Free(copy);
    auto popped = UpdateValue<ListValue>(txn, key, false, [](ListValue& list) -> absl::StatusOr<int64_t> {
      while (!list.empty()) list.PopFront();
      return 0;
    });
    ASSERT_TRUE(popped.ok());
    EXPECT_EQ(txn.FindForRead(key), nullptr);
  }
  EXPECT_EQ(keyspace.Stats().entry_bytes, 0u);
  EXPECT_EQ(keyspace.DbSize(0), 0u);
}

TEST(ListEntries, OtherTypesAreWrongType) {
  Keyspace keyspace;
  std::string_view key = "s";
  Transaction txn(keyspace, 0, {&key, 1}, 0);
  txn.SetString(key, "value", Entry::kNoExpiry);
  EXPECT_FALSE(FindValueForRead<ListValue>(txn, key).ok());
  auto result = UpdateValue<ListValue>(txn, key, true, [](ListValue&) -> absl::StatusOr<int64_t> { return 1; });
  EXPECT_THAT(std::string(result.status().message()), ::testing::StartsWith("WRONGTYPE"));
}

}  // namespace
}  // namespace strata::storage
