// Invalidation (DESIGN.md section 7): messages that drop cached keys, applied by the server
// itself, so no subscriber process has to run KEYS + DEL. One code path serves the three ways
// they come: a PUBLISH to an `invalidation-channel`, a PostgreSQL NOTIFY on a source's
// `notify-channel`, and LOADER INVALIDATE.
//
// The message forms are loaders/invalidation_message.h's. A malformed message is counted and not
// applied (a PUBLISH still delivers it).
//
// Applying one, in order:
//   1. In-flight loads of the keys (or of keys matching the pattern) are marked so their older
//      answers are not stored, and remembered misses are forgotten (loaders::LoaderManager).
//   2. Named keys are dropped at once, before PUBLISH replies or delivers the message (inside
//      EXEC or a script, or behind a busy script's shards, the sweeper drops them instead).
//   3. A pattern's keys are dropped by a background sweep, one shard at a time, each shard
//      under its own lock: a pattern over a million keys holds no client up for longer than one
//      shard's scan, and no I/O thread does the work.
// Each dropped key raises the "invalidated" keyspace event (class L) and dirties WATCH.
// The lag (from "ts" to the moment the keys are gone) is recorded for INFO.
//
// Thread-safety: every public method may be called from any thread, without shard locks held.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "loaders/invalidation_message.h"
#include "loaders/loader_manager.h"
#include "server/audit_log.h"
#include "server/watch.h"
#include "storage/keyspace.h"

namespace strata::server {

class Invalidator {
 public:
  Invalidator(storage::Keyspace& keyspace, loaders::LoaderManager& loaders, WatchRegistry& watches, AuditLog& audit);
  ~Invalidator();
  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  // Applies a message; a malformed one is counted and its parse error returned. `origin` is who
  // sent it (the publishing client, or the source whose notification it was): a pattern's sweep
  // is recorded in the audit log under that name once it is done, with the keys it dropped.
  absl::Status ApplyMessage(std::string_view payload, const AuditActor& origin);
  // LOADER INVALIDATE: drops `pattern`'s keys in every database now (on the caller's thread,
  // shard by shard) and returns how many.
  uint64_t DropMatchingNow(std::string_view pattern);
  // Ends the sweeper (at shutdown, before the I/O threads go): a sweep under way stops at the
  // next shard; queued jobs are dropped with the cache.
  void Stop();

  // INFO's "# Invalidation" fields.
  std::string InfoFields() const;
  void ResetStats();

  // Every applied message's lag (ms) since start-up, for /metrics.
  const loaders::LatencyHistogram& lag_histogram_ms() const { return lag_histogram_ms_; }

 private:
  // Work for the sweeper: a pattern's keys, or named keys that could not be dropped at once.
  struct Job {
    int db;
    std::vector<std::string> keys;
    std::optional<std::string> pattern;
    std::vector<int64_t> ts_ms;  // the messages' change times, for the lag once the job is done
    AuditActor origin;           // a pattern's: who asked (the first, when copies merged)
  };
  // Drops named keys under their shards' locks; false (nothing done) when a busy script holds one.
  bool DropKeys(int db, const std::vector<std::string>& keys);
  uint64_t DropMatchingInShard(size_t shard, int db, std::string_view pattern);
  void RecordLag(std::optional<int64_t> ts_ms);
  bool stopping();
  void SweepLoop();

  storage::Keyspace& keyspace_;
  loaders::LoaderManager& loaders_;
  WatchRegistry& watches_;
  AuditLog& audit_;

  mutable std::mutex mu_;
  std::condition_variable work_ready_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  // The lags (ms) of the most recent applied messages that carried "ts", for p50/p99.
  static constexpr size_t kLagSamples = 4096;
  std::vector<int64_t> lags_;
  size_t next_lag_ = 0;
  loaders::LatencyHistogram lag_histogram_ms_;  // every lag since start (/metrics)
  std::atomic<uint64_t> applied_{0}, keys_dropped_{0}, malformed_{0};
  std::thread sweeper_;
};

}  // namespace strata::server
