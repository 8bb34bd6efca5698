// Loader: one `loader` directive. A key template, the source it reads from, the query, and the
// caching policy for what it loads (TTL and jitter, stale window, negative TTL, timeout,
// refresh-ahead), with its counters.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "loaders/key_template.h"
#include "loaders/latency_histogram.h"
#include "loaders/source.h"

namespace strata::loaders {

struct LoaderOptions {
  ValueShape shape = ValueShape::kString;
  int64_t ttl_ms = 0;              // 0: loaded values never expire (until invalidated or evicted)
  double jitter_percent = 0;       // stored TTL = ttl * (1 + uniform(0, jitter%))
  int64_t stale_ms = 0;            // serve-stale window after the TTL (stale-while-revalidate)
  int64_t negative_ttl_ms = 0;     // how long "not found" is remembered; 0: not at all
  std::chrono::milliseconds timeout{2000};
  double refresh_ahead_percent = 0;  // refresh a read key when this share of its TTL is left
  std::string batch_query;
  // Guardrails for sensitive data (issue 14). max-ttl: no TTL, jitter, stale window or client
  // EXPIRE keeps one of this loader's keys longer (0: no cap). redact: columns (hash loaders) or
  // top-level JSON members (string loaders whose value is a JSON object) dropped before the value
  // is stored, matched without regard to case.
  int64_t max_ttl_ms = 0;
  std::vector<std::string> redact;  // as written; Redact matches them without regard to case
};

// `outcome` without the loader's redacted fields (a no-op without redact). A string value that is
// not a JSON object becomes an error: what cannot be redacted is not stored.
void Redact(const LoaderOptions& options, LoadOutcome& outcome);

// The longest max-ttl (loader or key family) accepted: 100 years, so now + cap cannot overflow.
inline constexpr double kMaxTtlCapSeconds = 100.0 * 365 * 24 * 3600;

// Parses the option words after a loader's QUERY ("ttl 60 jitter 10 type hash ...").
absl::StatusOr<LoaderOptions> ParseLoaderOptions(const std::vector<std::string>& words);

struct LoaderStats {
  std::atomic<uint64_t> loads{0};          // values loaded from the source and stored
  std::atomic<uint64_t> not_found{0};      // loads that found nothing
  std::atomic<uint64_t> hits{0};           // reads answered from memory
  std::atomic<uint64_t> misses{0};         // reads that had to wait for a load
  std::atomic<uint64_t> coalesced{0};      // waits that joined a load already in flight
  std::atomic<uint64_t> stale_served{0};   // reads answered with a stale value
  std::atomic<uint64_t> negative_hits{0};  // reads answered nil from the negative cache
  std::atomic<uint64_t> refreshes{0};      // background refreshes started
  std::atomic<uint64_t> errors{0};         // failed loads (timeouts included)
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> source_queries{0};  // calls to the source (a batch counts once)
  LatencyHistogram latency_us;
};

class Loader {
 public:
  Loader(KeyTemplate key_template, Source& source, SourceQuery query, LoaderOptions options)
      : key_template_(std::move(key_template)), source_(source), query_(std::move(query)), options_(std::move(options)) {}

  const KeyTemplate& key_template() const { return key_template_; }
  const std::string& name() const { return key_template_.text(); }
  Source& source() const { return source_; }
  const SourceQuery& query() const { return query_; }
  const LoaderOptions& options() const { return options_; }
  LoaderStats& stats() const { return stats_; }

 private:
  KeyTemplate key_template_;
  Source& source_;
  SourceQuery query_;
  LoaderOptions options_;
  mutable LoaderStats stats_;
};

}  // namespace strata::loaders
