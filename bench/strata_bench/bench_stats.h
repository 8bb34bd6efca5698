// Counters and latency histograms of a run, per command type.
//
// Contract: a worker thread owns its RunStats while it runs; after the threads are joined,
// Merge() folds them into one, which answers exactly as if one RunStats had seen every reply.
#ifndef STRATA_BENCH_BENCH_STATS_H_
#define STRATA_BENCH_BENCH_STATS_H_

#include <cstdint>
#include <string>

#include "bench/strata_bench/latency_histogram.h"

namespace strata_bench {

struct CommandStats {
  uint64_t requests = 0;  // replies received, error replies included
  uint64_t errors = 0;    // error replies (and replies of a type the command cannot return)
  uint64_t hits = 0;      // GET only: a value came back
  uint64_t misses = 0;    // GET only: nil came back
  LatencyHistogram latency;

  void Merge(const CommandStats& other);
};

struct RunStats {
  CommandStats set;
  CommandStats get;
  uint64_t cache_aside_sets = 0;  // SETs sent because a GET missed (included in set)
  std::string first_error;        // text of the first error reply, for the report

  void Merge(const RunStats& other);
  // SET and GET together (counters added, histograms merged).
  CommandStats Total() const;

  // The counting rule: requests == sets() + hits + misses + errors.
  uint64_t requests() const { return set.requests + get.requests; }
  uint64_t sets() const { return set.requests - set.errors; }
  uint64_t hits() const { return get.hits; }
  uint64_t misses() const { return get.misses; }
  uint64_t errors() const { return set.errors + get.errors; }
  // hits / (hits + misses), 0 when there were no successful GETs.
  double hit_ratio() const;
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_BENCH_STATS_H_
