// Tracking: client-side caching as Redis 6+ has it (CLIENT TRACKING; server/commands/connection.cc).
//
// Default mode: the keys a tracking client reads with read-only commands are remembered (key ->
// the clients that read it). The first change to such a key sends each of those clients one
// invalidation and forgets them for that key: a client that reads it again is told again. The
// table is one for all databases, as in Redis (a key name is what a client caches), and
// `tracking-table-max-keys` bounds it: past the limit, keys are invalidated as if changed.
// BCAST mode: a client registers prefixes and is told of every change to a key under one of them,
// whether it read the key or not. A flush (FLUSHDB, FLUSHALL) sends every tracking client a null
// invalidation ("everything").
//
// What counts as a change: every change the Keyspace reports (storage::KeyChangeListener), so
// commands, loader stores and refreshes, expiry, eviction and invalidation messages all invalidate.
//
// Cost: remembering is on the read path of every tracking client, so it is made cheap. The table
// is split as the keyspace is, one part per keyspace shard, guarded by that shard's lock: a
// command holds its keys' shard locks when it remembers them, and every change is reported under
// its key's shard lock, so remembering takes no lock of its own and reuses the hash the command
// computed to find its shard. Each tracking client has a small slot number, and a key's readers
// are a 64-bit mask of slots (slots past 64 go to a list beside it): remembering a key a client
// already read is one probe and one OR, and a new one allocates nothing but the key.
//
// Delivery: an invalidation is handed to the tracking client's own I/O thread (at once when that
// is the current thread, else through its mailbox), where the Connection sends it to itself (a
// RESP3 push) or to its REDIRECT client (a push, or a message on __redis__:invalidate for a RESP2
// subscriber), which may live on yet another thread. NOLOOP clients are not told of their own
// writes.
//
// Thread-safety: any thread. Remember and OnKeyChanged run under the key's shard lock (the
// caller's); OnFlush and the cron take shard locks themselves. Lock order: a shard lock, then
// slots_mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "storage/keyspace.h"
#include "storage/keyspace_events.h"

namespace strata::server {

class Config;
class IoThread;

// Keys to invalidate, shared by every client told; null: every key (a flush).
using InvalidatedKeys = std::shared_ptr<const std::vector<std::string>>;

class Tracking : public storage::KeyChangeListener {
 public:
  struct Client {
    IoThread* thread;
    uint64_t id;
  };

  Tracking(storage::Keyspace& keyspace, const Config& config);
  ~Tracking() override;

  // A client turned tracking on: returns its slot, which it passes to Remember and Disable.
  // `prefixes`: BCAST prefixes to add (empty for default mode).
  uint32_t Enable(Client client, bool bcast, std::span<const std::string> prefixes);
  // Turning it on again (options changed): only adds prefixes, as in Redis.
  void AddPrefixes(Client client, std::span<const std::string> prefixes);
  // The client turned tracking off or left: nothing more is sent to its slot, which is cleared
  // from the table by the cron and then reused.
  void Disable(uint32_t slot, uint64_t client_id, std::span<const std::string> prefixes);

  // A default-mode tracking client read `key`, whose hash is `hash` (storage::HashKey), under
  // the key's shard lock.
  void Remember(uint32_t slot, std::string_view key, uint64_t hash);
  // Brings the table's memory for `hash` toward the cache, ahead of a Remember (same lock).
  void Prefetch(uint64_t hash) const { TableOf(hash).readers.prefetch(hash); }

  // storage::KeyChangeListener.
  void OnKeyChanged(std::string_view key, uint64_t hash, uint64_t writer) override;
  void OnFlush() override;

  // The cron's work: clears given-up slots from a slice of the table, and invalidates remembered
  // keys until the table is within tracking-table-max-keys (more effort each time it finds the
  // table still over, as Redis's trackingLimitUsedSlots). A shard busy with a script is skipped.
  void EnforceLimit();

  // INFO.
  size_t tracking_clients() const { return clients_.load(std::memory_order_relaxed); }
  size_t total_keys() const;
  size_t total_items() const;
  size_t total_prefixes() const;

 private:
  static constexpr uint32_t kMaskSlots = 64;
  // Shards a cron call clears given-up slots from: all of 256 in 8 calls.
  static constexpr size_t kDrainShardsPerCall = 32;
  // Keys invalidated under one shard lock when over tracking-table-max-keys.
  static constexpr size_t kLimitKeysPerLock = 64;

  // The clients that read one key.
  struct Readers {
    uint64_t mask = 0;                            // slots below kMaskSlots
    std::unique_ptr<std::vector<uint32_t>> more;  // slots from kMaskSlots up
    // False: it was there.
    bool Add(uint32_t slot) {
      if (slot >= kMaskSlots) return AddMore(slot);
      const uint64_t bit = uint64_t{1} << slot;
      const bool added = (mask & bit) == 0;
      mask |= bit;
      return added;
    }
    bool AddMore(uint32_t slot);
    // Removes the slots of `mask_bits` and of `others` (from kMaskSlots up); returns how many
    // were there.
    size_t Remove(uint64_t mask_bits, std::span<const uint32_t> others);
    bool empty() const { return mask == 0 && (more == nullptr || more->empty()); }
    void AppendSlots(std::vector<uint32_t>* out) const;
  };
  // The keyspace's hash is the tables' key as it is: it is already well mixed.
  struct IdentityHash {
    size_t operator()(uint64_t hash) const { return static_cast<size_t>(hash); }
  };
  // The remembered keys of one keyspace shard, guarded by that shard's lock. Keys are told apart
  // by their hash (storage::HashKey, 64 bits, seeded per process), so remembering probes a
  // table of 24-byte slots and never compares a name: the read path's cost is mostly its cache
  // misses. Two keys of one hash would share their readers (at a million remembered keys, about
  // once in 10^7 runs), and a reader of one would not be told of a change to the other.
  struct alignas(64) ShardTable {
    absl::flat_hash_map<uint64_t, Readers, IdentityHash> readers;
    // The same keys' names: only the limit's invalidations need them (a change comes with its
    // key's name), so the read path leaves them alone.
    absl::flat_hash_map<uint64_t, std::string, IdentityHash> names;
    // Written under the shard's lock, read without it (INFO, the cron).
    std::atomic<size_t> key_count{0};
    std::atomic<size_t> item_count{0};  // (key, slot) pairs
  };
  // A key taken out of the table, to be invalidated once no lock is held.
  struct Dropped {
    std::string key;
    std::vector<uint32_t> slots;
  };

  ShardTable& TableOf(uint64_t hash) const { return tables_[keyspace_.ShardIndex(hash)]; }
  // Removes the key of `hash` from `table` and returns its readers' slots (none if it had none).
  std::vector<uint32_t> Take(ShardTable& table, uint64_t hash);
  void SendToSlots(std::span<const uint32_t> slots, const InvalidatedKeys& keys, uint64_t writer);
  static void Send(const Client& client, InvalidatedKeys keys, uint64_t writer);
  // The cron's step: clears the slots of the current drain pass from a slice of the shards; a
  // pass that has been through every shard frees its slots.
  void DrainSlots();
  // Invalidates up to `wanted` keys of shard `index` (fewer if the shard is busy or has fewer).
  size_t InvalidateSomeOf(size_t index, size_t wanted);

  storage::Keyspace& keyspace_;
  const Config& config_;
  const size_t table_count_;
  std::unique_ptr<ShardTable[]> tables_;  // by keyspace shard index

  mutable absl::Mutex slots_mu_;
  std::vector<std::optional<Client>> slots_ ABSL_GUARDED_BY(slots_mu_);  // by slot; nullopt: free
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(slots_mu_);
  std::vector<uint32_t> draining_ ABSL_GUARDED_BY(slots_mu_);  // given up, waiting for a pass
  absl::flat_hash_map<std::string, std::vector<Client>> prefixes_ ABSL_GUARDED_BY(slots_mu_);
  // The cron's alone: the slots the current drain pass clears, and the next shard it visits.
  std::vector<uint32_t> pass_slots_;
  size_t pass_next_shard_ = 0;
  size_t next_limit_shard_ = 0;
  uint64_t limit_effort_rounds_ = 0;

  std::atomic<size_t> clients_{0};
  std::atomic<bool> has_prefixes_{false};
};

}  // namespace strata::server
