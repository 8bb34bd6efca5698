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
// Cost: remembering is on the read path of every tracking client, so it is made cheap. Each
// tracking client has a small slot number, and a key's readers are a 64-bit mask of slots (slots
// past 64 go to a list beside it): remembering a key a client already read is one probe and one
// OR, and a new one allocates nothing but the key. The table is split into stripes by key hash,
// each with its own lock, so I/O threads rarely meet on one.
//
// Delivery: an invalidation is handed to the tracking client's own I/O thread (at once when that
// is the current thread, else through its mailbox), where the Connection sends it to itself (a
// RESP3 push) or to its REDIRECT client (a push, or a message on __redis__:invalidate for a RESP2
// subscriber), which may live on yet another thread. NOLOOP clients are not told of their own
// writes.
//
// Thread-safety: any thread. Lock order: a shard lock (OnKeyChanged, Remember run under the
// command's), then one stripe lock, then the slots lock; nothing is sent under a stripe lock.
#pragma once

#include <array>
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
#include "storage/keyspace_events.h"

namespace strata::storage {
class Keyspace;
}

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

  Tracking(storage::Keyspace& keyspace, const Config& config) : keyspace_(keyspace), config_(config) {}

  // A client turned tracking on: returns its slot, which it passes to Remember and Disable.
  // `prefixes`: BCAST prefixes to add (empty for default mode).
  uint32_t Enable(Client client, bool bcast, std::span<const std::string> prefixes);
  // Turning it on again (options changed): only adds prefixes, as in Redis.
  void AddPrefixes(Client client, std::span<const std::string> prefixes);
  // The client turned tracking off or left: nothing more is sent to its slot, which is cleared
  // from the table by the cron and then reused.
  void Disable(uint32_t slot, uint64_t client_id, std::span<const std::string> prefixes);

  // A default-mode tracking client read `keys`.
  void Remember(uint32_t slot, std::span<const std::string_view> keys);

  // storage::KeyChangeListener.
  void OnKeyChanged(std::string_view key, uint64_t writer) override;
  void OnFlush() override;

  // The cron's work: clears a slice of given-up slots from the table, and invalidates remembered
  // keys until the table is within tracking-table-max-keys (more effort each time it finds the
  // table still over, as Redis's trackingLimitUsedSlots).
  void EnforceLimit();


  // INFO.
  size_t tracking_clients() const { return clients_.load(std::memory_order_relaxed); }
  size_t total_keys() const;
  size_t total_items() const { return items_.load(std::memory_order_relaxed); }
  size_t total_prefixes() const;

 private:
  static constexpr size_t kStripes = 16;
  static constexpr uint32_t kMaskSlots = 64;
  // The clients that read one key.
  struct Readers {
    uint64_t mask = 0;                               // slots below kMaskSlots
    std::unique_ptr<std::vector<uint32_t>> more;     // slots from kMaskSlots up
    bool Add(uint32_t slot);                         // false: it was there
    bool Remove(uint32_t slot);
    bool empty() const;
    void AppendSlots(std::vector<uint32_t>* out) const;
  };
  struct alignas(64) Stripe {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, Readers> keys ABSL_GUARDED_BY(mu);
    size_t items ABSL_GUARDED_BY(mu) = 0;  // (key, slot) pairs in this stripe
  };
  // A slot given up (Disable) whose bits are still being cleared from the stripes.
  struct Draining {
    uint32_t slot;
    size_t stripes_left;
  };

  static size_t HashOf(std::string_view key);
  Stripe& StripeOf(size_t hash);
  // Removes `key` from its stripe and sends its readers an invalidation (caused by `writer`).
  void InvalidateRemembered(std::string_view key, uint64_t writer);
  void SendToSlots(std::span<const uint32_t> slots, const InvalidatedKeys& keys, uint64_t writer);
  static void Send(const Client& client, InvalidatedKeys keys, uint64_t writer);
  void RemovedItems(Stripe& stripe, size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(stripe.mu);
  // The cron's step: clears the draining slots from one stripe, frees those done.
  void DrainSlots();

  storage::Keyspace& keyspace_;
  const Config& config_;
  std::array<Stripe, kStripes> stripes_;

  mutable absl::Mutex slots_mu_;
  std::vector<std::optional<Client>> slots_ ABSL_GUARDED_BY(slots_mu_);  // by slot; nullopt: free
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(slots_mu_);
  std::vector<Draining> draining_ ABSL_GUARDED_BY(slots_mu_);
  size_t drain_cursor_ = 0;  // the cron's alone
  absl::flat_hash_map<std::string, std::vector<Client>> prefixes_ ABSL_GUARDED_BY(slots_mu_);

  std::atomic<size_t> clients_{0};
  std::atomic<size_t> items_{0};  // (key, client) pairs remembered
  std::atomic<size_t> remembered_keys_{0};
  std::atomic<bool> has_prefixes_{false};
  std::atomic<uint64_t> limit_effort_rounds_{0};
  std::atomic<size_t> next_limit_stripe_{0};
};

}  // namespace strata::server
