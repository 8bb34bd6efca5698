#include "server/evictor.h"

#include <cmath>

#include "storage/clock.h"

namespace strata::server {

Evictor::Evictor(Config& config, storage::Keyspace& keyspace, MemoryMeter& meter)
    : config_(config), keyspace_(keyspace), meter_(meter) {}

int64_t Evictor::BudgetMicros(int64_t tenacity) {
  // Redis's evictionTimeLimitUs: linear to 500 us at 10 (the default), then 15% more a step.
  if (tenacity <= 10) return 50 * tenacity;
  if (tenacity < 100) return static_cast<int64_t>(500.0 * std::pow(1.15, static_cast<double>(tenacity - 10)));
  return INT64_MAX;
}

void Evictor::ApplyConfig() {
  const auto policy = static_cast<storage::EvictionPolicy>(config_.maxmemory_policy.load());
  keyspace_.SetEvictionPolicy(policy, {static_cast<int>(config_.lfu_log_factor.load()),
                                       static_cast<int>(config_.lfu_decay_time.load())});
  const int64_t limit = config_.maxmemory.load();
  if (limit != 0 && Counted() > limit && wakeup_) wakeup_();
}

bool Evictor::MakeRoomOverLimit(int64_t limit) {
  switch (Pass(limit, storage::NowMs())) {
    case PassResult::kUnder: return true;
    case PassResult::kNothingToEvict: return false;
    case PassResult::kStillOver:
      // Out of time but not of victims: the command runs, the main thread goes on evicting.
      if (wakeup_) wakeup_();
      return true;
  }
  return true;
}

bool Evictor::BackgroundPass(int64_t now_ms) {
  const int64_t limit = config_.maxmemory.load(std::memory_order_relaxed);
  return limit != 0 && Pass(limit, now_ms) == PassResult::kStillOver;
}

Evictor::PassResult Evictor::Pass(int64_t limit, int64_t now_ms) {
  if (Counted() <= limit) {
    if (over_since_ms_.load(std::memory_order_relaxed) != 0) NoteUnder(now_ms);
    return PassResult::kUnder;
  }
  NoteOver(now_ms);
  const int64_t budget_us = BudgetMicros(config_.maxmemory_eviction_tenacity.load(std::memory_order_relaxed));
  const int64_t deadline_ns = budget_us == INT64_MAX ? INT64_MAX : storage::MonotonicNs() + budget_us * 1000;
  const auto samples = static_cast<int>(config_.maxmemory_samples.load(std::memory_order_relaxed));
  const storage::EvictionOutcome outcome =
      keyspace_.Evict(samples, now_ms, deadline_ns, [&] { return Counted() <= limit; });
  if (Counted() <= limit) {
    NoteUnder(now_ms);
    return PassResult::kUnder;
  }
  return outcome.nothing_to_evict ? PassResult::kNothingToEvict : PassResult::kStillOver;
}

void Evictor::NoteOver(int64_t now_ms) {
  int64_t expected = 0;
  over_since_ms_.compare_exchange_strong(expected, now_ms, std::memory_order_relaxed);
}

void Evictor::NoteUnder(int64_t now_ms) {
  const int64_t since = over_since_ms_.exchange(0, std::memory_order_relaxed);
  if (since != 0) total_over_ms_.fetch_add(std::max<int64_t>(0, now_ms - since), std::memory_order_relaxed);
}

uint64_t Evictor::current_exceeded_ms(int64_t now_ms) const {
  const int64_t since = over_since_ms_.load(std::memory_order_relaxed);
  return since == 0 ? 0 : static_cast<uint64_t>(std::max<int64_t>(0, now_ms - since));
}

uint64_t Evictor::total_exceeded_ms(int64_t now_ms) const {
  return static_cast<uint64_t>(total_over_ms_.load(std::memory_order_relaxed)) + current_exceeded_ms(now_ms);
}

void Evictor::ResetStats() { total_over_ms_.store(0, std::memory_order_relaxed); }

}  // namespace strata::server
