// LatencyMonitor: Redis's latency monitor (LATENCY LATEST/HISTORY/RESET/GRAPH/DOCTOR). Each
// event ("command", "fast-command", "expire-cycle", "eviction-cycle") that took at least
// latency-monitor-threshold milliseconds adds a sample to the event's series: one sample per
// second (the second's worst), the last kSamples seconds that had one, and the event's
// all-time maximum.
//
// Contract: any thread; callers check the threshold first, so only a spike takes the mutex.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace strata::server {

class LatencyMonitor {
 public:
  static constexpr size_t kSamples = 160;  // Redis's LATENCY_TS_LEN

  struct Sample {
    int64_t unix_seconds = 0;
    uint64_t millis = 0;
  };
  struct Latest {
    std::string event;
    int64_t unix_seconds;
    uint64_t latest_millis;
    uint64_t max_millis;
  };

  void Add(std::string_view event, uint64_t millis, int64_t unix_seconds);
  // Every event with samples, by name.
  std::vector<Latest> LatestSamples() const;
  // The event's samples, oldest first (empty for an unknown event).
  std::vector<Sample> History(std::string_view event) const;
  uint64_t MaxMillis(std::string_view event) const;
  // Forgets the named events (all when `events` is empty); returns how many it forgot.
  int Reset(const std::vector<std::string>& events);
  // LATENCY GRAPH: the event's samples as Redis's ASCII sparkline; "" for an unknown event.
  std::string Graph(std::string_view event, int64_t now_seconds) const;
  // LATENCY DOCTOR: a human report of the spikes and what to do about them.
  std::string Doctor(uint64_t threshold_millis) const;

 private:
  struct Series {
    std::array<Sample, kSamples> samples{};
    size_t next = 0;  // where the next second's sample goes
    uint64_t max_millis = 0;
  };
  static std::vector<Sample> Ordered(const Series& series);

  mutable absl::Mutex mu_;
  std::map<std::string, Series, std::less<>> events_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strata::server
