#include "bench/strata_bench/run_control.h"

namespace strata_bench {

RunControl::RunControl(int workers) : ready_(workers), running_(workers) {}

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
