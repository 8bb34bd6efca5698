// LoaderManager: every source and loader of the configuration, and the machinery that makes a
// read-through cache of them (DESIGN.md section 6):
//
//   - Single-flight: at most one load per (db, key) is in flight; later readers wait for it.
//   - Batching: the cold keys of one request that share a loader go to the source as one batch.
//   - TTL jitter, stale window, negative cache, refresh-ahead (the decisions are here; the
//     server asks OnHit on every read of a loader key).
//   - A circuit breaker per source: after `breaker-failures` consecutive failed loads the source
//     is not asked for `breaker-cooldown` seconds (loads fail at once, stale values are kept),
//     then one probe load decides whether it closes again.
//   - Invalidation: forgets remembered misses and marks in-flight loads of the keys so their
//     results are not stored (the waiters get a fresh load instead); server/invalidation.h
//     drops the keys themselves.
//
// Thread-safety: every public method may be called from any thread. Callbacks (`done`) run on
// a source thread or, when the answer is immediate, on the caller's thread. Lock order: a caller
// may hold a keyspace lock when calling IsNegative/Match/OnHit, but must not when calling Load,
// Refresh or Invalidate* (they may store synchronously).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "loaders/loader.h"
#include "loaders/source.h"
#include "loaders/value_store.h"

namespace strata::loaders {

// What Enqueue's callback gets when a write changed a key while its load was in flight.
inline absl::Status SupersededStatus() { return absl::AbortedError("superseded by a write"); }
inline bool IsSuperseded(const absl::Status& status) { return absl::IsAborted(status); }

struct BreakerSnapshot {
  std::string state;  // "closed", "open" or "half-open"
  uint64_t consecutive_failures = 0;
  uint64_t opened = 0;  // how many times it opened
};

class LoaderManager {
 public:
  explicit LoaderManager(ValueStore& store);
  ~LoaderManager();
  LoaderManager(const LoaderManager&) = delete;
  LoaderManager& operator=(const LoaderManager&) = delete;

  // Configuration, before Start(): the words after "source" / "loader" on a config line.
  absl::Status AddSource(const std::vector<std::string>& words);
  absl::Status AddLoader(const std::vector<std::string>& words);
  absl::Status Start();
  // Stops the sources; loads in flight complete (with errors) before it returns.
  void Stop();

  bool empty() const { return loaders_.empty(); }
  const std::vector<std::unique_ptr<Loader>>& loaders() const { return loaders_; }
  const std::vector<std::unique_ptr<Source>>& sources() const { return sources_; }
  BreakerSnapshot Breaker(const Source& source);

  // The first loader (in configuration order) whose template matches key, or nullptr.
  Loader* Match(std::string_view key) const;

  // True if "not found" for this key is remembered (and counts a negative hit).
  bool IsNegative(Loader& loader, int db, std::string_view key, int64_t now_ms);

  enum class Freshness { kFresh, kRefreshAhead, kStale };
  // A read found a loaded value in memory: is it fresh, due for an early refresh, or stale
  // (served while a refresh runs)? Counts the hit. The caller then calls Refresh when not kFresh.
  Freshness OnHit(Loader& loader, int64_t fresh_until_ms, int64_t now_ms);

  struct Flight;
  // Loads registered by Enqueue*, to be sent to their sources by Start.
  class PendingLoads {
   public:
    bool empty() const { return batches_.empty(); }

   private:
    friend class LoaderManager;
    std::vector<std::pair<Loader*, std::vector<Flight*>>> batches_;
  };

  // Read-through happens in two steps, so that "the key is missing from memory" and "this reader
  // joined a load" are decided together under the keys' shard locks (a load stores, or records
  // not-found, under the same lock before it leaves the flight table):
  //   1. Enqueue (the caller may hold the keys' shard locks): adds `done` to the loads of `keys`
  //      (each missing from memory and matched by a loader) in flight, and creates the others
  //      in `pending`. done(status) is called once every key is stored, found missing, or
  //      failed; status is the first failure as "LOADERR <template>: <reason>", OK, or
  //      SupersededStatus() when a write overtook a load (run the command again, afresh).
  //   2. Start (no keyspace lock held): sends the new loads to their sources.
  void Enqueue(int db, const std::vector<std::string>& keys, std::function<void(absl::Status)> done,
               PendingLoads* pending);
  // A background load of key (stale-while-revalidate, refresh-ahead) unless one is in flight.
  void EnqueueRefresh(int db, std::string_view key, PendingLoads* pending);
  void Start(PendingLoads* pending);
  // Both steps, for a caller that holds no keyspace lock.
  void Load(int db, const std::vector<std::string>& keys, std::function<void(absl::Status)> done);

  // A write command is changing key (writes are cache-aside). A load of it in flight must not
  // store its older answer over the write, nor a remembered "not found" outlive it: the load is
  // superseded, and its waiters read whatever the write left. Call under the key's shard lock.
  void NoteWrite(int db, std::string_view key);

  // Invalidation's part here (the keyspace part is server/invalidation.h): loads in flight of
  // these keys of `db` (every database when db < 0) will not be stored (their waiters get a
  // fresh load), and remembered misses of them are forgotten.
  void Supersede(int db, const std::vector<std::string>& keys);
  void SupersedeMatching(int db, std::string_view pattern);
  // Where the sources' invalidation messages (PostgreSQL NOTIFY) go, with the name of the source
  // they came from; set before Start.
  void set_invalidation_message_handler(std::function<void(const std::string& source, std::string payload)> handler) {
    invalidation_message_handler_ = std::move(handler);
  }

 private:
  struct Request;
  struct SourceState;
  using FlightKey = std::pair<int, std::string>;

  Loader* MatchWithCaptures(std::string_view key, std::vector<std::string>* captures) const;
  void Dispatch(Loader& loader, std::vector<Flight*> flights);
  void Complete(Loader& loader, std::vector<Flight*> flights, std::vector<LoadOutcome> outcomes, int64_t started_ns);
  // Breaker: may this source be asked now? (false: fail fast)
  bool BreakerAllows(SourceState& state, int64_t now_ms);
  void BreakerRecord(SourceState& state, bool failed, int64_t now_ms);
  int64_t JitteredTtl(const LoaderOptions& options);
  // The negative cache, under negative_mu_; bounded in entries and key bytes.
  void RememberNegative(int db, const std::string& key, int64_t until_ms, int64_t now_ms);
  void ForgetNegative(int db, const std::string& key);
  SourceState& StateOf(const Source& source);

  ValueStore& store_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<std::unique_ptr<SourceState>> source_states_;
  std::vector<std::unique_ptr<Loader>> loaders_;

  absl::Mutex flights_mu_;
  absl::flat_hash_map<FlightKey, std::unique_ptr<Flight>> flights_;

  absl::Mutex negative_mu_;
  std::function<void(const std::string& source, std::string payload)> invalidation_message_handler_;
  absl::flat_hash_map<FlightKey, int64_t> negative_until_ms_;
  size_t negative_key_bytes_ = 0;
  int64_t next_negative_sweep_ms_ = 0;

  absl::Mutex random_mu_;
  std::mt19937_64 random_;
  bool started_ = false;
};

}  // namespace strata::loaders
