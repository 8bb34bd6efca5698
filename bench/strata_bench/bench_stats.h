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

// What the application waited for, one per GET of the load (see --help, LOOKUP): `requests`
// lookups that completed with a value or a definite "none" (their latency is recorded),
// `errors` that ended in an error reply or a failed source query.
struct LookupStats {
  uint64_t requests = 0;
  uint64_t errors = 0;
  LatencyHistogram latency;

  void Merge(const LookupStats& other);
};

// The database queries of --cache-aside --source.
struct SourceStats {
  uint64_t queries = 0;    // queries issued (one per GET miss)
  uint64_t found = 0;      // answered with a value (then SET)
  uint64_t not_found = 0;  // no row, or NULL (nothing to SET)
  uint64_t errors = 0;     // failed or timed out
  std::string first_error;
  // From handing the query to the source (queueing for a pool connection included) until its
  // answer is back in the worker's loop; comparable with strata's loader latency.
  LatencyHistogram latency;

  void Merge(const SourceStats& other);
};

struct RunStats {
  CommandStats set;
  CommandStats get;
  uint64_t cache_aside_sets = 0;  // SETs sent because a GET missed (included in set)
  std::string first_error;        // text of the first error reply, for the report
  LookupStats lookup;
  SourceStats source;

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
