#include "server/invalidation.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "server/absl_compat.h"
#include "storage/clock.h"
#include "storage/glob.h"

namespace strata::server {

Invalidator::Invalidator(storage::Keyspace& keyspace, loaders::LoaderManager& loaders, WatchRegistry& watches,
                         AuditLog& audit)
    : keyspace_(keyspace), loaders_(loaders), watches_(watches), audit_(audit), sweeper_([this] { SweepLoop(); }) {}

Invalidator::~Invalidator() { Stop(); }

absl::Status Invalidator::ApplyMessage(std::string_view payload, const AuditActor& origin) {
  auto request = loaders::ParseInvalidationMessage(payload, keyspace_.databases());
  if (!request.ok()) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    return request.status();
  }
  applied_.fetch_add(1, std::memory_order_relaxed);
  // Step 1 for every form first: no load in flight may store between the drops below.
  if (!request->keys.empty()) loaders_.Supersede(request->db, request->keys);
  for (const std::string& pattern : request->patterns) loaders_.SupersedeMatching(request->db, pattern);
  // Named keys go now, unless this thread holds shards (a PUBLISH inside EXEC or a script: the
  // keys' shards are not among them, and taking them now would break the lock order) or a busy
  // script holds theirs; then the sweeper drops them.
  bool keys_pending = !request->keys.empty();
  if (keys_pending && storage::HeldShards::Current() == nullptr) keys_pending = !DropKeys(request->db, request->keys);
  if (!keys_pending && request->patterns.empty()) {
    RecordLag(request->ts_ms);
    return absl::OkStatus();
  }
  {
    std::lock_guard lock(mu_);
    size_t last_job = 0;  // of this message's jobs, the one that ends last
    if (keys_pending) {
      jobs_.push_back({request->db, std::move(request->keys), std::nullopt, {}, {}});
      last_job = jobs_.size() - 1;
    }
    for (std::string& pattern : request->patterns) {
      // The same pattern already waiting covers this message too (a flood of one message must
      // not queue a sweep per copy).
      auto same = std::find_if(jobs_.begin(), jobs_.end(), [&](const Job& job) {
        return job.pattern == pattern && job.db == request->db;
      });
      if (same == jobs_.end()) same = jobs_.insert(jobs_.end(), Job{request->db, {}, std::move(pattern), {}, origin});
      last_job = std::max(last_job, static_cast<size_t>(same - jobs_.begin()));
    }
    // The lag is that job's: the keys are all gone only when it ends.
    if (request->ts_ms) jobs_[last_job].ts_ms.push_back(*request->ts_ms);
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

bool Invalidator::DropKeys(int db, const std::vector<std::string>& keys) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  storage::Transaction txn(keyspace_, db, views, storage::NowMs());
  if (txn.refused()) return false;
  uint64_t dropped = 0;
  for (std::string_view key : views) {
    if (!txn.Delete(db, key)) continue;
    ++dropped;
    if (watches_.any()) watches_.Touch(db, key);
    txn.Notify(storage::notify::kLoader, "invalidated", db, key);
  }
  keys_dropped_.fetch_add(dropped, std::memory_order_relaxed);
  return true;
}

uint64_t Invalidator::DropMatchingInShard(size_t shard, int db, std::string_view pattern) {
  const bool watched = watches_.any();
  const uint64_t dropped = keyspace_.DeleteIfInShard(shard, db, [&](std::string_view key) {
    if (!storage::GlobMatch(pattern, key)) return false;
    // Under the key's shard lock, as every write reports.
    if (watched) watches_.Touch(db, key);
    keyspace_.Notify(storage::notify::kLoader, "invalidated", db, key);
    return true;
  });
  keys_dropped_.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

void Invalidator::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  work_ready_.notify_all();
  sweeper_.join();
}

bool Invalidator::stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

void Invalidator::SweepLoop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    if (job.pattern) {
      // One shard at a time, each under its own lock: nobody waits longer than one shard's scan.
      uint64_t dropped = 0;
      for (size_t shard = 0; shard < keyspace_.shard_count() && !stopping(); ++shard) {
        dropped += DropMatchingInShard(shard, job.db, *job.pattern);
      }
      audit_.Record(job.origin, "invalidate-pattern",
                    {{"pattern", AuditLog::Quote(*job.pattern)}, {"db", absl::StrCat(job.db)}}, dropped);
    } else {
      // Keys a busy script's shards held back: try again until the script lets go.
      while (!DropKeys(job.db, job.keys) && !stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (int64_t ts : job.ts_ms) RecordLag(ts);
    lock.lock();
  }
}

void Invalidator::RecordLag(std::optional<int64_t> ts_ms) {
  if (!ts_ms) return;
  // A source clock ahead of ours reads as no lag, not a negative one.
  const int64_t lag = std::max<int64_t>(0, storage::NowMs() - *ts_ms);
  lag_histogram_ms_.Record(lag);
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
