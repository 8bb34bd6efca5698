// The report of a run: the text on stdout, the JSON for scripts (--json), and the latency
// curves a plot draws, from this run or read back from an earlier JSON report (--compare).
//
// Contract: pure formatting; no I/O. The JSON report holds everything the text report does
// plus each command's percentile distribution, and SeriesFromJsonReport reads that back.
#ifndef STRATA_BENCH_BENCH_REPORT_H_
#define STRATA_BENCH_BENCH_REPORT_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "bench/strata_bench/bench_options.h"
#include "bench/strata_bench/bench_stats.h"
#include "bench/strata_bench/latency_histogram.h"

namespace strata_bench {

// What main knows once the workers are joined.
struct RunResult {
  RunStats stats;
  double duration_sec = 0;  // from the first client's start to the last one's end
  // Pub/sub: from the first client's start to the last message a subscriber received.
  double delivery_duration_sec = 0;
  std::string label;
  std::string cold_storm_prefix;  // the fresh prefix of a --cold-storm run
  std::string source;             // --source as the source describes itself (no password)
};

// The pub/sub verdict of a run: every successful PUBLISH must reach every subscriber, in each
// publisher's order, and nothing else may arrive on the channel. All zero without --pubsub-subscribers.
struct PubSubTally {
  uint64_t expected = 0;  // publishes x subscribers
  uint64_t missing = 0;   // expected - delivered, when that is positive
  uint64_t out_of_order = 0;
  uint64_t malformed = 0;
  bool ok() const { return missing == 0 && out_of_order == 0 && malformed == 0; }
  uint64_t errors() const { return missing + out_of_order + malformed; }
};
PubSubTally TallyPubSub(const BenchOptions& options, const RunStats& stats);

// The percentiles every report lists, in this order.
inline constexpr double kReportPercentiles[] = {50, 90, 99, 99.9};

std::string FormatTextReport(const BenchOptions& options, const RunResult& result);
std::string FormatJsonReport(const BenchOptions& options, const RunResult& result);

// One latency-by-percentile curve.
struct LatencySeries {
  std::string label;  // "<run label>: GET"
  std::vector<PercentilePoint> points;
};

// The curves of a run that had requests of that type: TOTAL first, then GET and SET
// (those two only when the run mixed both, where they differ from TOTAL), then DELIVER (pub/sub:
// the subscribers' delivery latency).
std::vector<LatencySeries> SeriesOfRun(const RunResult& result);
// The same curves, from the text of a report written by FormatJsonReport.
absl::StatusOr<std::vector<LatencySeries>> SeriesFromJsonReport(absl::string_view json_text);

}  // namespace strata_bench

#endif  // STRATA_BENCH_BENCH_REPORT_H_
