// SpillStore: the spill tier's RocksDB (DESIGN section 8), a store of records
// (storage/spill_codec.h) by database and key. It knows nothing of the keyspace: the Keyspace
// decides what goes in and comes out.
//
// Keys on disk: the database's range as 4 bytes big-endian, then the key's bytes, so that one
// database is one contiguous range (FLUSHDB is one range delete; a walk of a database is one
// iterator). A database's range is its number until SWAPDB trades two (SwapDb).
//
// Writes never wait for the disk: Put, Delete and DeleteDb queue the change and return, and the
// store's writer thread applies the queue in batches, in the order queued. Until a change is on
// disk, Get answers from the queue, so every caller reads every change already made, whichever
// thread made it. The queue is bounded (Options::max_pending_bytes): a Put that finds it full
// waits for the writer up to Options::max_put_wait_ms; after that, rather than stall its caller
// longer, it records the key as deleted instead (the value is lost, as if evicted outright, and
// counted in Stats::writes_dropped). A batch the disk refuses stays queued and is tried again,
// so while the process runs a delete is never lost and a deleted key never comes back.
//
// Durability: the write-ahead log is on and not synced. A change the writer has applied survives
// the process being killed (kill -9), because the log is in the kernel's page cache; a power loss
// may lose the last few seconds. RocksDB's checksums and point-in-time recovery mean a restart
// never reads a torn record. That is the right trade for a cache: syncing every batch would cost a
// disk flush per batch for data the source of truth still has. Changes still queued die with the
// process, deletes included: after a kill -9, a record whose delete was queued is still on disk,
// and a restart serves it (docs/SPILL.md says what is and is not guaranteed).
//
// Expired records are dropped when RocksDB compacts (a compaction filter reading the record's
// expiry), so a spilled key that nobody reads again still leaves the disk.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/spill_sink.h"

namespace strata::storage {

class SpillStore : public SpillSink {
 public:
  struct Options {
    std::string dir;  // created if missing
    // Bytes of queued records past which a Put waits for the writer.
    size_t max_pending_bytes = 64 << 20;
    // How long a Put waits for room before it drops its value (see the header comment). Short:
    // the Keyspace calls Put under a shard lock, whose other clients wait meanwhile.
    int64_t max_put_wait_ms = 10;
    // RocksDB's own memory: a memtable (two at most) and the block cache.
    size_t write_buffer_bytes = 8 << 20;
    size_t block_cache_bytes = 8 << 20;
  };
  struct Stats {
    uint64_t writes = 0;          // records put (queued)
    uint64_t writes_dropped = 0;  // Puts turned into deletes because the queue stayed full
    uint64_t write_errors = 0;    // batches the disk refused (and that were tried again)
    uint64_t reads = 0;           // Gets
    uint64_t read_hits = 0;       // Gets that found a record
    uint64_t disk_bytes = 0;      // SST files and memtables
    uint64_t pending_bytes = 0;   // records queued, not yet on disk
  };

  // Opens (or creates) the store in options.dir.
  static absl::StatusOr<std::unique_ptr<SpillStore>> Open(const Options& options);
  // Applies everything queued, then closes.
  ~SpillStore() override;
  SpillStore(const SpillStore&) = delete;
  SpillStore& operator=(const SpillStore&) = delete;

  // SpillSink.
  void Put(int db, std::string_view key, std::string record) override;
  void Delete(int db, std::string_view key) override;
  // Every key of one database, or of all of them.
  void DeleteDb(int db) override;
  void DeleteAll() override;
  // SWAPDB: databases a and b trade their keys, at once, without moving a record. Each database
  // names the key range its records are stored under (at first its own number); a swap trades
  // the two names, and the map of names is itself a record, queued in order with the rest.
  void SwapDb(int a, int b) override;

  // The key's record, nullopt when it has none, or the disk's error.
  absl::StatusOr<std::optional<std::string>> Get(int db, std::string_view key);

  // Keys of `db` in key order, starting after `after` ("" from the first), at most `count`; sets
  // *done when the database has no more. Sees queued changes only once applied: WaitForWrites
  // first when that matters.
  absl::Status ListKeys(int db, std::string_view after, size_t count, std::vector<std::string>* keys, bool* done);
  // Calls fn(db, key, record) for every record on disk (the start-up scan), in key order.
  absl::Status ForEachRecord(absl::FunctionRef<void(int db, std::string_view key, std::string_view record)> fn);

  // Returns once every change queued before the call is on disk (or the disk refused it).
  void WaitForWrites();
  // Compacts the whole store now (tests: expired records leave at compaction).
  absl::Status CompactAll();

  Stats stats() const;

  // Bytes of memory the store holds (queued records, RocksDB's memtables, block cache and table
  // readers), kept current by the writer: what maxmemory does not count (server/evictor.h).
  const std::atomic<int64_t>& memory_bytes() const;

 private:
  struct State;
  explicit SpillStore(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace strata::storage
