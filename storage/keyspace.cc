#include "storage/keyspace.h"
#include "storage/glob.h"

#include "storage/clock.h"

#include <time.h>

#include <algorithm>
#include <utility>

namespace strata::storage {

// Active expiry
// -------------
// Lazy expiry alone would keep keys that are never read again forever, so a periodic cycle
// reclaims them, on Redis's adaptive-sampling model (expire.c): for one shard and database at a
// time, draw kExpireSamplesPerLoop random keys among those with a TTL, delete the expired ones,
// and if more than kExpireAcceptableStalePercent of the sample was expired, the table probably
// holds many more, so sample it again. The caller bounds the whole cycle with a deadline (its
// CPU budget), and the cycle resumes at the next shard the following time.
//
// Worked example: 100,000 keys with a TTL, 30,000 of them expired. A sample of 20 finds about 6
// expired (30% > 10%), so the loop repeats; as the table is cleaned the expired share drops
// under 10% and the cycle moves on, leaving at most ~10% stale keys in memory, which lookups
// reclaim lazily anyway.
namespace {

constexpr int kExpireSamplesPerLoop = 20;
constexpr int kExpireAcceptableStalePercent = 10;


// As Redis (keyIsExpired): a key is still there at its expiry instant, gone one ms later.
bool IsExpired(const Entry& e, int64_t now_ms) { return e.has_expiry() && e.expire_at_ms() < now_ms; }


}  // namespace

thread_local HeldShards* HeldShards::current_ = nullptr;

HeldShards::HeldShards(Keyspace& keyspace, std::span<const std::string_view> keys, bool all)
    : keyspace_(keyspace), all_(all), previous_(current_) {
  if (!all_) {
    for (std::string_view key : keys) shards_.push_back(static_cast<uint32_t>(keyspace.ShardIndex(HashKey(key))));
    std::sort(shards_.begin(), shards_.end());
    shards_.erase(std::unique(shards_.begin(), shards_.end()), shards_.end());
  }
  const size_t count = all_ ? keyspace.shard_count() : shards_.size();
  for (size_t i = 0; i < count; ++i) {
    if (!keyspace.LockShard(all_ ? i : shards_[i])) {
      for (size_t j = i; j-- > 0;) keyspace.shard(all_ ? j : shards_[j]).mu.unlock();
      refused_ = true;
      return;
    }
  }
  current_ = this;
}

HeldShards::~HeldShards() {
  if (refused_) return;
  SetBusy(false);
  current_ = previous_;
  const size_t count = all_ ? keyspace_.shard_count() : shards_.size();
  for (size_t i = count; i-- > 0;) keyspace_.shard(all_ ? i : shards_[i]).mu.unlock();
}

bool HeldShards::Holds(size_t shard) const {
  return all_ || std::binary_search(shards_.begin(), shards_.end(), static_cast<uint32_t>(shard));
}

bool HeldShards::HoldsKey(std::string_view key) const { return Holds(keyspace_.ShardIndex(HashKey(key))); }

void HeldShards::SetBusy(bool busy) {
  if (busy == busy_) return;
  busy_ = busy;
  const size_t count = all_ ? keyspace_.shard_count() : shards_.size();
  for (size_t i = 0; i < count; ++i) {
    keyspace_.shard(all_ ? i : shards_[i]).held_by_busy_script.store(busy, std::memory_order_release);
  }
  keyspace_.busy_scripts().fetch_add(busy ? 1 : -1, std::memory_order_relaxed);
}

bool Keyspace::LockContendedShard(Shard& shard) {
  // Another command holds the shard, usually for microseconds: sleep in the lock, but wake every
  // millisecond to see whether the holder is a script past busy-reply-threshold, so that this
  // thread answers -BUSY instead of stalling all its clients behind the script.
  for (;;) {
    if (shard.held_by_busy_script.load(std::memory_order_acquire)) return false;
    if (shard.mu.try_lock_for(std::chrono::milliseconds(1))) return true;
  }
}

uint64_t Shard::NextRandom() {
  // xorshift64*: quality is ample for sampling, and it is one multiply.
  random_state_ ^= random_state_ >> 12;
  random_state_ ^= random_state_ << 25;
  random_state_ ^= random_state_ >> 27;
  return random_state_ * 2685821657736338717ULL;
}

Keyspace::Keyspace(KeyspaceOptions options) : options_(options) {
  // At least two shards: a shift by 64 (one shard) would be undefined.
  options_.shard_bits = std::clamp(options_.shard_bits, 1, 16);
  shard_shift_ = 64 - options_.shard_bits;
  const size_t count = size_t{1} << options_.shard_bits;
  shards_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    shards_.push_back(std::make_unique<Shard>(options_.databases, 0x9E3779B97F4A7C15ULL * (i + 1)));
  }
}

Keyspace::~Keyspace() {
  // Frees the memory tier; what is spilled stays where it is, for the next start.
  spill_ = nullptr;
  FlushAll();
}

void Keyspace::ReleaseEntry(Shard& shard, Entry* entry) {
  shard.entry_bytes.Add(0 - entry->AllocatedSize());
  Entry::Free(entry);
}

uint64_t Keyspace::DbSize(int db) {
  uint64_t total = 0;
  for (auto& shard : shards_) {
    WideShardLock lock(*shard);
    total += shard->table(db).dict.size() + shard->table(db).spilled.size();
  }
  return total;
}

void Keyspace::IndexSpilled(int db, std::string_view key, ValueType type, int64_t expire_at_ms, size_t record_bytes) {
  const uint64_t hash = HashKey(key);
  Shard& shard = *shards_[ShardIndex(hash)];
  WideShardLock lock(shard);
  shard.table(db).spilled.Put(hash, SpilledKey{std::string(key), NextSpillGeneration(), expire_at_ms,
                                               static_cast<uint32_t>(record_bytes), type});
}

std::vector<DbInfo> Keyspace::DbInfos() {
  std::vector<DbInfo> infos(static_cast<size_t>(options_.databases));
  for (auto& shard : shards_) {
    WideShardLock lock(*shard);
    for (int db = 0; db < options_.databases; ++db) {
      infos[static_cast<size_t>(db)].keys += shard->table(db).dict.size() + shard->table(db).spilled.size();
      infos[static_cast<size_t>(db)].expires += shard->table(db).volatile_entries.size();
    }
  }
  return infos;
}

KeyspaceStats Keyspace::Stats() {
  KeyspaceStats stats;
  for (auto& shard : shards_) {
    stats.expired_keys += shard->expired_keys.Get();
    stats.keyspace_hits += shard->keyspace_hits.Get();
    stats.keyspace_misses += shard->keyspace_misses.Get();
    stats.entry_bytes += shard->entry_bytes.Get();
    stats.evicted_keys += shard->evicted_keys.Get();
    stats.spill_writes += shard->spill_writes.Get();
    stats.spill_promotions += shard->promoted_keys.Get();
    stats.spill_sync_reads += shard->spill_sync_reads.Get();
    stats.spill_clean_evictions += shard->spill_clean_evictions.Get();
    stats.spill_evicted_keys += shard->spill_evicted_keys.Get();
    WideShardLock lock(*shard);
    stats.sketch_bytes += shard->sketch.bytes();
    for (Table& table : shard->tables()) {
      stats.spilled_keys += table.spilled.size();
      stats.spill_record_bytes += table.spilled.record_bytes();
      stats.table_bytes += table.dict.overhead_bytes() + table.volatile_entries.capacity() * sizeof(Entry*);
    }
  }
  return stats;
}

void Keyspace::ResetStats() {
  for (auto& shard : shards_) {
    WideShardLock lock(*shard);
    shard->expired_keys.Reset();
    shard->keyspace_hits.Reset();
    shard->keyspace_misses.Reset();
    shard->evicted_keys.Reset();
    if (families_ != nullptr) {
      for (size_t f = 0; f < families_->size(); ++f) {
        KeyFamilyCounters& c = shard->family_counters[f];
        c.hits.store(0, std::memory_order_relaxed);
        c.misses.store(0, std::memory_order_relaxed);
        c.evictions.store(0, std::memory_order_relaxed);
      }
    }
  }
}

void Keyspace::SetKeyFamilies(std::unique_ptr<const KeyFamilies> families) {
  if (families == nullptr || families->size() == 0) {
    families_.reset();
    return;
  }
  for (auto& shard : shards_) shard->family_counters = std::make_unique<KeyFamilyCounters[]>(families->size());
  census_keys_.assign(families->size(), 0);
  census_bytes_.assign(families->size(), 0);
  {
    absl::MutexLock lock(&census_mu_);
    published_keys_.assign(families->size(), 0);
    published_bytes_.assign(families->size(), 0);
  }
  ttl_caps_.clear();
  for (size_t i = 0; i < families->size(); ++i) {
    if (families->family(i).max_ttl_ms > 0) ttl_caps_.push_back({families->family(i).glob, families->family(i).max_ttl_ms});
  }
  families_ = std::move(families);
}

int64_t Keyspace::TtlCapMs(std::string_view key) const {
  int64_t tightest = 0;
  for (const TtlCap& cap : ttl_caps_) {
    if ((tightest == 0 || cap.max_ttl_ms < tightest) && GlobMatch(cap.glob, key)) tightest = cap.max_ttl_ms;
  }
  return tightest;
}

int Keyspace::ClassifyAndTag(Entry& entry) {
  const int family = families_->Classify(entry.key());
  if (family < Entry::kTaggedFamilies) entry.set_family_tag(static_cast<uint8_t>(family + 2));
  return family;
}

void Keyspace::KeyFamilyCensusStep(int64_t now_ms, int64_t deadline_ns) {
  if (families_ == nullptr) return;
  // A slice of one table at a time under its shard's lock, taken only if free (a busy script's
  // shard waits for the next step; the main thread never waits behind one), until the deadline.
  constexpr size_t kBucketsPerSlice = 64;
  do {
    Shard& shard = *shards_[census_next_shard_];
    {
      std::unique_lock<std::timed_mutex> lock(shard.mu, std::try_to_lock);
      if (!lock.owns_lock()) return;
      const Table& table = shard.table(census_db_);
      census_cursor_ = table.dict.Scan(census_cursor_, kBucketsPerSlice, [&](Entry* e) {
        if (IsExpired(*e, now_ms)) return;
        const int family = FamilyOf(*e);
        if (family < 0) return;
        ++census_keys_[family];
        census_bytes_[family] += e->AllocatedSize() + sizeof(Entry*);
      });
    }
    if (census_cursor_ != 0) continue;  // more of this table
    if (++census_db_ < options_.databases) continue;
    census_db_ = 0;
    if (++census_next_shard_ < shards_.size()) continue;
    census_next_shard_ = 0;
    absl::MutexLock lock(&census_mu_);
    published_keys_.swap(census_keys_);
    published_bytes_.swap(census_bytes_);
    census_keys_.assign(families_->size(), 0);
    census_bytes_.assign(families_->size(), 0);
  } while (MonotonicNs() < deadline_ns);
}

std::vector<KeyFamilyStats> Keyspace::KeyFamilyStatsNow() const {
  std::vector<KeyFamilyStats> out;
  if (families_ == nullptr) return out;
  for (size_t f = 0; f < families_->size(); ++f) {
    KeyFamilyStats stats;
    stats.name = families_->family(f).name;
    stats.glob = families_->family(f).glob;
    for (const auto& shard : shards_) {
      const KeyFamilyCounters& c = shard->family_counters[f];
      stats.hits += c.hits.load(std::memory_order_relaxed);
      stats.misses += c.misses.load(std::memory_order_relaxed);
      stats.evictions += c.evictions.load(std::memory_order_relaxed);
    }
    out.push_back(std::move(stats));
  }
  absl::MutexLock lock(&census_mu_);
  for (size_t f = 0; f < out.size(); ++f) {
    out[f].keys = published_keys_[f];
    out[f].memory_bytes = published_bytes_[f];
  }
  return out;
}

void Keyspace::FlushDb(int db) {
  FlushDbTables(db, db);
  NoteFlush();
}

void Keyspace::FlushDbTables(int first_db, int last_db) {
  // Every shard at once while the tables are detached and the disk's delete is queued: a key
  // spilled after the flush is queued after its delete, so the flush never takes it.
  std::vector<Table> detached(shards_.size() * static_cast<size_t>(last_db - first_db + 1));
  const bool held = HeldShards::Current() != nullptr;
  if (!held) for (auto& shard : shards_) shard->mu.lock();
  size_t next = 0;
  for (auto& shard : shards_) {
    for (int db = first_db; db <= last_db; ++db) std::swap(detached[next++], shard->table(db));
  }
  if (spill_ != nullptr) {
    if (first_db == last_db) {
      spill_->DeleteDb(first_db);
    } else {
      spill_->DeleteAll();
    }
  }
  if (!held) for (auto it = shards_.rbegin(); it != shards_.rend(); ++it) (*it)->mu.unlock();
  // Free outside the locks: a large flush does not stall other commands. The byte counter is
  // only written under the lock (it is not an atomic read-modify-write).
  next = 0;
  for (auto& shard : shards_) {
    uint64_t freed = 0;
    for (int db = first_db; db <= last_db; ++db) {
      detached[next++].dict.Clear([&](Entry* e) {
        freed += e->AllocatedSize();
        Entry::Free(e);
      });
    }
    if (held) {
      shard->entry_bytes.Add(0 - freed);
    } else {
      WideShardLock lock(*shard);
      shard->entry_bytes.Add(0 - freed);
    }
  }
}

void Keyspace::FlushAll() {
  FlushDbTables(0, options_.databases - 1);
  NoteFlush();
}

void Keyspace::SwapDb(int a, int b) {
  // All shards at once, so no command sees one database half swapped.
  const bool held = HeldShards::Current() != nullptr;
  if (!held) for (auto& shard : shards_) shard->mu.lock();
  for (auto& shard : shards_) std::swap(shard->table(a), shard->table(b));
  if (spill_ != nullptr) spill_->SwapDb(a, b);  // while every shard is held: no write in between
  if (!held) for (auto it = shards_.rbegin(); it != shards_.rend(); ++it) (*it)->mu.unlock();
}

// The SCAN cursor: low kShardCursorBits bits name the shard, the rest is that shard's cursor.
// Shard by shard, each walked to completion, keeps Dict's no-miss guarantee.
//
// Within a shard, memory and spill are walked as one table: the cursor's mask is the larger of
// the Dict's and one sized for the spilled keys, and a step returns the keys of both tiers whose
// hash falls in the cursor's bucket under that mask. A key's place in the walk depends only on
// its hash, so a key that moves between tiers during a SCAN is returned all the same, and a
// mask that changes between calls is a table that was resized, which Dict's walk allows.
ScanResult Keyspace::Scan(int db, uint64_t cursor, size_t count, int64_t now_ms,
                          const std::function<bool(std::string_view key, ValueType type)>& filter) {
  ScanResult result;
  const int shard_bits = options_.shard_bits;
  size_t shard_index = static_cast<size_t>(cursor & ((uint64_t{1} << shard_bits) - 1));
  uint64_t table_cursor = cursor >> shard_bits;
  if (count == 0) count = 10;
  size_t budget = count * 10;  // buckets to visit at most, as Redis bounds an empty-ish table
  while (shard_index < shards_.size()) {
    Shard& shard = *shards_[shard_index];
    {
      WideShardLock lock(shard);
      const Table& table = shard.table(db);
      while (table.dict.size() > 0 || !table.spilled.empty()) {
        const uint64_t dict_mask = table.dict.bucket_count() == 0 ? 0 : table.dict.bucket_count() - 1;
        uint64_t mask = dict_mask;
        if (!table.spilled.empty()) mask = std::max(mask, std::bit_ceil(table.spilled.size()) - 1);
        const uint64_t bucket = table_cursor & mask;
        table.dict.ForEachInBucket(table_cursor, [&](const Entry* e) {
          if (mask != dict_mask && (HashKey(e->key()) & mask) != bucket) return;  // another bucket of the walk
          if (!IsExpired(*e, now_ms) && filter(e->key(), e->type())) result.keys.emplace_back(e->key());
        });
        table.spilled.ForEachInBucket(table_cursor, mask, [&](uint64_t, const SpilledKey& spilled) {
          if (!IsExpiredAt(spilled.expire_at_ms, now_ms) && filter(spilled.key, spilled.type)) {
            result.keys.push_back(spilled.key);
          }
        });
        table_cursor = Dict::NextCursor(table_cursor, mask);
        if (budget > 0) --budget;
        if (table_cursor == 0 || result.keys.size() >= count || budget == 0) break;
      }
      if (table.dict.size() == 0 && table.spilled.empty()) table_cursor = 0;
    }
    if (table_cursor == 0) ++shard_index;
    if (result.keys.size() >= count || budget == 0) break;
  }
  if (shard_index >= shards_.size()) {
    result.next_cursor = 0;
  } else {
    // The "cursor 0 of shard 0" state is the start, so it cannot be a continuation; a
    // continuation at the start of shard 0 cannot happen because shard 0 is then finished.
    result.next_cursor = (table_cursor << shard_bits) | shard_index;
  }
  return result;
}

void Keyspace::ForEachKey(int db, int64_t now_ms, const std::function<void(std::string_view key)>& fn) {
  for (auto& shard : shards_) {
    WideShardLock lock(*shard);
    const Table& table = shard->table(db);
    table.dict.Scan(0, SIZE_MAX, [&](Entry* e) {
      if (!IsExpired(*e, now_ms)) fn(e->key());
    });
    table.spilled.ForEach([&](uint64_t, const SpilledKey& spilled) {
      if (!IsExpiredAt(spilled.expire_at_ms, now_ms)) fn(spilled.key);
    });
  }
}

uint64_t Keyspace::DeleteIfInShard(size_t index, int db, const std::function<bool(std::string_view key)>& matches) {
  Shard& shard = *shards_[index];
  WideShardLock lock(shard);
  Table& table = shard.table(db);
  std::vector<Entry*> doomed;
  table.dict.Scan(0, SIZE_MAX, [&](Entry* e) {
    if (matches(e->key())) doomed.push_back(e);
  });
  for (Entry* e : doomed) {
    if (e->has_expiry()) table.RemoveVolatile(e);
    const uint64_t hash = HashKey(e->key());
    table.dict.Remove(e->key(), hash);
    if (e->has_spill_copy()) spill_->Delete(db, e->key());
    KeyChanged(e->key(), hash);
    ReleaseEntry(shard, e);
  }
  std::vector<std::pair<uint64_t, std::string>> doomed_spilled;
  table.spilled.ForEach([&](uint64_t hash, const SpilledKey& spilled) {
    if (matches(spilled.key)) doomed_spilled.emplace_back(hash, spilled.key);
  });
  for (const auto& [hash, key] : doomed_spilled) {
    table.spilled.Erase(hash, key);
    spill_->Delete(db, key);
    KeyChanged(key, hash);  // a client may have cached it before it was spilled
  }
  return doomed.size() + doomed_spilled.size();
}

bool Keyspace::RandomKey(int db, int64_t now_ms, std::string* key) {
  // Pick a shard in proportion to its size (so a key in a small database is as likely as any
  // other), then a random entry in it. Sizes can change between the two steps, so retry a
  // bounded number of times; an expired pick is retried too.
  uint64_t state = static_cast<uint64_t>(MonotonicNs()) | 1;
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::vector<size_t> sizes(shards_.size());
    uint64_t total = 0;
    for (size_t i = 0; i < shards_.size(); ++i) {
      WideShardLock lock(*shards_[i]);
      sizes[i] = shards_[i]->table(db).dict.size() + shards_[i]->table(db).spilled.size();
      total += sizes[i];
    }
    if (total == 0) return false;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    uint64_t pick = state % total;
    size_t index = 0;
    while (pick >= sizes[index]) pick -= sizes[index++];
    Shard& shard = *shards_[index];
    WideShardLock lock(shard);
    const Table& table = shard.table(db);
    // Memory or spill in proportion to their sizes now.
    const size_t in_memory = table.dict.size();
    if (in_memory + table.spilled.size() == 0) continue;
    if (pick % (in_memory + table.spilled.size()) < in_memory) {
      Entry* e = table.dict.RandomEntry(shard.NextRandom());
      if (e != nullptr && !IsExpired(*e, now_ms)) {
        *key = std::string(e->key());
        return true;
      }
    } else {
      uint64_t hash;
      const SpilledKey* spilled = table.spilled.Random(shard.NextRandom(), &hash);
      if (spilled != nullptr && !IsExpiredAt(spilled->expire_at_ms, now_ms)) {
        *key = spilled->key;
        return true;
      }
    }
  }
  bool found = false;
  ForEachKey(db, now_ms, [&](std::string_view live) {
    if (!found) {
      *key = std::string(live);
      found = true;
    }
  });
  return found;
}

uint64_t Keyspace::ActiveExpireCycle(int64_t now_ms, int64_t deadline_ns, uint64_t* sampled) {
  uint64_t reclaimed = 0, looked_at = 0;
  const size_t start = expire_cursor_.load(std::memory_order_relaxed);
  size_t visited = 0;
  for (; visited < shards_.size(); ++visited) {
    const size_t index = (start + visited) % shards_.size();
    Shard& shard = *shards_[index];
    // A shard busy with a long command or script is skipped: the cycle must not stall the main
    // loop, and the next cycle comes back to it.
    std::unique_lock<std::timed_mutex> lock(shard.mu, std::try_to_lock);
    if (!lock.owns_lock()) continue;
    for (int db = 0; db < options_.databases; ++db) {
      Table& table = shard.table(db);
      while (!table.volatile_entries.empty()) {
        int expired = 0;
        const int samples = std::min<int>(kExpireSamplesPerLoop, static_cast<int>(table.volatile_entries.size()));
        for (int i = 0; i < samples && !table.volatile_entries.empty(); ++i) {
          Entry* e = table.volatile_entries[shard.NextRandom() % table.volatile_entries.size()];
          if (IsExpired(*e, now_ms)) {
            table.RemoveVolatile(e);
            const uint64_t hash = HashKey(e->key());
            table.dict.Remove(e->key(), hash);
            Notify(notify::kExpired, "expired", db, e->key());
            KeyChanged(e->key(), hash);
            ReleaseEntry(shard, e);
            shard.expired_keys.Add();
            ++expired;
          }
        }
        reclaimed += static_cast<uint64_t>(expired);
        looked_at += static_cast<uint64_t>(samples);
        if (expired * 100 <= samples * kExpireAcceptableStalePercent) break;
        if (MonotonicNs() > deadline_ns) break;
      }
      table.dict.MaybeShrink();
    }
    if (MonotonicNs() > deadline_ns) {
      ++visited;
      break;
    }
  }
  expire_cursor_.store((start + visited) % shards_.size(), std::memory_order_relaxed);
  if (sampled != nullptr) *sampled = looked_at;
  return reclaimed;
}

Transaction::Transaction(Keyspace& keyspace, int db, std::span<const std::string_view> keys, int64_t now_ms)
    : keyspace_(keyspace), db_(db), now_ms_(now_ms), held_(HeldShards::Current()) {
  for (std::string_view key : keys) {
    const uint64_t hash = Hash(key);
    if (known_hashes_.size() < known_hashes_.capacity()) known_hashes_.push_back({key, hash});
    locked_.push_back(static_cast<uint32_t>(keyspace.ShardIndex(hash)));
  }
  if (!locked_.empty()) first_shard_ = locked_.front();
  if (held_ != nullptr) {  // inside EXEC or a script: its shards are locked already
    locked_.clear();
    return;
  }
  if (locked_.size() > 1) {
    std::sort(locked_.begin(), locked_.end());
    locked_.erase(std::unique(locked_.begin(), locked_.end()), locked_.end());
  }
  for (size_t i = 0; i < locked_.size(); ++i) {
    if (!keyspace_.LockShard(locked_[i])) {
      for (size_t j = i; j-- > 0;) keyspace_.shard(locked_[j]).mu.unlock();
      locked_.clear();
      refused_ = true;
      return;
    }
  }
}

bool Transaction::Covers(std::string_view key) const {
  const auto shard = static_cast<uint32_t>(keyspace_.ShardIndex(Hash(key)));
  if (held_ != nullptr) return held_->Holds(shard);
  return std::binary_search(locked_.begin(), locked_.end(), shard);
}

uint64_t Transaction::Hash(std::string_view key) const {
  // The command's own keys were hashed to lock their shards; most lookups are of those.
  for (const auto& [known, hash] : known_hashes_) {
    if (known.data() == key.data() && known.size() == key.size()) return hash;
  }
  return HashKey(key);
}

Transaction::~Transaction() {
  for (auto it = locked_.rbegin(); it != locked_.rend(); ++it) keyspace_.shard(*it).mu.unlock();
}

void Transaction::Unlink(Shard& shard, Table& table, Entry* entry) {
  if (entry->has_expiry()) table.RemoveVolatile(entry);
  table.dict.Remove(entry->key(), Hash(entry->key()));
}

void Transaction::DropExpired(Shard& shard, Table& table, int db, std::string_view key, uint64_t hash, Entry* e) {
  table.RemoveVolatile(e);
  table.dict.Remove(key, hash);
  keyspace_.ReleaseEntry(shard, e);
  shard.expired_keys.Add();
  Notify(notify::kExpired, "expired", db, key);
  keyspace_.KeyChanged(key, hash, writer_);
}

void Transaction::NoteModifiedSlow(int db, std::string_view key) {
  if (slow_notes_ & kRecordModifications) modified_.emplace_back(db, std::string(key));
  const uint64_t hash = Hash(key);
  if (slow_notes_ & kSawSpillCopy) {
    // Its disk copy no longer matches (or the key goes): delete it, or a restart would serve it.
    Entry* e = ShardFor(hash).table(db).dict.Find(key, hash);
    if (e != nullptr && e->has_spill_copy()) {
      e->set_spill_copy(false);
      keyspace_.spill()->Delete(db, key);
    }
  }
  keyspace_.KeyChanged(key, hash, writer_);
}

Entry* Transaction::Find(int db, std::string_view key, bool count_hit, bool touch, bool notify_miss) {
  const uint64_t hash = Hash(key);
  Shard& shard = ShardFor(hash);
  Table& table = shard.table(db);
  Entry* e = FindLive(shard, table, db, key, hash);
  if (e == nullptr && !table.spilled.empty()) [[unlikely]] e = PromoteNow(shard, table, db, key, hash);
  if (count_hit) {
    (e != nullptr ? shard.keyspace_hits : shard.keyspace_misses).Add();
    if (keyspace_.has_key_families() && count_families_) [[unlikely]] {
      if (e != nullptr) {
        keyspace_.CountFamilyHit(shard, *e);
      } else {
        keyspace_.CountFamilyLookup(shard, key, /*hit=*/false);
      }
    }
    if (e == nullptr && notify_miss) Notify(notify::kKeyMiss, "keymiss", db, key);
  }
  if (touch && !no_touch_) {
    if (e != nullptr) {
      keyspace_.RecordAccess(shard, *e, hash, now_ms_, count_hit);
    } else if (count_hit) {
      keyspace_.RecordMiss(shard, hash);
    }
  }
  return e;
}

void Transaction::Store(int db, Entry* entry) {
  const std::string_view key = entry->key();
  NoteModified(db, key);
  const uint64_t hash = Hash(key);
  Shard& shard = ShardFor(hash);
  Table& table = shard.table(db);
  shard.entry_bytes.Add(entry->AllocatedSize());
  // A key whose TTL ran out is gone ("expired") and this one is new, as Redis's lookup then add.
  Entry* existing = FindLive(shard, table, db, key, hash);
  entry->set_access_clock(keyspace_.AccessFieldForStore(shard, existing, hash, now_ms_));
  if (existing != nullptr) {
    // Replaced: its disk copy must not answer again (NoteModified above ran before the lookup).
    if (existing->has_spill_copy()) keyspace_.spill()->Delete(db, key);
    if (existing->has_expiry()) table.RemoveVolatile(existing);
    table.dict.Replace(existing, entry, hash);
    keyspace_.ReleaseEntry(shard, existing);
  } else {
    table.dict.Insert(entry, hash);
    // A write that did not read the key first (one that ran without its promotion) replaces the
    // spilled value: the disk's copy must never answer again.
    if (!table.spilled.empty() && table.spilled.Erase(hash, key)) keyspace_.spill()->Delete(db, key);
    Notify(notify::kNew, "new", db, key);
    if (keyspace_.access_tracking() == AccessTracking::kSketch && table.dict.size() > shard.sketch.capacity()) {
      shard.sketch.EnsureCapacity(table.dict.size());
    }
  }
  if (entry->has_expiry()) table.AddVolatile(entry);
}

Entry* Transaction::SetString(std::string_view key, std::string_view value, int64_t expire_at_ms, uint8_t flags) {
  return SetString(db_, key, value, EntryMeta{expire_at_ms, EntryMeta::kNever, flags});
}

Entry* Transaction::SetString(int db, std::string_view key, std::string_view value, const EntryMeta& meta) {
  const uint64_t hash = Hash(key);
  Shard& shard = ShardFor(hash);
  Entry* existing = FindLive(shard, shard.table(db), db, key, hash);
  if (existing != nullptr && existing->TryOverwriteString(value, meta)) {
    NoteModified(db, key);
    existing->set_access_clock(keyspace_.AccessFieldForStore(shard, existing, hash, now_ms_));
    return existing;
  }
  Entry* entry = Entry::NewString(key, value, meta);
  Store(db, entry);
  return entry;
}

void Transaction::Rename(std::string_view from, std::string_view to) {
  Entry* source = Detach(db_, from);
  if (source == nullptr) return;
  // A replaced destination is deleted first, as Redis does, so `to` is added as a new key (and
  // raises "new") whether or not it existed.
  Delete(db_, to);
  Entry* renamed = Entry::Rebuild(*source, to, source->meta());
  Entry::FreeShell(source);
  Store(db_, renamed);
}

void Transaction::AccountResize(std::string_view key, int64_t delta) {
  NoteModified(db_, key);
  AccountBytes(key, delta);
}

void Transaction::AccountBytes(std::string_view key, int64_t delta) {
  if (delta != 0) ShardFor(Hash(key)).entry_bytes.Add(static_cast<uint64_t>(delta));  // wraps back for a negative delta
}

bool Transaction::Delete(int db, std::string_view key) {
  const uint64_t hash = Hash(key);
  Shard& shard = ShardFor(hash);
  Table& table = shard.table(db);
  if (!table.spilled.empty() && FindLive(shard, table, db, key, hash) == nullptr) {
    // Only on disk: deleted there, never read. (An expired one is dropped as expired, not
    // deleted: SpillGeneration.)
    if (!SpillGeneration(db, key)) return false;
    table.spilled.Erase(hash, key);
    NoteModified(db, key);
    keyspace_.spill()->Delete(db, key);
    return true;
  }
  Entry* e = Detach(db, key);
  if (e == nullptr) return false;
  Discard(e);
  return true;
}

Entry* Transaction::PromoteNow(Shard& shard, Table& table, int db, std::string_view key, uint64_t hash) {
  std::optional<uint64_t> generation = SpillGeneration(db, key);  // drops an expired one
  if (!generation || keyspace_.spill_reader() == nullptr) return nullptr;
  absl::StatusOr<Entry*> entry = keyspace_.spill_reader()->ReadNow(db, key);
  // A disk error leaves the key spilled (this command sees it as absent; it is not deleted).
  if (!entry.ok()) return nullptr;
  Promote(db, key, *generation, *entry);
  shard.spill_sync_reads.Add();
  Entry* e = table.dict.Find(key, hash);
  if (e != nullptr) slow_notes_ |= kSawSpillCopy;  // its copy goes if this transaction changes it
  return e;
}

std::optional<uint64_t> Transaction::SpillGeneration(int db, std::string_view key) {
  const uint64_t hash = Hash(key);
  Shard& shard = ShardFor(hash);
  Table& table = shard.table(db);
  if (table.spilled.empty()) return std::nullopt;
  const SpilledKey* spilled = table.spilled.Find(hash, key);
  if (spilled == nullptr) return std::nullopt;
  if (IsExpiredAt(spilled->expire_at_ms, now_ms_)) {
    // Gone, as an expired key in memory is: no disk read for it.
    table.spilled.Erase(hash, key);
    keyspace_.spill()->Delete(db, key);
    shard.expired_keys.Add();
    Notify(notify::kExpired, "expired", db, key);
    keyspace_.KeyChanged(key, hash, writer_);
    return std::nullopt;
  }
  return spilled->generation;
}

bool Transaction::Promote(int db, std::string_view key, uint64_t generation, Entry* entry) {
  const uint64_t hash = Hash(key);
  Shard& shard = ShardFor(hash);
  Table& table = shard.table(db);
  const SpilledKey* spilled = table.spilled.Find(hash, key);
  if (spilled == nullptr || spilled->generation != generation) {
    if (entry != nullptr) Entry::Free(entry);
    return false;
  }
  table.spilled.Erase(hash, key);
  if (entry == nullptr) {
    keyspace_.spill()->Delete(db, key);
    return true;  // the disk had nothing (expired there): the key is gone
  }
  if (entry->has_expiry() && entry->expire_at_ms() < now_ms_) {
    keyspace_.spill()->Delete(db, key);
    Entry::Free(entry);
    shard.expired_keys.Add();
    return true;
  }
  // The record stays on disk as the entry's clean copy: evicted unchanged, the key needs no
  // write; changed or deleted, the copy is deleted then (NoteModifiedSlow).
  entry->set_spill_copy(true);
  // Not in the dict: a key is in one tier only.
  entry->set_access_clock(keyspace_.AccessFieldForStore(shard, nullptr, hash, now_ms_));
  table.dict.Insert(entry, hash);
  if (entry->has_expiry()) table.AddVolatile(entry);
  shard.entry_bytes.Add(entry->AllocatedSize());
  shard.promoted_keys.Add();
  // A record spilled before its family had a cap (a restart with a new max-ttl) is held to it
  // as it comes back; the entry may be rebuilt, so callers look the key up afresh.
  if (keyspace_.has_ttl_caps()) [[unlikely]] CapTtl(db, key);
  return true;
}

Entry* Transaction::Detach(int db, std::string_view key) {
  Entry* e = Find(db, key, false, false);
  if (e == nullptr) return nullptr;
  NoteModified(db, key);
  const uint64_t hash = Hash(key);
  Shard& shard = ShardFor(hash);
  Unlink(shard, shard.table(db), e);
  shard.entry_bytes.Add(0 - e->AllocatedSize());
  return e;
}

void Transaction::Discard(Entry* entry) { Entry::Free(entry); }

uint64_t Transaction::NextRandom() {
  // The generator of a shard this transaction holds locked (so no other thread advances it).
  return keyspace_.shard(first_shard_).NextRandom();
}

void Transaction::CapModifiedTtls() {
  // A cap's own SetExpiry is recorded too: walk only what the command changed, by copy, as the
  // list may grow (and move) meanwhile.
  const size_t changed = modified_.size();
  for (size_t i = 0; i < changed; ++i) {
    const auto [db, key] = modified_[i];
    CapTtl(db, key);
  }
}

void Transaction::CapTtl(int db, std::string_view key) {
  const int64_t cap = keyspace_.TtlCapMs(key);
  if (cap <= 0) return;
  Entry* entry = Find(db, key, /*count_hit=*/false, /*touch=*/false, /*notify_miss=*/false);
  const int64_t limit = now_ms_ + cap;
  if (entry == nullptr || (entry->has_expiry() && entry->expire_at_ms() <= limit)) return;
  if (db == db_) {
    SetExpiry(entry, limit);
    return;
  }
  const int home = db_;  // SetExpiry works in the transaction's database
  db_ = db;
  SetExpiry(entry, limit);
  db_ = home;
}

Entry* Transaction::SetExpiry(Entry* entry, int64_t expire_at_ms) {
  NoteModified(db_, entry->key());
  const bool loader_managed = entry->fresh_until_ms() != Entry::kNoExpiry;
  if (!loader_managed && entry->has_expiry() && expire_at_ms != Entry::kNoExpiry) {
    entry->set_expire_at_ms(expire_at_ms);  // the block is already there: no reallocation
    return entry;
  }
  if (!loader_managed && !entry->has_expiry() && expire_at_ms == Entry::kNoExpiry) return entry;
  // A TTL set by a user command makes a loaded value an ordinary key (no stale window).
  EntryMeta meta = entry->meta();
  meta.expire_at_ms = expire_at_ms;
  meta.fresh_until_ms = EntryMeta::kNever;
  const uint64_t hash = HashKey(entry->key());
  Shard& shard = ShardFor(hash);
  Table& table = shard.table(db_);
  const size_t old_size = entry->AllocatedSize();
  Entry* replacement = Entry::Rebuild(*entry, entry->key(), meta);
  if (entry->has_expiry()) table.RemoveVolatile(entry);
  table.dict.Replace(entry, replacement, hash);
  Entry::FreeShell(entry);
  shard.entry_bytes.Add(replacement->AllocatedSize() - old_size);
  if (replacement->has_expiry()) table.AddVolatile(replacement);
  return replacement;
}

}  // namespace strata::storage
