#include "storage/spill.h"

#include <pthread.h>

#include <atomic>
#include <deque>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rocksdb/cache.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/clock.h"
#include "storage/entry.h"
#include "storage/spill_codec.h"

namespace strata::storage {
namespace {

constexpr size_t kDbPrefixBytes = 4;
// Changes the writer applies in one RocksDB batch at most, by count and by bytes (the batch is a
// copy of its records while it is written).
constexpr size_t kMaxBatchOps = 1024;
constexpr size_t kMaxBatchBytes = 1 << 20;
// How long the writer waits before trying again a batch the disk refused.
constexpr absl::Duration kRetryAfterError = absl::Milliseconds(100);

std::string DbPrefix(uint32_t db) {
  return std::string({static_cast<char>(db >> 24), static_cast<char>(db >> 16), static_cast<char>(db >> 8),
                      static_cast<char>(db)});
}

std::string DiskKey(uint32_t db, std::string_view key) { return DbPrefix(db).append(key); }

// The store's own records (not keys): under a prefix no database has, outside DeleteAll's range.
const std::string kMetaPrefix = DbPrefix(0xFFFFFFFFu);
// Which range each database's keys are in, once SWAPDB has swapped some (see SpillStore::SwapDb).
const std::string kDbMapKey = kMetaPrefix + "dbmap";

bool IsMeta(std::string_view disk_key) { return disk_key.starts_with(kMetaPrefix); }

std::string EncodeDbMap(const absl::flat_hash_map<uint32_t, uint32_t>& map) {
  std::string out;
  for (const auto& [logical, physical] : map) out.append(DbPrefix(logical)).append(DbPrefix(physical));
  return out;
}

int DbOf(std::string_view disk_key) {
  uint32_t db = 0;
  for (size_t i = 0; i < kDbPrefixBytes; ++i) db = (db << 8) | static_cast<unsigned char>(disk_key[i]);
  return static_cast<int>(db);
}

std::string_view ToView(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

absl::Status ToStatus(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(std::string("spill ").append(what).append(": ").append(s.ToString()));
}

// Drops a record whose expiry has passed (or that is not a record at all) when RocksDB compacts.
class ExpiredRecordFilter : public rocksdb::CompactionFilter {
 public:
  bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value, std::string*, bool*) const override {
    if (IsMeta(ToView(key))) return false;
    absl::StatusOr<int64_t> expire_at = SpillRecordExpireAt(ToView(value));
    return !expire_at.ok() || (*expire_at != Entry::kNoExpiry && *expire_at < NowMs());
  }
  const char* Name() const override { return "strata.ExpiredRecordFilter"; }
};

}  // namespace

struct SpillStore::State {
  // One queued change. A Put's record is shared with the overlay entry that answers Gets.
  struct Op {
    enum Kind { kPut, kDelete, kDeleteRange } kind;
    std::string key;  // kDeleteRange: the range's first key
    std::string end;  // kDeleteRange: past its last key
    std::shared_ptr<const std::string> record;
    uint64_t seq;
    size_t bytes;  // counted in pending_bytes until applied
  };
  // The newest queued change of a key; a null record: deleted.
  struct Pending {
    std::shared_ptr<const std::string> record;
    uint64_t seq;
  };
  struct PendingRange {
    std::string begin, end;
    uint64_t seq;
  };

  Options options;
  ExpiredRecordFilter filter;  // outlives the DB, which holds a pointer to it
  std::unique_ptr<rocksdb::DB> db;

  mutable absl::Mutex mu;
  absl::CondVar work_cv;     // queued work, or stopping
  absl::CondVar applied_cv;  // a batch applied (room in the queue, WaitForWrites)
  std::deque<Op> queue ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, Pending> pending ABSL_GUARDED_BY(mu);
  std::vector<PendingRange> pending_ranges ABSL_GUARDED_BY(mu);
  uint64_t next_seq ABSL_GUARDED_BY(mu) = 1;
  uint64_t applied_seq ABSL_GUARDED_BY(mu) = 0;
  size_t pending_bytes ABSL_GUARDED_BY(mu) = 0;
  // Database -> the prefix its keys are stored under, where SWAPDB made them differ.
  absl::flat_hash_map<uint32_t, uint32_t> physical_of ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::thread writer;

  std::atomic<uint64_t> writes{0}, writes_dropped{0}, write_errors{0}, reads{0}, read_hits{0};
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::atomic<int64_t> table_bytes{0};   // memtables and table readers at the last batch
  std::atomic<int64_t> engine_bytes{0};  // table_bytes + the block cache's usage
  std::atomic<int64_t> batch_bytes{0};   // the batch being written (a copy of its records)
  std::atomic<int64_t> memory_bytes{0};  // engine_bytes + pending_bytes + batch_bytes

  void UpdateMemory() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    memory_bytes.store(engine_bytes.load(std::memory_order_relaxed) + static_cast<int64_t>(pending_bytes) +
                           batch_bytes.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
  }
  // RocksDB's memory: memtables and table readers, measured after each batch (they change only
  // with writes and compactions), plus the block cache's usage, measured after every read too
  // (reads fill it: a figure updated only now and then would make maxmemory evict in bursts).
  void MeasureEngine() {
    uint64_t memtables = 0, readers = 0;
    db->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
    db->GetIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &readers);
    table_bytes.store(static_cast<int64_t>(memtables + readers), std::memory_order_relaxed);
    MeasureCache();
  }
  void MeasureCache() {
    engine_bytes.store(table_bytes.load(std::memory_order_relaxed) + static_cast<int64_t>(block_cache->GetUsage()),
                       std::memory_order_relaxed);
  }

  void Enqueue(Op op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    pending_bytes += op.bytes;
    queue.push_back(std::move(op));
    UpdateMemory();
    work_cv.Signal();
  }
  uint64_t NewSeq() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return next_seq++; }
  uint32_t Physical(int db) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = physical_of.find(static_cast<uint32_t>(db));
    return it == physical_of.end() ? static_cast<uint32_t>(db) : it->second;
  }
  void ForgetPendingIn(std::string_view begin, std::string_view end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->first >= begin && it->first < end) {
        pending.erase(it++);
      } else {
        ++it;
      }
    }
  }
  // Whether a change of `bytes` fits the queue (one always does when it is empty).
  bool HasRoom(size_t bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return pending_bytes + bytes <= options.max_pending_bytes || pending_bytes == 0;
  }
  void WriterLoop();
};

void SpillStore::State::WriterLoop() {
  for (;;) {
    std::vector<Op> batch;
    {
      absl::MutexLock lock(&mu);
      while (queue.empty() && !stopping) work_cv.Wait(&mu);
      if (queue.empty()) return;  // stopping, and nothing left
      size_t bytes = 0;
      while (!queue.empty() && batch.size() < kMaxBatchOps && bytes < kMaxBatchBytes) {
        bytes += queue.front().bytes;
        batch.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    rocksdb::WriteBatch write;
    for (const Op& op : batch) {
      rocksdb::Status added;
      switch (op.kind) {
        case Op::kPut:
          added = write.Put(op.key, *op.record);
          // A record the batch refuses (over RocksDB's 4 GB limit) becomes a delete: the key's
          // older record must not answer for it.
          if (!added.ok()) added = write.Delete(op.key);
          break;
        case Op::kDelete: added = write.Delete(op.key); break;
        case Op::kDeleteRange: added = write.DeleteRange(op.key, op.end); break;
      }
      if (!added.ok()) write_errors.fetch_add(1, std::memory_order_relaxed);
    }
    batch_bytes.store(static_cast<int64_t>(write.GetDataSize()), std::memory_order_relaxed);
    {
      absl::MutexLock lock(&mu);
      UpdateMemory();
    }
    const rocksdb::Status status = db->Write(rocksdb::WriteOptions(), &write);
    write.Clear();
    batch_bytes.store(0, std::memory_order_relaxed);
    MeasureEngine();
    absl::MutexLock lock(&mu);
    if (!status.ok()) {
      write_errors.fetch_add(1, std::memory_order_relaxed);
      applied_cv.SignalAll();  // WaitForWrites returns on an error too
      if (!stopping) {
        // Back at the front, in order: the overlay keeps answering for them meanwhile.
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue.push_front(std::move(*it));
        mu.AwaitWithTimeout(absl::Condition(&stopping), kRetryAfterError);
        continue;
      }
    }
    for (const Op& op : batch) {
      pending_bytes -= op.bytes;
      if (op.kind == Op::kDeleteRange) {
        std::erase_if(pending_ranges, [&](const PendingRange& r) { return r.seq == op.seq; });
        continue;
      }
      auto it = pending.find(op.key);
      if (it != pending.end() && it->second.seq == op.seq) pending.erase(it);  // not changed again since
    }
    applied_seq = batch.back().seq;
    UpdateMemory();
    applied_cv.SignalAll();
  }
}

absl::StatusOr<std::unique_ptr<SpillStore>> SpillStore::Open(const Options& options) {
  auto state = std::make_unique<State>();
  state->options = options;
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.compaction_filter = &state->filter;
  db_options.compression = rocksdb::kLZ4Compression;
  db_options.max_background_jobs = 2;
  // A torn tail of the log (a crash mid-write) is cut off at the last whole record.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.write_buffer_size = options.write_buffer_bytes;
  db_options.max_write_buffer_number = 2;
  rocksdb::BlockBasedTableOptions table_options;
  state->block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table_options.block_cache = state->block_cache;
  // A point lookup of a key that is not there (most reads of a spill) skips the file's blocks.
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  rocksdb::DB* db = nullptr;
  if (absl::Status s = ToStatus(rocksdb::DB::Open(db_options, options.dir, &db), "open"); !s.ok()) return s;
  state->db.reset(db);
  std::string map;
  const rocksdb::Status map_read = db->Get(rocksdb::ReadOptions(), kDbMapKey, &map);
  if (!map_read.IsNotFound()) {
    if (absl::Status s = ToStatus(map_read, "read database map"); !s.ok()) return s;
    if (map.size() % (2 * kDbPrefixBytes) != 0) return absl::DataLossError("spill: malformed database map");
    absl::MutexLock lock(&state->mu);
    for (size_t i = 0; i < map.size(); i += 2 * kDbPrefixBytes) {
      state->physical_of[static_cast<uint32_t>(DbOf(std::string_view(map).substr(i)))] =
          static_cast<uint32_t>(DbOf(std::string_view(map).substr(i + kDbPrefixBytes)));
    }
  }
  state->MeasureEngine();
  {
    absl::MutexLock lock(&state->mu);
    state->UpdateMemory();
  }
  state->writer = std::thread([raw = state.get()] {
    pthread_setname_np(pthread_self(), "spill-writer");
    raw->WriterLoop();
  });
  return std::unique_ptr<SpillStore>(new SpillStore(std::move(state)));
}

SpillStore::SpillStore(std::unique_ptr<State> state) : state_(std::move(state)) {}

SpillStore::~SpillStore() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->stopping = true;
    state_->work_cv.Signal();
  }
  state_->writer.join();
  (void)state_->db->Close();
}

void SpillStore::Put(int db, std::string_view key, std::string record) {
  State& s = *state_;
  auto shared = std::make_shared<const std::string>(std::move(record));
  s.writes.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&s.mu);
  std::string disk_key = DiskKey(s.Physical(db), key);
  const size_t bytes = disk_key.capacity() + shared->capacity();
  const absl::Time deadline = absl::Now() + absl::Milliseconds(s.options.max_put_wait_ms);
  while (!s.HasRoom(bytes)) {
    if (s.applied_cv.WaitWithDeadline(&s.mu, deadline)) break;  // timed out
  }
  if (!s.HasRoom(bytes)) {
    // The disk cannot keep up: drop the value, but as a delete, so no older record of the key
    // can answer for it later.
    s.writes_dropped.fetch_add(1, std::memory_order_relaxed);
    shared = nullptr;
  }
  const uint64_t seq = s.NewSeq();
  s.pending[disk_key] = {shared, seq};
  const size_t queued_bytes = shared != nullptr ? bytes : disk_key.size();
  s.Enqueue({shared != nullptr ? State::Op::kPut : State::Op::kDelete, std::move(disk_key), {}, shared, seq,
             queued_bytes});
}

void SpillStore::Delete(int db, std::string_view key) {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  std::string disk_key = DiskKey(s.Physical(db), key);
  const uint64_t seq = s.NewSeq();
  s.pending[disk_key] = {nullptr, seq};
  const size_t bytes = disk_key.size();
  s.Enqueue({State::Op::kDelete, std::move(disk_key), {}, nullptr, seq, bytes});
}

void SpillStore::DeleteDb(int db) {
  if (db < 0) return;  // no such database, so nothing of it is stored
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  std::string begin = DbPrefix(s.Physical(db));
  std::string end = DbPrefix(s.Physical(db) + 1);
  s.ForgetPendingIn(begin, end);
  const uint64_t seq = s.NewSeq();
  s.pending_ranges.push_back({begin, end, seq});
  s.Enqueue({State::Op::kDeleteRange, std::move(begin), std::move(end), nullptr, seq, 0});
}

void SpillStore::SwapDb(int a, int b) {
  if (a < 0 || b < 0 || a == b) return;
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  const uint32_t physical_a = s.Physical(a), physical_b = s.Physical(b);
  auto set = [&](uint32_t logical, uint32_t physical) {
    if (logical == physical) {
      s.physical_of.erase(logical);
    } else {
      s.physical_of[logical] = physical;
    }
  };
  set(static_cast<uint32_t>(a), physical_b);
  set(static_cast<uint32_t>(b), physical_a);
  // The map is queued as any change is, so the disk never holds records under a map they were
  // not written with (a kill -9 keeps a prefix of the queue: records and map agree).
  auto record = std::make_shared<const std::string>(EncodeDbMap(s.physical_of));
  const uint64_t seq = s.NewSeq();
  s.pending[kDbMapKey] = {record, seq};
  s.Enqueue({State::Op::kPut, kDbMapKey, {}, record, seq, kDbMapKey.size() + record->size()});
}

void SpillStore::DeleteAll() {
  State& s = *state_;
  // Databases are non-negative ints: every key is below 0x80000000's prefix.
  std::string begin = DbPrefix(0);
  std::string end = DbPrefix(0x80000000u);
  absl::MutexLock lock(&s.mu);
  s.ForgetPendingIn(begin, end);
  const uint64_t seq = s.NewSeq();
  s.pending_ranges.push_back({begin, end, seq});
  s.Enqueue({State::Op::kDeleteRange, std::move(begin), std::move(end), nullptr, seq, 0});
}

absl::StatusOr<std::optional<std::string>> SpillStore::Get(int db, std::string_view key) {
  State& s = *state_;
  std::string disk_key;
  s.reads.fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&s.mu);
    disk_key = DiskKey(s.Physical(db), key);
    if (auto it = s.pending.find(disk_key); it != s.pending.end()) {
      if (it->second.record == nullptr) return std::nullopt;
      s.read_hits.fetch_add(1, std::memory_order_relaxed);
      return *it->second.record;
    }
    for (const State::PendingRange& range : s.pending_ranges) {
      if (disk_key >= range.begin && disk_key < range.end) return std::nullopt;
    }
  }
  std::string record;
  const rocksdb::Status status = s.db->Get(rocksdb::ReadOptions(), disk_key, &record);
  s.MeasureCache();
  {
    absl::MutexLock lock(&s.mu);
    s.UpdateMemory();
  }
  if (status.IsNotFound()) return std::nullopt;
  if (absl::Status error = ToStatus(status, "read"); !error.ok()) return error;
  s.read_hits.fetch_add(1, std::memory_order_relaxed);
  return record;
}

absl::Status SpillStore::ListKeys(int db, std::string_view after, size_t count, std::vector<std::string>* keys,
                                  bool* done) {
  uint32_t physical;
  {
    absl::MutexLock lock(&state_->mu);
    physical = state_->Physical(db);
  }
  const std::string prefix = DbPrefix(physical);
  const std::string start = DiskKey(physical, after);
  std::unique_ptr<rocksdb::Iterator> it(state_->db->NewIterator(rocksdb::ReadOptions()));
  it->Seek(start);
  if (!after.empty() && it->Valid() && ToView(it->key()) == start) it->Next();
  size_t listed = 0;
  for (; it->Valid() && it->key().starts_with(prefix) && listed < count; it->Next(), ++listed) {
    keys->emplace_back(ToView(it->key()).substr(kDbPrefixBytes));
  }
  *done = !it->Valid() || !it->key().starts_with(prefix);
  return ToStatus(it->status(), "walk");
}

absl::Status SpillStore::ForEachRecord(absl::FunctionRef<void(int, std::string_view, std::string_view)> fn) {
  absl::flat_hash_map<uint32_t, uint32_t> logical_of;
  {
    absl::MutexLock lock(&state_->mu);
    for (const auto& [logical, physical] : state_->physical_of) logical_of[physical] = logical;
  }
  std::unique_ptr<rocksdb::Iterator> it(state_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view disk_key = ToView(it->key());
    if (disk_key.size() < kDbPrefixBytes || IsMeta(disk_key)) continue;  // not a key's record
    const auto physical = static_cast<uint32_t>(DbOf(disk_key));
    auto logical = logical_of.find(physical);
    fn(static_cast<int>(logical == logical_of.end() ? physical : logical->second), disk_key.substr(kDbPrefixBytes),
       ToView(it->value()));
  }
  return ToStatus(it->status(), "walk");
}

void SpillStore::WaitForWrites() {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  const uint64_t target = s.next_seq - 1;
  const uint64_t errors_before = s.write_errors.load(std::memory_order_relaxed);
  while (s.applied_seq < target && s.write_errors.load(std::memory_order_relaxed) == errors_before) {
    s.applied_cv.Wait(&s.mu);
  }
}

absl::Status SpillStore::CompactAll() {
  return ToStatus(state_->db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr), "compaction");
}

const std::atomic<int64_t>& SpillStore::memory_bytes() const { return state_->memory_bytes; }

SpillStore::Stats SpillStore::stats() const {
  State& s = *state_;
  Stats stats;
  stats.writes = s.writes.load(std::memory_order_relaxed);
  stats.writes_dropped = s.writes_dropped.load(std::memory_order_relaxed);
  stats.write_errors = s.write_errors.load(std::memory_order_relaxed);
  stats.reads = s.reads.load(std::memory_order_relaxed);
  stats.read_hits = s.read_hits.load(std::memory_order_relaxed);
  uint64_t sst = 0, memtables = 0;
  s.db->GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
  s.db->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  stats.disk_bytes = sst + memtables;
  {
    absl::MutexLock lock(&s.mu);
    stats.pending_bytes = s.pending_bytes;
  }
  return stats;
}

}  // namespace strata::storage
