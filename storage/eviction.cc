#include "storage/eviction.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "storage/clock.h"
#include "storage/keyspace.h"
#include "storage/spill_codec.h"

namespace strata::storage {

// Eviction
// --------
// When used memory passes maxmemory, the thread that is about to allocate (a write command, a
// loader storing a value) calls Keyspace::Evict, which frees keys until the caller says it is
// under the limit again. Evict draws maxmemory-samples keys, each from a random shard (it
// try-locks the shard, reads the key's score, copies the key, unlocks: a shard another thread
// holds is skipped, never waited for), into a pool of the 16 best candidates seen so far, and
// evicts the best one that still exists. That is Redis's evictionPoolPopulate over strata's
// shards: the victim is the best of many samples from the whole keyspace. (A first version
// evicted one victim per shard in turn; shards' sizes then drift apart as a random walk, and a
// shard left with only hot keys had to give one up. Global sampling has no such failure.) A
// thread holds at most one shard at a time while it evicts; one eviction runs at a time (the
// pool is shared), which costs nothing next to the work itself. The caller bounds the call with
// a deadline (Redis's maxmemory-eviction-tenacity: 500 us by default): a burst of writes or one
// huge value costs one command at most that much; what is left over is finished by the main
// thread's background pass (server/evictor.h), and Redis does the same.
//
// Scores (higher goes first):
//   lru     the longest idle. strata's access clock has millisecond resolution where Redis's
//           ticks once a second, so keys read continuously are told apart from keys written a
//           moment ago: a hot set survives a flood of new keys (Redis kept 9-10% of 1,000 hot
//           keys through a 10x flood in tests/e2e/test_eviction.py; strata keeps them all).
//   lfu     the lowest decayed logarithmic counter, exactly Redis's (lfu-log-factor,
//           lfu-decay-time).
//   ttl     the nearest expiry (volatile-ttl).
//   random  no pool: the first key drawn.
//   tinylfu the lowest recent frequency (below), the longest idle among equals.
//
// Why allkeys-tinylfu is strata's own policy
// ------------------------------------------
// Redis's LFU counter is the best of its policies on skewed workloads, but it forgets: a key
// that is evicted and asked for again starts over at 5, and the counter is logarithmic, so after
// a few hits it cannot tell a key read 10 times from one read 30 times. TinyLFU (Einziger,
// Friedman and Manes, 2017; Caffeine's policy) counts every request, hit or miss, in a sketch of
// 4-bit counters that also remembers keys that are not resident, and halves its counters every
// 10 x capacity requests so that frequency means recent frequency. A one-time key (a scan, a
// crawler) is seen once and cannot push out a key seen five times, however recently it came; a
// popular key that was evicted comes back with its history.
//
// The choice was made by measurement, in two steps.
//   1. bench/eviction_sim replays Zipf(0.99) over 1M keys with room for 100k (and the same with
//      10% of requests a scan of one-time keys) against every candidate at equal key counts.
//      Redis's best (LFU with its pool, 10 samples) hits 80.62% / 71.99%; W-TinyLFU (window,
//      SLRU, sketch) 81.74 / 73.32; S3-FIFO 81.12 / 73.19; a sketch with sampled eviction and no
//      pool 79.66 / 70.41 at 4 sketch bytes per key. But the orderings that win there cost
//      memory per key: W-TinyLFU's list links and S3-FIFO's queue slots and ghost are 8-16 bytes
//      on a 64-byte entry (an eighth to a fifth fewer keys in the same memory), and a cache
//      holding fewer keys loses more hit ratio than a better ordering wins (the simulator counts
//      capacity in keys, so it cannot show this; the benchmark below does).
//   2. So strata keeps what costs no memory in the entry: Redis's sampling and 16-candidate
//      pool over every shard, scored by a per-shard sketch of 2-4 bytes per key. The sketch's
//      estimate at a key's last access is cached in the key's 32-bit access field (with the
//      sketch's halving epoch, so it ages like the sketch, and a 128 ms clock), so eviction reads
//      a key's frequency without hashing it, and a key already at the top (most reads of a
//      skewed load) is not counted again. bench/eviction-vs-redis.sh, same memory for both
//      servers (what redis needs for 10% of the keys): Redis allkeys-lfu 78.71% / 70.16%;
//      strata allkeys-lfu 82.81 / 73.20; allkeys-tinylfu 83.08 / 73.72, which holds 5% fewer
//      keys than allkeys-lfu (the sketch) and still misses least.
// What it costs: bench/policy-cpu.sh counts instructions per request (callgrind) in a full cache:
// allkeys-tinylfu runs 3% fewer than allkeys-lru, because the sketch's work (one cache line per
// counted read) is less than what its extra hits save in misses, SETs and evictions. While the
// cache fills (nothing evicted yet, every read of a new key counted) it runs 2% more.
// What it does not do: admit new keys by comparing them with the victim (TinyLFU's admission
// test). The simulator shows +0.5 points for it, but it makes a SET followed by a GET miss under
// memory pressure, which a Redis user would call a bug.
//
// Each shard's sketch is sized to the shard's resident keys and grows with them; it exists only
// while the policy is allkeys-tinylfu. Reads (GET and the other read lookups) count, hits and
// misses; writes do not, so that a cache-aside miss (a GET that finds nothing, then a SET)
// counts once.

AccessTracking TrackingFor(EvictionPolicy policy) {
  switch (policy) {
    case EvictionPolicy::kAllKeysLfu:
    case EvictionPolicy::kVolatileLfu: return AccessTracking::kLfu;
    case EvictionPolicy::kAllKeysTinyLfu: return AccessTracking::kSketch;
    default: return AccessTracking::kRecency;
  }
}

bool EvictsOnlyVolatile(EvictionPolicy policy) {
  return policy == EvictionPolicy::kVolatileLru || policy == EvictionPolicy::kVolatileLfu ||
         policy == EvictionPolicy::kVolatileRandom || policy == EvictionPolicy::kVolatileTtl;
}

namespace {

constexpr uint32_t kLfuCounterMask = 0xFF;

std::chrono::steady_clock::time_point DeadlineTimePoint(int64_t deadline_ns) {
  // MonotonicNs and steady_clock both read CLOCK_MONOTONIC.
  if (deadline_ns == INT64_MAX) return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns));
}
constexpr uint32_t kLfuMaxCounter = 255;
// Checking the clock after every victim would cost more than some evictions do.
constexpr uint64_t kVictimsBetweenClockChecks = 16;
// Redis's EVPOOL_SIZE: the best candidates seen so far, kept across evictions.
constexpr size_t kEvictionPoolSize = 16;
constexpr int kFruitlessRoundsBeforeFullLook = 8;

uint32_t LfuMinutes(int64_t now_ms) { return static_cast<uint32_t>(now_ms / 60000) & 0xFFFF; }

uint32_t LfuElapsedMinutes(uint32_t field, int64_t now_ms) {
  const uint32_t then = (field >> 8) & 0xFFFF;
  const uint32_t now = LfuMinutes(now_ms);
  if (now >= then) return now - then;
  // Redis's arithmetic takes this for a wrap of the 16-bit minute clock; a stamp less than half
  // the clock ahead is another thread's a moment after this one read its clock: no time passed.
  if (then - now < 0x8000) return 0;
  return 0xFFFF - then + now;
}

double UnitInterval(uint64_t random) { return static_cast<double>(random >> 11) * 0x1.0p-53; }

}  // namespace

uint32_t LfuInitialField(int64_t now_ms) { return (LfuMinutes(now_ms) << 8) | kLfuInitialCounter; }

uint32_t LfuDecayedCounter(uint32_t field, int64_t now_ms, const LfuParams& params) {
  const uint32_t counter = field & kLfuCounterMask;
  if (params.decay_minutes <= 0) return counter;
  const uint32_t periods = LfuElapsedMinutes(field, now_ms) / static_cast<uint32_t>(params.decay_minutes);
  return periods >= counter ? 0 : counter - periods;
}

uint32_t LfuTouchedField(uint32_t field, int64_t now_ms, const LfuParams& params, uint64_t random) {
  uint32_t counter = LfuDecayedCounter(field, now_ms, params);
  if (counter < kLfuMaxCounter) {
    const double base = counter > kLfuInitialCounter ? counter - kLfuInitialCounter : 0;
    if (UnitInterval(random) < 1.0 / (base * params.log_factor + 1)) ++counter;
  }
  return (LfuMinutes(now_ms) << 8) | counter;
}

void Keyspace::SetEvictionPolicy(EvictionPolicy policy, LfuParams lfu) {
  std::lock_guard<std::mutex> serialized(policy_mu_);  // two CONFIG SETs at once end consistent
  lfu_log_factor_.store(lfu.log_factor, std::memory_order_relaxed);
  lfu_decay_minutes_.store(lfu.decay_minutes, std::memory_order_relaxed);
  const AccessTracking tracking = TrackingFor(policy);
  const AccessTracking previous = tracking_.load(std::memory_order_relaxed);
  if (tracking != previous && (tracking == AccessTracking::kSketch || previous == AccessTracking::kSketch)) {
    // The sketches are sized when the policy arrives and freed when it goes. Only shards free
    // now are visited: this may run inside an EXEC that holds some shards, and waiting for a
    // shard out of order could deadlock with a command that waits for the EXEC's. A shard
    // skipped here sizes its sketch at its next read (RecordAccess), or frees it at the next
    // switch away.
    HeldShards* held = HeldShards::Current();
    for (size_t index = 0; index < shards_.size(); ++index) {
      if (held != nullptr && held->Holds(index)) continue;
      Shard* shard = shards_[index].get();
      std::unique_lock<std::timed_mutex> lock(shard->mu, std::try_to_lock);
      if (!lock.owns_lock()) continue;
      if (tracking == AccessTracking::kSketch) {
        uint64_t keys = 0;
        for (Table& table : shard->tables()) keys += table.dict.size();
        shard->sketch.EnsureCapacity(keys);
      } else {
        shard->sketch = FrequencySketch();
      }
    }
  }
  tracking_.store(tracking, std::memory_order_relaxed);
  policy_.store(policy, std::memory_order_relaxed);
}

void Keyspace::RecordLfuAccess(Shard& shard, Entry& entry, int64_t now_ms) {
  entry.set_access_clock(LfuTouchedField(entry.access_clock(), now_ms, lfu_params(), shard.NextRandom()));
}

int Transaction::AccessFrequency(const Entry& entry) {
  if (keyspace_.access_tracking() == AccessTracking::kSketch) {
    const Shard& shard = keyspace_.shard(keyspace_.ShardIndex(Hash(entry.key())));
    return SketchFieldFrequency(entry.access_clock(), shard.sketch.epoch());
  }
  return static_cast<int>(LfuDecayedCounter(entry.access_clock(), now_ms_, keyspace_.lfu_params()));
}

uint64_t Keyspace::NextEvictionRandom() {
  // xorshift64*, as Shard::NextRandom.
  eviction_random_ ^= eviction_random_ >> 12;
  eviction_random_ ^= eviction_random_ << 25;
  eviction_random_ ^= eviction_random_ >> 27;
  return eviction_random_ * 2685821657736338717ULL;
}

bool Keyspace::LockForEviction(size_t index, HeldShards* held, std::unique_lock<std::timed_mutex>* lock) {
  // The shards a script holds are its own to read and write until it ends: evicting one of its
  // keys under it would break its isolation (Redis does not evict during a script either).
  if (held != nullptr && held->Holds(index)) return false;
  *lock = std::unique_lock<std::timed_mutex>(shards_[index]->mu, std::try_to_lock);
  return lock->owns_lock();
}

Entry* Keyspace::RandomCandidate(Shard& shard, bool volatile_only, int* victim_db) {
  // Drawn from the shard's databases in proportion to their sizes.
  uint64_t total = 0;
  for (Table& table : shard.tables()) total += volatile_only ? table.volatile_entries.size() : table.dict.size();
  if (total == 0) return nullptr;
  uint64_t pick = shard.NextRandom() % total;
  int db = 0;
  for (;; ++db) {
    const Table& table = shard.table(db);
    const uint64_t size = volatile_only ? table.volatile_entries.size() : table.dict.size();
    if (pick < size) break;
    pick -= size;
  }
  *victim_db = db;
  Table& table = shard.table(db);
  return volatile_only ? table.volatile_entries[pick] : table.dict.RandomEntry(shard.NextRandom());
}

uint64_t Keyspace::VictimScore(const Shard& shard, const Entry& entry, EvictionPolicy policy, int64_t now_ms) const {
  switch (policy) {
    case EvictionPolicy::kAllKeysLru:
    case EvictionPolicy::kVolatileLru: return IdleMs(entry.access_clock(), now_ms);
    case EvictionPolicy::kAllKeysLfu:
    case EvictionPolicy::kVolatileLfu:
      return kLfuMaxCounter - LfuDecayedCounter(entry.access_clock(), now_ms, lfu_params());
    case EvictionPolicy::kVolatileTtl: return ~static_cast<uint64_t>(entry.expire_at_ms());
    case EvictionPolicy::kAllKeysTinyLfu: {
      const auto rarity = static_cast<uint64_t>(FrequencySketch::kMaxFrequency -
                                                SketchFieldFrequency(entry.access_clock(), shard.sketch.epoch()));
      return (rarity << 32) | SketchFieldIdleMs(entry.access_clock(), now_ms);
    }
    default: return 0;
  }
}

bool Keyspace::ByScore(const EvictionCandidate& a, const EvictionCandidate& b) { return a.score < b.score; }

bool Keyspace::SampleIntoPool(EvictionPolicy policy, int samples, int64_t now_ms, HeldShards* held) {
  const bool volatile_only = EvictsOnlyVolatile(policy);
  bool found = false;
  for (int i = 0; i < samples; ++i) {
    const size_t index = NextEvictionRandom() % shards_.size();
    std::unique_lock<std::timed_mutex> lock;
    if (!LockForEviction(index, held, &lock)) continue;
    Shard& shard = *shards_[index];
    int db = 0;
    Entry* candidate = RandomCandidate(shard, volatile_only, &db);
    if (candidate == nullptr) continue;
    found = true;
    // Drawn twice: the pooled one stays (compared by address only, never dereferenced).
    if (std::any_of(eviction_pool_.begin(), eviction_pool_.end(),
                    [&](const EvictionCandidate& pooled) { return pooled.entry == candidate; })) {
      continue;
    }
    const std::string_view key = candidate->key();
    const uint64_t score = VictimScore(shard, *candidate, policy, now_ms);
    // The pool is unordered: sixteen comparisons cost less than keeping strings sorted.
    EvictionCandidate* slot;
    if (eviction_pool_.size() < kEvictionPoolSize) {
      slot = &eviction_pool_.emplace_back();
    } else {
      slot = &*std::min_element(eviction_pool_.begin(), eviction_pool_.end(), ByScore);
      if (score <= slot->score) continue;  // worse than every pooled candidate
    }
    EvictionCandidate& added = *slot;
    added.score = score;
    added.hash = HashKey(key);
    added.db = db;
    added.entry = candidate;
    added.key.assign(key);
  }
  return found;
}

bool Keyspace::EvictBestCandidate(EvictionPolicy policy, int64_t now_ms, HeldShards* held,
                                  EvictionOutcome* outcome) {
  const bool volatile_only = EvictsOnlyVolatile(policy);
  // Best first. A candidate whose shard is busy right now stays in the pool for the next round:
  // dropping it would leave the pool to worse candidates (a hot key the samples happened to
  // draw), which then go instead.
  size_t busy = 0;  // the busy candidates are kept at the front, [0, busy)
  while (busy < eviction_pool_.size()) {
    auto best_slot = std::max_element(eviction_pool_.begin() + static_cast<std::ptrdiff_t>(busy),
                                      eviction_pool_.end(), ByScore);
    const size_t index = ShardIndex(best_slot->hash);
    std::unique_lock<std::timed_mutex> lock;
    if (!LockForEviction(index, held, &lock)) {
      std::swap(*best_slot, eviction_pool_[busy++]);
      continue;
    }
    std::swap(*best_slot, eviction_pool_.back());
    EvictionCandidate best = std::move(eviction_pool_.back());
    eviction_pool_.pop_back();
    Shard& shard = *shards_[index];
    Entry* victim = shard.table(best.db).dict.Find(best.key, best.hash);
    // Deleted meanwhile, or (volatile-*) made persistent: not a candidate any more.
    if (victim == nullptr || (volatile_only && !victim->has_expiry())) continue;
    // Used since it was drawn (or made anew: read back from the spill, written again): its
    // score is stale, and a key just read back would otherwise go straight back to disk.
    if (victim != best.entry || VictimScore(shard, *victim, policy, now_ms) < best.score) continue;
    RemoveVictim(shard, best.db, victim, outcome);
    return true;
  }
  return false;
}

bool Keyspace::EvictRandomKey(bool volatile_only, HeldShards* held, EvictionOutcome* outcome) {
  const size_t index = NextEvictionRandom() % shards_.size();
  std::unique_lock<std::timed_mutex> lock;
  if (!LockForEviction(index, held, &lock)) return false;
  Shard& shard = *shards_[index];
  int db = 0;
  Entry* victim = RandomCandidate(shard, volatile_only, &db);
  if (victim == nullptr) return false;
  RemoveVictim(shard, db, victim, outcome);
  return true;
}

bool Keyspace::AnyCandidate(bool volatile_only, HeldShards* held) {
  for (size_t index = 0; index < shards_.size(); ++index) {
    if (held != nullptr && held->Holds(index)) continue;  // this thread's own: never evicted
    std::unique_lock<std::timed_mutex> lock;
    // A shard another thread holds may have candidates: count it as having some, so that a
    // busy moment never reads as "nothing to evict" (and -OOM).
    if (!LockForEviction(index, held, &lock)) return true;
    for (Table& table : shards_[index]->tables()) {
      if ((volatile_only ? table.volatile_entries.size() : table.dict.size()) > 0) return true;
    }
  }
  return false;
}

std::string Keyspace::IndexAsSpilled(Table& table, uint64_t hash, const Entry& entry) {
  // A clean copy's record is still on disk. (Its size is not known without encoding it; the
  // entry's stands in for spill-max-size.)
  std::string record = entry.has_spill_copy() ? std::string() : EncodeSpillRecord(entry);
  const size_t record_bytes = record.empty() ? entry.AllocatedSize() : record.size();
  table.spilled.Put(hash, SpilledKey{std::string(entry.key()), NextSpillGeneration(), entry.expire_at_ms(),
                                     static_cast<uint32_t>(record_bytes), entry.type()});
  return record;
}

void Keyspace::RemoveVictim(Shard& shard, int db, Entry* victim, EvictionOutcome* outcome) {
  Table& table = shard.table(db);
  if (victim->has_expiry()) table.RemoveVolatile(victim);
  const uint64_t hash = HashKey(victim->key());
  table.dict.Remove(victim->key(), hash);
  if (listener_ != nullptr) listener_->OnEvict(db, *victim);
  if (spill_ != nullptr) {
    // Moved, not lost: the key still exists, unchanged, so nobody is told of a change.
    std::string record = IndexAsSpilled(table, hash, *victim);
    if (record.empty()) {
      shard.spill_clean_evictions.Add();
    } else {
      spill_->Put(db, victim->key(), std::move(record));
      shard.spill_writes.Add();
    }
  } else {
    Notify(notify::kEvicted, "evicted", db, victim->key());
    KeyChanged(victim->key(), hash);
    shard.evicted_keys.Add();
  }
  if (families_ != nullptr) CountFamilyEviction(shard, *victim);
  ++outcome->keys;
  ReleaseEntry(shard, victim);
}

uint64_t Keyspace::TrimSpill(uint64_t max_bytes, int64_t now_ms, int64_t deadline_ns) {
  // Called from the cron: a shard that a long command or script holds is skipped, never waited
  // for (as active expiry does); its keys count at the next call.
  uint64_t total = 0;
  for (size_t index = 0; index < shards_.size(); ++index) {
    std::unique_lock<std::timed_mutex> lock;
    if (!LockForEviction(index, nullptr, &lock)) continue;
    for (const Table& table : shards_[index]->tables()) total += table.spilled.record_bytes();
  }
  uint64_t removed = 0;
  constexpr size_t kSamples = 16;
  while (total > max_bytes && MonotonicNs() < deadline_ns) {
    // The oldest of a few random spilled keys (an expired one first: it is gone anyway).
    struct Oldest {
      size_t shard = SIZE_MAX;
      int db = 0;
      uint64_t hash = 0;
      uint64_t generation = UINT64_MAX;
      std::string key;
    } oldest;
    // Random shards first; when the spilled keys are few and none of those has one, every
    // shard in turn from a random one (so a cap is met however few keys are spilled).
    const size_t start = static_cast<size_t>(NextEvictionRandom() % shards_.size());
    for (size_t sample = 0; sample < kSamples + shards_.size(); ++sample) {
      if (sample == kSamples && oldest.shard != SIZE_MAX) break;
      const size_t index = sample < kSamples ? static_cast<size_t>(NextEvictionRandom() % shards_.size())
                                             : (start + sample) % shards_.size();
      Shard& shard = *shards_[index];
      std::unique_lock<std::timed_mutex> lock;
      if (!LockForEviction(index, nullptr, &lock)) continue;
      const int first_db = static_cast<int>(shard.NextRandom() % static_cast<uint64_t>(options_.databases));
      for (int i = 0; i < options_.databases; ++i) {
        const int db = (first_db + i) % options_.databases;
        const Table& table = shard.table(db);
        if (table.spilled.empty()) continue;
        uint64_t hash;
        const SpilledKey* spilled = table.spilled.Random(shard.NextRandom(), &hash);
        const uint64_t generation = IsExpiredAt(spilled->expire_at_ms, now_ms) ? 0 : spilled->generation;
        if (generation < oldest.generation) oldest = {index, db, hash, generation, spilled->key};
        break;
      }
      if (sample >= kSamples && oldest.shard != SIZE_MAX) break;
    }
    if (oldest.shard == SIZE_MAX) break;  // nothing spilled any more
    Shard& shard = *shards_[oldest.shard];
    std::unique_lock<std::timed_mutex> lock;
    if (!LockForEviction(oldest.shard, nullptr, &lock)) continue;
    Table& table = shard.table(oldest.db);
    const SpilledKey* spilled = table.spilled.Find(oldest.hash, oldest.key);
    if (spilled == nullptr) continue;  // promoted or deleted meanwhile
    total -= std::min<uint64_t>(total, spilled->record_bytes);
    const bool expired = IsExpiredAt(spilled->expire_at_ms, now_ms);
    table.spilled.Erase(oldest.hash, oldest.key);
    spill_->Delete(oldest.db, oldest.key);
    if (expired) {
      Notify(notify::kExpired, "expired", oldest.db, oldest.key);
      shard.expired_keys.Add();
    } else {
      Notify(notify::kEvicted, "evicted", oldest.db, oldest.key);
      shard.spill_evicted_keys.Add();
      if (families_ != nullptr) CountFamilyEviction(shard, oldest.key);
    }
    KeyChanged(oldest.key, oldest.hash);
    ++removed;
  }
  return removed;
}

Keyspace::SpillAllOutcome Keyspace::SpillAll(int64_t now_ms, absl::FunctionRef<void()> pace) {
  SpillAllOutcome outcome;
  uint64_t since_pace = 0;
  for (auto& shard : shards_) {
    WideShardLock lock(*shard);
    for (int db = 0; db < options_.databases; ++db) {
      Table& table = shard->table(db);
      table.dict.Clear([&](Entry* e) {
        if (!IsExpiredAt(e->expire_at_ms(), now_ms)) {
          ++outcome.keys;
          std::string record = IndexAsSpilled(table, HashKey(e->key()), *e);
          if (!record.empty()) {  // (empty: its clean copy is on disk already)
            // Paced before the queue could fill (a full queue would drop the value).
            if (since_pace + record.size() >= (8u << 20)) {
              pace();
              since_pace = 0;
            }
            outcome.bytes += record.size();
            since_pace += record.size();
            spill_->Put(db, e->key(), std::move(record));
          }
        }
        ReleaseEntry(*shard, e);
      });
      table.volatile_entries.clear();
    }
  }
  return outcome;
}

EvictionOutcome Keyspace::Evict(int samples, int64_t now_ms, int64_t deadline_ns, absl::FunctionRef<bool()> enough) {
  EvictionOutcome outcome;
  const EvictionPolicy policy = eviction_policy();
  if (policy == EvictionPolicy::kNoEviction) {
    outcome.nothing_to_evict = true;
    return outcome;
  }
  const bool volatile_only = EvictsOnlyVolatile(policy);
  const bool random = policy == EvictionPolicy::kAllKeysRandom || policy == EvictionPolicy::kVolatileRandom;
  HeldShards* held = HeldShards::Current();
  // One eviction at a time. A thread that holds shards (EXEC, a script) never waits for it: the
  // evicting thread might be waiting for those shards. Others wait at most until the deadline;
  // either way the one evicting is making room for them too.
  std::unique_lock<std::timed_mutex> lock(eviction_mu_, std::defer_lock);
  if (held != nullptr ? !lock.try_lock() : !lock.try_lock_until(DeadlineTimePoint(deadline_ns))) return outcome;
  if (pool_policy_ != policy) {  // scores of another policy mean nothing under this one
    eviction_pool_.clear();
    pool_policy_ = policy;
  }
  uint64_t rounds = 0;
  int fruitless = 0;  // rounds in a row that evicted nothing
  while (!enough()) {
    if (++rounds % kVictimsBetweenClockChecks == 0 && MonotonicNs() > deadline_ns) break;
    const bool evicted = random ? EvictRandomKey(volatile_only, held, &outcome)
                                : (SampleIntoPool(policy, samples, now_ms, held),
                                   EvictBestCandidate(policy, now_ms, held, &outcome));
    if (evicted) {
      fruitless = 0;
      continue;
    }
    // Random draws can miss for a while in a sparse keyspace; only a full look says "none".
    if (++fruitless >= kFruitlessRoundsBeforeFullLook) {
      fruitless = 0;
      if (!AnyCandidate(volatile_only, held)) {
        outcome.nothing_to_evict = true;
        break;
      }
    }
  }
  return outcome;
}

}  // namespace strata::storage
