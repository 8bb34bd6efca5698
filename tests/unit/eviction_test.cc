// Eviction policies and the frequency sketch, on the storage layer alone (storage/eviction.h).
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "storage/dict.h"
#include "storage/eviction.h"
#include "storage/frequency_sketch.h"
#include "storage/keyspace.h"
#include "storage/list.h"
#include "storage/spill_codec.h"

namespace strata::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;  // a Unix time in ms
constexpr int64_t kNoDeadline = INT64_MAX;

void Put(Keyspace& ks, std::string_view key, int64_t now_ms, int64_t expire_at_ms = Entry::kNoExpiry) {
  const std::string_view keys[] = {key};
  Transaction txn(ks, 0, keys, now_ms);
  txn.SetString(key, "value", expire_at_ms);
}

void Get(Keyspace& ks, std::string_view key, int64_t now_ms) {
  const std::string_view keys[] = {key};
  Transaction txn(ks, 0, keys, now_ms);
  txn.FindForRead(key);
}

bool Exists(Keyspace& ks, std::string_view key, int64_t now_ms) {
  const std::string_view keys[] = {key};
  Transaction txn(ks, 0, keys, now_ms);
  return txn.Peek(key) != nullptr;
}

std::string Key(int i) { return "key:" + std::to_string(i); }

// Evicts until the policy has nothing left it may evict.
EvictionOutcome EvictEverything(Keyspace& ks, int samples, int64_t now_ms) {
  return ks.Evict(samples, now_ms, kNoDeadline, [] { return false; });
}

class RecordingListener : public EvictionListener {
 public:
  void OnEvict(int db, const Entry& victim) override {
    victims.emplace_back(db, std::string(victim.key()));
    values.emplace_back(victim.string_value());
    ++*counter;
  }
  std::vector<std::pair<int, std::string>> victims;
  std::vector<std::string> values;
  uint64_t* counter = nullptr;
};

// Counts victims through the listener so that Evict can be told when to stop.
struct CountingEviction {
  explicit CountingEviction(Keyspace& ks) : keyspace(ks) {
    listener.counter = &evicted;
    ks.set_eviction_listener(&listener);
  }
  ~CountingEviction() { keyspace.set_eviction_listener(nullptr); }
  EvictionOutcome Evict(uint64_t count, int samples, int64_t now_ms) {
    const uint64_t target = evicted + count;
    return keyspace.Evict(samples, now_ms, kNoDeadline, [&] { return evicted >= target; });
  }
  Keyspace& keyspace;
  RecordingListener listener;
  uint64_t evicted = 0;
};

TEST(FrequencySketch, CountsEachKeyAndSaturatesAtFifteen) {
  FrequencySketch sketch;
  sketch.EnsureCapacity(1000);
  const uint64_t hot = HashKey("hot");
  for (int i = 0; i < 7; ++i) sketch.Increment(hot);
  EXPECT_EQ(sketch.Estimate(hot), 7);
  for (int i = 0; i < 100; ++i) sketch.Increment(hot);
  EXPECT_EQ(sketch.Estimate(hot), FrequencySketch::kMaxFrequency);
  EXPECT_EQ(sketch.Estimate(HashKey("never seen")), 0);
}

TEST(FrequencySketch, HalvesEveryCounterAfterTenIncrementsPerKeyOfCapacity) {
  FrequencySketch sketch;
  sketch.EnsureCapacity(256);
  const uint64_t hot = HashKey("hot");
  for (int i = 0; i < 12; ++i) sketch.Increment(hot);
  ASSERT_EQ(sketch.Estimate(hot), 12);
  // Enough increments of other keys to reach the sample size (10 x capacity) once.
  const uint64_t increments = 10 * sketch.capacity();
  for (uint64_t i = 0; i < increments; ++i) sketch.Increment(HashKey(Key(static_cast<int>(i % 100000))));
  EXPECT_LE(sketch.Estimate(hot), 7);  // 12 halved once (plus what collisions add)
  EXPECT_GE(sketch.Estimate(hot), 6);
}

TEST(FrequencySketch, TellsFrequentKeysFromRareOnesAmongManyKeys) {
  FrequencySketch sketch;
  sketch.EnsureCapacity(10000);
  for (int round = 0; round < 8; ++round) {
    for (int i = 0; i < 1000; ++i) sketch.Increment(HashKey(Key(i)));  // 8 times each
  }
  for (int i = 1000; i < 9000; ++i) sketch.Increment(HashKey(Key(i)));  // once each
  int frequent_above_rare = 0;
  for (int i = 0; i < 1000; ++i) frequent_above_rare += sketch.Estimate(HashKey(Key(i))) > sketch.Estimate(HashKey(Key(5000 + i)));
  EXPECT_GE(frequent_above_rare, 990);
}

TEST(Lfu, NewKeysStartAtFiveAndTheFirstAccessAlwaysCounts) {
  const LfuParams params;
  const uint32_t field = LfuInitialField(kNow);
  EXPECT_EQ(LfuDecayedCounter(field, kNow, params), kLfuInitialCounter);
  // p = 1 / ((5 - 5) * factor + 1) = 1: any random value increments.
  EXPECT_EQ(LfuDecayedCounter(LfuTouchedField(field, kNow, params, ~uint64_t{0}), kNow, params), 6u);
}

TEST(Lfu, TheCounterLosesOnePerDecayPeriodOfIdleness) {
  LfuParams params;
  params.decay_minutes = 2;
  const uint32_t field = LfuInitialField(kNow);
  EXPECT_EQ(LfuDecayedCounter(field, kNow + 3 * 60'000, params), 4u);   // one whole period
  EXPECT_EQ(LfuDecayedCounter(field, kNow + 60 * 60'000, params), 0u);  // never below zero
  params.decay_minutes = 0;
  EXPECT_EQ(LfuDecayedCounter(field, kNow + 60 * 60'000, params), 5u);  // 0: no decay
}

TEST(Eviction, NoevictionHasNothingToEvict) {
  Keyspace ks;
  Put(ks, "k", kNow);
  EvictionOutcome outcome = EvictEverything(ks, 5, kNow);
  EXPECT_TRUE(outcome.nothing_to_evict);
  EXPECT_TRUE(Exists(ks, "k", kNow));
}

TEST(Eviction, StopsAsSoonAsTheCallerHasEnough) {
  Keyspace ks;
  ks.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom, {});
  for (int i = 0; i < 1000; ++i) Put(ks, Key(i), kNow);
  CountingEviction eviction(ks);
  EvictionOutcome outcome = eviction.Evict(10, 5, kNow);
  EXPECT_EQ(outcome.keys, 10u);
  EXPECT_FALSE(outcome.nothing_to_evict);
  EXPECT_EQ(ks.DbSize(0), 990u);
  EXPECT_EQ(ks.Stats().evicted_keys, 10u);
}

TEST(Eviction, TheListenerSeesEachVictimWithItsValueBeforeItIsFreed) {
  Keyspace ks;
  ks.SetEvictionPolicy(EvictionPolicy::kAllKeysLru, {});
  for (int i = 0; i < 50; ++i) Put(ks, Key(i), kNow);
  CountingEviction eviction(ks);
  eviction.Evict(50, 5, kNow);
  ASSERT_EQ(eviction.listener.victims.size(), 50u);
  for (const std::string& value : eviction.listener.values) EXPECT_EQ(value, "value");
  EXPECT_EQ(ks.DbSize(0), 0u);
  EXPECT_EQ(ks.Stats().entry_bytes, 0u);
}

TEST(Eviction, RunsOutWhenEveryKeyIsGone) {
  Keyspace ks;
  ks.SetEvictionPolicy(EvictionPolicy::kAllKeysLfu, {});
  for (int i = 0; i < 20; ++i) Put(ks, Key(i), kNow);
  EvictionOutcome outcome = EvictEverything(ks, 5, kNow);
  EXPECT_EQ(outcome.keys, 20u);
  EXPECT_TRUE(outcome.nothing_to_evict);
}

// The spill tier's side of the keyspace (DESIGN section 8): a sink that keeps what it is given,
// as the RocksDB store would.
class MapSpill : public SpillSink, public SpillReader {
 public:
  absl::StatusOr<Entry*> ReadNow(int db, std::string_view key) override {
    ++reads_now;
    if (fail_reads) return absl::InternalError("disk error");
    auto it = records.find({db, std::string(key)});
    if (it == records.end()) return nullptr;
    absl::StatusOr<Entry*> entry = DecodeSpillRecord(key, it->second, ValueLimits());
    return entry.ok() ? *entry : nullptr;
  }
  int reads_now = 0;
  bool fail_reads = false;
  void Put(int db, std::string_view key, std::string record) override { records[{db, std::string(key)}] = record; }
  void Delete(int db, std::string_view key) override { records.erase({db, std::string(key)}); }
  void DeleteDb(int db) override { std::erase_if(records, [&](const auto& kv) { return kv.first.first == db; }); }
  void DeleteAll() override { records.clear(); }
  void SwapDb(int a, int b) override {
    std::map<std::pair<int, std::string>, std::string> swapped;
    for (auto& [db_key, record] : records) {
      const int db = db_key.first == a ? b : db_key.first == b ? a : db_key.first;
      swapped[{db, db_key.second}] = std::move(record);
    }
    records = std::move(swapped);
  }
  std::map<std::pair<int, std::string>, std::string> records;
};

// A keyspace that spills its LRU victims into a MapSpill.
class Spill : public testing::Test {
 protected:
  Spill() {
    ks.set_spill(&spill);
    ks.SetEvictionPolicy(EvictionPolicy::kAllKeysLru, {});
  }
  MapSpill spill;  // outlives the keyspace
  Keyspace ks;
};

TEST_F(Spill, AVictimMovesToTheSpillAndStillCountsAsAKeyWithoutAnEvictionOrAChange) {
  for (int i = 0; i < 20; ++i) Put(ks, Key(i), kNow);
  EvictionOutcome outcome = EvictEverything(ks, 5, kNow);
  EXPECT_EQ(outcome.keys, 20u);
  EXPECT_EQ(spill.records.size(), 20u);
  EXPECT_EQ(ks.DbSize(0), 20u);  // in memory or spilled, a key exists
  const KeyspaceStats stats = ks.Stats();
  EXPECT_EQ(stats.spilled_keys, 20u);
  EXPECT_EQ(stats.spill_writes, 20u);
  EXPECT_EQ(stats.evicted_keys, 0u);
  EXPECT_EQ(stats.entry_bytes, 0u);
  absl::StatusOr<Entry*> back = DecodeSpillRecord(Key(3), spill.records.at({0, Key(3)}), ValueLimits());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)->string_value(), "value");
  Entry::Free(*back);
}

TEST_F(Spill, PromotionPutsTheKeyBackInMemoryAndLeavesItsRecordAsACleanCopy) {
  Put(ks, "k", kNow, kNow + 60'000);
  EvictEverything(ks, 5, kNow);
  {
    const std::string_view keys[] = {"k"};
    Transaction txn(ks, 0, keys, kNow);
    std::optional<uint64_t> generation = txn.SpillGeneration(0, "k");
    ASSERT_TRUE(generation.has_value());
    EXPECT_EQ(txn.Peek("k"), nullptr);
    // A stale read (the key was spilled again since) is refused and freed.
    EXPECT_FALSE(txn.Promote(0, "k", *generation + 1, Entry::NewString("k", "stale", Entry::kNoExpiry)));
    absl::StatusOr<Entry*> entry = DecodeSpillRecord("k", spill.records.at({0, "k"}), ValueLimits());
    ASSERT_TRUE(entry.ok());
    EXPECT_TRUE(txn.Promote(0, "k", *generation, *entry));
    Entry* e = txn.Peek("k");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->string_value(), "value");
    EXPECT_EQ(e->expire_at_ms(), kNow + 60'000);
    EXPECT_FALSE(txn.SpillGeneration(0, "k").has_value());
    EXPECT_TRUE(e->has_spill_copy());
    EXPECT_EQ(spill.records.size(), 1u);  // the clean copy
  }  // Stats takes every shard's lock: after the Transaction
  EXPECT_EQ(ks.Stats().spill_promotions, 1u);
  EXPECT_EQ(ks.DbSize(0), 1u);
  EXPECT_EQ(ks.Stats().spilled_keys, 0u);
  // Evicted again unchanged: indexed again, no write.
  EvictEverything(ks, 5, kNow);
  EXPECT_EQ(ks.Stats().spill_writes, 1u);
  EXPECT_EQ(ks.Stats().spill_clean_evictions, 1u);
  EXPECT_EQ(ks.Stats().spilled_keys, 1u);
  EXPECT_EQ(ks.DbSize(0), 1u);
}

TEST_F(Spill, AWriteOrDeleteOfASpilledKeyTakesItOffDisk) {
  Put(ks, "overwritten", kNow);
  Put(ks, "deleted", kNow);
  EvictEverything(ks, 5, kNow);
  ASSERT_EQ(spill.records.size(), 2u);
  Put(ks, "overwritten", kNow);  // a blind write replaces the spilled value
  {
    const std::string_view keys[] = {"deleted", "never"};
    Transaction txn(ks, 0, keys, kNow);
    EXPECT_TRUE(txn.Delete("deleted"));
    EXPECT_FALSE(txn.Delete("never"));
  }
  EXPECT_TRUE(spill.records.empty());
  EXPECT_EQ(ks.DbSize(0), 1u);
  EXPECT_EQ(ks.Stats().spilled_keys, 0u);
}

TEST_F(Spill, AFlushEmptiesTheSpillOfItsDatabases) {
  for (int i = 0; i < 5; ++i) Put(ks, Key(i), kNow);
  EvictEverything(ks, 5, kNow);
  ks.IndexSpilled(1, "other-db", ValueType::kString, Entry::kNoExpiry, 1);
  spill.Put(1, "other-db", "r");
  ks.FlushDb(0);
  EXPECT_EQ(ks.DbSize(0), 0u);
  EXPECT_EQ(ks.DbSize(1), 1u);
  EXPECT_EQ(spill.records.size(), 1u);
  ks.FlushAll();
  EXPECT_EQ(ks.DbSize(1), 0u);
  EXPECT_TRUE(spill.records.empty());
}

// Reads a spilled key back into memory, as the SpillPromoter does.
void PromoteFromSpill(Keyspace& ks, MapSpill& spill, const std::string& key, int64_t now_ms) {
  const std::string_view keys[] = {key};
  Transaction txn(ks, 0, keys, now_ms);
  std::optional<uint64_t> generation = txn.SpillGeneration(0, key);
  if (!generation) return;
  absl::StatusOr<Entry*> entry = DecodeSpillRecord(key, spill.records.at({0, key}), ValueLimits());
  ASSERT_TRUE(entry.ok());
  EXPECT_TRUE(txn.Promote(0, key, *generation, *entry));
}

std::set<std::string> ScanAll(Keyspace& ks, int64_t now_ms, std::string_view type = "") {
  std::set<std::string> seen;
  uint64_t cursor = 0;
  do {
    ScanResult r = ks.Scan(0, cursor, 10, now_ms, [&](std::string_view, ValueType t) {
      return type.empty() || TypeName(t) == type;
    });
    seen.insert(r.keys.begin(), r.keys.end());
    cursor = r.next_cursor;
  } while (cursor != 0);
  return seen;
}

TEST_F(Spill, ChangingOrDeletingAReadBackKeyDeletesItsCopyOnDisk) {
  // Every way a key changes: overwritten in place, replaced, its TTL changed, deleted, renamed.
  const std::vector<std::string> keys = {"overwritten", "replaced", "expiry", "deleted", "renamed", "kept"};
  for (const std::string& key : keys) Put(ks, key, kNow);
  EvictEverything(ks, 5, kNow);
  for (const std::string& key : keys) PromoteFromSpill(ks, spill, key, kNow);
  ASSERT_EQ(spill.records.size(), keys.size());
  {
    const std::string_view names[] = {"overwritten", "replaced", "expiry", "deleted", "renamed", "to"};
    Transaction txn(ks, 0, names, kNow);
    txn.SetString("overwritten", "other", Entry::kNoExpiry);  // same length: in place
    txn.Store(Entry::NewString("replaced", "a longer value", Entry::kNoExpiry));
    txn.SetExpiry(txn.FindForWrite("expiry"), kNow + 5000);
    EXPECT_TRUE(txn.Delete("deleted"));
    txn.Rename("renamed", "to");
  }
  std::set<std::string> on_disk;
  for (const auto& [db_key, record] : spill.records) on_disk.insert(db_key.second);
  EXPECT_EQ(on_disk, std::set<std::string>{"kept"});
  // What is still to go to disk goes whole: evicting writes the changed keys anew.
  EvictEverything(ks, 5, kNow);
  EXPECT_EQ(spill.records.size(), 5u);  // kept (its copy), overwritten, replaced, expiry, to
  absl::StatusOr<Entry*> back = DecodeSpillRecord("overwritten", spill.records.at({0, "overwritten"}), ValueLimits());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)->string_value(), "other");
  Entry::Free(*back);
}

TEST_F(Spill, AKeyReadAtOnceAndChangedInTheSameTransactionLosesItsDiskCopy) {
  ks.set_spill_reader(&spill);
  Put(ks, "k", kNow);
  EvictEverything(ks, 5, kNow);
  {
    const std::string_view keys[] = {"k"};
    Transaction txn(ks, 0, keys, kNow);
    Entry* e = txn.FindForWrite("k");  // read at once: no park came first
    ASSERT_NE(e, nullptr);
    txn.SetExpiry(e, kNow + 5000);     // a change: the record on disk is stale now
  }
  EXPECT_TRUE(spill.records.empty());
}

TEST_F(Spill, ADiskErrorOnAReadAtOnceLeavesTheKeySpilled) {
  ks.set_spill_reader(&spill);
  Put(ks, "k", kNow);
  EvictEverything(ks, 5, kNow);
  spill.fail_reads = true;
  {
    const std::string_view keys[] = {"k"};
    Transaction txn(ks, 0, keys, kNow);
    EXPECT_EQ(txn.FindForRead("k"), nullptr);
  }
  EXPECT_EQ(spill.records.size(), 1u);
  EXPECT_EQ(ks.Stats().spilled_keys, 1u);
  spill.fail_reads = false;
  {
    const std::string_view keys[] = {"k"};
    Transaction txn(ks, 0, keys, kNow);
    ASSERT_NE(txn.FindForRead("k"), nullptr);
  }
}

TEST_F(Spill, DeletingAnExpiredKeyOnlyOnDiskIsNotADelete) {
  Put(ks, "k", kNow, kNow + 1000);
  EvictEverything(ks, 5, kNow);
  {
    const std::string_view keys[] = {"k"};
    Transaction txn(ks, 0, keys, kNow + 5000);
    EXPECT_FALSE(txn.Delete("k"));  // as Redis: DEL of an expired key returns 0
  }
  EXPECT_TRUE(spill.records.empty());
  EXPECT_EQ(ks.Stats().expired_keys, 1u);
}

TEST_F(Spill, ScanKeysAndRandomKeySeeSpilledKeysAsKeys) {
  for (int i = 0; i < 300; ++i) Put(ks, "disk:" + std::to_string(i), kNow, i % 10 == 0 ? kNow + 1000 : Entry::kNoExpiry);
  {
    const std::string_view keys[] = {"list"};
    Transaction txn(ks, 0, keys, kNow);
    auto* list = new ListValue();
    list->PushBack("element", ListLimits());
    txn.Store(Entry::NewList("list", list, EntryMeta()));
  }
  EvictEverything(ks, 5, kNow);  // the list is spilled too: TYPE filters read the index
  for (int i = 0; i < 300; ++i) Put(ks, "memory:" + std::to_string(i), kNow);
  ASSERT_EQ(ks.Stats().spilled_keys, 301u);
  EXPECT_EQ(ScanAll(ks, kNow).size(), 601u);
  EXPECT_THAT(ScanAll(ks, kNow, "list"), testing::ElementsAre("list"));
  // Spilled keys past their expiry are not listed (the 30 disk keys with a TTL).
  EXPECT_EQ(ScanAll(ks, kNow + 2000).size(), 571u);
  std::set<std::string> listed;
  ks.ForEachKey(0, kNow + 2000, [&](std::string_view key) { EXPECT_TRUE(listed.emplace(key).second) << key; });
  EXPECT_EQ(listed, ScanAll(ks, kNow + 2000));
  // RANDOMKEY draws from both tiers in proportion.
  int spilled_picks = 0;
  for (int i = 0; i < 400; ++i) {
    std::string key;
    ASSERT_TRUE(ks.RandomKey(0, kNow, &key));
    spilled_picks += key.starts_with("disk:");
  }
  EXPECT_GT(spilled_picks, 100);
  EXPECT_LT(spilled_picks, 300);
}

TEST_F(Spill, AScanReturnsEveryKeyWhileKeysMoveBetweenTiersUnderIt) {
  std::vector<std::string> stable;
  for (int i = 0; i < 500; ++i) {
    stable.push_back("stable:" + std::to_string(i));
    Put(ks, stable.back(), kNow);
  }
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int step = 0;
  do {
    ScanResult r = ks.Scan(0, cursor, 10, kNow, [](std::string_view, ValueType) { return true; });
    seen.insert(r.keys.begin(), r.keys.end());
    cursor = r.next_cursor;
    // Between calls, every key changes tier (and the tables grow and shrink with it), and new
    // keys come and go.
    if (++step % 2 == 1) {
      EvictEverything(ks, 5, kNow);
    } else {
      for (const std::string& key : stable) PromoteFromSpill(ks, spill, key, kNow);
    }
    for (int i = 0; i < 10; ++i) Put(ks, "churn:" + std::to_string(step * 10 + i), kNow);
  } while (cursor != 0);
  for (const std::string& key : stable) EXPECT_TRUE(seen.count(key)) << key;
  EXPECT_GT(step, 20);
}

TEST_F(Spill, AnExpiredSpilledKeyIsGoneOnLookupWithoutADiskRead) {
  Put(ks, "short", kNow, kNow + 1000);
  EvictEverything(ks, 5, kNow);
  ASSERT_EQ(spill.records.size(), 1u);
  {
    const std::string_view keys[] = {"short"};
    Transaction txn(ks, 0, keys, kNow + 2000);
    EXPECT_FALSE(txn.SpillGeneration(0, "short").has_value());
  }
  EXPECT_TRUE(spill.records.empty());
  EXPECT_EQ(ks.DbSize(0), 0u);
  EXPECT_EQ(ks.Stats().expired_keys, 1u);
}

TEST_F(Spill, APatternSweepDeletesMatchingSpilledKeysOnDiskToo) {
  for (int i = 0; i < 100; ++i) Put(ks, (i % 2 ? "user:" : "item:") + std::to_string(i), kNow);
  EvictEverything(ks, 5, kNow);
  for (int i = 100; i < 110; ++i) Put(ks, "user:" + std::to_string(i), kNow);
  uint64_t deleted = 0;
  for (size_t shard = 0; shard < ks.shard_count(); ++shard) {
    deleted += ks.DeleteIfInShard(shard, 0, [](std::string_view key) { return key.starts_with("user:"); });
  }
  EXPECT_EQ(deleted, 60u);
  EXPECT_EQ(ks.DbSize(0), 50u);
  EXPECT_EQ(spill.records.size(), 50u);
  for (const auto& [db_key, record] : spill.records) EXPECT_TRUE(db_key.second.starts_with("item:")) << db_key.second;
}

TEST_F(Spill, TrimmingToSpillMaxSizeRemovesTheOldestSpilledKeysForGood) {
  for (int i = 0; i < 200; ++i) {
    Put(ks, Key(i), kNow);
    EvictEverything(ks, 5, kNow);  // one at a time: key i is the i-th spilled
  }
  const uint64_t total = ks.Stats().spill_record_bytes;
  ASSERT_EQ(spill.records.size(), 200u);
  ASSERT_GT(total, 0u);
  const uint64_t removed = ks.TrimSpill(total / 2, kNow, kNoDeadline);
  EXPECT_EQ(removed, 100u);
  const KeyspaceStats stats = ks.Stats();
  EXPECT_LE(stats.spill_record_bytes, total / 2);
  EXPECT_EQ(stats.spill_evicted_keys, 100u);
  EXPECT_EQ(stats.spilled_keys, 100u);
  EXPECT_EQ(spill.records.size(), 100u);
  EXPECT_EQ(ks.DbSize(0), 100u);
  // Sampled, so not exactly the oldest half, but most of the oldest quarter is gone and most of
  // the newest kept (removing at random would keep about 25 of each).
  int old_kept = 0, new_kept = 0;
  for (int i = 0; i < 50; ++i) old_kept += spill.records.count({0, Key(i)});
  for (int i = 150; i < 200; ++i) new_kept += spill.records.count({0, Key(i)});
  EXPECT_LE(old_kept, 15);
  EXPECT_GE(new_kept, 40);
  EXPECT_EQ(ks.TrimSpill(total, kNow, kNoDeadline), 0u);  // under the cap: nothing leaves
}

TEST_F(Spill, SpillAllMovesEveryLiveKeyToDiskAndFreesTheMemoryTier) {
  for (int i = 0; i < 100; ++i) Put(ks, Key(i), kNow, i < 10 ? kNow - 1 : kNow + 60'000);
  int paced = 0;
  const Keyspace::SpillAllOutcome outcome = ks.SpillAll(kNow, [&] { ++paced; });
  EXPECT_EQ(outcome.keys, 90u);
  EXPECT_GT(outcome.bytes, 0u);
  EXPECT_EQ(paced, 0);  // less than 8 MB
  EXPECT_EQ(spill.records.size(), 90u);
  EXPECT_EQ(ks.DbSize(0), 90u);
  EXPECT_EQ(ks.DbInfos()[0].expires, 0u);
  EXPECT_EQ(ks.Stats().entry_bytes, 0u);
  absl::StatusOr<Entry*> back = DecodeSpillRecord(Key(50), spill.records.at({0, Key(50)}), ValueLimits());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)->expire_at_ms(), kNow + 60'000);
  Entry::Free(*back);
}

TEST_F(Spill, ALookupThatMeetsASpilledKeyWithoutParkingReadsItAtOnce) {
  ks.set_spill_reader(&spill);
  Put(ks, "read", kNow, kNow + 60'000);
  Put(ks, "deleted", kNow);
  EvictEverything(ks, 5, kNow);
  {
    const std::string_view keys[] = {"read", "deleted"};
    Transaction txn(ks, 0, keys, kNow);
    Entry* e = txn.FindForRead("read");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->string_value(), "value");
    EXPECT_EQ(e->expire_at_ms(), kNow + 60'000);
    EXPECT_EQ(spill.reads_now, 1);
    EXPECT_TRUE(txn.Delete("deleted"));  // a delete needs no read
    EXPECT_EQ(spill.reads_now, 1);
    EXPECT_EQ(txn.Peek("never"), nullptr);
  }
  EXPECT_EQ(spill.records.size(), 1u);  // the clean copy of "read"; "deleted" is gone
  EXPECT_EQ(spill.records.count({0, "read"}), 1u);
  const KeyspaceStats stats = ks.Stats();
  EXPECT_EQ(stats.spill_sync_reads, 1u);
  EXPECT_EQ(stats.spilled_keys, 0u);
  EXPECT_EQ(ks.DbSize(0), 1u);
}

TEST(Eviction, VolatilePoliciesNeverEvictKeysWithoutATtl) {
  for (EvictionPolicy policy : {EvictionPolicy::kVolatileLru, EvictionPolicy::kVolatileLfu,
                                EvictionPolicy::kVolatileRandom, EvictionPolicy::kVolatileTtl}) {
    Keyspace ks;
    ks.SetEvictionPolicy(policy, {});
    for (int i = 0; i < 100; ++i) Put(ks, Key(i), kNow, i % 2 == 0 ? kNow + 100'000 : Entry::kNoExpiry);
    EvictionOutcome outcome = EvictEverything(ks, 5, kNow);
    EXPECT_EQ(outcome.keys, 50u) << static_cast<int>(policy);
    EXPECT_TRUE(outcome.nothing_to_evict);
    for (int i = 1; i < 100; i += 2) EXPECT_TRUE(Exists(ks, Key(i), kNow)) << Key(i);
  }
}

TEST(Eviction, VolatileTtlEvictsTheNearestExpiryFirst) {
  // Two shards and every key sampled: the choice within a shard is exact.
  Keyspace ks(KeyspaceOptions{.databases = 1, .shard_bits = 1});
  ks.SetEvictionPolicy(EvictionPolicy::kVolatileTtl, {});
  for (int i = 0; i < 40; ++i) Put(ks, Key(i), kNow, kNow + 1000 * (i + 1));
  CountingEviction eviction(ks);
  eviction.Evict(10, 64, kNow);
  // With 64 samples of ~20 keys per shard every key is seen: the 10 victims are the 5 nearest
  // expiries of each shard, so none of the 20 latest-expiring keys of all.
  for (int i = 20; i < 40; ++i) EXPECT_TRUE(Exists(ks, Key(i), kNow)) << Key(i);
}

TEST(Eviction, LruKeepsTheKeysReadAfterOthersWereWritten) {
  Keyspace ks(KeyspaceOptions{.databases = 1, .shard_bits = 1});
  ks.SetEvictionPolicy(EvictionPolicy::kAllKeysLru, {});
  for (int i = 0; i < 100; ++i) Put(ks, Key(i), kNow);
  // Keys 0..9 are read 5 ms later: with millisecond recency they are the youngest.
  for (int i = 0; i < 10; ++i) Get(ks, Key(i), kNow + 5);
  CountingEviction eviction(ks);
  eviction.Evict(80, 64, kNow + 10);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Exists(ks, Key(i), kNow + 10)) << Key(i);
}

TEST(Eviction, LfuKeepsFrequentlyReadKeysOverRecentlyWrittenOnes) {
  Keyspace ks(KeyspaceOptions{.databases = 1, .shard_bits = 1});
  ks.SetEvictionPolicy(EvictionPolicy::kAllKeysLfu, {});
  for (int i = 0; i < 10; ++i) {
    Put(ks, Key(i), kNow);
    for (int r = 0; r < 30; ++r) Get(ks, Key(i), kNow);
  }
  for (int i = 10; i < 100; ++i) Put(ks, Key(i), kNow + 1000);  // newer, never read
  CountingEviction eviction(ks);
  eviction.Evict(80, 64, kNow + 1000);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Exists(ks, Key(i), kNow + 1000)) << Key(i);
}

TEST(Eviction, TinyLfuRemembersKeysThatAreNotResident) {
  Keyspace ks(KeyspaceOptions{.databases = 1, .shard_bits = 1});
  ks.SetEvictionPolicy(EvictionPolicy::kAllKeysTinyLfu, {});
  // Keys 0..9 were asked for often while absent (cache-aside misses), then stored.
  for (int r = 0; r < 6; ++r) {
    for (int i = 0; i < 10; ++i) Get(ks, Key(i), kNow);
  }
  for (int i = 0; i < 10; ++i) Put(ks, Key(i), kNow);
  // A scan of one-time keys arrives after them.
  for (int i = 10; i < 100; ++i) {
    Get(ks, Key(i), kNow + 1000);
    Put(ks, Key(i), kNow + 1000);
  }
  CountingEviction eviction(ks);
  eviction.Evict(80, 64, kNow + 1000);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Exists(ks, Key(i), kNow + 1000)) << Key(i);
  const std::string key = Key(3);
  const std::string_view keys[] = {key};
  Transaction txn(ks, 0, keys, kNow + 1000);
  EXPECT_GE(txn.AccessFrequency(*txn.Peek(key)), 6);
}

TEST(Eviction, SkipsAShardThatAnotherThreadHolds) {
  Keyspace ks(KeyspaceOptions{.databases = 1, .shard_bits = 1});
  ks.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom, {});
  for (int i = 0; i < 100; ++i) Put(ks, Key(i), kNow);
  const std::string held_key = Key(0);
  const size_t held_shard = ks.ShardIndex(HashKey(held_key));
  ks.shard(held_shard).mu.lock();  // as if another thread ran a command there
  uint64_t evicted = 0;
  std::thread evictor([&] {
    RecordingListener listener;
    listener.counter = &evicted;
    ks.set_eviction_listener(&listener);
    ks.Evict(5, kNow, kNoDeadline, [&] { return evicted >= 10; });
    ks.set_eviction_listener(nullptr);
  });
  evictor.join();
  ks.shard(held_shard).mu.unlock();
  EXPECT_EQ(evicted, 10u);
  uint64_t left_in_held = 0;
  for (int i = 0; i < 100; ++i) left_in_held += ks.ShardIndex(HashKey(Key(i))) == held_shard && Exists(ks, Key(i), kNow);
  uint64_t in_held = 0;
  for (int i = 0; i < 100; ++i) in_held += ks.ShardIndex(HashKey(Key(i))) == held_shard;
  EXPECT_EQ(left_in_held, in_held);  // nothing was taken from the held shard
}

TEST(Eviction, LeavesAloneTheShardsThisThreadHolds) {
  // A script holds its keys' shards while it runs: its first write may make room, but never by
  // evicting a key out from under it.
  Keyspace ks(KeyspaceOptions{.databases = 1, .shard_bits = 1});
  ks.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom, {});
  for (int i = 0; i < 100; ++i) Put(ks, Key(i), kNow);
  const std::string held_key = Key(0);
  const std::string_view held_keys[] = {held_key};
  HeldShards held(ks, held_keys, false);
  ASSERT_FALSE(held.refused());
  ks.Evict(5, kNow, kNoDeadline, [] { return false; });
  for (int i = 0; i < 100; ++i) {
    if (held.HoldsKey(Key(i))) {
      EXPECT_TRUE(Exists(ks, Key(i), kNow)) << Key(i);
    }
  }
}

TEST(Eviction, SwitchingToTinyLfuWhileHoldingShardsDoesNotWaitForThem) {
  // CONFIG SET maxmemory-policy inside EXEC runs while the EXEC holds its keys' shards.
  Keyspace ks(KeyspaceOptions{.databases = 1, .shard_bits = 1});
  const std::string key = Key(0);
  const std::string_view keys[] = {key};
  {
    HeldShards held(ks, keys, false);
    ks.SetEvictionPolicy(EvictionPolicy::kAllKeysTinyLfu, {});
  }
  EXPECT_EQ(ks.access_tracking(), AccessTracking::kSketch);
}

}  // namespace
}  // namespace strata::storage
