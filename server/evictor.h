// Evictor: holds used memory at maxmemory by the policy the operator chose (DESIGN.md 4a: "refuse
// writes that need memory under noeviction"; storage/eviction.cc has the essay on how keys go).
//
// Contract: MakeRoom is asked before anything that may grow memory: a deny-oom command, an EXEC
// that queued one, a script's first write, a loader storing a value. Without maxmemory it costs
// one load. Over the limit it evicts within maxmemory-eviction-tenacity's time budget (as Redis:
// 50 us per step up to 10, then +15% a step, 100 = unbounded); if the budget runs out first the
// command still runs and the main thread's background pass carries on (Redis's eviction timer
// proc), so a burst of writes or one huge value never stalls a client for longer than the budget.
// MakeRoom says no (-OOM) only when the policy has nothing it may evict: noeviction, or
// volatile-* without keys with a TTL.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "server/config.h"
#include "server/memory.h"
#include "storage/keyspace.h"

namespace strata::server {

class Evictor {
 public:
  Evictor(Config& config, storage::Keyspace& keyspace, MemoryMeter& meter);

  // Any thread: false when memory is over maxmemory and nothing can be evicted. Must not be
  // called while the thread has a storage::Transaction alive (HeldShards are fine).
  bool MakeRoom() {
    const int64_t limit = config_.maxmemory.load(std::memory_order_relaxed);
    return limit == 0 || MakeRoomOverLimit(limit);
  }

  // Main thread: one budgeted pass; true while memory is still over the limit and something can
  // be evicted (call again soon).
  bool BackgroundPass(int64_t now_ms);
  // How the main thread is told that a background pass is wanted (any thread may call it).
  void set_background_wakeup(std::function<void()> wakeup) { wakeup_ = std::move(wakeup); }
  // With a spill tier, maxmemory bounds the keys kept in memory (their entries' bytes), not the
  // process: the rest (the spill's index, about 30 bytes a spilled key, RocksDB's buffers and
  // cache, clients) is not shrunk by moving keys to disk, and counting it would push every key
  // out and each one read back straight out again. Set before serving.
  void set_counts_keys_only(bool on) { counts_keys_only_ = on; }

  // Pushes maxmemory-policy and the LFU settings into the keyspace and, when maxmemory is now
  // below used memory, starts the background pass (CONFIG SET, start-up).
  void ApplyConfig();

  // INFO stats: milliseconds spent over maxmemory, in all and in the current episode.
  uint64_t total_exceeded_ms(int64_t now_ms) const;
  uint64_t current_exceeded_ms(int64_t now_ms) const;
  void ResetStats();

  // One eviction pass's budget in microseconds for a tenacity (0..100); INT64_MAX = unbounded.
  static int64_t BudgetMicros(int64_t tenacity);

 private:
  bool MakeRoomOverLimit(int64_t limit);
  // Used memory as maxmemory counts it.
  int64_t Counted() {
    return counts_keys_only_ ? static_cast<int64_t>(keyspace_.EntryBytes()) : meter_.Used();
  }
  enum class PassResult { kUnder, kStillOver, kNothingToEvict };
  // One budgeted pass: evicts until memory is under `limit`, the budget runs out, or the policy
  // has nothing left; keeps the over-the-limit time for INFO.
  PassResult Pass(int64_t limit, int64_t now_ms);
  void NoteOver(int64_t now_ms);
  void NoteUnder(int64_t now_ms);

  Config& config_;
  storage::Keyspace& keyspace_;
  MemoryMeter& meter_;
  bool counts_keys_only_ = false;
  std::function<void()> wakeup_;
  std::atomic<int64_t> over_since_ms_{0};  // 0: under the limit
  std::atomic<int64_t> total_over_ms_{0};
};

}  // namespace strata::server
