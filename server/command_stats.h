// Per-command statistics: calls, time, rejected and failed calls, and latency histograms
// (INFO commandstats and latencystats, LATENCY HISTOGRAM, /metrics); and error replies by
// their first word (INFO errorstats).
//
// Contract: each I/O thread owns one CommandStats and is the only writer of it, so counting a
// command is a few plain stores, never a lock or a locked instruction; any thread may read.
// Readers sum the threads' tables (CommandStatsReader). CONFIG RESETSTAT does not write the
// tables: it takes a snapshot that later reads subtract (read before the sum, so a figure never
// goes below zero), so a reset is exact while the threads keep counting.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "loaders/latency_histogram.h"
#include "protocol/reply_builder.h"

namespace strata::server {

using loaders::LatencyHistogram;

// What one command did, summed over threads (less the snapshot of the last reset).
struct CommandTotals {
  uint64_t calls = 0;
  uint64_t nanos = 0;
  uint64_t rejected_calls = 0;  // refused before running (arity, OOM, NOAUTH, mode)
  uint64_t failed_calls = 0;    // ran and answered an error
};

class CommandStats {
 public:
  explicit CommandStats(size_t command_count);
  ~CommandStats();
  CommandStats(const CommandStats&) = delete;
  CommandStats& operator=(const CommandStats&) = delete;

  // Owner thread only. `track_latency`: also into the command's histogram (latency-tracking).
  // `nanos` is a monotonic clock's difference: never negative.
  void Record(uint16_t id, int64_t nanos, bool failed, bool track_latency) {
    Counters& c = counters_[id];
    Bump(c.calls, 1);
    Bump(c.nanos, static_cast<uint64_t>(nanos));
    if (failed) [[unlikely]] Bump(c.failed_calls, 1);
    if (track_latency) {
      LatencyHistogram* h = c.histogram.load(std::memory_order_relaxed);
      (h != nullptr ? *h : MakeHistogram(id)).RecordFromOwner(nanos);
    }
  }
  void Reject(uint16_t id) { Bump(counters_[id].rejected_calls, 1); }

  // Any thread.
  CommandTotals Read(uint16_t id) const;
  // The command's histogram (nanoseconds), or nullptr when it has recorded none.
  const LatencyHistogram* histogram(uint16_t id) const { return counters_[id].histogram.load(std::memory_order_acquire); }
  size_t command_count() const { return command_count_; }

 private:
  struct Counters {
    std::atomic<uint64_t> calls{0}, nanos{0}, rejected_calls{0}, failed_calls{0};
    // Made on first use (8 KB, and most commands are never called); owned.
    std::atomic<LatencyHistogram*> histogram{nullptr};
  };
  static void Bump(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  LatencyHistogram& MakeHistogram(uint16_t id);

  const size_t command_count_;
  std::unique_ptr<Counters[]> counters_;
};

// Sums the threads' tables for readers, less the snapshot CONFIG RESETSTAT took.
class CommandStatsReader {
 public:
  // The tables of every I/O thread; fixed once serving.
  void set_tables(std::vector<const CommandStats*> tables) { tables_ = std::move(tables); }

  CommandTotals Totals(uint16_t id) const;
  // The command's latency histogram as LatencyHistogram::kBuckets counts, in nanoseconds;
  // false when it has none (latency-tracking was off, or it was never called since the reset).
  bool Histogram(uint16_t id, std::vector<uint64_t>* counts) const;
  // CONFIG RESETSTAT.
  void Reset();

 private:
  CommandTotals SumOverThreads(uint16_t id) const;
  void SumHistogram(uint16_t id, std::vector<uint64_t>* counts, bool* any) const;

  std::vector<const CommandStats*> tables_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint16_t, CommandTotals> base_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint16_t, std::vector<uint64_t>> base_histograms_ ABSL_GUARDED_BY(mu_);
};

// Error replies counted by their first word ("ERR", "WRONGTYPE"), as Redis's errorstats: at
// most kMaxKinds kinds are told apart (then new kinds count only in the total, as in Redis).
// Any thread; error replies are rare enough for a mutex.
class ErrorStats final : public protocol::ErrorReplyObserver {
 public:
  static constexpr size_t kMaxKinds = 128;

  void OnErrorReply(std::string_view message) override;
  uint64_t total() const;
  std::vector<std::pair<std::string, uint64_t>> Kinds() const;  // sorted by name
  void Reset();

 private:
  mutable absl::Mutex mu_;
  uint64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, uint64_t> kinds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server
