// RunControl: what the worker threads of one run share: the start line, the first failure,
// who has finished publishing (pub/sub) and who has finished.
//
// Contract: made in main before the workers start and outlives them; every method is
// thread-safe. The first Fail() wins and stops every worker; later failures are dropped.
#ifndef STRATA_BENCH_RUN_CONTROL_H_
#define STRATA_BENCH_RUN_CONTROL_H_

#include <atomic>
#include <latch>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace strata_bench {

class RunControl {
 public:
  explicit RunControl(int workers);

  // Records the failure (if it is the first) and asks every worker to stop.
  void Fail(absl::Status status);
  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }
  absl::Status failure() const;

  // Every worker calls exactly one of these once its connections are ready (or have failed):
  // the load starts when all workers have arrived, so no thread measures while others are
  // still connecting.
  void ArriveReadyAndWait() { ready_.arrive_and_wait(); }
  void ArriveReady() { ready_.count_down(); }

  // Pub/sub: each worker calls this once, when its clients are done publishing, with how many
  // of their PUBLISHes succeeded. AllPublished() is true once every worker has, and then
  // *published is the run's total: what each subscriber must receive.
  void PublishersDone(uint64_t published);
  bool AllPublished(uint64_t* published) const;

  void WorkerFinished();
  // True once every worker has called WorkerFinished(); false if `timeout` passed first.
  bool WaitAllFinished(absl::Duration timeout);

 private:
  bool AllFinished() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; }

  std::latch ready_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> published_{0};
  std::atomic<int> publishing_workers_;
  mutable absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_RUN_CONTROL_H_
