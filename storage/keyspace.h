// Keyspace: every database's keys, split over shards that are locked independently.
//
// Threading contract (DESIGN.md section 4): a key lives in the shard chosen by the top bits of
// its hash, in every database. A command takes a Transaction, which locks the shards of its keys
// in ascending order (so multi-key commands are atomic and never deadlock), runs, and unlocks.
// Keyspace-wide calls (DbSize, Scan, FlushAll, SwapDb...) lock shards themselves and must not be
// called while a Transaction is alive on the same thread.
//
// Expiry: an expired key is deleted when a lookup meets it (lazy expiry) and by
// ActiveExpireCycle, which samples each shard's keys-with-TTL (see keyspace.cc for the essay).
//
// Eviction: Evict removes keys by the policy SetEvictionPolicy chose, shard by shard (see
// eviction.cc for the essay); every lookup records what that policy needs (AccessTracking).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <chrono>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/synchronization/mutex.h"
#include "absl/functional/function_ref.h"
#include "storage/dict.h"
#include "storage/entry.h"
#include "storage/key_families.h"
#include "storage/eviction.h"
#include "storage/keyspace_events.h"
#include "storage/spill_index.h"
#include "storage/spill_sink.h"
#include "storage/frequency_sketch.h"

namespace strata::storage {

class HeldShards;

struct KeyspaceOptions {
  int databases = 16;
  int shard_bits = 8;  // 256 shards
};

// A counter written by one thread at a time (under a shard lock) and read by any.
class ShardCounter {
 public:
  void Add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }
  void Reset() { value_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// As Redis (keyIsExpired): a key is still there at its expiry instant, gone one ms later.
inline bool IsExpiredAt(int64_t expire_at_ms, int64_t now_ms) {
  return expire_at_ms != Entry::kNoExpiry && expire_at_ms < now_ms;
}

// One database's part of one shard.
struct Table {
  Dict dict;
  // Keys of this part that live in the spill tier instead (DESIGN section 8). A key is in `dict`
  // or here, never in both.
  SpillIndex spilled;
  // The entries that have a TTL, for the active expiry sampler; each such entry stores its
  // index here (Entry::volatile_slot) so removal is O(1).
  std::vector<Entry*> volatile_entries;

  void AddVolatile(Entry* entry) {
    entry->set_volatile_slot(static_cast<uint32_t>(volatile_entries.size()));
    volatile_entries.push_back(entry);
  }
  void RemoveVolatile(Entry* entry) {
    const uint32_t slot = entry->volatile_slot();
    Entry* last = volatile_entries.back();
    volatile_entries[slot] = last;
    last->set_volatile_slot(slot);
    volatile_entries.pop_back();
  }
};

class Shard {
 public:
  explicit Shard(int databases, uint64_t seed) : tables_(static_cast<size_t>(databases)), random_state_(seed | 1) {}

  // A plain pthread mutex: it is taken once or twice per command, and absl::Mutex's extra
  // bookkeeping (deadlock-detection graph) cost more than the rest of a GET. Timed, so that a
  // command waiting for a shard that a script holds can give up with -BUSY (LockShard); lock
  // and unlock cost what std::mutex's do.
  std::timed_mutex mu;
  // Set while a script that holds this shard has run past busy-reply-threshold: commands of
  // other clients that need the shard are refused with -BUSY instead of waiting for it.
  std::atomic<bool> held_by_busy_script{false};

  Table& table(int db) { return tables_[static_cast<size_t>(db)]; }
  std::vector<Table>& tables() { return tables_; }
  uint64_t NextRandom();

  // Bytes held by entries in this shard (bucket arrays are counted separately).
  ShardCounter entry_bytes;
  ShardCounter expired_keys;
  ShardCounter keyspace_hits;
  ShardCounter keyspace_misses;
  ShardCounter evicted_keys;
  ShardCounter spill_writes;   // victims written to the spill instead of dropped
  ShardCounter promoted_keys;  // keys read back from the spill into memory
  ShardCounter spill_sync_reads;  // of those, read at once under the lock (SpillReader)
  ShardCounter spill_clean_evictions;  // victims whose record was still on disk: no write
  ShardCounter spill_evicted_keys;  // spilled keys removed for good by spill-max-size
  // Recent access frequency of this shard's keys (resident or not), under allkeys-tinylfu only.
  FrequencySketch sketch;
  // One per key family (Keyspace::SetKeyFamilies); null without families.
  std::unique_ptr<KeyFamilyCounters[]> family_counters;

 private:
  std::vector<Table> tables_;
  uint64_t random_state_;
};

struct DbInfo {
  uint64_t keys = 0;
  uint64_t expires = 0;
};

struct KeyspaceStats {
  uint64_t spilled_keys = 0;    // in the spill tier now
  uint64_t spill_writes = 0;    // victims written to it
  uint64_t spill_promotions = 0;
  uint64_t spill_sync_reads = 0;
  uint64_t spill_clean_evictions = 0;
  uint64_t spill_evicted_keys = 0;   // left the spill for good (spill-max-size)
  uint64_t spill_record_bytes = 0;   // of the records in the spill now
  uint64_t expired_keys = 0;
  uint64_t keyspace_hits = 0;
  uint64_t keyspace_misses = 0;
  uint64_t entry_bytes = 0;
  uint64_t table_bytes = 0;
  uint64_t evicted_keys = 0;
  uint64_t sketch_bytes = 0;
};

struct ScanResult {
  uint64_t next_cursor = 0;
  std::vector<std::string> keys;
};

class Keyspace {
 public:
  explicit Keyspace(KeyspaceOptions options = {});
  ~Keyspace();
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  int databases() const { return options_.databases; }
  size_t shard_count() const { return shards_.size(); }
  size_t ShardIndex(uint64_t hash) const { return static_cast<size_t>(hash >> shard_shift_); }
  Shard& shard(size_t index) { return *shards_[index]; }

  // Keys in one database (expired keys not yet reclaimed included, as in Redis).
  uint64_t DbSize(int db);
  std::vector<DbInfo> DbInfos();
  KeyspaceStats Stats();
  // Bytes held by entries, all shards (no lock: a sum of counters).
  uint64_t EntryBytes() const {
    uint64_t total = 0;
    for (const auto& shard : shards_) total += shard->entry_bytes.Get();
    return total;
  }
  void ResetStats();

  // Key families (storage/key_families.h): set once, before serving. Lookups and evictions of
  // their keys are then counted per family; without families they cost one branch.
  void SetKeyFamilies(std::unique_ptr<const KeyFamilies> families);
  bool has_key_families() const { return families_ != nullptr; }
  // TTL caps (KeyFamilies::Family::max_ttl_ms): whether any family has one, and the tightest cap
  // of every capped family whose glob matches `key` (0: none) — not only the key's first family,
  // so a broad family listed earlier cannot shadow a cap. Without caps, writes pay the one test
  // of has_ttl_caps().
  bool has_ttl_caps() const { return !ttl_caps_.empty(); }
  int64_t TtlCapMs(std::string_view key) const;
  // One step of the census of keys and memory per family (the memory tier's), from the cron:
  // walks the tables from where the last step stopped, a slice of buckets at a time under the
  // shard's lock (taken only when free), until `deadline_ns` passes; a completed pass replaces
  // the figures KeyFamilyStatsNow reports. (A table resized during its walk may have keys counted
  // twice in that pass, as SCAN may return them twice.) Main thread only.
  void KeyFamilyCensusStep(int64_t now_ms, int64_t deadline_ns);
  // Every family's figures (any thread): counters now, keys and memory as of the last census.
  std::vector<KeyFamilyStats> KeyFamilyStatsNow() const;
  // The counters' side of a lookup or eviction (under the key's shard lock): of a key found,
  // by its entry (whose family is remembered in it), or of a key by its name.
  void CountFamilyHit(Shard& shard, Entry& entry) { CountFamilyEvent(shard.family_counters, FamilyOf(entry), &KeyFamilyCounters::hits); }
  void CountFamilyLookup(Shard& shard, std::string_view key, bool hit) {
    CountFamilyEvent(shard.family_counters, families_->Classify(key), hit ? &KeyFamilyCounters::hits : &KeyFamilyCounters::misses);
  }
  void CountFamilyEviction(Shard& shard, Entry& entry) { CountFamilyEvent(shard.family_counters, FamilyOf(entry), &KeyFamilyCounters::evictions); }
  void CountFamilyEviction(Shard& shard, std::string_view key) {
    CountFamilyEvent(shard.family_counters, families_->Classify(key), &KeyFamilyCounters::evictions);
  }

  void FlushDb(int db);
  void FlushAll();
  // The change listener hears of a flush (FLUSHDB, FLUSHALL) once per command.
  void NoteFlush() {
    if (track_changes_.load(std::memory_order_relaxed) && change_listener_ != nullptr) change_listener_->OnFlush();
  }
  void SwapDb(int a, int b);

  // Walks database `db` from `cursor` (0 starts), returning up to about `count` live keys that
  // pass `filter` and the cursor to continue from (0: done). Every key present for the whole
  // walk is returned at least once, in memory or spilled (and moving between the two).
  ScanResult Scan(int db, uint64_t cursor, size_t count, int64_t now_ms,
                  const std::function<bool(std::string_view key, ValueType type)>& filter);
  // Calls fn on every live key of `db`, in memory or spilled, one shard lock at a time.
  void ForEachKey(int db, int64_t now_ms, const std::function<void(std::string_view key)>& fn);
  // Deletes every key of `db` in one shard, in memory or spilled, for which `matches` is true,
  // under the shard's lock (an incremental sweep's step); returns how many.
  uint64_t DeleteIfInShard(size_t shard, int db, const std::function<bool(std::string_view key)>& matches);
  // A random live key, or "" with found=false.
  bool RandomKey(int db, int64_t now_ms, std::string* key);

  // Reclaims expired keys by sampling, until `deadline_ns` (CLOCK_MONOTONIC) passes or few
  // expired keys are left. Returns how many were reclaimed; *sampled, when given, is how many
  // keys with a TTL it looked at (the two make Redis's expired_stale_perc).
  uint64_t ActiveExpireCycle(int64_t now_ms, int64_t deadline_ns, uint64_t* sampled = nullptr);

  // Frees an entry and its accounting; the caller has unlinked it from its table.
  void ReleaseEntry(Shard& shard, Entry* entry);

  // The policy Evict follows and the access tracking it needs (any thread; takes effect for the
  // next lookups at once).
  void SetEvictionPolicy(EvictionPolicy policy, LfuParams lfu);
  EvictionPolicy eviction_policy() const { return policy_.load(std::memory_order_relaxed); }
  AccessTracking access_tracking() const { return tracking_.load(std::memory_order_relaxed); }
  LfuParams lfu_params() const {
    return {lfu_log_factor_.load(std::memory_order_relaxed), lfu_decay_minutes_.load(std::memory_order_relaxed)};
  }
  // Told of every victim (nullptr: nobody). Set before serving.
  void set_eviction_listener(EvictionListener* listener) { listener_ = listener; }
  // The spill tier (nullptr: none; set before serving): eviction then moves a victim there
  // instead of dropping it, and the key still exists (no "evicted" event, no invalidation).
  void set_spill(SpillSink* spill) { spill_ = spill; }
  SpillSink* spill() const { return spill_; }
  void set_spill_reader(SpillReader* reader) { spill_reader_ = reader; }
  SpillReader* spill_reader() const { return spill_reader_; }
  // Shutdown (spill-on-shutdown): moves every live key of every database into the spill, as
  // eviction would, and frees the memory tier; calls `pace` before a record would take what it
  // queued since the last call past 8 MB, so that the caller can let the spill's writer catch up
  // (a full queue would drop values). Expired keys are dropped instead; a key whose record is on
  // disk already (a clean copy) is only indexed.
  struct SpillAllOutcome {
    uint64_t keys = 0;
    uint64_t bytes = 0;  // of records
  };
  SpillAllOutcome SpillAll(int64_t now_ms, absl::FunctionRef<void()> pace);
  // spill-max-size: while the spill's records take more than `max_bytes`, removes spilled keys
  // for good, oldest spilled first (sampled, as eviction samples: the lowest generation of 16
  // random spilled keys each time), until `deadline_ns` (CLOCK_MONOTONIC). Each is an eviction:
  // "evicted" event, invalidation, INFO spill_evicted_keys. Returns how many left.
  uint64_t TrimSpill(uint64_t max_bytes, int64_t now_ms, int64_t deadline_ns);
  // Start-up: the spill holds `key` of `db` (a record written before a restart).
  void IndexSpilled(int db, std::string_view key, ValueType type, int64_t expire_at_ms, size_t record_bytes);
  // Numbers spill writes, process-wide, oldest lowest (spill-max-size removes the oldest first).
  uint64_t NextSpillGeneration() { return spill_sequence_.fetch_add(1, std::memory_order_relaxed) + 1; }

  // Keyspace events (storage/keyspace_events.h): the classes raised (notify-keyspace-events) and
  // who hears them. The listener is set before serving and lives as long as the Keyspace.
  void set_notify_classes(uint32_t classes) { notify_classes_.store(classes, std::memory_order_relaxed); }
  uint32_t notify_classes() const { return notify_classes_.load(std::memory_order_relaxed); }
  void set_event_listener(KeyspaceEventListener* listener) { event_listener_ = listener; }
  // Key changes for client-side caching (storage/keyspace_events.h): the listener is set before
  // serving; set_track_changes(true) while any client tracks keys.
  void set_change_listener(KeyChangeListener* listener) { change_listener_ = listener; }
  void set_track_changes(bool on) { track_changes_.store(on, std::memory_order_relaxed); }
  bool tracking_changes() const { return track_changes_.load(std::memory_order_relaxed); }
  // Under the key's shard lock; `hash` is HashKey(key).
  void KeyChanged(std::string_view key, uint64_t hash, uint64_t writer = 0) {
    if (track_changes_.load(std::memory_order_relaxed) && change_listener_ != nullptr) {
      change_listener_->OnKeyChanged(key, hash, writer);
    }
  }
  // Raises `event` (a string literal) on `key` if its class is on: one load and a branch when not.
  void Notify(uint32_t event_class, std::string_view event, int db, std::string_view key) {
    if ((notify_classes() & event_class) && event_listener_ != nullptr) {
      event_listener_->OnKeyspaceEvent(event_class, event, db, key);
    }
  }

  // Evicts keys by the policy, each the best of the samples drawn so far from random shards
  // (shards another thread holds are skipped), until enough() is true, the policy has nothing
  // left to evict, or deadline_ns (CLOCK_MONOTONIC) passes. `samples` is maxmemory-samples.
  // Must not be called while this thread has a Transaction alive (it locks shards itself);
  // shards this thread holds (a script's) are left alone.
  EvictionOutcome Evict(int samples, int64_t now_ms, int64_t deadline_ns, absl::FunctionRef<bool()> enough);

  // Records a lookup of `entry` for the policy (see AccessTracking); `read` is false for a
  // write's lookup, which the frequency sketch does not count.
  void RecordAccess(Shard& shard, Entry& entry, uint64_t hash, int64_t now_ms, bool read) {
    switch (access_tracking()) {
      case AccessTracking::kRecency: entry.set_access_clock(RecencyField(now_ms)); break;
      case AccessTracking::kLfu: RecordLfuAccess(shard, entry, now_ms); break;
      case AccessTracking::kSketch: {
        if (shard.sketch.capacity() == 0) shard.sketch.EnsureCapacity(0);  // skipped at the switch
        int frequency = SketchFieldFrequency(entry.access_clock(), shard.sketch.epoch());
        // A key already counted as often as kCountedFrequency needs no more counting until the
        // sketch halves: eviction tells apart the rare keys, not the popular ones among
        // themselves, and most reads of a skewed load are of popular keys.
        if (read && frequency < FrequencySketch::kCountedFrequency) frequency = shard.sketch.Increment(hash);
        entry.set_access_clock(SketchField(frequency, shard.sketch.epoch(), now_ms));
        break;
      }
    }
  }
  // A read that found nothing: the sketch remembers it (the key may be stored next).
  void RecordMiss(Shard& shard, uint64_t hash) {
    if (access_tracking() == AccessTracking::kSketch) shard.sketch.Increment(hash);
  }
  // The access field of an entry stored now, replacing `previous` (nullptr for a new key):
  // LFU keeps the counter across an overwrite, as Redis does; the sketch knows a new key's
  // history (a cache-aside miss counted just before).
  uint32_t AccessFieldForStore(Shard& shard, const Entry* previous, uint64_t hash, int64_t now_ms) const {
    switch (access_tracking()) {
      case AccessTracking::kRecency: return RecencyField(now_ms);
      case AccessTracking::kLfu: return previous != nullptr ? previous->access_clock() : LfuInitialField(now_ms);
      case AccessTracking::kSketch: break;
    }
    const int frequency = previous != nullptr ? SketchFieldFrequency(previous->access_clock(), shard.sketch.epoch())
                                              : shard.sketch.Estimate(hash);
    return SketchField(frequency, shard.sketch.epoch(), now_ms);
  }
  // Milliseconds since the entry's last access, as its field records it (not under LFU).
  uint64_t IdleMsOf(const Entry& entry, int64_t now_ms) const {
    return access_tracking() == AccessTracking::kSketch ? SketchFieldIdleMs(entry.access_clock(), now_ms)
                                                        : IdleMs(entry.access_clock(), now_ms);
  }

  // Locks one shard for a command. False (nothing locked) when a script past
  // busy-reply-threshold holds it: a thread never sleeps for long in a lock a script may keep.
  bool LockShard(size_t index) {
    Shard& s = *shards_[index];
    return s.mu.try_lock() || LockContendedShard(s);
  }
  // Scripts past busy-reply-threshold now (any thread).
  std::atomic<int>& busy_scripts() { return busy_scripts_; }

 private:
  // Empties databases first_db..last_db, memory and spill (FlushDb and FlushAll tell the change
  // listener once).
  void FlushDbTables(int first_db, int last_db);
  bool LockContendedShard(Shard& shard);
  void RecordLfuAccess(Shard& shard, Entry& entry, int64_t now_ms);

  // Eviction (eviction.cc). A candidate is remembered by key, not by pointer: it may be deleted
  // or replaced before its turn comes, and is looked up again then.
  struct EvictionCandidate {
    uint64_t score = 0;  // higher: a better victim
    uint64_t hash = 0;
    int db = 0;
    const Entry* entry = nullptr;  // identity only (a sample drawn twice): never dereferenced
    std::string key;
  };
  // Locks shard `index` for eviction unless this thread holds it already (HeldShards); false
  // when another thread holds it.
  bool LockForEviction(size_t index, HeldShards* held, std::unique_lock<std::timed_mutex>* lock);
  // A random key of the shard that the policy may evict (nullptr: none), and its database.
  Entry* RandomCandidate(Shard& shard, bool volatile_only, int* db);
  // Higher: a better victim.
  uint64_t VictimScore(const Shard& shard, const Entry& entry, EvictionPolicy policy, int64_t now_ms) const;
  static bool ByScore(const EvictionCandidate& a, const EvictionCandidate& b);
  // Draws `samples` keys from random shards into the pool; false when none had a candidate.
  bool SampleIntoPool(EvictionPolicy policy, int samples, int64_t now_ms, HeldShards* held);
  // Evicts the pool's best candidate that still exists; false when the pool ran dry first.
  bool EvictBestCandidate(EvictionPolicy policy, int64_t now_ms, HeldShards* held, EvictionOutcome* outcome);
  // Evicts one random key (the random policies); false when the drawn shard had none.
  bool EvictRandomKey(bool volatile_only, HeldShards* held, EvictionOutcome* outcome);
  // True when some shard (that this thread can lock now) has a key the policy may evict.
  bool AnyCandidate(bool volatile_only, HeldShards* held);
  void RemoveVictim(Shard& shard, int db, Entry* victim, EvictionOutcome* outcome);
  // Puts `entry` (about to leave memory) into `table`'s spill index and returns the record to
  // write for it, or "" when its clean copy is on disk already (Entry::kSpillCopy).
  std::string IndexAsSpilled(Table& table, uint64_t hash, const Entry& entry);
  uint64_t NextEvictionRandom();
  // The family of a live entry's key, from its tag (Entry::family_tag), classifying the key and
  // tagging the entry the first time (under its shard's lock, as every write of an entry).
  int FamilyOf(Entry& entry) {
    const uint8_t tag = entry.family_tag();
    if (tag != Entry::kFamilyUnknown) [[likely]] return tag - 2;  // kFamilyNone -> -1
    return ClassifyAndTag(entry);
  }
  int ClassifyAndTag(Entry& entry);
  // Under the shard lock: a plain add (ShardCounter's idiom), not a locked one.
  static void CountFamilyEvent(const std::unique_ptr<KeyFamilyCounters[]>& counters, int family,
                               std::atomic<uint64_t> KeyFamilyCounters::*event) {
    if (family < 0) return;
    std::atomic<uint64_t>& c = counters[family].*event;
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  KeyspaceOptions options_;
  int shard_shift_ = 63;
  std::unique_ptr<const KeyFamilies> families_;
  struct TtlCap {
    std::string glob;
    int64_t max_ttl_ms;
  };
  std::vector<TtlCap> ttl_caps_;  // the capped families, set with them
  // The census in progress (main thread only), and the last complete one.
  size_t census_next_shard_ = 0;
  int census_db_ = 0;
  uint64_t census_cursor_ = 0;
  std::vector<uint64_t> census_keys_, census_bytes_;
  mutable absl::Mutex census_mu_;
  std::vector<uint64_t> published_keys_ ABSL_GUARDED_BY(census_mu_), published_bytes_ ABSL_GUARDED_BY(census_mu_);
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<size_t> expire_cursor_{0};
  std::atomic<int> busy_scripts_{0};
  std::atomic<EvictionPolicy> policy_{EvictionPolicy::kNoEviction};
  std::atomic<AccessTracking> tracking_{AccessTracking::kRecency};
  std::atomic<int> lfu_log_factor_{10};
  std::atomic<int> lfu_decay_minutes_{1};
  EvictionListener* listener_ = nullptr;
  SpillSink* spill_ = nullptr;
  SpillReader* spill_reader_ = nullptr;
  std::atomic<uint64_t> spill_sequence_{0};
  std::atomic<uint32_t> notify_classes_{0};
  KeyspaceEventListener* event_listener_ = nullptr;
  std::atomic<bool> track_changes_{false};
  KeyChangeListener* change_listener_ = nullptr;
  // One eviction at a time, process-wide: the pool of candidates is shared, as Redis's is, so
  // that a victim is the best of many samples from every shard, not of a few from one.
  std::timed_mutex eviction_mu_;
  std::vector<EvictionCandidate> eviction_pool_;  // unordered, at most 16; guarded by eviction_mu_
  EvictionPolicy pool_policy_ = EvictionPolicy::kNoEviction;  // what scored the pool; eviction_mu_
  std::mutex policy_mu_;  // serializes SetEvictionPolicy
  uint64_t eviction_random_ = 0x9E3779B97F4A7C15ULL;  // guarded by eviction_mu_
};

// HeldShards: shards one thread keeps locked across several commands (EXEC, a script), so that
// they run as one atomic step. While one is alive on a thread, that thread's Transactions and
// keyspace-wide calls take no locks of their own: the caller makes sure a Transaction's keys are
// in held shards (Holds) and that keyspace-wide calls run only when every shard is held.
class HeldShards {
 public:
  // Locks the shards of `keys` (every shard when `all`) in ascending order. If a busy script
  // holds one of them, nothing stays locked and refused() is true.
  HeldShards(Keyspace& keyspace, std::span<const std::string_view> keys, bool all);
  ~HeldShards();
  HeldShards(const HeldShards&) = delete;
  HeldShards& operator=(const HeldShards&) = delete;

  bool refused() const { return refused_; }
  bool holds_all() const { return all_; }
  bool Holds(size_t shard) const;
  bool HoldsKey(std::string_view key) const;
  // Marks the held shards as held by a script past busy-reply-threshold (or no longer).
  void SetBusy(bool busy);

  // The set alive on this thread, or nullptr.
  static HeldShards* Current() { return current_; }

 private:
  Keyspace& keyspace_;
  std::vector<uint32_t> shards_;  // ascending; empty when all_
  bool all_;
  bool refused_ = false;
  bool busy_ = false;
  HeldShards* previous_;
  static thread_local HeldShards* current_;
};

// Locks a shard for a keyspace-wide call or a cron step, unless this thread holds every shard
// already (an EXEC or script that runs FLUSHALL, KEYS, DBSIZE...: the dispatcher holds them all).
class WideShardLock {
 public:
  explicit WideShardLock(Shard& shard) : shard_(HeldShards::Current() != nullptr ? nullptr : &shard) {
    if (shard_ != nullptr) shard_->mu.lock();
  }
  ~WideShardLock() {
    if (shard_ != nullptr) shard_->mu.unlock();
  }
  WideShardLock(const WideShardLock&) = delete;
  WideShardLock& operator=(const WideShardLock&) = delete;

 private:
  Shard* shard_;
};

// Transaction: the shards of a command's keys, locked for the life of the object, and the
// operations on those keys. Every key passed to a method must be among the keys given to the
// constructor (or share a shard with one). now_ms is the command's clock for expiry decisions.
class Transaction {
 public:
  // Locks the shards of `keys`, unless this thread holds them already (HeldShards).
  Transaction(Keyspace& keyspace, int db, std::span<const std::string_view> keys, int64_t now_ms);
  ~Transaction();

  // True when a busy script holds one of the shards: nothing is locked and the command must be
  // answered with -BUSY.
  bool refused() const { return refused_; }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  int db() const { return db_; }
  int64_t now_ms() const { return now_ms_; }
  Keyspace& keyspace() { return keyspace_; }

  // Lookup as a read (Redis's lookupKeyRead): lazy expiry, counts a hit or miss, touches the
  // access clock. nullptr when absent.
  Entry* FindForRead(std::string_view key) { return Find(db_, key, true, true); }
  // Lookup as a write or existence check: lazy expiry, no hit/miss counting.
  Entry* FindForWrite(std::string_view key) { return Find(db_, key, false, true); }
  // Lookup that does not change the access clock (OBJECT IDLETIME, TTL...).
  Entry* Peek(std::string_view key) { return Find(db_, key, false, false); }
  // A miss counted by count_hit raises "keymiss" unless !notify_miss (Redis's LOOKUP_NONOTIFY,
  // as OBJECT looks keys up).
  Entry* Find(int db, std::string_view key, bool count_hit, bool touch, bool notify_miss = true);

  // Stores `entry` under its key in `db`, replacing (and freeing) whatever was there.
  void Store(int db, Entry* entry);
  void Store(Entry* entry) { Store(db_, entry); }
  Entry* SetString(std::string_view key, std::string_view value, int64_t expire_at_ms,
                   uint8_t flags = 0);
  Entry* SetString(int db, std::string_view key, std::string_view value, const EntryMeta& meta);

  // Removes the key; false when it was absent (or expired).
  // Deletes the key, whether in memory or only in the spill.
  bool Delete(int db, std::string_view key);
  bool Delete(std::string_view key) { return Delete(db_, key); }

  // The spill tier (DESIGN section 8). A command whose key is spilled (SpillGeneration) waits
  // while the key is read back from disk, then runs with it in memory: Promote puts it there
  // (`entry`: the decoded record, owned from now; null when the disk had none or an expired
  // one), unless the key was spilled again since `generation` was read (then it does nothing
  // and returns false: the caller reads again). Promotion is not a change: no event, no
  // invalidation, no WATCH. The record stays on disk as the entry's copy (Entry::kSpillCopy)
  // until the key changes or goes: a key read and evicted again costs no disk write.
  // A spilled key whose expiry has passed is dropped here (it is gone, as in memory).
  std::optional<uint64_t> SpillGeneration(int db, std::string_view key);
  bool Promote(int db, std::string_view key, uint64_t generation, Entry* entry);
  // Removes and returns the entry without freeing it (RENAME, MOVE); nullptr when absent.
  Entry* Detach(int db, std::string_view key);

  // Gives `entry` (in the current db) a new expiry (Entry::kNoExpiry removes it). Returns the
  // entry that now holds the key, which may be a new allocation.
  Entry* SetExpiry(Entry* entry, int64_t expire_at_ms);
  // A key of a family with a TTL cap (Keyspace::TtlCapMs) that has no TTL, or a longer one, gets
  // now + cap. Run after a write command (its handler done: no entry pointer is held), so no
  // SET, EXPIRE, PERSIST, RENAME or new key outlives the cap.
  void CapTtl(int db, std::string_view key);
  // CapTtl on every key this transaction changed (RecordModifications must be on): whatever
  // database a command wrote into (COPY ... DB, MOVE) and whichever keys it named.
  void CapModifiedTtls();

  // Moves the key `from` to `to` (replacing `to`), keeping value and TTL (RENAME). `to` is added
  // as a new key, so it raises "new" even when it replaced one.
  void Rename(std::string_view from, std::string_view to);

  // Records that the value of `key` (in the current db; its entry stays where it is) changed in
  // place by `delta` bytes. Takes the command's key, whose hash is already known.
  void AccountResize(std::string_view key, int64_t delta);
  // The same byte accounting for a change that is no change of the key (nothing recorded).
  void AccountBytes(std::string_view key, int64_t delta);

  // Frees an entry that is not in any table.
  void Discard(Entry* entry);

  // OBJECT FREQ: the key's access frequency as the policy tracks it (Redis's LFU counter, or the
  // sketch's estimate under allkeys-tinylfu).
  int AccessFrequency(const Entry& entry);

  // True when key's shard is among those this transaction locked (SORT checks the keys its
  // BY/GET patterns name before it reads them).
  bool Covers(std::string_view key) const;

  // A pseudo-random 64-bit value (SPOP, SRANDMEMBER) from a locked shard's generator; only for
  // transactions that name at least one key.
  uint64_t NextRandom();

  // From now on, remember every (db, key) this transaction changes (stores, deletes, TTL or
  // in-place changes), for a caller that must react to writes while the locks are still held.
  void RecordModifications() { slow_notes_ |= kRecordModifications; }
  // The client this transaction's changes are made for (a command's; a served blocked client's),
  // told to the change listener (client-side caching's NOLOOP). 0: no client.
  void set_writer(uint64_t client_id) { writer_ = client_id; }
  // Key families: whether Find's counted lookups count for them too. A command run again once
  // its loads are done does not: its reads were counted when it parked (CountFamilyLookup).
  void set_count_families(bool on) { count_families_ = on; }
  // CLIENT NO-TOUCH: lookups leave the keys' LRU/LFU data as it was.
  void set_no_touch(bool on) { no_touch_ = on; }
  void CountFamilyLookup(std::string_view key, bool hit) {
    if (keyspace_.has_key_families()) keyspace_.CountFamilyLookup(ShardFor(Hash(key)), key, hit);
  }

  // Raises a keyspace event on `key` of the current db (or of `db`): see Keyspace::Notify.
  void Notify(uint32_t event_class, std::string_view event, std::string_view key) {
    keyspace_.Notify(event_class, event, db_, key);
  }
  void Notify(uint32_t event_class, std::string_view event, int db, std::string_view key) {
    keyspace_.Notify(event_class, event, db, key);
  }
  const std::vector<std::pair<int, std::string>>& modified() const { return modified_; }
  // HashKey of `key`, the index-th of the keys this Transaction was made with: hashed once, to
  // lock their shards.
  uint64_t KeyHash(size_t index, std::string_view key) const {
    return index < known_hashes_.size() ? known_hashes_[index].second : HashKey(key);
  }

 private:
  Shard& ShardFor(uint64_t hash) { return keyspace_.shard(keyspace_.ShardIndex(hash)); }
  void Unlink(Shard& shard, Table& table, Entry* entry);
  // The key's entry, or nullptr; an entry whose TTL ran out is dropped first (lazy expiry).
  // Inline: every GET and SET comes through here, and most keys have no TTL.
  Entry* FindLive(Shard& shard, Table& table, int db, std::string_view key, uint64_t hash) {
    Entry* e = table.dict.Find(key, hash);
    if (e == nullptr) return e;
    // Branch-free on the GET/SET path: Entry::kSpillCopy (32) becomes kSawSpillCopy (2).
    static_assert(Entry::kSpillCopy >> 4 == 2);
    slow_notes_ |= static_cast<uint8_t>((e->flags() >> 4) & kSawSpillCopy);
    if (!e->has_expiry() || e->expire_at_ms() >= now_ms_) return e;
    DropExpired(shard, table, db, key, hash, e);
    return nullptr;
  }
  void DropExpired(Shard& shard, Table& table, int db, std::string_view key, uint64_t hash, Entry* e);
  // The key read back from the spill now (SpillReader), or nullptr when it is not spilled.
  Entry* PromoteNow(Shard& shard, Table& table, int db, std::string_view key, uint64_t hash);
  uint64_t Hash(std::string_view key) const;
  // One branch on the common path (nobody records, nobody tracks).
  void NoteModified(int db, std::string_view key) {
    if (slow_notes_ != 0 || keyspace_.tracking_changes()) NoteModifiedSlow(db, key);
  }
  void NoteModifiedSlow(int db, std::string_view key);

  Keyspace& keyspace_;
  int db_;
  int64_t now_ms_;
  absl::InlinedVector<uint32_t, 4> locked_;  // empty under HeldShards
  absl::InlinedVector<std::pair<std::string_view, uint64_t>, 4> known_hashes_;
  HeldShards* held_ = nullptr;
  uint32_t first_shard_ = 0;
  bool refused_ = false;
  // Why a change takes NoteModifiedSlow (one test on the common path): the caller records the
  // keys changed (RecordModifications), or a key this transaction found has a copy in the spill
  // (Entry::kSpillCopy), so a change checks whether its copy must go.
  static constexpr uint8_t kRecordModifications = 1;
  static constexpr uint8_t kSawSpillCopy = 2;
  uint8_t slow_notes_ = 0;
  uint64_t writer_ = 0;
  bool count_families_ = true;
  bool no_touch_ = false;
  std::vector<std::pair<int, std::string>> modified_;
};

}  // namespace strata::storage
