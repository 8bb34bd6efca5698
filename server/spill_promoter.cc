#include "server/spill_promoter.h"

#include <pthread.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/config.h"
#include "storage/clock.h"
#include "storage/spill_codec.h"

namespace strata::server {
namespace {

constexpr size_t kMaxBatch = 32;

// A value read back is built under the encoding limits configured now.
storage::ValueLimits ValueLimitsOf(const Config& c) {
  storage::ValueLimits limits;
  limits.hash = {c.hash_max_listpack_entries.load(std::memory_order_relaxed),
                 c.hash_max_listpack_value.load(std::memory_order_relaxed)};
  limits.list = {c.list_max_listpack_size.load(std::memory_order_relaxed),
                 c.list_compress_depth.load(std::memory_order_relaxed)};
  limits.set = {c.set_max_intset_entries.load(std::memory_order_relaxed),
                c.set_max_listpack_entries.load(std::memory_order_relaxed),
                c.set_max_listpack_value.load(std::memory_order_relaxed)};
  limits.zset = {c.zset_max_listpack_entries.load(std::memory_order_relaxed),
                 c.zset_max_listpack_value.load(std::memory_order_relaxed)};
  return limits;
}

}  // namespace

SpillPromoter::SpillPromoter(storage::Keyspace& keyspace, storage::SpillStore& store, const Config& config,
                             std::function<void()> make_room)
    : keyspace_(keyspace), store_(store), config_(config), make_room_(std::move(make_room)) {}

SpillPromoter::~SpillPromoter() { Stop(); }

void SpillPromoter::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "spill-promoter");
    Run();
  });
}

void SpillPromoter::Stop() {
  std::deque<Job> abandoned;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    abandoned.swap(jobs_);
  }
  if (thread_.joinable()) thread_.join();
  for (Job& job : abandoned) job.done(absl::UnavailableError("ERR server is shutting down"));
}

void SpillPromoter::Promote(int db, std::vector<SpilledKey> keys, std::function<void(absl::Status)> done) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    done(absl::UnavailableError("ERR server is shutting down"));
    return;
  }
  jobs_.push_back({db, std::move(keys), std::move(done)});
}

void SpillPromoter::Run() {
  std::deque<Job> batch;
  std::vector<absl::Status> statuses;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SpillPromoter* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->jobs_.empty();
          },
          this));
      if (stopping_) return;
      // The jobs queued meanwhile together (up to kMaxBatch, so that neither memory past
      // maxmemory nor the first job's wait grows with the queue): one pass to make room for all
      // of them, and their answers posted back to back (an I/O thread wakes once for them all).
      while (!jobs_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(jobs_.front()));
        jobs_.pop_front();
      }
    }
    statuses.clear();
    for (const Job& job : batch) statuses.push_back(PromoteAll(job));
    make_room_();
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(statuses[i]));
    batch.clear();
  }
}

absl::StatusOr<storage::Entry*> SpillPromoter::Read(int db, std::string_view key, const storage::ValueLimits& limits) {
  const int64_t started_ns = storage::MonotonicNs();
  absl::StatusOr<std::optional<std::string>> record = store_.Get(db, key);
  read_latency_us_.Record((storage::MonotonicNs() - started_ns) / 1000);
  reads_.fetch_add(1, std::memory_order_relaxed);
  if (!record.ok()) return absl::InternalError(absl::StrCat("ERR ", record.status().message()));
  if (!record->has_value()) return nullptr;  // gone from disk (expired at compaction): the key is gone
  // A record that does not decode is treated as gone, never half-read (storage/spill_codec.h).
  absl::StatusOr<storage::Entry*> entry = storage::DecodeSpillRecord(key, **record, limits);
  return entry.ok() ? *entry : nullptr;
}

absl::StatusOr<storage::Entry*> SpillPromoter::ReadNow(int db, std::string_view key) {
  return Read(db, key, ValueLimitsOf(config_));
}

absl::Status SpillPromoter::PromoteAll(const Job& job) {
  // Read and decode first, with no lock held: the disk may take milliseconds.
  const storage::ValueLimits limits = ValueLimitsOf(config_);
  std::vector<storage::Entry*> entries(job.keys.size(), nullptr);
  auto free_entries = [&entries] {
    for (storage::Entry* e : entries) {
      if (e != nullptr) storage::Entry::Free(e);
    }
  };
  for (size_t i = 0; i < job.keys.size(); ++i) {
    absl::StatusOr<storage::Entry*> entry = Read(job.db, job.keys[i].key, limits);
    if (!entry.ok()) {
      free_entries();
      return entry.status();
    }
    entries[i] = *entry;
  }
  std::vector<std::string_view> keys;
  for (const SpilledKey& k : job.keys) keys.push_back(k.key);
  for (;;) {
    storage::Transaction txn(keyspace_, job.db, keys, storage::NowMs());
    if (txn.refused()) {
      // A busy script holds one of the shards: the command waits for it as it would in memory,
      // unless the server is stopping.
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) {
          free_entries();
          return absl::UnavailableError("ERR server is shutting down");
        }
      }
      absl::SleepFor(absl::Milliseconds(1));
      continue;
    }
    for (size_t i = 0; i < job.keys.size(); ++i) {
      txn.Promote(job.db, job.keys[i].key, job.keys[i].generation, entries[i]);  // takes the entry
    }
    return absl::OkStatus();
  }
}

}  // namespace strata::server
