// The two clocks everything uses: wall-clock milliseconds (expiry times are Unix times, as in
// Redis) and monotonic nanoseconds (budgets, latencies).
#pragma once

#include <time.h>

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

}  // namespace strata::storage
