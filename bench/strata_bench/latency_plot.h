// LatencyPlot: draws latency-by-percentile curves to a PNG with gnuplot, HdrHistogram style:
// the x axis is 1/(1 - percentile) on a log scale, labelled 0%, 90%, 99%, 99.9%, ..., so
// every "nine" of the tail gets the same width.
//
// Contract: WriteLatencyPlot runs the given gnuplot binary once (bounded: it is killed after
// kGnuplotTimeoutSec) on a temporary script it removes afterwards; the PNG exists when it
// returns OK. FindGnuplot answers NotFound when gnuplot is not installed, so the caller can
// say so and carry on.
#ifndef STRATA_BENCH_LATENCY_PLOT_H_
#define STRATA_BENCH_LATENCY_PLOT_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/strata_bench/bench_report.h"

namespace strata_bench {

inline constexpr int kGnuplotTimeoutSec = 30;

// Looks for an executable "gnuplot" in the directories of `search_path` (a $PATH value).
absl::StatusOr<std::string> FindGnuplot(absl::string_view search_path);

// The gnuplot script that draws `series` (the first `primary_count` solid, the rest dashed:
// a compared run) into `png_path`. Exposed for tests.
std::string LatencyPlotScript(const std::string& png_path, absl::string_view title,
                              const std::vector<LatencySeries>& series, size_t primary_count);

absl::Status WriteLatencyPlot(const std::string& gnuplot, const std::string& png_path, absl::string_view title,
                              const std::vector<LatencySeries>& series, size_t primary_count);

}  // namespace strata_bench

#endif  // STRATA_BENCH_LATENCY_PLOT_H_
