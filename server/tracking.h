// Tracking: client-side caching as Redis 6+ has it (CLIENT TRACKING; server/commands/connection.cc).
//
// Default mode: the keys a tracking client reads with read-only commands are remembered (key ->
// the clients that read it). The first change to such a key sends each of those clients one
// invalidation and forgets them for that key: a client that reads it again is told again. The
// table is one for all databases, as in Redis (a key name is what a client caches), and
// `tracking-table-max-keys` bounds it: past the limit, random keys are invalidated as if changed.
// BCAST mode: a client registers prefixes and is told of every change to a key under one of them,
// whether it read the key or not. A flush (FLUSHDB, FLUSHALL) sends every tracking client a null
// invalidation ("everything").
//
// What counts as a change: every change the Keyspace reports (storage::KeyChangeListener), so
// commands, loader stores and refreshes, expiry, eviction and invalidation messages all invalidate.
//
// Delivery: an invalidation is handed to the tracking client's own I/O thread (at once when that
// is the current thread, else through its mailbox), where the Connection sends it to itself (a
// RESP3 push) or to its REDIRECT client (a push, or a message on __redis__:invalidate for a RESP2
// subscriber), which may live on yet another thread. NOLOOP clients are not told of their own
// writes.
//
// Thread-safety: any thread; one mutex guards the tables. OnKeyChanged runs under the changed key's
// shard lock and never waits for a client.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
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

  // A client turned tracking on (`prefixes`: its BCAST prefixes, empty for default mode) or off.
  // Turning it on again only adds prefixes, as in Redis.
  void Enable(Client client, bool bcast, std::span<const std::string> prefixes);
  void Disable(uint64_t client_id, std::span<const std::string> prefixes);

  // A default-mode tracking client read `keys`.
  void Remember(Client client, std::span<const std::string_view> keys);

  // storage::KeyChangeListener.
  void OnKeyChanged(std::string_view key) override;
  void OnFlush() override;

  // Invalidates random remembered keys until the table is within tracking-table-max-keys (the
  // cron; more effort each time it finds the table still over, as Redis's trackingLimitUsedSlots).
  void EnforceLimit();

  // The id of the client whose command runs on this thread now (0: none), for NOLOOP.
  static uint64_t CurrentWriter();
  static void SetCurrentWriter(uint64_t client_id);

  // INFO.
  size_t tracking_clients() const { return clients_.load(std::memory_order_relaxed); }
  size_t total_keys() const;
  size_t total_items() const;
  size_t total_prefixes() const;

 private:
  void Send(const Client& client, InvalidatedKeys keys, uint64_t writer) const;
  void InvalidateRememberedLocked(std::string_view key, uint64_t writer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::Keyspace& keyspace_;
  const Config& config_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::vector<Client>> remembered_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<Client>> prefixes_ ABSL_GUARDED_BY(mu_);
  // Every tracking client, for a flush's null invalidation.
  absl::flat_hash_map<uint64_t, Client> tracking_ ABSL_GUARDED_BY(mu_);
  size_t items_ ABSL_GUARDED_BY(mu_) = 0;  // (key, client) pairs remembered
  uint64_t limit_effort_rounds_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<size_t> clients_{0};
  // Tables empty: a change needs no lock.
  std::atomic<bool> anything_to_invalidate_{false};
};

}  // namespace strata::server
