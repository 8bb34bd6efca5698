// WATCH: which clients watch which keys, and the marks that make their next EXEC fail.
//
// Contract: a client's watched keys are registered under the shard locks of those keys (WATCH is
// a keyed command), and every change to a key is reported here under the shard locks of the
// change, so a write and an EXEC on the same key are ordered by those locks. Expiry is not
// reported: EXEC finds it by itself (a key that was there at WATCH and is gone or expired now).
// Any thread; one mutex, taken only while someone watches something (any() says so).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace strata::server {

// One client's WATCH state.
struct WatchedKeys {
  struct Key {
    int db;
    std::string key;
    bool existed;  // present and not expired when watched
  };
  std::vector<Key> keys;
  std::atomic<bool> dirty{false};
};

class WatchRegistry {
 public:
  bool any() const { return watchers_.load(std::memory_order_relaxed) > 0; }

  // Adds `key` to `client`'s watched keys (a key watched twice is kept once).
  void Watch(WatchedKeys* client, int db, std::string_view key, bool existed);
  // Forgets every key `client` watches and clears its dirty mark.
  void Unwatch(WatchedKeys* client);

  // A key changed: every client watching it will fail its EXEC.
  void Touch(int db, std::string_view key);
  // Every watched key of `db` (every db when db < 0) for which `exists(db, key)` is true is
  // touched (FLUSHDB, FLUSHALL, SWAPDB: Redis dirties only keys that were there). `exists` runs
  // without the registry's lock held, so it may lock shards.
  void TouchExisting(int db, absl::FunctionRef<bool(int db, std::string_view key)> exists);

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<int, std::string>, std::vector<WatchedKeys*>> watchers_by_key_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> watchers_{0};  // watched (client, key) pairs
};

}  // namespace strata::server
