// The two clocks everything uses: wall-clock milliseconds (expiry times are Unix times, as in
// Redis) and monotonic nanoseconds (budgets, latencies).
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

namespace strata::storage {

inline int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Wall-clock milliseconds derived from a monotonic reading, so that a path which needs both
// (the command path: a command's duration and its "now") reads one clock. The two clocks differ
// by an offset that changes only when the wall clock is stepped; Calibrate, run periodically
// (the server's cron), follows such a step. Any thread.
class WallClock {
 public:
  WallClock() { Calibrate(); }
  void Calibrate() {
    // The wall clock read between two monotonic readings, paired with their midpoint: a
    // preemption between the reads cannot skew the offset by more than half their distance.
    const int64_t before = MonotonicNs();
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const int64_t after = MonotonicNs();
    const int64_t realtime_ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    offset_ns_.store(realtime_ns - (before + (after - before) / 2), std::memory_order_relaxed);
  }
  int64_t MsAt(int64_t monotonic_ns) const {
    return (monotonic_ns + offset_ns_.load(std::memory_order_relaxed)) / 1000000;
  }

 private:
  std::atomic<int64_t> offset_ns_{0};
};

}  // namespace strata::storage
