#include "server/invalidation.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "storage/clock.h"
#include "storage/glob.h"

namespace strata::server {

namespace {
// The sweeper thread's nice value (Linux sets it per thread).
constexpr int kSweeperNice = 10;
}  // namespace

Invalidator::Invalidator(storage::Keyspace& keyspace, loaders::LoaderManager& loaders, WatchRegistry& watches)
    : keyspace_(keyspace), loaders_(loaders), watches_(watches), sweeper_([this] { SweepLoop(); }) {}

Invalidator::~Invalidator() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  sweeper_.join();
}

absl::Status Invalidator::ApplyMessage(std::string_view payload) {
  auto request = loaders::ParseInvalidationMessage(payload, keyspace_.databases());
  if (!request.ok()) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    return request.status();
  }
  applied_.fetch_add(1, std::memory_order_relaxed);
  // Step 1 for every form first: no load in flight may store between the drops below.
  if (!request->keys.empty()) loaders_.Supersede(request->db, request->keys);
  for (const std::string& pattern : request->patterns) loaders_.SupersedeMatching(request->db, pattern);
  if (!request->keys.empty()) DropKeys(request->db, request->keys);
  if (request->patterns.empty()) {
    RecordLag(request->ts_ms);
    return absl::OkStatus();
  }
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < request->patterns.size(); ++i) {
      // The lag is the last sweep's: the keys are all gone only when it ends.
      const bool last = i + 1 == request->patterns.size();
      sweeps_.push_back({request->db, std::move(request->patterns[i]), last ? request->ts_ms : std::nullopt});
    }
  }
  work_ready_.notify_one();
  return absl::OkStatus();
}

uint64_t Invalidator::DropMatchingNow(std::string_view pattern) {
  loaders_.SupersedeMatching(-1, pattern);
  uint64_t dropped = 0;
  for (int db = 0; db < keyspace_.databases(); ++db) {
    for (size_t shard = 0; shard < keyspace_.shard_count(); ++shard) dropped += DropMatchingInShard(shard, db, pattern);
  }
  return dropped;
}

uint64_t Invalidator::DropKeys(int db, const std::vector<std::string>& keys) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  storage::Transaction txn(keyspace_, db, views, storage::NowMs());
  uint64_t dropped = 0;
  for (std::string_view key : views) {
    if (!txn.Delete(db, key)) continue;
    ++dropped;
    if (watches_.any()) watches_.Touch(db, key);
    txn.Notify(storage::notify::kLoader, "invalidated", db, key);
  }
  keys_dropped_.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

uint64_t Invalidator::DropMatchingInShard(size_t shard, int db, std::string_view pattern) {
  const bool watched = watches_.any();
  const uint64_t dropped = keyspace_.DeleteIfInShard(shard, db, [&](const storage::Entry& e) {
    if (!storage::GlobMatch(pattern, e.key())) return false;
    // Under the key's shard lock, as every write reports.
    if (watched) watches_.Touch(db, e.key());
    keyspace_.Notify(storage::notify::kLoader, "invalidated", db, e.key());
    return true;
  });
  keys_dropped_.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

void Invalidator::SweepLoop() {
  // A sweep is background work: on a busy core the I/O threads go first (their clients wait;
  // the sweep's only cost of waiting is lag, which INFO reports).
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kSweeperNice);
  std::unique_lock lock(mu_);
  for (;;) {
    work_ready_.wait(lock, [this] { return stopping_ || !sweeps_.empty(); });
    if (stopping_) return;
    Sweep sweep = std::move(sweeps_.front());
    sweeps_.pop_front();
    sweeping_ = true;
    lock.unlock();
    for (size_t shard = 0; shard < keyspace_.shard_count(); ++shard) {
      DropMatchingInShard(shard, sweep.db, sweep.pattern);
      std::this_thread::yield();  // between shards, whoever waits for one gets it
    }
    RecordLag(sweep.ts_ms);
    lock.lock();
    sweeping_ = false;
    if (sweeps_.empty()) sweeps_done_.notify_all();
  }
}

void Invalidator::WaitForSweeps() {
  std::unique_lock lock(mu_);
  sweeps_done_.wait(lock, [this] { return stopping_ || (sweeps_.empty() && !sweeping_); });
}

void Invalidator::RecordLag(std::optional<int64_t> ts_ms) {
  if (!ts_ms) return;
  // A source clock ahead of ours reads as no lag, not a negative one.
  const int64_t lag = std::max<int64_t>(0, storage::NowMs() - *ts_ms);
  std::lock_guard lock(mu_);
  if (lags_.size() < kLagSamples) {
    lags_.push_back(lag);
  } else {
    lags_[next_lag_] = lag;
  }
  next_lag_ = (next_lag_ + 1) % kLagSamples;
}

std::string Invalidator::InfoFields() const {
  std::vector<int64_t> lags;
  {
    std::lock_guard lock(mu_);
    lags = lags_;
  }
  auto percentile = [&](double p) -> int64_t {
    if (lags.empty()) return 0;
    const size_t rank = std::min(lags.size() - 1, static_cast<size_t>(p * static_cast<double>(lags.size())));
    std::nth_element(lags.begin(), lags.begin() + static_cast<ptrdiff_t>(rank), lags.end());
    return lags[rank];
  };
  const int64_t p50 = percentile(0.50), p99 = percentile(0.99);
  return absl::StrCat("invalidations_applied:", applied_.load(std::memory_order_relaxed),
                      "\r\ninvalidation_keys_dropped:", keys_dropped_.load(std::memory_order_relaxed),
                      "\r\ninvalidation_messages_malformed:", malformed_.load(std::memory_order_relaxed),
                      "\r\ninvalidation_lag_p50_ms:", p50, "\r\ninvalidation_lag_p99_ms:", p99, "\r\n");
}

void Invalidator::ResetStats() {
  applied_.store(0);
  keys_dropped_.store(0);
  malformed_.store(0);
  std::lock_guard lock(mu_);
  lags_.clear();
  next_lag_ = 0;
}

}  // namespace strata::server
