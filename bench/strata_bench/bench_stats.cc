#include "bench/strata_bench/bench_stats.h"

namespace strata_bench {

void CommandStats::Merge(const CommandStats& other) {
  requests += other.requests;
  errors += other.errors;
  hits += other.hits;
  misses += other.misses;
  latency.Merge(other.latency);
}

void LookupStats::Merge(const LookupStats& other) {
  requests += other.requests;
  errors += other.errors;
  latency.Merge(other.latency);
}

void SourceStats::Merge(const SourceStats& other) {
  queries += other.queries;
  found += other.found;
  not_found += other.not_found;
  errors += other.errors;
  if (first_error.empty()) first_error = other.first_error;
  latency.Merge(other.latency);
}

void DeliveryStats::Merge(const DeliveryStats& other) {
  delivered += other.delivered;
  out_of_order += other.out_of_order;
  malformed += other.malformed;
  if (first_malformed.empty()) first_malformed = other.first_malformed;
  latency.Merge(other.latency);
}

void RunStats::Merge(const RunStats& other) {
  set.Merge(other.set);
  get.Merge(other.get);
  publish.Merge(other.publish);
  publish_receivers += other.publish_receivers;
  delivery.Merge(other.delivery);
  cache_aside_sets += other.cache_aside_sets;
  if (first_error.empty()) first_error = other.first_error;
  lookup.Merge(other.lookup);
  source.Merge(other.source);
  invalidations += other.invalidations;
  other_pushes += other.other_pushes;
}

CommandStats RunStats::Total() const {
  CommandStats total = set;
  total.Merge(get);
  total.Merge(publish);
  return total;
}

double RunStats::hit_ratio() const {
  const uint64_t lookups = hits() + misses();
  return lookups == 0 ? 0.0 : static_cast<double>(hits()) / static_cast<double>(lookups);
}

}  // namespace strata_bench
