// Unit tests of the spill tier's store (storage/spill.h) on a real RocksDB in a temporary
// directory: a change is read back at once, before the writer has put it on disk and after;
// deletes (of a key, a database, everything) hide older records and are never undone; records
// survive a reopen; a database's keys are listed in order, page by page; expired records leave
// at compaction; and a queue that stays full drops values as deletes, never leaving an older
// record to answer.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/clock.h"
#include "storage/entry.h"
#include "storage/spill.h"
#include "storage/spill_codec.h"

namespace strata::storage {
namespace {

using testing::ElementsAre;
using testing::Optional;

class SpillStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("spill_test_" + std::string(testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    store_ = OpenStore();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<SpillStore> OpenStore(SpillStore::Options options = SpillStore::Options()) {
    options.dir = dir_.string();
    absl::StatusOr<std::unique_ptr<SpillStore>> store = SpillStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::optional<std::string> Get(int db, std::string_view key) {
    absl::StatusOr<std::optional<std::string>> got = store_->Get(db, key);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : std::nullopt;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SpillStore> store_;
};

TEST_F(SpillStoreTest, AChangeIsReadBackBeforeAndAfterItReachesTheDisk) {
  store_->Put(0, "k", "one");
  EXPECT_THAT(Get(0, "k"), Optional(std::string("one")));
  store_->WaitForWrites();
  EXPECT_THAT(Get(0, "k"), Optional(std::string("one")));
  store_->Put(0, "k", "two");
  EXPECT_THAT(Get(0, "k"), Optional(std::string("two")));
  EXPECT_EQ(Get(1, "k"), std::nullopt);  // another database
  EXPECT_EQ(Get(0, "other"), std::nullopt);
  const SpillStore::Stats stats = store_->stats();
  EXPECT_EQ(stats.writes, 2u);
  EXPECT_EQ(stats.reads, 5u);
  EXPECT_EQ(stats.read_hits, 3u);
}

TEST_F(SpillStoreTest, ADeleteHidesTheRecordOnDiskAtOnce) {
  store_->Put(0, "k", "v");
  store_->WaitForWrites();
  store_->Delete(0, "k");
  EXPECT_EQ(Get(0, "k"), std::nullopt);
  store_->WaitForWrites();
  EXPECT_EQ(Get(0, "k"), std::nullopt);
}

TEST_F(SpillStoreTest, DeletingADatabaseLeavesTheOthersAndLaterWrites) {
  for (int db : {0, 1, 2}) store_->Put(db, "k", "db" + std::to_string(db));
  store_->WaitForWrites();
  store_->Put(1, "queued", "x");  // still queued when its database goes
  store_->DeleteDb(1);
  store_->Put(1, "after", "y");
  EXPECT_EQ(Get(1, "k"), std::nullopt);
  EXPECT_EQ(Get(1, "queued"), std::nullopt);
  EXPECT_THAT(Get(1, "after"), Optional(std::string("y")));
  EXPECT_THAT(Get(0, "k"), Optional(std::string("db0")));
  EXPECT_THAT(Get(2, "k"), Optional(std::string("db2")));
  store_->WaitForWrites();
  EXPECT_EQ(Get(1, "k"), std::nullopt);
  EXPECT_THAT(Get(1, "after"), Optional(std::string("y")));

  store_->DeleteAll();
  EXPECT_EQ(Get(0, "k"), std::nullopt);
  EXPECT_EQ(Get(1, "after"), std::nullopt);
  store_->WaitForWrites();
  EXPECT_EQ(Get(2, "k"), std::nullopt);
}

TEST_F(SpillStoreTest, RecordsSurviveAReopenIncludingThoseStillQueuedAtClose) {
  store_->Put(0, "on-disk", "a");
  store_->WaitForWrites();
  store_->Put(3, "queued", "b");
  store_->Delete(0, "never-written");
  store_.reset();  // applies its queue before closing
  store_ = OpenStore();
  EXPECT_THAT(Get(0, "on-disk"), Optional(std::string("a")));
  EXPECT_THAT(Get(3, "queued"), Optional(std::string("b")));
  std::map<std::pair<int, std::string>, std::string> all;
  ASSERT_TRUE(store_->ForEachRecord([&](int db, std::string_view key, std::string_view record) {
    all[{db, std::string(key)}] = std::string(record);
  }).ok());
  EXPECT_EQ(all, (std::map<std::pair<int, std::string>, std::string>{{{0, "on-disk"}, "a"}, {{3, "queued"}, "b"}}));
}

TEST_F(SpillStoreTest, SwappingDatabasesTradesTheirRecordsAtOnceAndAcrossAReopen) {
  store_->Put(0, "k", "zero");
  store_->Put(1, "k", "one");
  store_->Put(1, "only-in-1", "x");
  store_->WaitForWrites();
  store_->SwapDb(0, 1);
  EXPECT_THAT(Get(0, "k"), Optional(std::string("one")));
  EXPECT_THAT(Get(1, "k"), Optional(std::string("zero")));
  EXPECT_THAT(Get(0, "only-in-1"), Optional(std::string("x")));
  EXPECT_EQ(Get(1, "only-in-1"), std::nullopt);
  // Writes, deletes and a flush after the swap go where the database's records now are.
  store_->Put(1, "new", "n");
  store_->Delete(0, "only-in-1");
  store_->SwapDb(1, 2);  // database 0's old records move on to 2
  store_->DeleteDb(1);   // database 2's old (empty) range: nothing of 0's or 2's goes
  EXPECT_THAT(Get(2, "k"), Optional(std::string("zero")));
  EXPECT_THAT(Get(2, "new"), Optional(std::string("n")));
  store_.reset();
  store_ = OpenStore();
  std::map<std::pair<int, std::string>, std::string> all;
  ASSERT_TRUE(store_->ForEachRecord([&](int db, std::string_view key, std::string_view record) {
    all[{db, std::string(key)}] = std::string(record);
  }).ok());
  EXPECT_EQ(all, (std::map<std::pair<int, std::string>, std::string>{{{0, "k"}, "one"}, {{2, "k"}, "zero"},
                                                                      {{2, "new"}, "n"}}));
  store_->SwapDb(0, 2);
  EXPECT_THAT(Get(0, "new"), Optional(std::string("n")));
  store_->DeleteAll();
  EXPECT_EQ(Get(0, "new"), std::nullopt);
  ASSERT_TRUE(store_->CompactAll().ok());  // the map is not a record: compaction keeps it
  store_.reset();
  store_ = OpenStore();
  store_->Put(2, "after", "a");
  store_->WaitForWrites();
  std::vector<std::string> keys;
  bool done = false;
  ASSERT_TRUE(store_->ListKeys(2, "", 10, &keys, &done).ok());
  EXPECT_THAT(keys, ElementsAre("after"));
}

TEST_F(SpillStoreTest, ADatabaseIsListedInKeyOrderPageByPage) {
  for (const char* key : {"b", "a", "d", "c", "e"}) store_->Put(5, key, "v");
  store_->Put(4, "z", "v");
  store_->Put(6, "0", "v");
  store_->WaitForWrites();
  std::vector<std::string> keys;
  bool done = false;
  ASSERT_TRUE(store_->ListKeys(5, "", 2, &keys, &done).ok());
  EXPECT_THAT(keys, ElementsAre("a", "b"));
  EXPECT_FALSE(done);
  ASSERT_TRUE(store_->ListKeys(5, keys.back(), 2, &keys, &done).ok());
  ASSERT_TRUE(store_->ListKeys(5, keys.back(), 2, &keys, &done).ok());
  EXPECT_THAT(keys, ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_TRUE(done);
  keys.clear();
  ASSERT_TRUE(store_->ListKeys(7, "", 10, &keys, &done).ok());
  EXPECT_TRUE(keys.empty() && done);
}

TEST_F(SpillStoreTest, ExpiredRecordsLeaveTheDiskAtCompaction) {
  auto record = [](int64_t expire_at) {
    Entry* e = Entry::NewString("k", "v", expire_at);
    std::string r = EncodeSpillRecord(*e);
    Entry::Free(e);
    return r;
  };
  store_->Put(0, "expired", record(NowMs() - 1000));
  store_->Put(0, "later", record(NowMs() + 3'600'000));
  store_->Put(0, "forever", record(Entry::kNoExpiry));
  store_->Put(0, "garbage", "not a record");
  store_->WaitForWrites();
  ASSERT_TRUE(store_->CompactAll().ok());
  EXPECT_EQ(Get(0, "expired"), std::nullopt);
  EXPECT_EQ(Get(0, "garbage"), std::nullopt);
  EXPECT_NE(Get(0, "later"), std::nullopt);
  EXPECT_NE(Get(0, "forever"), std::nullopt);
}

TEST_F(SpillStoreTest, AFullQueueDropsValuesAsDeletesSoNoOlderRecordAnswers) {
  constexpr int kKeys = 2000;
  for (int i = 0; i < kKeys; ++i) store_->Put(0, "key:" + std::to_string(i), "old");
  store_->WaitForWrites();
  // A queue of one record and no patience: most new values are likely dropped. Whatever was
  // dropped, no key may read "old" again.
  SpillStore::Options impatient;
  impatient.max_pending_bytes = 1;
  impatient.max_put_wait_ms = 0;
  store_.reset();
  store_ = OpenStore(impatient);
  const std::string big(4096, 'n');
  for (int i = 0; i < kKeys; ++i) store_->Put(0, "key:" + std::to_string(i), big);
  int kept = 0;
  for (int i = 0; i < kKeys; ++i) {
    std::optional<std::string> got = Get(0, "key:" + std::to_string(i));
    ASSERT_NE(got, std::optional<std::string>("old")) << i;
    kept += got.has_value();
  }
  const SpillStore::Stats stats = store_->stats();
  EXPECT_EQ(stats.writes, static_cast<uint64_t>(kKeys));
  EXPECT_EQ(static_cast<uint64_t>(kept) + stats.writes_dropped, static_cast<uint64_t>(kKeys));
  store_->WaitForWrites();
  EXPECT_EQ(store_->stats().pending_bytes, 0u);
}

}  // namespace
}  // namespace strata::storage
