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

// What the --pubsub-subscribers got: every message received on the channel is exactly one of
// delivered (ours: its stamp parsed) or malformed. Order is checked per subscriber and publisher.
struct DeliveryStats {
  uint64_t delivered = 0;
  uint64_t out_of_order = 0;  // delivered, but not the publisher's next sequence (a gap or a step back)
  uint64_t malformed = 0;     // on the channel, but no stamp of this run
  std::string first_malformed;
  // From the write of the PUBLISH's batch to the read that received the message.
  LatencyHistogram latency;

  void Merge(const DeliveryStats& other);
};

struct RunStats {
  CommandStats set;
  CommandStats get;
  CommandStats publish;            // --pubsub-subscribers: the PUBLISHes (replies to the clients)
  uint64_t publish_receivers = 0;  // the sum of the PUBLISH replies: receivers the server counted
  DeliveryStats delivery;
  uint64_t cache_aside_sets = 0;  // SETs sent because a GET missed (included in set)
  std::string first_error;        // text of the first error reply, for the report
  LookupStats lookup;
  SourceStats source;
  // RESP3 pushes received by the clients (not the subscribers): out of band, neither requests
  // nor replies. With --tracking, "invalidate" pushes are the server's invalidations.
  uint64_t invalidations = 0;
  uint64_t other_pushes = 0;

  void Merge(const RunStats& other);
  // SET, GET and PUBLISH together (counters added, histograms merged).
  CommandStats Total() const;

  // The counting rule: requests == sets() + hits + misses + publishes() + errors.
  uint64_t requests() const { return set.requests + get.requests + publish.requests; }
  uint64_t sets() const { return set.requests - set.errors; }
  uint64_t hits() const { return get.hits; }
  uint64_t misses() const { return get.misses; }
  uint64_t publishes() const { return publish.requests - publish.errors; }
  uint64_t errors() const { return set.errors + get.errors + publish.errors; }
  // hits / (hits + misses), 0 when there were no successful GETs.
  double hit_ratio() const;
};

}  // namespace strata_bench

#endif  // STRATA_BENCH_BENCH_STATS_H_
