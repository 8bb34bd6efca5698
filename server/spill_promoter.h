// SpillPromoter: reads spilled keys back into memory for the commands that need them (DESIGN
// section 8), on a thread of its own, so that no I/O thread waits for the disk. A command whose
// keys are in the spill parks (Connection::ParkIfSpilled) and hands them here; each is read from
// the store, decoded, and put back into memory under its shard lock (Transaction::Promote), then
// the command is resumed, to run again with its keys in memory. A key spilled again meanwhile is
// left for that rerun to find. The order of a client's replies is kept: a parked client runs
// nothing else until its command has run. Jobs queued while one runs are taken together: one
// eviction pass makes room for all their keys, and their answers go back to back.
//
// Thread-safety: Promote from any thread; `done` runs on the promoter's thread (the caller posts
// it to where it belongs).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "loaders/loader.h"
#include "storage/keyspace.h"
#include "storage/spill.h"

namespace strata::storage {
struct ValueLimits;
}  // namespace strata::storage

namespace strata::server {

class Config;

class SpillPromoter : public storage::SpillReader {
 public:
  struct SpilledKey {
    std::string key;
    uint64_t generation;  // Transaction::SpillGeneration when the command parked
  };

  // `make_room` runs after each batch of promotions, with no lock held: keys read back take
  // memory, and a GET-only load must not grow it past maxmemory (Evictor::MakeRoom).
  SpillPromoter(storage::Keyspace& keyspace, storage::SpillStore& store, const Config& config,
                std::function<void()> make_room);
  // Stops (see Stop).
  ~SpillPromoter();

  void Start();
  // Waits for the job in hand; jobs not started are answered with an error.
  void Stop();

  void Promote(int db, std::vector<SpilledKey> keys, std::function<void(absl::Status)> done);

  // storage::SpillReader: the rare read at once, on the caller's thread (storage/spill_sink.h).
  absl::StatusOr<storage::Entry*> ReadNow(int db, std::string_view key) override;

  // Keys read from the disk for commands, and those the disk had.
  uint64_t reads() const { return reads_.load(std::memory_order_relaxed); }
  // How long one key's read from the store took (microseconds), since start.
  const loaders::LatencyHistogram& read_latency_us() const { return read_latency_us_; }

 private:
  struct Job {
    int db;
    std::vector<SpilledKey> keys;
    std::function<void(absl::Status)> done;
  };
  void Run();
  absl::Status PromoteAll(const Job& job);
  // The key's record read and decoded (nullptr: none, or one that does not decode), timed and
  // counted; an error only when the disk fails.
  absl::StatusOr<storage::Entry*> Read(int db, std::string_view key, const storage::ValueLimits& limits);

  storage::Keyspace& keyspace_;
  storage::SpillStore& store_;
  const Config& config_;
  std::function<void()> make_room_;
  absl::Mutex mu_;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  std::atomic<uint64_t> reads_{0};
  loaders::LatencyHistogram read_latency_us_;
};

}  // namespace strata::server
