// HeldShards: a thread that holds shards across commands (EXEC, scripts) runs its Transactions
// and keyspace-wide calls without locking again, other threads wait for (or, once a script is
// busy, are refused) those shards.
#include <atomic>
#include <string_view>
#include <thread>

#include "gtest/gtest.h"
#include "storage/keyspace.h"

namespace strata::storage {
namespace {

constexpr int64_t kNow = 1'000'000;

TEST(HeldShardsTest, TransactionsInsideDoNotLockAgain) {
  Keyspace keyspace;
  const std::string_view keys[] = {"a", "b"};
  HeldShards held(keyspace, keys, false);
  ASSERT_FALSE(held.refused());
  EXPECT_EQ(HeldShards::Current(), &held);
  // A shard's mutex is not recursive: locking "a"'s shard twice on this thread would deadlock.
  {
    const std::string_view a[] = {"a"};
    Transaction txn(keyspace, 0, a, kNow);
    EXPECT_FALSE(txn.refused());
    txn.SetString("a", "1", Entry::kNoExpiry);
  }
  {
    Transaction txn(keyspace, 0, keys, kNow);
    ASSERT_NE(txn.FindForRead("a"), nullptr);
    EXPECT_TRUE(txn.Covers("b"));
  }
  EXPECT_TRUE(held.HoldsKey("a"));
  EXPECT_TRUE(held.HoldsKey("b"));
}

TEST(HeldShardsTest, EveryShardHeldAllowsKeyspaceWideCalls) {
  Keyspace keyspace;
  {
    const std::string_view k[] = {"k"};
    Transaction txn(keyspace, 0, k, kNow);
    txn.SetString("k", "v", Entry::kNoExpiry);
  }
  HeldShards held(keyspace, {}, true);
  EXPECT_TRUE(held.holds_all());
  // DbSize and FlushDb lock every shard themselves outside; here they must not.
  EXPECT_EQ(keyspace.DbSize(0), 1u);
  keyspace.FlushDb(0);
  EXPECT_EQ(keyspace.DbSize(0), 0u);
}

TEST(HeldShardsTest, ReleasesOnDestructionAndRestoresTheOuterSet) {
  Keyspace keyspace;
  const std::string_view keys[] = {"x"};
  {
    HeldShards held(keyspace, keys, false);
    EXPECT_EQ(HeldShards::Current(), &held);
  }
  EXPECT_EQ(HeldShards::Current(), nullptr);
  // Another thread can lock the shard now.
  std::thread other([&] {
    Transaction txn(keyspace, 0, keys, kNow);
    EXPECT_FALSE(txn.refused());
  });
  other.join();
}

TEST(HeldShardsTest, OtherThreadsWaitForHeldShards) {
  Keyspace keyspace;
  const std::string_view keys[] = {"x"};
  std::atomic<bool> other_done{false};
  std::thread other;
  {
    HeldShards held(keyspace, keys, false);
    other = std::thread([&] {
      Transaction txn(keyspace, 0, keys, kNow);
      other_done = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(other_done.load()) << "a held shard was entered by another thread";
  }
  other.join();
  EXPECT_TRUE(other_done.load());
}

TEST(HeldShardsTest, ABusyScriptsShardsAreRefusedToOthers) {
  Keyspace keyspace;
  const std::string_view keys[] = {"x"};
  HeldShards held(keyspace, keys, false);
  held.SetBusy(true);
  EXPECT_EQ(keyspace.busy_scripts().load(), 1);
  bool refused = false, set_refused = false;
  std::thread other([&] {
    Transaction txn(keyspace, 0, keys, kNow);
    refused = txn.refused();
    HeldShards set(keyspace, keys, false);
    set_refused = set.refused();
  });
  other.join();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(set_refused);
  held.SetBusy(false);
  EXPECT_EQ(keyspace.busy_scripts().load(), 0);
}

}  // namespace
}  // namespace strata::storage
