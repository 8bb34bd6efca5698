#include "bench/strata_bench/run_control.h"

namespace strata_bench {

RunControl::RunControl(int workers) : ready_(workers), publishing_workers_(workers), running_(workers) {}

void RunControl::PublishersDone(uint64_t published) {
  published_.fetch_add(published, std::memory_order_relaxed);
  // Release: a thread that sees the count reach 0 sees every worker's addition.
  publishing_workers_.fetch_sub(1, std::memory_order_release);
}

bool RunControl::AllPublished(uint64_t* published) const {
  if (publishing_workers_.load(std::memory_order_acquire) != 0) return false;
  *published = published_.load(std::memory_order_relaxed);
  return true;
}

void RunControl::Fail(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (failure_.ok()) failure_ = std::move(status);
  stopped_.store(true, std::memory_order_relaxed);
}

absl::Status RunControl::failure() const {
  absl::MutexLock lock(&mu_);
  return failure_;
}

void RunControl::WorkerFinished() {
  absl::MutexLock lock(&mu_);
  --running_;
}

bool RunControl::WaitAllFinished(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &RunControl::AllFinished), timeout);
}

}  // namespace strata_bench
